// Comparison of up to four backtests: their equity curves overlaid (TradingView Lightweight Charts),
// from #compare-data (Django's json_script: the CSP allows no inline script). Also limits the lab's
// "compare" checkboxes to four.
(function () {
  "use strict";
  var COLORS = ["#1f6feb", "#cf222e", "#1a7f37", "#8250df"];
  var MAX = 4;

  function draw() {
    var node = document.getElementById("compare-data");
    var box = document.getElementById("compare-chart");
    if (!node || !box || !window.LightweightCharts) { return; }
    var data = JSON.parse(node.textContent);
    var lc = window.LightweightCharts;
    var chart = lc.createChart(box, {
      autoSize: true,
      // Background, text and grid from the page's colours (static/js/theme.js), so dark mode applies.
      layout: window.QuantTheme ? window.QuantTheme.lightweight().layout : { background: { color: "#ffffff" }, textColor: "#24292f", attributionLogo: true },
      grid: window.QuantTheme ? window.QuantTheme.lightweight().grid : { vertLines: { color: "#eef1f4" }, horzLines: { color: "#eef1f4" } },
      rightPriceScale: { borderVisible: false, mode: 1 },
      timeScale: { borderVisible: false },
      localization: { priceFormatter: function (v) { return v.toFixed(2); } }
    });
    (data.curves || []).forEach(function (curve, i) {
      var points = [];
      for (var k = 0; k < curve.dates.length; k++) {
        var v = curve.values[k];
        if (v !== null && v !== undefined) { points.push({ time: curve.dates[k], value: v }); }
      }
      var line = chart.addSeries(lc.LineSeries, { color: COLORS[i % COLORS.length], lineWidth: 2, title: curve.label });
      line.setData(points);
    });
    chart.timeScale().fitContent();
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
