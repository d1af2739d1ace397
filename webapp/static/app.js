// Promotion Desk: the dialog, toasts and one-time secrets. No framework, no inline code (CSP).
(function () {
  "use strict";
  var TOAST_MS = 5000;

  function dialog() { return document.getElementById("dialog"); }

  function expire(el) { setTimeout(function () { el.remove(); }, TOAST_MS); }

  function toast(level, message) {
    var region = document.getElementById("toasts");
    if (!region || !message) { return; }
    var el = document.createElement("div");
    el.className = "toast toast-" + (level === "error" ? "error" : "success");
    el.setAttribute("role", level === "error" ? "alert" : "status");
    el.textContent = message;
    region.appendChild(el);
    expire(el);
  }

  // Servers send HX-Trigger: {"toast": {"level": "success"|"error", "message": "..."}}.
  document.addEventListener("toast", function (e) { toast(e.detail.level, e.detail.message); });
  document.addEventListener("closeDialog", function () { var d = dialog(); if (d && d.open) { d.close(); } });
  document.addEventListener("htmx:afterSwap", function (e) {
    var d = dialog();
    if (d && !d.open && e.detail.target && e.detail.target.id === "dialog-body") { d.showModal(); }
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-close-dialog]")) { e.preventDefault(); dialog().close(); }
  });
  document.addEventListener("focusin", function (e) {
    if (e.target.matches("[data-select-on-focus]")) { e.target.select(); }
  });
  // The planning room's draft: drag a player chip onto a team (or the bench); the form re-renders the draft.
  document.addEventListener("dragstart", function (e) {
    var chip = e.target.closest && e.target.closest(".chip[data-player]");
    if (chip) { e.dataTransfer.setData("text/plain", chip.dataset.player); }
  });
  document.addEventListener("dragover", function (e) {
    if (e.target.closest && e.target.closest(".draft-column")) { e.preventDefault(); }
  });
  document.addEventListener("drop", function (e) {
    var column = e.target.closest && e.target.closest(".draft-column");
    var form = document.getElementById("draft-form");
    if (!column || !form) { return; }
    e.preventDefault();
    var player = e.dataTransfer.getData("text/plain");
    if (!/^\d+$/.test(player)) { return; }
    var input = form.querySelector('[data-player-input="' + player + '"]');
    if (!input) { return; }
    input.value = column.dataset.team;
    // htmx sends the form's last focused button with it: the dragged chip would count as a click on it.
    if (document.activeElement) { document.activeElement.blur(); }
    form.dispatchEvent(new Event("redraft"));
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#toasts .toast").forEach(expire);
  });
})();
