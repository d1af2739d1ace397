/*
 * rq-csrf.js: make rq-dashboard's own jQuery POSTs (delete / requeue / empty /
 * compact / requeue-all) carry Flask-WTF's CSRF token.
 *
 * The app injects into rq-dashboard pages (served under /rq):
 *   <meta name="csrf-token" content="...">   before </head>
 *   <script src="/static/rq-csrf.js" defer></script>
 * rq-dashboard loads jQuery itself near the end of <body>; this script waits
 * for it if needed. No inline code, so it works under a strict CSP.
 */
(function () {
  "use strict";

  function configure() {
    var $ = window.jQuery;
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (!$ || !$.ajaxSetup || !meta) {
      return false;
    }
    var token = meta.getAttribute("content");
    if (!token) {
      return false;
    }
    // Headers are deep-merged by jQuery, so other ajaxSetup headers survive.
    // This also overrides rq-dashboard's own cookie-based "_csrf_token" guess.
    $.ajaxSetup({ headers: { "X-CSRFToken": token } });
    return true;
  }

  if (!configure()) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", configure);
    } else {
      window.addEventListener("load", configure);
    }
  }
})();
