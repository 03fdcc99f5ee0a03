// Comparison of up to four backtests: their equity curves overlaid on a log scale (a Lightweight chart
// from static/js/charts.js, in the page's colours), from #compare-data (Django's json_script: the CSP allows
// no inline script). Also limits the lab's "compare" checkboxes to four.
(function () {
  "use strict";
  var charts = window.QuantAICharts; // static/js/charts.js, which base.html loads before this script
  var COLOURS = ["#1f6feb", "#cf222e", "#1a7f37", "#8250df"]; // the legend's swatches (backtesting.css .c0-.c3)
  var MAX = 4;

  function draw() {
    var data = charts.readJson("compare-data");
    var box = document.getElementById("compare-chart");
    var view = data ? charts.lineChart(box, { logScale: true, priceFormatter: charts.format.fixed(2) }) : null;
    if (!view) { return; }
    (data.curves || []).forEach(function (curve, i) {
      view.line({ colour: COLOURS[i % COLOURS.length], title: curve.label }).setData(charts.columns(curve.dates, curve.values));
    });
    view.fit();
    box.dataset.curves = String((data.curves || []).length);
  }

  function limitPicks() {
    var boxes = document.querySelectorAll("input.compare-pick");
    function update() {
      var chosen = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      boxes.forEach(function (b) { b.disabled = !b.checked && chosen >= MAX; });
    }
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw();
    limitPicks();
  });
})();
