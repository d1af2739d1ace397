// Promotion Desk: the dialog, toasts, the nav's menus, busy buttons and one-time secrets. No framework, no inline
// code (CSP).
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
  // A toast goes when clicked, before its time.
  document.addEventListener("click", function (e) {
    var t = e.target.closest && e.target.closest("#toasts .toast");
    if (t) { t.remove(); }
  });

  // A link that looks like a button (role="button": it goes somewhere) answers Space as a button does.
  document.addEventListener("keydown", function (e) {
    if (e.key !== " " || e.defaultPrevented) { return; }
    var a = e.target.closest && e.target.closest('a[role="button"]');
    if (a) { e.preventDefault(); a.click(); }
  });

  // -- the nav: the phone's Menu button, and its dropdowns close on a click elsewhere or Escape --------------
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest("[data-nav-toggle]");
    if (toggle) {
      var open = toggle.closest("nav").classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
      if (!d.contains(e.target)) { d.removeAttribute("open"); }
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    var d = e.target.closest && e.target.closest("details.dropdown[open]");
    if (d) { d.removeAttribute("open"); d.querySelector("summary").focus(); }
  });

  // -- busy: a button whose request is on its way is disabled and shows a spinner (aria-busy) until the answer;
  // a form can't be sent twice. htmx requests end with htmx:afterRequest; a plain form's page is replaced.
  var busy = new WeakMap();
  function submitButtons(elt) {
    if (elt.tagName !== "FORM") { return [elt]; }
    var inside = Array.prototype.slice.call(elt.querySelectorAll("button:not([type=button]):not([type=reset]), input[type=submit]"));
    return elt.id ? inside.concat(Array.prototype.slice.call(document.querySelectorAll('[form="' + elt.id + '"]'))) : inside;
  }
  function markBusy(elt, submitter) {
    var buttons = submitButtons(elt).filter(function (b) { return !b.disabled; });
    buttons.forEach(function (b) {
      b.disabled = true;
      b.setAttribute("data-busy", "");
      if (!submitter || b === submitter || buttons.length === 1) { b.setAttribute("aria-busy", "true"); }
    });
    busy.set(elt, buttons);
  }
  function release(b) { b.disabled = false; b.removeAttribute("aria-busy"); b.removeAttribute("data-busy"); }
  function unmarkBusy(elt) {
    (busy.get(elt) || []).forEach(release);
    busy.delete(elt);
  }
  // Every busy button of the page works again: before htmx keeps the page for Back (its answer has come), and
  // when Back brings a page back from htmx's history or the browser's cache.
  function releaseAll() {
    document.querySelectorAll("[data-busy]").forEach(release);
    document.querySelectorAll("form[data-sending]").forEach(function (f) { delete f.dataset.sending; });
    busy = new WeakMap();
  }
  document.addEventListener("htmx:beforeHistorySave", releaseAll);
  document.addEventListener("htmx:historyRestore", releaseAll);
  // Already on its way: not twice. htmx asks "confirm" before it would queue a second request behind the first
  // (which would then go once the first is answered).
  document.addEventListener("htmx:confirm", function (e) { if (busy.has(e.detail.elt)) { e.preventDefault(); } });
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    var verb = e.detail.requestConfig ? e.detail.requestConfig.verb : "get";
    if (busy.has(elt)) { e.preventDefault(); return; }
    var trigger = e.detail.requestConfig && e.detail.requestConfig.triggeringEvent;
    var d = dialog();
    if (e.detail.target && e.detail.target.id === "dialog-body" && d && !d.open) {  // what opens the dialog
      opener = elt.tagName === "FORM" ? ((trigger && trigger.submitter) || document.activeElement) : elt;
    }
    // A live search or a poll keeps its field usable; a button, a link acting as one, or a form goes busy.
    if ((verb === "get" && !elt.matches("form, button, a")) || (elt.dataset && elt.dataset.pollEtag !== undefined)) { return; }
    markBusy(elt, trigger && trigger.submitter);
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var xhr = e.detail.xhr;
    if (xhr && xhr.getResponseHeader("HX-Redirect")) { return; }  // the next page is on its way: stay busy
    unmarkBusy(e.detail.elt);
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || form.hasAttribute("hx-post") || form.hasAttribute("hx-get") || form.hasAttribute("hx-put")
        || form.hasAttribute("hx-delete") || form.closest("[hx-boost]")) { return; }
    if (form.dataset.sending) { e.preventDefault(); return; }  // a second click while the first is on its way
    form.dataset.sending = "1";
    var submitter = e.submitter;
    // After this event the browser has read the form (the submitter's name and value included); then disable.
    setTimeout(function () { markBusy(form, submitter); }, 0);
  });
  window.addEventListener("pageshow", function (e) { if (e.persisted) { releaseAll(); } });

  // -- the dialog gives focus back to what opened it ---------------------------------------------------------
  var opener = null;
  document.addEventListener("close", function (e) {
    if (e.target.id !== "dialog") { return; }
    if (opener && document.contains(opener)) { opener.focus(); }
    opener = null;
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#toasts .toast").forEach(expire);
  });
})();
