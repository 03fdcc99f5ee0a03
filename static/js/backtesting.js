// Backtesting lab pages. The lab: show only the chosen system's parameters; live progress of runs.
// A run's page: equity and drawdown charts (TradingView Lightweight Charts) from #backtest-data
// (Django's json_script: the CSP allows no inline script), and a reload when a running run finishes.
// Progress arrives as "quantai:job.progress" DOM events dispatched by live.js.
(function () {
  "use strict";
  var T = window.QuantTheme;
  // The series' colours are the page's chart colours (--chart-1..3), as the legend's swatches are.
  var COLORS = T
    ? { strategy: T.color("chart-1", "#1f6feb"), spy: T.color("chart-2", "#9a6700"), equal_weight: T.color("chart-3", "#8250df") }
    : { strategy: "#1f6feb", spy: "#9a6700", equal_weight: "#8250df" };

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function showChosenSystem() {
    var select = document.getElementById("id_system");
    if (!select) { return; }
    function update() {
      document.querySelectorAll("fieldset.system-params").forEach(function (fs) {
        var chosen = fs.dataset.system === select.value;
        fs.hidden = !chosen;
        // Hidden systems' inputs are not sent: the server reads only the chosen system's anyway.
        fs.querySelectorAll("input, select").forEach(function (input) { input.disabled = !chosen; });
      });
    }
    select.addEventListener("change", update);
    update();
  }

  function series(curve, key) {
    var out = [];
    for (var i = 0; i < curve.dates.length; i++) {
      var v = curve[key][i];
      if (v !== null && v !== undefined) { out.push({ time: curve.dates[i], value: v }); }
    }
    return out;
  }

  function makeChart(box, formatter) {
    var lc = window.LightweightCharts;
    return lc.createChart(box, {
      autoSize: true,
      // Background, text and grid from the page's colours (static/js/theme.js), so dark mode applies.
      layout: window.QuantTheme ? window.QuantTheme.lightweight().layout : { background: { color: "#ffffff" }, textColor: "#24292f", attributionLogo: true },
      grid: window.QuantTheme ? window.QuantTheme.lightweight().grid : { vertLines: { color: "#eef1f4" }, horzLines: { color: "#eef1f4" } },
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false },
      localization: { priceFormatter: formatter }
    });
  }

  function drawCharts() {
    var data = readJson("backtest-data");
    if (!data || !data.curve || !data.curve.dates || !window.LightweightCharts) { return; }
    var lc = window.LightweightCharts;
    var curve = data.curve;
    var equityBox = document.getElementById("equity-chart");
    if (equityBox) {
      var chart = makeChart(equityBox, function (v) { return v.toFixed(2); });
      [["strategy", "Strategy", 0], ["spy", "SPY", 2], ["equal_weight", "Equal-weight five", 1]].forEach(function (s) {
        var line = chart.addSeries(lc.LineSeries, { color: COLORS[s[0]], lineWidth: 2, lineStyle: s[2], title: s[1] });
        line.setData(series(curve, s[0]));
      });
      chart.timeScale().fitContent();
      equityBox.dataset.points = String(curve.dates.length);
    }
    var ddBox = document.getElementById("drawdown-chart");
    if (ddBox) {
      var dd = makeChart(ddBox, function (v) { return (100 * v).toFixed(0) + " %"; });
      var area = dd.addSeries(lc.AreaSeries, {
        lineColor: COLORS.strategy, topColor: T ? T.rgba(COLORS.strategy, 0.05) : "rgba(31,111,235,0.05)", bottomColor: T ? T.rgba(COLORS.strategy, 0.3) : "rgba(31,111,235,0.3)", lineWidth: 1, title: "Strategy"
      });
      area.setData(series(curve, "strategy_drawdown"));
      var spy = dd.addSeries(lc.LineSeries, { color: COLORS.spy, lineWidth: 1, lineStyle: 2, title: "SPY" });
      spy.setData(series(curve, "spy_drawdown"));
      dd.timeScale().fitContent();
    }
  }

  function onProgress(event) {
    var d = event.detail || {};
    if (d.job !== "backtest") { return; }
    var finished = d.status === "finished" || d.status === "failed";
    var page = document.getElementById("backtest-run");
    if (page && page.dataset.runId === String(d.job_id)) {
      var status = page.dataset.status;
      if (finished && (status === "queued" || status === "running")) { window.location.reload(); return; }
      var bar = page.querySelector("#run-progress progress");
      if (bar) { bar.value = d.done; bar.textContent = d.done + " %"; }
    }
    var row = document.querySelector('#runs-table tr[data-run-id="' + d.job_id + '"]');
    if (!row) { return; }
    var progress = row.querySelector("progress");
    if (progress) { progress.value = d.done; progress.textContent = d.done + " %"; }
    var cell = row.querySelector(".status");
    if (cell) {
      var text = d.status === "finished" ? "Succeeded" : d.status === "failed" ? "Failed" : "Running";
      cell.textContent = finished ? text + " (reload for results)" : text;
      cell.className = "status status-" + (d.status === "finished" ? "succeeded" : d.status);
    }
    row.dataset.status = d.status;
  }

  document.addEventListener("quantai:job.progress", onProgress);
  document.addEventListener("DOMContentLoaded", function () {
    showChosenSystem();
    drawCharts();
  });
})();
