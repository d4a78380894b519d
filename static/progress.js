// Live progress for long work (imports): polls a JSON endpoint and updates the page without reloading.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) return;
  var refresh = box.querySelector(".no-js-refresh");
  if (refresh) refresh.classList.add("d-none");
  function set(name, value) {
    var el = box.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = value;
  }
  function poll() {
    fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        var bar = box.querySelector('[data-field="bar"]');
        bar.style.width = p.percent + "%";
        bar.textContent = p.percent + "%";
        bar.parentElement.setAttribute("aria-valuenow", p.percent);
        var grouped = box.dataset.progressNumbers === "grouped";  // 12,345 where the page writes them so
        var n = function (x) { return grouped ? Number(x).toLocaleString("en") : String(x); };
        set("status", p.status);
        ["processed", "added", "invited", "rate"].forEach(function (k) { if (k in p) set(k, n(p[k])); });
        if ("left" in p) set("left", p.left);
        if (p.status === "queued" || p.status === "running") window.setTimeout(poll, 1000);
        else window.location.reload();  // show the final summary (skipped reasons, errors)
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  var status = box.querySelector('[data-field="status"]').textContent;
  if (status === "queued" || status === "running") window.setTimeout(poll, 500);
})();
