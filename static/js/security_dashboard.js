// Draws the security dashboard's charts from the JSON the page embeds (#security-data), then
// refreshes them and the headline numbers from the summary endpoint every minute while the tab
// is visible. No inline script: the page's Content-Security-Policy allows only files from 'self'.
(function () {
  "use strict";
  var REFRESH_MS = 60000;
  var FAILED = "#b3261e";
  var LOCKED = "#1f6feb";
  var LIMITED = "#9a6700";

  var root = document.getElementById("security-dashboard");
  var source = document.getElementById("security-data");
  if (!root || !source || typeof window.Chart === "undefined") { return; }
  if (window.QuantTheme) { window.QuantTheme.chartJs(window.Chart); } // axis text and grid follow dark mode
  var data = JSON.parse(source.textContent);
  var charts = {};

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  // Labels arrive as ISO timestamps (hours) and ISO dates (days); show them in UTC like the tables.
  function hourLabel(iso) { var d = new Date(iso); return pad(d.getUTCHours()) + ":00"; }
  function dayLabel(iso) { return iso.slice(5); }

  function seriesDatasets(series) {
    return [
      { label: "Failed sign-ins", data: series.failed_logins, backgroundColor: FAILED, borderColor: FAILED },
      { label: "Lockouts", data: series.lockouts, backgroundColor: LOCKED, borderColor: LOCKED }
    ];
  }

  function baseOptions() {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
    };
  }

  function drawSeries(id, series, format) {
    var canvas = document.getElementById(id);
    if (!canvas) { return null; }
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: series.labels.map(format), datasets: seriesDatasets(series) },
      options: baseOptions()
    });
  }

  function rateLimitLabel(row) { return row.path + (row.limit ? " (" + row.limit + ")" : ""); }

  function drawRateLimits(rows) {
    var canvas = document.getElementById("chart-rate-limits");
    if (!canvas) { return null; }
    var options = baseOptions();
    options.indexAxis = "y";
    options.scales = { x: { beginAtZero: true, ticks: { precision: 0 } } };
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(rateLimitLabel),
        datasets: [
          { label: "Last 30 days", data: rows.map(function (r) { return r.last_30d; }), backgroundColor: LIMITED },
          { label: "Last 24 hours", data: rows.map(function (r) { return r.last_24h; }), backgroundColor: FAILED }
        ]
      },
      options: options
    });
  }

  function updateSeries(chart, series, format) {
    if (!chart) { return; }
    chart.data.labels = series.labels.map(format);
    chart.data.datasets[0].data = series.failed_logins;
    chart.data.datasets[1].data = series.lockouts;
    chart.update();
  }

  function updateRateLimits(rows) {
    var chart = charts.rateLimits;
    if (!chart) { return; }
    chart.data.labels = rows.map(rateLimitLabel);
    chart.data.datasets[0].data = rows.map(function (r) { return r.last_30d; });
    chart.data.datasets[1].data = rows.map(function (r) { return r.last_24h; });
    chart.update();
  }

  function updateTotals(totals) {
    Object.keys(totals).forEach(function (key) {
      var el = root.querySelector('[data-kpi="' + key + '"]');
      if (el) { el.textContent = totals[key] === null ? "–" : String(totals[key]); }
    });
  }

  function apply(next) {
    updateSeries(charts.hourly, next.hourly, hourLabel);
    updateSeries(charts.daily, next.daily, dayLabel);
    updateRateLimits(next.rate_limits);
    updateTotals(next.totals);
    var stamp = document.getElementById("security-generated-at");
    if (stamp) {
      var d = new Date(next.generated_at);
      stamp.setAttribute("datetime", next.generated_at);
      stamp.textContent = d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
    }
  }

  function refresh() {
    if (document.hidden || !root.dataset.summaryUrl) { return; }
    fetch(root.dataset.summaryUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        // Signed out or no longer an operator: stop polling; the next page load shows why.
        if (response.status === 401 || response.status === 403) { window.clearInterval(timer); return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (next) { if (next) { apply(next); } })
      .catch(function () { /* offline for a moment: the next tick tries again */ });
  }

  charts.hourly = drawSeries("chart-hourly", data.hourly, hourLabel);
  charts.daily = drawSeries("chart-daily", data.daily, dayLabel);
  charts.rateLimits = drawRateLimits(data.rate_limits);
  root.dataset.charts = "ready";
  var timer = window.setInterval(refresh, REFRESH_MS);
})();
