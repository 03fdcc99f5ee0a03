// The per-symbol page's price chart (TradingView Lightweight Charts): adjusted closes from #symbol-data (Django's
// json_script: the CSP allows no inline script), arrows on the days of the model's buy and sell calls (green when
// the call turned out right, red when wrong, grey while it waits for its horizon), the 1M/3M/YTD/1Y/Max buttons
// (static/js/chart_range.js) and the page's colours, dark mode included (static/js/theme.js).
(function () {
  "use strict";
  var theme = window.QuantTheme;
  function colour(name, fallback) { return theme ? theme.color(name, fallback) : fallback; }

  function draw() {
    var node = document.getElementById("symbol-data");
    var box = document.getElementById("symbol-price-chart");
    var data = node ? JSON.parse(node.textContent) : null;
    if (!data || !box || !window.LightweightCharts || !data.series.length) { return; }
    var lc = window.LightweightCharts;
    var themed = theme ? theme.lightweight() : {};
    var chart = lc.createChart(box, {
      autoSize: true,
      layout: themed.layout,
      grid: themed.grid,
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false, rightOffset: 6 } // room for the last day's call marker
    });
    var line = chart.addSeries(lc.LineSeries, { color: colour("chart-1", "#1f6feb"), lineWidth: 2, title: data.symbol });
    var all = data.series.map(function (p) { return { time: p.time, value: Number(p.value) }; });
    var marks = lc.createSeriesMarkers(line, []);
    var current = null;

    function markers(from) {
      return data.markers.filter(function (m) { return from === null || m.time >= from; }).map(function (m) {
        var sell = m.action === "SELL";
        var tone = m.correct === true ? colour("up", "#137333") : m.correct === false ? colour("down", "#b3261e") : colour("chart-neutral", "#57606a");
        return { time: m.time, position: sell ? "aboveBar" : "belowBar", color: tone, shape: sell ? "arrowDown" : "arrowUp", text: sell ? "Sell" : "Buy" };
      });
    }

    function show(range) {
      current = range;
      var shown = window.QuantRange ? window.QuantRange.filter(all, range) : all;
      line.setData(shown);
      var shownMarkers = markers(shown.length ? shown[0].time : null);
      marks.setMarkers(shownMarkers);
      chart.timeScale().fitContent();
      box.dataset.points = String(shown.length);
      box.dataset.markers = String(shownMarkers.length);
      box.dataset.range = range;
      box.dataset.first = shown.length ? shown[0].time : "";
    }

    box.dataset.total = String(all.length);
    var group = document.querySelector('.range-buttons[data-range-for="symbol-price-chart"]');
    if (group && window.QuantRange) { window.QuantRange.attach(group, show); } else { show("MAX"); }
    if (theme) {
      theme.onChange(function () {
        chart.applyOptions(theme.lightweight());
        line.applyOptions({ color: colour("chart-1", "#1f6feb") });
        show(current);
      });
    }
  }

  draw();
  var page = document.getElementById("symbol-page");
  if (page) { page.dataset.ready = "true"; }
})();
