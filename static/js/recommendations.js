// Recommendation pages. Today: a recommendation pushed live (the "quantai:recommendation.new" event that
// live.js dispatches) is fetched as a card fragment and added to the list, then handed to htmx so its
// accept/reject form works like the others. Detail: the price chart with the signal day marked
// (TradingView Lightweight Charts) and the contribution bars (Chart.js). Data comes from json_script
// (#rec-chart-data): the CSP allows no inline script.
(function () {
  "use strict";
  var UP = "#137333";
  var DOWN = "#b3261e";
  var LINE = "#1f6feb";

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
    var chart = lc.createChart(box, {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#24292f", attributionLogo: true },
      grid: { vertLines: { color: "#eef1f4" }, horzLines: { color: "#eef1f4" } },
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false, rightOffset: 8 }
    });
    var line = chart.addSeries(lc.LineSeries, { color: LINE, lineWidth: 2, title: data.symbol });
    line.setData(data.series.map(function (p) { return { time: p.time, value: Number(p.value) }; }));
    var known = {};
    data.series.forEach(function (p) { known[p.time] = true; });
    var markers = data.markers.filter(function (m) { return known[m.time]; }).map(function (m) {
      var sell = m.text.indexOf("SELL") === 0;
      return m.kind === "signal"
        ? { time: m.time, position: sell ? "aboveBar" : "belowBar", color: sell ? DOWN : UP, shape: sell ? "arrowDown" : "arrowUp", text: m.text }
        : { time: m.time, position: "aboveBar", color: "#57606a", shape: "circle", text: m.text };
    });
    lc.createSeriesMarkers(line, markers);
    chart.timeScale().fitContent();
    box.dataset.points = String(data.series.length);
    box.dataset.markers = String(markers.length);
  }

  function drawContributions(data) {
    var canvas = document.getElementById("rec-contributions");
    if (!canvas || !window.Chart || !data.contributions.length) { return; }
    var values = data.contributions.map(function (c) { return c.value; });
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.contributions.map(function (c) { return c.feature; }),
        datasets: [{
          label: "Contribution to the log-odds of a rise",
          data: values,
          backgroundColor: values.map(function (v) { return v >= 0 ? UP : DOWN; })
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
