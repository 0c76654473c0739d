// One small WebSocket client for every live page (board, tracking, courier app).
//
// - reconnects with exponential backoff and full jitter, so a restarted server is not stampeded;
// - calls `onResync()` after every (re)connect: the page reloads its state from the REST API,
//   because pushes sent while it was disconnected are gone (pushes are hints, the API is truth);
// - sends a heartbeat ping and treats a missing pong as a dead socket (half-open TCP);
// - does not retry on application close codes 4000-4999 (refused: not signed in, not allowed).

const DEFAULTS = {
  minDelayMs: 500,
  maxDelayMs: 30000,
  heartbeatMs: 20000,
  pongTimeoutMs: 10000,
};

export function wsUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export function backoffDelay(attempt, { minDelayMs, maxDelayMs } = DEFAULTS) {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** attempt);
  return Math.round(Math.random() * ceiling);
}

export class LiveSocket {
  constructor(path, { onMessage = () => {}, onResync = async () => {}, onStatus = () => {}, ...options } = {}) {
    this.url = wsUrl(path);
    this.options = { ...DEFAULTS, ...options };
    this.onMessage = onMessage;
    this.onResync = onResync;
    this.onStatus = onStatus;
    this.attempt = 0;
    this.opens = 0; // connections opened, the first one included (each one resyncs)
    this.seq = 0;
    this.closedByUs = false;
    this.socket = null;
    this.timers = {};
    this.status = "connecting";
    this.connect();
  }

  setStatus(status, detail) {
    this.status = status;
    this.onStatus(status, detail);
  }

  connect() {
    this.setStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", async () => {
      this.attempt = 0;
      this.opens += 1;
      this.setStatus("open");
      this.startHeartbeat();
      try {
        await this.onResync();
      } catch (error) {
        console.error("resync failed", error);
      }
    });
    socket.addEventListener("message", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (data.type === "pong") {
        clearTimeout(this.timers.pong);
        return;
      }
      this.onMessage(data);
    });
    socket.addEventListener("close", (event) => {
      this.stopHeartbeat();
      if (this.closedByUs) return;
      if (event.code >= 4000 && event.code < 5000) {
        this.setStatus("refused", event.code);
        return;
      }
      const delay = backoffDelay(this.attempt, this.options);
      this.attempt += 1;
      this.setStatus("reconnecting", delay);
      this.timers.retry = setTimeout(() => this.connect(), delay);
    });
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.timers.heartbeat = setInterval(() => {
      this.send({ type: "ping", seq: ++this.seq });
      clearTimeout(this.timers.pong);
      // No pong in time: the connection is dead even if the browser has not noticed.
      this.timers.pong = setTimeout(() => this.socket && this.socket.close(), this.options.pongTimeoutMs);
    }, this.options.heartbeatMs);
  }

  stopHeartbeat() {
    clearInterval(this.timers.heartbeat);
    clearTimeout(this.timers.pong);
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  close() {
    this.closedByUs = true;
    clearTimeout(this.timers.retry);
    this.stopHeartbeat();
    if (this.socket) this.socket.close(1000);
    this.setStatus("closed");
  }
}
