// Charts for the stats pages, drawn with the vendored Chart.js from JSON in each canvas's data-chart attribute.
// Every series differs by line style and point shape as well as colour, so the chart reads without colour;
// the page shows the same numbers in a table for readers without JavaScript. Every word comes from the page, in
// its language: the series names in the JSON, the axis titles in data-text-* (English only as a fallback).
(function () {
  if (typeof Chart === "undefined") return;
  var colours = ["#0d6efd", "#198754", "#6c757d", "#adb5bd", "#dc3545"];
  var dashes = [[], [8, 4], [2, 3], [10, 3, 2, 3], [4, 4]];
  var points = ["circle", "rect", "triangle", "crossRot", "star"];

  function dataset(ds, i, kind) {
    var machine = ds.machine === true;
    var total = ds.axis === "total";
    return {
      label: ds.label,
      data: ds.data,
      type: total ? "line" : kind,
      yAxisID: total ? "total" : "y",
      borderColor: colours[i % colours.length],
      backgroundColor: kind === "bar" && !total ? colours[i % colours.length] + "99" : colours[i % colours.length],
      borderDash: machine ? [6, 4] : dashes[i % dashes.length],
      borderWidth: 2,
      pointStyle: points[i % points.length],
      pointRadius: ds.data.length > 40 ? 2 : 4,
      tension: 0.2,
      fill: false
    };
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    var kind = canvas.getAttribute("data-chart-kind") || "line";
    var datasets = spec.datasets.map(function (ds, i) { return dataset(ds, i, kind); });
    var axis = canvas.getAttribute("data-text-axis") || "per " + (spec.unit || "day");
    var scales = { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: axis } } };
    if (spec.datasets.some(function (ds) { return ds.axis === "total"; })) {
      scales.total = { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false },
                       title: { display: true, text: canvas.getAttribute("data-text-total") || "subscribers" } };
    }
    new Chart(canvas, {
      type: kind,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        locale: document.documentElement.lang || undefined,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { usePointStyle: true } } },
        scales: scales
      }
    });
  });
})();
