// Counts viewing time while a media page stays open (analyst welfare). No inline script: CSP-safe.
(function () {
  "use strict";
  var box = document.getElementById("welfare");
  if (!box) { return; }
  var url = box.getAttribute("data-heartbeat");
  function csrf() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  function beat() {
    if (document.hidden) { return; }
    fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() } })
      .then(function (r) { return r.json(); })
      .then(function (state) {
        if (state.over_budget || state.break_due) { window.location.reload(); }
      })
      .catch(function () {});
  }
  window.setInterval(beat, 60000);
}());
