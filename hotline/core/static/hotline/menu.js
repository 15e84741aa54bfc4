// The header's section menus (<details>): one open at a time, closed by a click elsewhere or Escape.
// No inline script (CSP-safe); without it the menus still open and close with their summary.
(function () {
  "use strict";
  var menus = Array.prototype.slice.call(document.querySelectorAll("header.top details.section"));
  if (!menus.length) { return; }
  function closeAll(except) {
    menus.forEach(function (menu) { if (menu !== except) { menu.open = false; } });
  }
  menus.forEach(function (menu) {
    menu.addEventListener("toggle", function () { if (menu.open) { closeAll(menu); } });
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("header.top details.section")) { closeAll(null); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var open = menus.filter(function (menu) { return menu.open; })[0];
    if (!open) { return; }
    open.open = false;
    open.querySelector("summary").focus();
  });
})();
