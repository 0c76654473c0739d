// The courier's app: state from the REST API (/api/v1/courier/...), hints over /ws/courier/.
//
// - every (re)connect and every push reloads the state from the API (pushes are hints);
// - while online, the position from navigator.geolocation goes up the same socket as
//   {type: "location", lat, lng, accuracy, heading, speed, ts}, at most once per PING_MS
//   (battery-aware: the server tolerates gaps, and a hidden page pings less often);
// - the offer card counts down from the server's deadline; accept / decline / steps are POSTs.
import { LiveSocket } from "./ws.js";
import { mountMap } from "./map.js";

const PING_MS = 4000;
const HIDDEN_PING_MS = 15000;
const root = document.getElementById("courier-app");
const labels = JSON.parse(document.getElementById("courier-labels").textContent);
const csrf = () => document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
const $ = (id) => document.getElementById(id);

let state = null;
let lastSent = 0;
let lastFix = null;
let countdownTimer = null;
let map = null;
let layers = null;

async function api(path, body) {
  const options = body === undefined
    ? { credentials: "same-origin" }
    : {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify(body),
      };
  const response = await fetch(root.dataset.api + path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || response.statusText);
  return data;
}

function showError(message) {
  const box = $("courier-error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function act(path, body) {
  try {
    showError("");
    render(await api(path, body ?? {}));
  } catch (error) {
    showError(error.message);
    await refresh();
  }
}

const yuan = (cents) => `¥${(cents / 100).toFixed(2)}`;
const km = (m) => `${(m / 1000).toFixed(1)} ${labels.km}`;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function renderOffer(offer) {
  const card = $("offer");
  clearInterval(countdownTimer);
  card.hidden = !offer;
  if (!offer) return;
  card.dataset.offer = offer.id;
  // The pickups in visiting order (several stores for a multi-store offer), then the doors in
  // drop-off order.
  const pickups = offer.pickups || [];
  const multi = pickups.length > 1;
  $("offer-multi").hidden = !multi;
  $("offer-orders").replaceChildren(
    ...pickups.map((p, i) =>
      el("li", { class: "offer-pickup", "data-testid": "offer-pickup", "data-store": p.store_id },
        el("strong", { text: `${multi ? `${i + 1}. ` : ""}${labels.pickup} ${p.store}` }),
        p.orders.length > 1 ? el("span", { class: "muted small", text: ` · ${p.orders.length} ${labels.orders}` }) : null,
      ),
    ),
    ...offer.orders.map((o) =>
      el("li", { class: "offer-dropoff", "data-testid": "offer-dropoff", "data-number": o.number }, el("span", { text: `${labels.dropoff} ${o.dropoff_address}` })),
    ),
  );
  $("offer-distance").textContent = `${km(offer.pickup_distance_m)} + ${km(offer.dropoff_distance_m)}`;
  $("offer-earnings").textContent = yuan(offer.earnings_cents);
  const deadline = Date.parse(offer.expires_at);
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    $("offer-countdown").textContent = `${left} ${labels.seconds}`;
    $("offer-countdown").dataset.seconds = String(left);
    if (left <= 0) {
      clearInterval(countdownTimer);
      setTimeout(refresh, 1500);
    }
  };
  tick();
  countdownTimer = setInterval(tick, 250);
}

function stepButton(label, path, testid, extra) {
  return el("button", { type: "button", class: "primary", "data-testid": testid, onclick: () => act(path, extra ? extra() : {}) }, label);
}

// The stores to pick up at, in visiting order: "arrived at the store" on the next one only.
function renderPickups(pickups) {
  const next = pickups.find((p) => !p.done);
  const multi = pickups.length > 1;
  $("pickup-list").replaceChildren(
    ...pickups.map((p, i) => {
      const li = el("li", { class: p === next ? "pickup next" : "pickup", "data-testid": "pickup", "data-store": p.store_id, "data-done": String(p.done) },
        el("p", {}, el("strong", { text: `${multi ? `${i + 1}. ` : ""}${labels.pickup} ${p.store}` }), el("span", { class: "muted small", text: ` · ${p.store_address}` })),
      );
      if (p.done) li.append(el("p", { class: "muted small", text: labels.allPickedUp }));
      else if (p === next && state.state === "to_store") {
        li.append(stepButton(labels.arrivedStore, `tasks/${encodeURIComponent(p.orders[0])}/arrived-store/`, "step-arrived-store"));
      }
      return li;
    }),
  );
}

function renderTasks(tasks, pickups) {
  $("task").hidden = tasks.length === 0;
  renderPickups(pickups || []);
  const list = $("task-list");
  list.replaceChildren();
  for (const t of tasks) {
    const li = el("li", { class: "task", "data-testid": "task", "data-number": t.number, "data-status": t.status });
    li.append(
      el("p", {}, el("strong", { text: t.store }), el("span", { class: "muted small", text: ` · ${t.store_address}` })),
      el("p", {}, el("span", { text: `${labels.dropoff} ${t.dropoff_address}` }), el("span", { class: "muted small", text: ` · ${t.contact} ${t.phone}` })),
    );
    const base = `tasks/${encodeURIComponent(t.number)}/`;
    // Pick up only at the store the courier is at; the doors only once everything is picked up.
    if (state.state === "at_store" && t.arrived_store && t.status !== "picked_up") {
      li.append(stepButton(labels.pickedUp, base + "picked-up/", "step-picked-up"));
      if (t.status !== "ready") li.append(el("p", { class: "muted small", text: labels.waitingFood }));
    } else if (state.state === "to_customer" && t.status === "picked_up" && !t.arrived) {
      li.append(stepButton(labels.arrived, base + "arrived/", "step-arrived"));
    } else if (state.state === "to_customer" && t.status === "picked_up") {
      const input = el("input", { inputmode: "numeric", maxlength: "4", pattern: "[0-9]{4}", "aria-label": labels.code, placeholder: labels.code, "data-testid": "dropoff-code" });
      li.append(input, stepButton(labels.deliver, base + "delivered/", "step-delivered", () => ({ code: input.value })));
    }
    list.append(li);
  }
  drawMap(tasks);
}

function drawMap(tasks) {
  if (!tasks.length || !window.L) return;
  if (!map) {
    map = mountMap($("task-map"), { zoom: 14 });
    if (!map) return;
    layers = window.L.layerGroup().addTo(map);
  }
  layers.clearLayers();
  const points = [];
  for (const t of tasks) {
    for (const [p, color] of [[t.pickup, "#c8102e"], [t.dropoff, "#1b5e20"]]) {
      window.L.circleMarker([p.lat, p.lng], { radius: 7, color, fillOpacity: 0.8 }).addTo(layers);
      points.push([p.lat, p.lng]);
    }
  }
  if (lastFix) {
    window.L.circleMarker([lastFix.lat, lastFix.lng], { radius: 6, color: "#0d47a1", fillOpacity: 1 }).addTo(layers);
    points.push([lastFix.lat, lastFix.lng]);
  }
  map.invalidateSize();
  if (points.length > 1) map.fitBounds(points, { padding: [24, 24] });
}

function renderPool(pool) {
  $("pool").hidden = pool.length === 0;
  $("pool-list").replaceChildren(
    ...pool.map((o) =>
      el("li", { class: "pool-item", "data-testid": "pool-item", "data-number": o.number },
        el("span", { text: `${o.store} → ${o.dropoff_address}` }),
        el("button", { type: "button", class: "primary", "data-testid": "pool-grab", onclick: () => act(`pool/${encodeURIComponent(o.number)}/grab/`) }, labels.grab),
      ),
    ),
  );
}

function render(data) {
  state = data;
  root.dataset.state = data.state;
  const pill = document.querySelector("[data-testid=courier-state]");
  pill.dataset.state = data.state;
  pill.textContent = labels.states[data.state] || data.state;
  const toggle = $("online-toggle");
  toggle.textContent = data.online ? toggle.dataset.labelOffline : toggle.dataset.labelOnline;
  toggle.dataset.online = String(data.online);
  toggle.disabled = data.online && !["idle", "offered"].includes(data.state);
  renderOffer(data.offer);
  renderTasks(data.tasks, data.pickups);
  renderPool(data.pool);
  $("earnings-today").textContent = yuan(data.earnings_today_cents);
  $("delivered-today").textContent = String(data.delivered_today);
  if (data.online) watchPosition();
}

async function refresh() {
  render(await api("me/"));
}

// --- Location --------------------------------------------------------------------------------
let watchId = null;

function sendFix(force = false) {
  if (!lastFix || !state || !state.online) return;
  const interval = document.hidden ? HIDDEN_PING_MS : PING_MS;
  if (!force && Date.now() - lastSent < interval) return;
  if (socket.send({ type: "location", ...lastFix, ts: Date.now() })) lastSent = Date.now();
}

function watchPosition() {
  if (watchId !== null || !navigator.geolocation) return;
  watchId = navigator.geolocation.watchPosition(
    (pos) => {
      $("gps-note").hidden = true;
      const c = pos.coords;
      lastFix = { lat: c.latitude, lng: c.longitude, accuracy: c.accuracy ?? 0, heading: c.heading ?? 0, speed: c.speed ?? 0 };
      sendFix();
    },
    () => {
      $("gps-note").hidden = false;
    },
    { enableHighAccuracy: true, maximumAge: 2000, timeout: 20000 },
  );
}
// A still courier produces no new fixes: repeat the last one so the server knows they are there.
setInterval(() => sendFix(), 1000);

const socket = new LiveSocket("/ws/courier/", {
  onResync: refresh,
  onMessage: (event) => {
    if (event.type === "location.ack" || (event.type === "error" && event.code === "rate_limited")) return;
    if (event.type === "error") return console.warn("location refused", event);
    refresh().catch((error) => console.error(error));
  },
  onStatus: (status) => {
    const dot = document.getElementById("live-status");
    if (dot) dot.dataset.status = status;
  },
});

$("online-toggle").addEventListener("click", async () => {
  const goingOnline = !(state && state.online);
  if (goingOnline) watchPosition();
  await act("online/", { online: goingOnline });
  if (goingOnline) sendFix(true);
});
$("offer-accept").addEventListener("click", () => act(`offers/${$("offer").dataset.offer}/accept/`));
$("offer-decline").addEventListener("click", () =>
  act(`offers/${$("offer").dataset.offer}/decline/`, { reason: $("decline-reason").value }),
);
$("problem-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  // About the order at hand: before pickup, one at the store the courier is at or heading to.
  const tasks = state ? state.tasks : [];
  const next = state && (state.pickups || []).find((p) => !p.done);
  const task = (next && tasks.find((t) => next.orders.includes(t.number) && t.status !== "picked_up")) || tasks[0];
  if (task) act(`tasks/${encodeURIComponent(task.number)}/problem/`, { kind: form.get("kind"), note: form.get("note") });
});
