// Recommendation pages. Today: a recommendation pushed live (the "quantai:recommendation.new" event that
// live.js dispatches) is fetched as a card fragment and added to the list, then handed to htmx so its
// accept/reject form works like the others. Detail: the price chart with the signal day marked
// (TradingView Lightweight Charts) and the contribution bars (Chart.js). Data comes from json_script
// (#rec-chart-data): the CSP allows no inline script.
// Colours come from the CSS custom properties (static/js/theme.js: dark mode too); the price chart's
// 1M/3M/YTD/1Y/Max buttons filter the closes already sent (static/js/chart_range.js).
(function () {
  "use strict";
  var theme = window.QuantTheme;
  function colour(name, fallback) { return theme ? theme.color(name, fallback) : fallback; }

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // --- today: live arrivals --------------------------------------------------------------------------
  function addCard(id) {
    var list = document.getElementById("rec-list");
    if (!list || !id || document.getElementById("rec-" + id)) { return; }
    var url = list.dataset.cardUrl.replace(/\/0\/card$/, "/" + encodeURIComponent(id) + "/card");
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html || document.getElementById("rec-" + id)) { return; }
        var holder = document.createElement("div");
        holder.innerHTML = html.trim();
        var card = holder.firstElementChild;
        if (!card) { return; }
        card.classList.add("rec-new");
        list.insertBefore(card, list.firstChild);
        if (window.htmx) { window.htmx.process(card); }
        ["rec-none", "rec-no-model"].forEach(function (emptyId) {
          var empty = document.getElementById(emptyId);
          if (empty) { empty.remove(); }
        });
        list.dataset.arrived = String(Number(list.dataset.arrived || 0) + 1);
      });
  }

  document.addEventListener("quantai:recommendation.new", function (event) {
    var detail = event.detail || {};
    addCard(detail.recommendation_id);
  });

  // An empty list (a new investor's first recommendations are being made in the worker) also looks again every
  // few seconds for three minutes: a live message sent while the browser was between two pages is not replayed.
  (function waitForFirst() {
    var list = document.querySelector("#rec-list[data-card-url]");
    if (!list || list.querySelector(".rec-card")) { return; }
    var tries = 0;
    var timer = window.setInterval(function () {
      tries += 1;
      if (list.querySelector(".rec-card") || tries > 36) { window.clearInterval(timer); return; }
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (html.indexOf('class="rec-card') !== -1 && !list.querySelector(".rec-card")) {
            window.clearInterval(timer);
            window.location.reload();
          }
        });
    }, 5000);
  })();

  // --- detail: charts ------------------------------------------------------------------------------
  function drawPrice(data) {
    var box = document.getElementById("rec-price-chart");
    if (!box || !window.LightweightCharts || !data.series.length) { return; }
    var lc = window.LightweightCharts;
    var themed = theme ? theme.lightweight() : {};
    var chart = lc.createChart(box, {
      autoSize: true,
      layout: themed.layout,
      grid: themed.grid,
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false, rightOffset: 8 }
    });
    var line = chart.addSeries(lc.LineSeries, { color: colour("chart-1", "#1f6feb"), lineWidth: 2, title: data.symbol });
    var all = data.series.map(function (p) { return { time: p.time, value: Number(p.value) }; });
    var known = {};
    data.series.forEach(function (p) { known[p.time] = true; });
    function markerList(from) {
      var up = colour("up", "#137333"), down = colour("down", "#b3261e");
      return data.markers.filter(function (m) { return known[m.time] && (from === null || m.time >= from); }).map(function (m) {
        var sell = m.text.indexOf("SELL") === 0;
        return m.kind === "signal"
          ? { time: m.time, position: sell ? "aboveBar" : "belowBar", color: sell ? down : up, shape: sell ? "arrowDown" : "arrowUp", text: m.text }
          : { time: m.time, position: "aboveBar", color: colour("chart-neutral", "#57606a"), shape: "circle", text: m.text };
      });
    }
    var marks = lc.createSeriesMarkers(line, []);
    var current = "MAX";
    function show(range) {
      current = range;
      var shown = window.QuantRange ? window.QuantRange.filter(all, range) : all;
      line.setData(shown);
      var markers = markerList(shown.length ? shown[0].time : null);
      marks.setMarkers(markers);
      chart.timeScale().fitContent();
      box.dataset.points = String(shown.length);
      box.dataset.markers = String(markers.length);
      box.dataset.range = range;
      box.dataset.first = shown.length ? shown[0].time : "";
    }
    box.dataset.total = String(all.length);
    var group = document.querySelector('.range-buttons[data-range-for="' + box.id + '"]');
    if (group && window.QuantRange) { window.QuantRange.attach(group, show); } else { show("MAX"); }
    if (theme) {
      theme.onChange(function () {
        chart.applyOptions(theme.lightweight());
        line.applyOptions({ color: colour("chart-1", "#1f6feb") });
        show(current);
      });
    }
  }

  function drawContributions(data) {
    var canvas = document.getElementById("rec-contributions");
    if (!canvas || !window.Chart || !data.contributions.length) { return; }
    var values = data.contributions.map(function (c) { return c.value; });
    var up = colour("up", "#137333"), down = colour("down", "#b3261e");
    if (theme) { theme.chartJs(window.Chart); }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.contributions.map(function (c) { return c.feature; }),
        datasets: [{
          label: "Contribution to the log-odds of a rise",
          data: values,
          backgroundColor: values.map(function (v) { return v >= 0 ? up : down; })
        }]
      },
      options: {
        indexAxis: "y",
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { x: { title: { display: true, text: "log-odds (positive: towards a rise)" } } }
      }
    });
    canvas.dataset.bars = String(values.length);
  }

  function start() {
    var data = readJson("rec-chart-data");
    if (data) {
      drawPrice(data);
      drawContributions(data);
    }
    var page = document.getElementById("recommendations-page") || document.getElementById("recommendation-detail");
    if (page) { page.dataset.ready = "true"; }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
