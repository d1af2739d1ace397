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
  // A part that polls itself (the planning room's shared part) sends the tag it was drawn with and is answered
  // 304 (nothing swapped: see responseHandling in base.html) while it stands; a hidden tab does not poll, and
  // polls at once when shown again. It also says whether the page shows a draft, which the server checks.
  document.addEventListener("htmx:configRequest", function (e) {
    var etag = e.detail.elt.dataset && e.detail.elt.dataset.pollEtag;
    if (etag === undefined || e.detail.verb !== "get") { return; }
    if (document.hidden) { e.preventDefault(); return; }
    e.detail.headers["If-None-Match"] = etag;
    e.detail.parameters.draft = document.getElementById("draft-form") ? "1" : "0";
  });
  // The planning draft's team names that are still as drawn follow the leading suggestions the room's shared part
  // shows (after each of its swaps); a name the member types is theirs from then on.
  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("#draft-form input[data-default-name]")) {
      e.target.removeAttribute("data-default-name");
    }
  });
  function followLeadingNames() {
    var list = document.querySelector("#planning-shared [data-leading-names]");
    if (!list) { return; }
    var leading = JSON.parse(list.dataset.leadingNames);
    document.querySelectorAll("#draft-form input[data-default-name]").forEach(function (input) {
      var index = Number(input.name.replace("team_name_", ""));
      if (leading[index]) { input.value = leading[index]; }
    });
  }
  document.addEventListener("htmx:afterSettle", followLeadingNames);
  document.addEventListener("htmx:oobAfterSwap", followLeadingNames);
  // A poll sent elsewhere (signed out meanwhile: the login page) takes the whole tab there, not its part.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr;
    if (!(e.detail.elt.dataset && e.detail.elt.dataset.pollEtag !== undefined) || !xhr.responseURL) { return; }
    var asked = new URL(e.detail.pathInfo.requestPath, window.location.href).pathname;
    if (new URL(xhr.responseURL).pathname !== asked) {
      e.detail.shouldSwap = false;
      window.location.assign(xhr.responseURL);
    }
  });
  // A form that stays on the page after it was sent (its answer swaps elsewhere) is emptied once it succeeded.
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (e.detail.xhr && e.detail.xhr.status < 300 && form.matches && form.matches("form[data-reset-on-success]")) {
      form.reset();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#toasts .toast").forEach(expire);
  });
})();
