// The diner's pages (frontend.diner). Every page works without this module; it adds:
// - "Locate me" on the address page (the browser's position fills lat/lng, then submits);
// - the options dialog: opens modally, enforces each group's min/max, shows the live price,
//   closes after a successful add (htmx swaps the cart bar);
// - htmx swaps our 400 answers too: they carry the message to show (a refused add or coupon);
// - "Place order" sends once (the server is idempotent anyway: the form carries its key);
// - the order page's live status: its own LiveSocket on /ws/me/; on an `order.updated` push for
//   this order, and after every (re)connect, the status block is fetched again.
import { LiveSocket } from "./ws.js";

export function formatYuan(cents) {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(Math.trunc(cents));
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

// --- htmx: a 400 from these pages is content, not a failure --------------------------------

document.body.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.xhr.status === 400) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// htmx checks a form's validity before sending; show the browser's message when it halts.
document.body.addEventListener("htmx:validation:halted", (event) => {
  const form = event.detail.elt.closest("form");
  if (form) form.reportValidity();
});

// --- Address: "Locate me" -----------------------------------------------------------------

function initLocate(form) {
  const button = form.querySelector("[data-locate]");
  const error = form.querySelector("[data-locate-error]");
  const lat = form.querySelector("input[name=lat]");
  const lng = form.querySelector("input[name=lng]");
  const address = form.querySelector("input[name=address]");
  // Typing an address means "not where I am": drop a position from an earlier attempt.
  address?.addEventListener("input", () => {
    lat.value = "";
    lng.value = "";
  });
  if (!button || !("geolocation" in navigator)) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    button.disabled = true;
    error.hidden = true;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        lat.value = position.coords.latitude.toFixed(6);
        lng.value = position.coords.longitude.toFixed(6);
        form.submit();
      },
      () => {
        button.disabled = false;
        error.textContent = button.dataset.denied;
        error.hidden = false;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
}

// --- Store page: the options dialog --------------------------------------------------------

function initOptionsForm(form) {
  const total = form.querySelector("[data-price-total]");
  const quantity = form.querySelector("input[name=quantity]");
  const update = () => {
    let unit = Number(form.dataset.basePrice);
    for (const group of form.querySelectorAll("fieldset[data-max]")) {
      const inputs = [...group.querySelectorAll("input[data-delta]")];
      const picked = inputs.filter((input) => input.checked && input.value !== "");
      unit += picked.reduce((sum, input) => sum + Number(input.dataset.delta), 0);
      if (group.dataset.multiple !== "1") continue;
      const min = Number(group.dataset.min);
      const max = Number(group.dataset.max);
      // At the maximum, the other boxes cannot be ticked; sold-out ones never can.
      for (const input of inputs) {
        if (!input.dataset.soldOut) input.disabled = !input.checked && picked.length >= max;
      }
      const anchor = inputs.find((input) => !input.disabled);
      for (const input of inputs) input.setCustomValidity("");
      if (anchor && picked.length < min) anchor.setCustomValidity(group.dataset.ruleMessage);
    }
    const count = Math.max(1, Math.min(99, Number(quantity?.value) || 1));
    if (total) total.textContent = formatYuan(unit * count);
  };
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  form.addEventListener("htmx:beforeRequest", () => {
    const slot = document.getElementById(form.dataset.errorSlot);
    if (slot) slot.replaceChildren();
  });
  form.addEventListener("htmx:afterRequest", (event) => {
    if (!event.detail.successful) return;
    form.closest("dialog")?.close();
    form.reset();
    update();
  });
  update();
}

function openModal(dialog) {
  if (typeof dialog.showModal !== "function") return false;
  if (dialog.open) dialog.close(); // opened by the server (?dish=) as a plain, non-modal box
  dialog.showModal();
  return true;
}

function initDialogs() {
  for (const opener of document.querySelectorAll("[data-open-dialog]")) {
    opener.addEventListener("click", (event) => {
      const dialog = document.getElementById(opener.dataset.openDialog);
      // Without <dialog> support the link loads the page with the dialog open.
      if (dialog && openModal(dialog)) event.preventDefault();
    });
  }
  for (const closer of document.querySelectorAll("[data-close-dialog]")) {
    closer.addEventListener("click", (event) => {
      const dialog = closer.closest("dialog");
      if (!dialog) return;
      event.preventDefault();
      dialog.close();
    });
  }
  for (const dialog of document.querySelectorAll("dialog.options-dialog")) {
    // A tap on the backdrop closes the dialog.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
    if (dialog.open) openModal(dialog);
  }
  for (const form of document.querySelectorAll("form[data-options-form]")) initOptionsForm(form);
}

// --- Checkout: send "Place order" once -----------------------------------------------------

document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (!button || !button.matches("[data-once]")) return;
  // After this tick, so that the submission itself goes ahead.
  setTimeout(() => {
    button.disabled = true;
    button.classList.add("is-busy");
  }, 0);
});

// Coming back with the back button restores the page from the cache: allow a new attempt.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const button of document.querySelectorAll("[data-once]")) {
    button.disabled = false;
    button.classList.remove("is-busy");
  }
});

// --- Order page: live status --------------------------------------------------------------

function initOrderLive(live) {
  let refreshes = 0;
  const refresh = async () => {
    const target = document.getElementById("order-status");
    if (!target) return;
    if (window.htmx) {
      await window.htmx.ajax("GET", live.dataset.statusUrl, { target: "#order-status", swap: "outerHTML" });
    } else {
      const response = await fetch(live.dataset.statusUrl, { credentials: "same-origin" });
      if (response.ok) target.outerHTML = await response.text();
    }
    refreshes += 1;
    live.dataset.refreshes = String(refreshes);
  };
  window.mingchuOrderLive = new LiveSocket("/ws/me/", {
    onStatus: (state) => {
      live.dataset.socket = state;
    },
    onResync: refresh,
    onMessage: (event) => {
      if (event.type === "order.updated" && String(event.number) === live.dataset.number) {
        refresh().catch((error) => console.error("order refresh failed", error));
      }
    },
  });
}

const locateForm = document.querySelector("form[data-locate-form]");
if (locateForm) initLocate(locateForm);
initDialogs();
const live = document.querySelector("[data-order-live]");
if (live) initOrderLive(live);
