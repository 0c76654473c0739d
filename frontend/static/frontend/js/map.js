// Leaflet maps with a graceful fallback: when tiles cannot load (no internet, blocked tile
// server), the map keeps working on a plain background and says so once.

export function mountMap(element, { pins = [], center = [31.2304, 121.4737], zoom = 13 } = {}) {
  const L = window.L;
  if (!L) {
    element.textContent = element.dataset.offlineText || "Map unavailable.";
    return null;
  }
  const map = L.map(element, { center, zoom, scrollWheelZoom: false });
  const tiles = L.tileLayer(element.dataset.tileUrl, {
    attribution: element.dataset.tileAttribution,
    maxZoom: 19,
  });
  let warned = false;
  tiles.on("tileerror", () => {
    if (warned) return;
    warned = true;
    element.classList.add("map-offline");
    const note = L.control({ position: "bottomleft" });
    note.onAdd = () => {
      const div = L.DomUtil.create("div", "map-note");
      div.setAttribute("data-testid", "map-offline");
      div.textContent = element.dataset.offlineText || "Map tiles could not load.";
      return div;
    };
    note.addTo(map);
  });
  tiles.addTo(map);
  const markers = pins.map((pin) =>
    L.circleMarker([pin.lat, pin.lng], { radius: 6, color: "#c8102e", weight: 2, fillOpacity: 0.7 })
      .bindTooltip(pin.name)
      .addTo(map),
  );
  if (markers.length > 1) map.fitBounds(L.featureGroup(markers).getBounds().pad(0.1));
  return map;
}
