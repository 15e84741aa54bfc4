// The self-referral page: hash each chosen file on this device (hashing.js) and put only the hashes
// in the form. The file chooser has no name and is emptied before sending, so no file is ever uploaded.
(function () {
  "use strict";
  var form = document.getElementById("selfreferral-form");
  if (!form || !window.HotlineHashing) { return; }
  var chooser = document.getElementById("selfreferral-files");
  var field = form.querySelector("input[name=hashes]");
  var progress = document.getElementById("selfreferral-progress");
  var list = document.getElementById("selfreferral-list");
  var send = document.getElementById("selfreferral-send");

  function say(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }

  chooser.addEventListener("change", function () {
    var files = Array.prototype.slice.call(chooser.files);
    send.disabled = true; field.value = ""; list.textContent = "";
    if (!files.length) { progress.textContent = ""; return; }
    progress.textContent = progress.dataset.working;
    var results = [];
    files.reduce(function (chain, file) {
      return chain.then(function () {
        return window.HotlineHashing.hashFile(file).then(function (hashed) {
          results.push(hashed);
          var row = document.createElement("li");
          row.textContent = file.name + " ✓";
          list.appendChild(row);
        }, function () {
          var row = document.createElement("li");
          row.textContent = say(progress.dataset.failed, { name: file.name });
          list.appendChild(row);
        });
      });
    }, Promise.resolve()).then(function () {
      var timings = results.map(function (r) { return r.ms; });
      form.dataset.timings = JSON.stringify(timings);
      var sent = results.map(function (r) { var copy = Object.assign({}, r); delete copy.ms; return copy; });
      field.value = sent.length ? JSON.stringify(sent) : "";
      progress.textContent = say(progress.dataset.done, { count: sent.length });
      send.disabled = !sent.length;
      form.dataset.ready = "true";
    });
  });

  form.addEventListener("submit", function () { chooser.value = ""; });
})();
