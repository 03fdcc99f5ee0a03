// The Learning page: reliability and feature-importance charts (Chart.js through static/js/charts.js) from the
// page's JSON (#learning-data), and live progress of training runs (static/js/live.js turns each websocket
// message into a "quantai:<type>" DOM event).
(function () {
  "use strict";
  var charts = window.QuantAICharts;
  var root = document.getElementById("learning");
  var data = charts.readJson("learning-data");
  if (!root || !data) { return; }

  function reliabilityChart() {
    var bins = data.reliability || [];
    if (!bins.length) { return; }
    var points = bins.map(function (b) { return { x: b.mean_predicted, y: b.observed, count: b.count }; });
    var xs = points.map(function (p) { return p.x; }).concat(points.map(function (p) { return p.y; }));
    var lo = Math.max(0, Math.floor((Math.min.apply(null, xs) - 0.02) * 50) / 50);
    var hi = Math.min(1, Math.ceil((Math.max.apply(null, xs) + 0.02) * 50) / 50);
    var model = charts.colour("chart-1");
    charts.chartJs(document.getElementById("chart-reliability"), {
      type: "scatter",
      data: {
        datasets: [
          { label: "Ensemble (bin mean)", data: points, showLine: true, pointRadius: 4, borderColor: model, backgroundColor: model },
          { label: "Perfect calibration", data: [{ x: lo, y: lo }, { x: hi, y: hi }], showLine: true, pointRadius: 0, borderDash: [6, 4], borderColor: charts.colour("chart-neutral") }
        ]
      },
      options: {
        scales: {
          x: { min: lo, max: hi, title: { display: true, text: "predicted P(up)" } },
          y: { min: lo, max: hi, title: { display: true, text: "observed share that went up" } }
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var p = ctx.raw;
                return "predicted " + p.x.toFixed(3) + ", observed " + p.y.toFixed(3) + (p.count ? " (" + p.count + " rows)" : "");
              }
            }
          }
        }
      }
    });
  }

  function importanceChart() {
    var byModel = data.feature_importance || {};
    var models = Object.keys(byModel);
    if (!models.length) { return; }
    // The 15 features with the largest mean importance across the tree models.
    var totals = {};
    models.forEach(function (m) {
      Object.keys(byModel[m]).forEach(function (f) { totals[f] = (totals[f] || 0) + byModel[m][f] / models.length; });
    });
    var features = Object.keys(totals).sort(function (a, b) { return totals[b] - totals[a]; }).slice(0, 15);
    var colours = charts.palette();
    charts.chartJs(document.getElementById("chart-importance"), {
      type: "bar",
      data: {
        labels: features,
        datasets: models.map(function (m, i) {
          return { label: m, data: features.map(function (f) { return byModel[m][f] || 0; }), backgroundColor: colours[i % colours.length] };
        })
      },
      options: { indexAxis: "y", scales: { x: { title: { display: true, text: "share of importance" } } } }
    });
  }

  // ---- live progress of training runs ----
  var reloadPending = false;
  function reloadSoon() {
    if (reloadPending) { return; }
    reloadPending = true;
    // A finished run brings new versions and metrics: the server renders them.
    window.setTimeout(function () { window.location.reload(); }, 1500);
  }

  document.addEventListener("quantai:job.progress", function (event) {
    var msg = event.detail || {};
    if (msg.job !== "training") { return; }
    var row = root.querySelector('#runs-table tr[data-run-id="' + String(msg.job_id) + '"]');
    if (!row) { reloadSoon(); return; }  // a run started elsewhere: show it
    var bar = row.querySelector("progress");
    var percent = msg.total ? Math.round(100 * msg.done / msg.total) : 0;
    if (bar) { bar.value = percent; bar.textContent = percent + " %"; }
    var status = row.querySelector(".status");
    if (msg.status === "running") {
      if (status) { status.textContent = "Running"; }
      row.dataset.status = "running";
    } else {
      reloadSoon();
    }
  });

  reliabilityChart();
  importanceChart();
})();
