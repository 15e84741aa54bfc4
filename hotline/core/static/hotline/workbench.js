// The analyst's workbench: keys to move between media, set verdicts, reveal, select, apply, save.
// Shows only the fields of the chosen verdict. No inline script (CSP-safe); the form works without it.
(function () {
  "use strict";
  var form = document.getElementById("workbench");
  if (!form) { return; }
  var cards = Array.prototype.slice.call(document.querySelectorAll(".media-card"));
  var page = document.getElementById("page-fields");
  var KEYS = { "1": "baseline", "2": "national", "3": "not_illegal" };
  var PAGE_KEYS = { "4": "unreachable", "5": "other_harm" };
  var SEVERITY = { baseline: 5, national: 4, other_harm: 3, not_illegal: 2, unreachable: 1 };
  var EFFECTIVE_FIELDS = { site_type: 1, commerciality: 1, payment_method: 1 };
  var STATE = "workbench-" + form.getAttribute("data-item");
  var current = 0;

  function prefix(card) { return card.getAttribute("data-prefix"); }
  function checked(name) {
    var input = form.querySelector("input[name='" + name + "']:checked");
    return input ? input.value : "";
  }
  function verdictOf(card) {
    return card.getAttribute("data-known") || (prefix(card) ? checked(prefix(card) + "-verdict") : "");
  }
  function pageVerdict() { return checked("verdict"); }
  function effective() {
    var best = pageVerdict();
    if (best === "unreachable") { return best; }
    cards.forEach(function (card) {
      var v = verdictOf(card);
      if ((SEVERITY[v] || 0) > (SEVERITY[best] || 0)) { best = v; }
    });
    return best;
  }
  function show(el, visible) {
    el.hidden = !visible;
    Array.prototype.forEach.call(el.querySelectorAll("input, select, textarea"), function (input) {
      input.disabled = !visible;
    });
  }
  function toggle(scope, verdict, whole) {
    Array.prototype.forEach.call(scope.querySelectorAll("[data-show-for]"), function (el) {
      var v = (el.getAttribute("data-field") in EFFECTIVE_FIELDS) ? whole : verdict;
      show(el, el.getAttribute("data-show-for").split(" ").indexOf(v) >= 0);
    });
    Array.prototype.forEach.call(scope.querySelectorAll("[data-reason-for]"), function (el) {
      show(el, el.getAttribute("data-reason-for") === verdict);
    });
  }
  function refresh() {
    var whole = effective();
    cards.forEach(function (card) {
      if (prefix(card)) { toggle(card, verdictOf(card), whole); }
      card.classList.toggle("decided", verdictOf(card) !== "");
    });
    if (page) { toggle(page, cards.length ? pageVerdict() : effective(), whole); }
    form.classList.toggle("page-unreachable", pageVerdict() === "unreachable");
  }
  function focusCard(index) {
    if (!cards.length) { return; }
    current = Math.max(0, Math.min(cards.length - 1, index));
    cards.forEach(function (card, i) { card.classList.toggle("current", i === current); });
    cards[current].scrollIntoView({ block: "nearest" });
    cards[current].focus({ preventScroll: true });
  }
  function pick(scope, name, value) {
    var input = scope.querySelector("input[name='" + name + "'][value='" + value + "']");
    if (input) { input.checked = true; }
    return input;
  }
  function setVerdict(card, verdict) {
    var p = prefix(card);
    if (!p || !pick(card, p + "-verdict", verdict)) { return; }
    if (verdict === "baseline") { pick(card, p + "-legal_limb", "real_minor"); }
    if ((verdict === "baseline" || verdict === "national") && !checked(p + "-content_type")) {
      pick(card, p + "-content_type", card.getAttribute("data-kind"));
    }
    if (pageVerdict() === "unreachable") { pick(page, "verdict", ""); }
  }
  function setPage(verdict) { pick(page, "verdict", verdict); }
  function apply() {
    var source = cards[current];
    var p = prefix(source);
    if (!p) { return; }
    cards.forEach(function (card) {
      var q = prefix(card);
      if (card === source || !q || !card.classList.contains("selected")) { return; }
      Array.prototype.forEach.call(source.querySelectorAll("input"), function (input) {
        var name = q + input.name.slice(p.length);
        if (input.type === "radio") {
          if (input.checked) { pick(card, name, input.value); }
        } else if (input.type === "checkbox") {
          var box = card.querySelector("input[name='" + name + "']");
          if (box) { box.checked = input.checked; }
        }
      });
      card.classList.remove("selected");
    });
  }
  function save() {
    try { sessionStorage.removeItem(STATE); } catch (e) { /* storage off: nothing kept */ }
    document.getElementById("save-next").click();
  }
  function remember() {
    var kept = [];
    Array.prototype.forEach.call(form.querySelectorAll("input:checked"), function (input) {
      kept.push([input.name, input.value]);
    });
    try { sessionStorage.setItem(STATE, JSON.stringify({ checked: kept, current: current })); } catch (e) { /* off */ }
  }
  function restore() {
    var raw = null;
    try { raw = sessionStorage.getItem(STATE); sessionStorage.removeItem(STATE); } catch (e) { return; }
    if (!raw || form.querySelector(".errorlist")) { return; }
    var state = JSON.parse(raw);
    state.checked.forEach(function (pair) { pick(form, pair[0], pair[1]); });
    current = state.current || 0;
  }
  function typing(target) {
    var tag = target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type !== "radio" && target.type !== "checkbox");
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    if ((event.target.tagName === "BUTTON" || event.target.tagName === "A") && (event.key === "Enter" || event.key === " ")) {
      return;
    }
    var radio = event.target.type === "radio";
    var key = event.key;
    var card = cards[current];
    if (key === "j" || (!radio && (key === "ArrowDown" || key === "ArrowRight"))) { focusCard(current + 1); }
    else if (key === "k" || (!radio && (key === "ArrowUp" || key === "ArrowLeft"))) { focusCard(current - 1); }
    else if (KEYS[key]) { if (card) { setVerdict(card, KEYS[key]); } else { setPage(KEYS[key]); } }
    else if (PAGE_KEYS[key]) { setPage(PAGE_KEYS[key]); }
    else if (key === "x" && card) { card.classList.toggle("selected"); }
    else if (key === "a") { apply(); }
    else if (key === "r" && card) {
      var reveal = card.querySelector("[data-reveal]");
      if (reveal) { remember(); reveal.click(); }
    }
    else if (key === "s" || key === "Enter") { save(); }
    else if (key === "?") { document.getElementById("keys").classList.toggle("open"); }
    else { return; }
    event.preventDefault();
    refresh();
  });
  form.addEventListener("change", refresh);
  cards.forEach(function (card, i) {
    card.addEventListener("click", function () { focusCard(i); });
  });
  restore();
  refresh();
  focusCard(current);
}());
