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
        var grouped = box.dataset.progressNumbers === "grouped";  // 12,345 (12.345 …) where the page writes them so
        var lang = document.documentElement.lang || "en";
        var n = function (x) { return grouped ? Number(x).toLocaleString(lang) : String(x); };
        set("status_label", p.status_label || p.status);
        ["processed", "added", "invited", "rate"].forEach(function (k) { if (k in p) set(k, n(p[k])); });
        if ("left" in p) set("left", p.left);
        if (p.status === "queued" || p.status === "running" || p.status === "cancelling") window.setTimeout(poll, 1000);
        else window.location.reload();  // show the final summary (skipped reasons, errors)
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  var shown = box.querySelector("[data-status]");  // the status's code (its words are in the page's language)
  var status = shown ? shown.dataset.status : "";
  if (status === "queued" || status === "running" || status === "cancelling") window.setTimeout(poll, 500);
})();
