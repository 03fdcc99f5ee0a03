// Draws the security dashboard's charts (Chart.js through static/js/charts.js) from the JSON the page embeds
// (#security-data), then refreshes them and the headline numbers from the summary endpoint every minute while
// the tab is visible. No inline script: the page's Content-Security-Policy allows only files from 'self'.
(function () {
  "use strict";
  var charts = window.QuantAICharts;
  var REFRESH_MS = 60000;
  // The page's chart colours (static/js/theme.js), so dark mode applies.
  var FAILED = charts.colour("down");
  var LOCKED = charts.colour("chart-1");
  var LIMITED = charts.colour("chart-2");

  var root = document.getElementById("security-dashboard");
  var data = charts.readJson("security-data");
  if (!root || !data || typeof window.Chart === "undefined") { return; }
  var drawn = {};

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
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
    };
  }

  function drawSeries(id, series, format) {
    return charts.chartJs(document.getElementById(id), {
      type: "bar",
      data: { labels: series.labels.map(format), datasets: seriesDatasets(series) },
      options: baseOptions()
    });
  }

  function rateLimitLabel(row) { return row.path + (row.limit ? " (" + row.limit + ")" : ""); }

  function drawRateLimits(rows) {
    var options = baseOptions();
    options.indexAxis = "y";
    options.scales = { x: { beginAtZero: true, ticks: { precision: 0 } } };
    return charts.chartJs(document.getElementById("chart-rate-limits"), {
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
    var chart = drawn.rateLimits;
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
    updateSeries(drawn.hourly, next.hourly, hourLabel);
    updateSeries(drawn.daily, next.daily, dayLabel);
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

  drawn.hourly = drawSeries("chart-hourly", data.hourly, hourLabel);
  drawn.daily = drawSeries("chart-daily", data.daily, dayLabel);
  drawn.rateLimits = drawRateLimits(data.rate_limits);
  root.dataset.charts = "ready";
  var timer = window.setInterval(refresh, REFRESH_MS);
})();
