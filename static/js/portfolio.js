// Portfolio pages: the dashboard's charts (allocation doughnut with Chart.js, value over time
// against SPY with TradingView Lightweight Charts) and the trade form's latest-close hint.
// Data arrives through Django's json_script (#portfolio-data, #latest-closes): the CSP allows no
// inline script. A live price update reloads the dashboard's figures from the server.
// Colours come from the page's CSS custom properties (static/js/theme.js), so the charts follow dark mode;
// the value chart's 1M/3M/YTD/1Y/Max buttons filter the series already sent (static/js/chart_range.js).
(function () {
  "use strict";
  var theme = window.QuantTheme;
  function portfolioColour() { return theme ? theme.color("chart-1", "#1f6feb") : "#1f6feb"; }
  function spyColour() { return theme ? theme.color("chart-2", "#9a6700") : "#9a6700"; }
  function palette() { return theme ? theme.palette() : ["#1f6feb", "#9a6700", "#8250df", "#2da44e", "#bf3989", "#57606a"]; }

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // What the same external cash flows would be worth had each gone into SPY on its day:
  // sum over flows of flow * SPY(t) / SPY(day of the flow). benchmark "spy" is SPY's index.
  function spyEquivalent(series) {
    var units = 0, previousDeposits = 0, out = [];
    for (var i = 0; i < series.length; i++) {
      var point = series[i];
      var deposits = Number(point.net_deposits);
      var spy = point.spy === null ? null : Number(point.spy);
      if (spy === null || !(spy > 0)) { previousDeposits = deposits; continue; }
      units += (deposits - previousDeposits) / spy;
      previousDeposits = deposits;
      out.push({ time: point.date, value: Math.round(units * spy * 100) / 100 });
    }
    return out;
  }

  function drawValueChart(data) {
    var box = document.getElementById("value-chart");
    if (!box || !window.LightweightCharts || !data.series.length) { return; }
    var lc = window.LightweightCharts;
    var options = {
      autoSize: true,
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false },
      localization: { priceFormatter: function (v) { return v.toLocaleString("en-US", { maximumFractionDigits: 0 }); } }
    };
    var themed = theme ? theme.lightweight() : {};
    options.layout = themed.layout;
    options.grid = themed.grid;
    var chart = lc.createChart(box, options);
    var value = chart.addSeries(lc.AreaSeries, { lineWidth: 2, title: "Portfolio" });
    var allValues = data.series.map(function (p) { return { time: p.date, value: Number(p.equity) }; });
    // SPY's line is worked out on the whole history (the deposits before the range count), then cut like the rest.
    var allSpy = spyEquivalent(data.series);
    var line = allSpy.length ? chart.addSeries(lc.LineSeries, { lineWidth: 2, lineStyle: 2, title: "SPY" }) : null;

    function colour() {
      var main = portfolioColour();
      value.applyOptions({ lineColor: main, topColor: theme ? theme.rgba(main, 0.25) : "rgba(31,111,235,0.25)", bottomColor: theme ? theme.rgba(main, 0.02) : "rgba(31,111,235,0.02)" });
      if (line) { line.applyOptions({ color: spyColour() }); }
    }

    function show(range) {
      var shown = window.QuantRange ? window.QuantRange.filter(allValues, range) : allValues;
      value.setData(shown);
      if (line) {
        var from = shown.length ? shown[0].time : null;
        line.setData(allSpy.filter(function (p) { return from === null || p.time >= from; }));
      }
      chart.timeScale().fitContent();
      box.dataset.points = String(shown.length);
      box.dataset.range = range;
      box.dataset.first = shown.length ? shown[0].time : "";
    }

    colour();
    box.dataset.total = String(allValues.length);
    box.dataset.last = data.series[data.series.length - 1].equity;
    var group = document.querySelector('.range-buttons[data-range-for="value-chart"]');
    if (group && window.QuantRange) { window.QuantRange.attach(group, show); } else { show("MAX"); }
    if (theme) { theme.onChange(function () { chart.applyOptions(theme.lightweight()); colour(); }); }
  }

  function drawAllocation(data) {
    var canvas = document.getElementById("allocation-chart");
    if (!canvas || !window.Chart || !data.allocation.length) { return; }
    var labels = data.allocation.map(function (s) { return s.short ? s.label + " (short)" : s.label; });
    var values = data.allocation.map(function (s) { return Number(s.value); });
    var total = values.reduce(function (a, b) { return a + b; }, 0);
    var colours = palette();
    if (theme) { theme.chartJs(window.Chart); }
    new window.Chart(canvas, {
      type: "doughnut",
      data: {
        labels: labels,
        datasets: [{ data: values, backgroundColor: labels.map(function (_, i) { return colours[i % colours.length]; }), borderColor: theme ? theme.color("card", "#fff") : "#fff", borderWidth: 1 }]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { position: "right" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var pct = total > 0 ? (100 * ctx.raw / total).toFixed(1) : "0";
                return ctx.label + ": " + ctx.raw.toLocaleString("en-US", { minimumFractionDigits: 2 }) + " USD (" + pct + " %)";
              }
            }
          }
        }
      }
    });
    canvas.dataset.slices = JSON.stringify(labels);
  }

  function latestCloseHint() {
    var form = document.getElementById("trade-form");
    var closes = readJson("latest-closes");
    if (!form || !closes) { return; }
    var symbol = form.querySelector("select[name=symbol]");
    var price = form.querySelector("input[name=price]");
    var hint = document.getElementById("latest-close");
    function update() {
      var close = closes[symbol.value];
      if (close) {
        var shown = Number(close).toFixed(2);
        price.placeholder = shown;
        hint.textContent = "Latest adjusted close of " + symbol.value + ": " + shown + " USD (used if you leave the price empty).";
      } else {
        price.placeholder = "";
        hint.textContent = symbol.value ? "No close is known for " + symbol.value + " yet: enter a price." : "";
      }
    }
    symbol.addEventListener("change", update);
    update();
  }

  var data = readJson("portfolio-data");
  if (data) {
    drawValueChart(data);
    drawAllocation(data);
    // A new close revalues the portfolio on the server: show the fresh figures.
    document.addEventListener("quantai:price.update", function () { window.location.reload(); });
    // A stop loss or take profit was crossed (or an automatic exit ran): show the alert card now.
    document.addEventListener("quantai:risk.alert", function () { window.location.reload(); });
    document.getElementById("portfolio-dashboard").dataset.ready = "true";
  }
  latestCloseHint();
})();
