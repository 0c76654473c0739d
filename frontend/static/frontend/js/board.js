// The restaurant's live order board (frontend.board.board_page).
//
// - State lives in one Map keyed by order number, replaced from the board API on every
//   (re)connect and after every push (pushes are hints: the API is the truth), so a push lost
//   while disconnected loses nothing and a push received twice duplicates nothing. A push whose
//   `version` is not newer than what the board holds is ignored.
// - New orders alert until someone acts: a beep generated with WebAudio and scheduled ahead on
//   the audio clock (so it keeps repeating in a background tab, whose timers the browser slows),
//   a flashing page, and the count of new orders in the title.
// - Actions send the version the board showed; a 409 (another device moved the order, the
//   diner cancelled) shows the server's message and resyncs.
// - On accept, each board tries to claim the order's automatic ticket; only the board whose
//   claim the server grants prints it (exactly once across boards and reconnects).
import { LiveSocket } from "./ws.js";

const config = JSON.parse(document.getElementById("board-config").textContent);
const t = JSON.parse(document.getElementById("board-i18n").textContent);
const csrf = document.body.getAttribute("hx-headers")
  ? JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]
  : "";
const baseTitle = document.title;
const orders = new Map();
let store = config.store;
let serverOffsetMs = 0;
const deviceId =
  sessionStorage.getItem("boardDevice") ||
  (() => {
    const id = `b-${Math.random().toString(36).slice(2, 10)}`;
    sessionStorage.setItem("boardDevice", id);
    return id;
  })();
const printAttempted = new Set();
window.boardPrints = [];
window.boardStats = { resyncs: 0, events: 0 };

// --- API ---------------------------------------------------------------------------------------

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  return { ok: response.ok, status: response.status, data };
}

function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  item.setAttribute("data-testid", "toast");
  item.textContent = message;
  box.appendChild(item);
  setTimeout(() => item.remove(), 8000);
}

let resyncing = null;
let resyncAgain = false;
async function resync() {
  // One fetch at a time; a push during a fetch asks for one more afterwards.
  if (resyncing) {
    resyncAgain = true;
    return resyncing;
  }
  resyncing = (async () => {
    do {
      resyncAgain = false;
      const { ok, data } = await api(config.api);
      if (!ok) break;
      serverOffsetMs = new Date(data.server_time).getTime() - Date.now();
      store = data.store;
      orders.clear();
      for (const order of data.orders) orders.set(order.number, order);
      window.boardStats.resyncs += 1;
      render();
      autoPrint();
    } while (resyncAgain);
  })();
  try {
    await resyncing;
  } finally {
    resyncing = null;
  }
}

// --- Rendering ---------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function clock(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function now() {
  return Date.now() + serverOffsetMs;
}

function isLate(order) {
  const at = now();
  if (order.status === "paid" && order.accept_by) {
    const left = new Date(order.accept_by).getTime() - at;
    return left < store.accept_deadline_seconds * 400; // the last 40 % of the deadline
  }
  if (["accepted", "preparing"].includes(order.status) && order.pickup_at && at > new Date(order.pickup_at).getTime()) {
    return true;
  }
  return order.late || (["accepted", "preparing", "ready", "picked_up"].includes(order.status) && at > new Date(order.eta_at).getTime());
}

function actionButton(order, action, label, cls = "btn") {
  return el("button", { type: "button", class: cls, "data-action": action, "data-testid": `${action}-${order.number}`,
    onclick: () => act(order, action) }, label);
}

function card(order) {
  const lines = el("ul", { class: "lines" });
  for (const line of order.lines) {
    const name = document.documentElement.lang.startsWith("en") && line.name_en ? line.name_en : line.name_zh;
    const item = el("li", {}, el("strong", {}, `${line.quantity} × ${name}`));
    const options = document.documentElement.lang.startsWith("en") ? line.options_en : line.options;
    if (options.length) item.append(el("div", { class: "opts" }, options.join(" · ")));
    if (line.components.length) item.append(el("div", { class: "opts" }, line.components.join(" · ")));
    if (line.allergens.length) item.append(el("div", { class: "allergens" }, `${t.allergens}: ${line.allergens.join(", ")}`));
    if (line.note) item.append(el("div", { class: "note" }, line.note));
    lines.append(item);
  }
  const actions = el("div", { class: "actions" });
  if (order.status === "paid") {
    const prep = el("input", { type: "number", min: "1", max: "180", value: String(store.default_prep_minutes + store.busy_extra_minutes),
      class: "prep", "data-testid": `prep-${order.number}`, "aria-label": t.minutes });
    actions.append(prep, el("span", {}, t.minutes), actionButton(order, "accept", t.accept, "btn btn-primary"),
      actionButton(order, "reject", t.reject, "btn btn-danger"));
  } else if (order.status === "accepted") {
    actions.append(actionButton(order, "start", t.start), actionButton(order, "ready", t.ready, "btn btn-primary"));
  } else if (order.status === "preparing") {
    actions.append(actionButton(order, "ready", t.ready, "btn btn-primary"));
  } else if (order.status === "ready" && store.self_delivery) {
    actions.append(actionButton(order, "picked-up", t.pickedUp, "btn btn-primary"));
  } else if (order.status === "picked_up" && store.self_delivery) {
    actions.append(actionButton(order, "delivered", t.delivered));
  }
  if (!["paid"].includes(order.status)) {
    actions.append(el("button", { type: "button", class: "btn", "data-testid": `reprint-${order.number}`,
      onclick: () => printTicket(order, "manual") }, t.reprint));
  }
  const meta = el("p", { class: "meta" });
  if (order.status === "paid" && order.accept_by) {
    meta.append(el("span", { class: "countdown", "data-deadline": order.accept_by }, ""));
  } else if (order.pickup_at) {
    meta.append(`${t.pickup} ${clock(order.pickup_at)}`);
  }
  const dispatch = dispatchLine(order);
  if (order.courier && !dispatch) meta.append(el("span", { class: "courier" }, ` · ${t.courier}`));
  const late = isLate(order);
  return el(
    "li",
    { class: `order${late ? " late" : ""}`, "data-number": order.number, "data-version": String(order.version),
      "data-testid": `order-${order.number}` },
    el("header", {}, el("strong", { class: "num" }, `#${order.number.slice(-4)}`), " ", el("small", {}, order.number),
      late ? el("span", { class: "late-tag" }, t.late) : null),
    meta,
    dispatch,
    lines,
    order.note ? el("p", { class: "note" }, `${t.note}: ${order.note}`) : null,
    actions,
  );
}

// How the search for a courier goes (order.dispatch from the board API, patched live by
// `courier.approaching`): looking and for how long, the offer's countdown, the courier and how
// far they are from the store.
function dispatchLine(order) {
  const d = order.dispatch;
  if (!d || ["done", "cancelled"].includes(d.state)) return null;
  const attrs = { class: "dispatch", "data-testid": `dispatch-${order.number}`, "data-dispatch": d.state };
  if (d.courier) {
    const c = d.courier;
    let where = t.courierToStore;
    if (c.state === "at_store") where = t.courierAtStore;
    else if (c.state === "to_customer") where = t.courierToCustomer;
    const parts = [`${t.courier}: ${c.name} · ${where}`];
    if (c.state === "to_store" && c.distance_m !== undefined) {
      const km = c.distance_m >= 1000 ? `${(c.distance_m / 1000).toFixed(1)} km` : `${c.distance_m} m`;
      parts.push(`${t.away} ${km} · ${c.eta_minutes} ${t.min}`);
    }
    return el("p", attrs, parts.join(" · "));
  }
  const since = d.looking_since ? Math.max(0, Math.floor((now() - new Date(d.looking_since).getTime()) / 60000)) : 0;
  const parts = [`${d.state === "pool" ? t.pool : t.looking} ${t.lookingFor} ${since} ${t.min}`];
  if (d.delay_minutes > 0) parts.push(`${t.foodWaiting} ${d.delay_minutes} ${t.min}`);
  if (d.offer && d.offer.status === "pending") {
    parts.push(el("span", { class: "offer-countdown", "data-deadline": d.offer.expires_at }, t.offered));
  }
  if (d.failures > 0) parts.push(`${d.failures}× ${t.declined}`);
  const line = el("p", { ...attrs, class: "dispatch looking" });
  parts.forEach((part, i) => line.append(i ? " · " : "", part));
  return line;
}

function render() {
  for (const column of document.querySelectorAll(".column")) {
    const list = column.querySelector("ol");
    const mine = [...orders.values()].filter((o) => o.status === column.dataset.status);
    list.replaceChildren(...mine.map(card));
    column.querySelector(".count").textContent = mine.length ? `(${mine.length})` : "";
  }
  renderStore();
  tick();
  alertUpdate();
}

function renderStore() {
  const state = document.getElementById("store-state");
  const resume = document.getElementById("resume");
  if (store.status === "suspended" || store.status === "closed") {
    // A regulator's sanction: no orders come in, and the store cannot resume by itself.
    state.textContent = t[`status_${store.status}`];
    state.className = "state sanctioned";
    resume.hidden = true;
  } else if (store.paused) {
    const until = store.paused_until ? ` ${t.pausedUntil} ${clock(store.paused_until)}` : "";
    state.textContent = `${t.paused}: ${t[`reason_${store.pause_reason}`] || ""}${until}`;
    state.className = "state paused";
    resume.hidden = false;
  } else {
    state.textContent = store.busy_extra_minutes ? `${t.busy} +${store.busy_extra_minutes} ${t.minutes}` : t.taking;
    state.className = store.busy_extra_minutes ? "state busy" : "state";
    resume.hidden = true;
  }
  const busy = document.getElementById("busy-minutes");
  if (document.activeElement !== busy) busy.value = String(store.busy_extra_minutes);
}

function tick() {
  for (const node of document.querySelectorAll(".countdown")) {
    const left = Math.max(0, Math.round((new Date(node.dataset.deadline).getTime() - now()) / 1000));
    node.textContent = `${t.acceptBy} ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  }
  for (const node of document.querySelectorAll(".offer-countdown")) {
    const left = Math.max(0, Math.round((new Date(node.dataset.deadline).getTime() - now()) / 1000));
    node.textContent = `${t.offered} (${left} ${t.secondsLeft})`;
  }
  for (const node of document.querySelectorAll("li.order")) {
    const order = orders.get(node.dataset.number);
    if (order) node.classList.toggle("late", isLate(order));
  }
}
setInterval(tick, 1000);
setInterval(() => resync(), 60000); // a safety net; every push and reconnect resyncs anyway

// --- The new-order alert -----------------------------------------------------------------------

let audio = null;
let beepsUntil = 0;
let gain = null;

function beepAt(time) {
  const osc = audio.createOscillator();
  osc.type = "square";
  osc.frequency.setValueAtTime(880, time);
  osc.frequency.setValueAtTime(660, time + 0.15);
  osc.connect(gain);
  osc.start(time);
  osc.stop(time + 0.3);
}

function alertUpdate() {
  const fresh = [...orders.values()].filter((o) => o.status === "paid").length;
  document.title = fresh ? `(${fresh}) ${t.newOrders} · ${baseTitle}` : baseTitle;
  document.body.classList.toggle("alerting", fresh > 0);
  window.boardStats.alerting = fresh > 0;
  if (!audio) return;
  if (fresh > 0) {
    if (!gain) {
      gain = audio.createGain();
      gain.gain.value = 0.2;
      gain.connect(audio.destination);
      beepsUntil = audio.currentTime;
    }
    // Schedule two minutes of beeps ahead on the audio clock; topped up on every update/tick.
    while (beepsUntil < audio.currentTime + 120) {
      beepsUntil = Math.max(beepsUntil, audio.currentTime) + 2;
      beepAt(beepsUntil);
    }
  } else if (gain) {
    gain.disconnect();
    gain = null;
  }
}
setInterval(alertUpdate, 30000);

// For tests and diagnostics: what the alert holds now, read live from the audio clock (the
// beeps are scheduled on it, so this is what will sound whether or not the tab is visible).
window.boardAlert = () => ({
  audio: audio ? audio.state : "off",
  now: audio ? audio.currentTime : 0,
  scheduledUntil: beepsUntil,
  sounding: Boolean(gain),
  title: document.title,
  flashing: document.body.classList.contains("alerting"),
  visibility: document.visibilityState,
});

document.getElementById("sound-on").addEventListener("click", async (event) => {
  audio = audio || new AudioContext();
  await audio.resume();
  event.target.hidden = true;
  alertUpdate();
});

// --- Actions -----------------------------------------------------------------------------------

const rejectDialog = document.getElementById("reject-dialog");

function askReason(order) {
  return new Promise((resolve) => {
    const form = document.getElementById("reject-form");
    rejectDialog.querySelector(".num").textContent = `#${order.number.slice(-4)}`;
    form.reset();
    rejectDialog.addEventListener(
      "close",
      () => {
        if (rejectDialog.returnValue !== "ok") return resolve(null);
        const reason = form.elements.reason.value.trim() || form.elements.preset.value;
        resolve(reason || null);
      },
      { once: true },
    );
    rejectDialog.showModal();
  });
}

async function act(order, action) {
  const body = { version: order.version };
  if (action === "accept") {
    const input = document.querySelector(`[data-testid="prep-${order.number}"]`);
    if (input && input.value) body.prep_minutes = Number(input.value);
  }
  if (action === "reject") {
    const reason = await askReason(order);
    if (!reason) return;
    body.reason = reason;
  }
  const { ok, data } = await api(`${config.api}orders/${encodeURIComponent(order.number)}/${action}/`, body);
  if (!ok) {
    toast(data.message || t.failed, "error");
  } else {
    orders.set(data.number, data);
    render();
    if (action === "accept") autoPrint();
  }
  await resync();
}

async function control(path, body) {
  const { ok, data } = await api(`${config.api}controls/${path}/`, body);
  if (!ok) toast(data.message || t.failed, "error");
  else {
    store = data;
    renderStore();
  }
}

document.getElementById("busy-form").addEventListener("submit", (event) => {
  event.preventDefault();
  control("busy", { extra_minutes: Number(event.target.elements.extra_minutes.value || 0) });
});
document.getElementById("pause-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const { minutes, until } = event.target.elements;
  if (until.value) {
    const [h, m] = until.value.split(":").map(Number);
    const at = new Date();
    at.setHours(h, m, 0, 0);
    if (at.getTime() <= Date.now()) at.setDate(at.getDate() + 1);
    control("pause", { until: at.toISOString() });
  } else if (minutes.value) control("pause", { minutes: Number(minutes.value) });
  else control("pause", { indefinite: true });
});
document.getElementById("resume").addEventListener("click", () => control("resume", {}));

// --- Tickets -----------------------------------------------------------------------------------

async function printTicket(order, kind) {
  const { ok, status, data } = await api(`${config.api}orders/${encodeURIComponent(order.number)}/prints/`, {
    kind,
    device: deviceId,
  });
  if (!ok) {
    if (kind === "manual") toast(data.message || t.failed, "error");
    return;
  }
  if (status !== 201) return; // another board printed this automatic ticket
  window.boardPrints.push({ number: order.number, kind });
  const response = await fetch(config.ticketUrl.replace("NUMBER", encodeURIComponent(order.number)), { credentials: "same-origin" });
  const html = await response.text();
  const doc = new DOMParser().parseFromString(html, "text/html");
  const area = document.getElementById("print-area");
  area.replaceChildren(...doc.body.childNodes);
  window.print();
}

function autoPrint() {
  for (const order of orders.values()) {
    if (["accepted", "preparing"].includes(order.status) && !order.auto_printed && !printAttempted.has(order.number)) {
      printAttempted.add(order.number);
      printTicket(order, "auto");
    }
  }
}

// --- The socket --------------------------------------------------------------------------------

const conn = document.getElementById("board-conn");
window.boardLive = new LiveSocket(config.ws, {
  // Tests shorten the heartbeat (the server checks Redis on each ping); 20 s otherwise.
  heartbeatMs: window.BOARD_HEARTBEAT_MS || 20000,
  pongTimeoutMs: window.BOARD_HEARTBEAT_MS || 10000,
  onResync: resync,
  onStatus: (status) => {
    conn.dataset.status = status;
    conn.textContent = t[status] || status;
  },
  onMessage: (event) => {
    window.boardStats.events += 1;
    if (event.type === "order.created" || event.type === "order.updated") {
      const known = orders.get(event.number);
      if (known && known.version >= event.version) return; // already shown (or newer)
      resync();
    } else if (event.type === "courier.approaching") {
      // Throttled by the server; patched in place (no refetch for every step of the courier).
      const known = orders.get(event.number);
      if (!known || !known.dispatch || !known.dispatch.courier) return resync();
      Object.assign(known.dispatch.courier, { distance_m: event.distance_m, eta_minutes: event.eta_minutes });
      render();
    } else if ([
        "store.updated",
        "store.sanctioned",
        "store.sanction_lifted",
        "ticket.printed",
        "dispatch.updated",
        "courier.arrived",
        "courier.problem",
      ].includes(event.type)) {
      resync();
    }
  },
});
