// The signed-in user's own channel on every page: notices pushed to this user appear as
// toasts. On every (re)connect the page resyncs who it is from the API, so a dropped socket
// is noticed and repaired without a reload.
import { LiveSocket } from "./ws.js";

const status = document.getElementById("live-status");
const toasts = document.getElementById("toasts");

function toast(text, level = "info") {
  const item = document.createElement("div");
  item.className = `toast toast-${level}`;
  item.setAttribute("role", "status");
  item.dataset.testid = "toast";
  item.textContent = text;
  toasts.append(item);
  setTimeout(() => item.remove(), 8000);
}

if (status && toasts) {
  let resyncs = 0;
  window.mingchuLive = new LiveSocket("/ws/me/", {
    onStatus: (state) => {
      status.dataset.status = state;
      status.title = state;
    },
    onResync: async () => {
      const response = await fetch("/api/v1/me/", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const me = await response.json();
      document.querySelectorAll("[data-testid=who]").forEach((el) => {
        el.textContent = me.display_name || me.username;
      });
      resyncs += 1;
      status.dataset.resyncs = String(resyncs);
    },
    onMessage: (event) => {
      if (event.type === "notice") toast(event.text, event.level);
    },
  });
}
