// The diner's live map of one order: its own socket on /ws/orders/<number>/track/ (only the
// order's diner is let in). The server sends a full snapshot on every (re)connect, then the
// courier's position (throttled server-side) and dispatch hints; on a hint, and after every
// reconnect, the snapshot is fetched again from the REST API, so nothing is lost in a drop.
import { LiveSocket } from "./ws.js";
import { mountMap } from "./map.js";

const card = document.getElementById("tracking");

if (card) {
  const mapEl = document.getElementById("track-map");
  const q = (sel) => card.querySelector(sel);
  let map = null;
  let courier = null;
  let fitted = false;

  const ensureMap = (snap) => {
    if (map || !window.L) return map;
    map = mountMap(mapEl, { center: [snap.store.lat, snap.store.lng], zoom: 14 });
    if (!map) return null;
    window.L.circleMarker([snap.store.lat, snap.store.lng], { radius: 7, color: "#c8102e", fillOpacity: 0.8 }).addTo(map);
    window.L.circleMarker([snap.dropoff.lat, snap.dropoff.lng], { radius: 7, color: "#1b5e20", fillOpacity: 0.8 }).addTo(map);
    return map;
  };

  const moveCourier = (pos) => {
    mapEl.dataset.courierLat = String(pos.lat);
    mapEl.dataset.courierLng = String(pos.lng);
    mapEl.dataset.courierMoves = String(Number(mapEl.dataset.courierMoves || 0) + 1);
    if (!map) return;
    if (!courier) {
      courier = window.L.circleMarker([pos.lat, pos.lng], { radius: 8, color: "#0d47a1", fillOpacity: 1 }).addTo(map);
    } else {
      courier.setLatLng([pos.lat, pos.lng]);
    }
    if (!fitted) {
      map.fitBounds([[pos.lat, pos.lng], map.getCenter()], { padding: [30, 30], maxZoom: 16 });
      fitted = true;
    }
  };

  const render = (snap) => {
    card.hidden = !snap.active;
    if (!snap.active) {
      if (courier) courier.remove();
      courier = null;
      return;
    }
    ensureMap(snap);
    const looking = q("[data-testid=tracking-looking]");
    looking.hidden = !snap.looking;
    if (snap.looking && snap.delay_minutes) {
      looking.querySelector("[data-delay]").textContent = mapEl.dataset.delayText.replace("{minutes}", snap.delay_minutes);
    }
    const who = q("[data-testid=tracking-courier]");
    who.hidden = !snap.courier_name;
    who.querySelector("[data-courier-name]").textContent = snap.courier_name || "";
    const eta = q("[data-testid=tracking-eta]");
    eta.hidden = !snap.eta;
    if (snap.eta) {
      const at = new Date(snap.eta);
      eta.querySelector("[data-eta]").textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      eta.querySelector("[data-eta]").dateTime = snap.eta;
    }
    q("[data-testid=dropoff-code-box]").hidden = !snap.dropoff_code;
    q("[data-testid=dropoff-code]").textContent = snap.dropoff_code || "";
    if (snap.courier) moveCourier(snap.courier);
    else if (courier) {
      courier.remove();
      courier = null;
    }
  };

  const resync = async () => {
    const response = await fetch(card.dataset.api, { credentials: "same-origin" });
    if (response.ok) render(await response.json());
  };

  new LiveSocket(card.dataset.ws, {
    onResync: resync,
    onMessage: (event) => {
      if (event.type === "tracking.snapshot") render(event);
      else if (event.type === "courier.position") moveCourier(event);
      else resync().catch((error) => console.error("tracking resync failed", error));
    },
  });
}
