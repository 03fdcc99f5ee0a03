// Backtesting lab pages. The lab: show only the chosen system's parameters; live progress of runs.
// A run's page: equity and drawdown charts (TradingView Lightweight Charts through static/js/charts.js) from
// #backtest-data (Django's json_script), and a reload when a running run finishes.
// Progress arrives as "quantai:job.progress" DOM events dispatched by live.js.
(function () {
  "use strict";
  var charts = window.QuantAICharts;
  // The series' colours are the page's chart colours (--chart-1..3), as the legend's swatches are.
  var COLOURS = { strategy: "chart-1", spy: "chart-2", equal_weight: "chart-3" };

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

  function drawCharts() {
    var data = charts.readJson("backtest-data");
    if (!data || !data.curve || !data.curve.dates) { return; }
    var curve = data.curve;
    var equityBox = document.getElementById("equity-chart");
    var equity = charts.lineChart(equityBox, { priceFormatter: charts.format.fixed(2) });
    if (equity) {
      [["strategy", "Strategy", 0], ["spy", "SPY", 2], ["equal_weight", "Equal-weight five", 1]].forEach(function (s) {
        equity.line({ colour: COLOURS[s[0]], lineStyle: s[2], title: s[1] }).setData(charts.columns(curve.dates, curve[s[0]]));
      });
      equity.fit();
      equityBox.dataset.points = String(curve.dates.length);
    }
    var drawdown = charts.lineChart(document.getElementById("drawdown-chart"), { priceFormatter: charts.format.percent(0) });
    if (drawdown) {
      drawdown.area({ colour: COLOURS.strategy, lineWidth: 1, top: 0.05, bottom: 0.3, title: "Strategy" })
        .setData(charts.columns(curve.dates, curve.strategy_drawdown));
      drawdown.line({ colour: COLOURS.spy, lineWidth: 1, lineStyle: 2, title: "SPY" }).setData(charts.columns(curve.dates, curve.spy_drawdown));
      drawdown.fit();
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
