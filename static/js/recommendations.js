// Recommendation pages. Today: a recommendation pushed live (the "quantai:recommendation.new" event that
// live.js dispatches) is fetched as a card fragment and added to the list, then handed to htmx so its
// accept/reject form works like the others. Detail: the price chart with the signal day marked
// (TradingView Lightweight Charts) and the contribution bars (Chart.js), from json_script (#rec-chart-data).
// Charts, colours and the price chart's 1M/3M/YTD/1Y/Max buttons come from static/js/charts.js.
(function () {
  "use strict";
  var charts = window.QuantAICharts;

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
            return;
          }
          // Meanwhile the first training run's progress bar follows the run.
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("rec-progress");
          var current = document.getElementById("rec-progress");
          if (fresh && current) { current.replaceWith(fresh); } else if (current) { current.remove(); }
        });
    }, 5000);
  })();

  // --- detail: charts ------------------------------------------------------------------------------
  function drawPrice(data) {
    if (!data.series.length) { return; }
    var box = document.getElementById("rec-price-chart");
    var view = charts.lineChart(box, { rightOffset: 8 });
    if (!view) { return; }
    var line = view.line({ colour: "chart-1", title: data.symbol });
    var marks = view.markers(line);
    var known = {};
    data.series.forEach(function (p) { known[p.time] = true; });
    var onChart = data.markers.filter(function (m) { return known[m.time]; });
    function markerList(shown) {
      var up = charts.colour("up"), down = charts.colour("down");
      return charts.since(onChart, shown).map(function (m) {
        var sell = m.text.indexOf("SELL") === 0;
        return m.kind === "signal"
          ? charts.arrow(m.time, sell, sell ? down : up, m.text)
          : { time: m.time, position: "aboveBar", color: charts.colour("chart-neutral"), shape: "circle", text: m.text };
      });
    }
    view.ranged(charts.points(data.series), function (shown) {
      line.setData(shown);
      var markers = markerList(shown);
      marks.setMarkers(markers);
      box.dataset.markers = String(markers.length);
    });
  }

  function drawContributions(data) {
    var canvas = document.getElementById("rec-contributions");
    if (!data.contributions.length) { return; }
    var values = data.contributions.map(function (c) { return c.value; });
    var up = charts.colour("up"), down = charts.colour("down");
    var chart = charts.chartJs(canvas, {
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
        plugins: { legend: { display: false } },
        scales: { x: { title: { display: true, text: "log-odds (positive: towards a rise)" } } }
      }
    });
    if (chart) { canvas.dataset.bars = String(values.length); }
  }

  function start() {
    var data = charts.readJson("rec-chart-data");
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
