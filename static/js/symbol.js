// The per-symbol page's price chart (TradingView Lightweight Charts): adjusted closes from #symbol-data (Django's
// json_script), arrows on the days of the model's buy and sell calls (green when the call turned out right, red
// when wrong, grey while it waits for its horizon). Chart, colours (dark mode included) and the 1M/3M/YTD/1Y/Max
// buttons come from static/js/charts.js.
(function () {
  "use strict";
  var charts = window.QuantAICharts;

  function draw() {
    var data = charts.readJson("symbol-data");
    if (!data || !data.series.length) { return; }
    var box = document.getElementById("symbol-price-chart");
    var view = charts.lineChart(box, { rightOffset: 6 }); // room for the last day's call marker
    if (!view) { return; }
    var line = view.line({ colour: "chart-1", title: data.symbol });
    var marks = view.markers(line);

    function markers(shown) {
      return charts.since(data.markers, shown).map(function (m) {
        var sell = m.action === "SELL";
        var tone = charts.colour(m.correct === true ? "up" : m.correct === false ? "down" : "chart-neutral");
        return charts.arrow(m.time, sell, tone, sell ? "Sell" : "Buy");
      });
    }

    view.ranged(charts.points(data.series), function (shown) {
      line.setData(shown);
      var shownMarkers = markers(shown);
      marks.setMarkers(shownMarkers);
      box.dataset.markers = String(shownMarkers.length);
    });
  }

  draw();
  var page = document.getElementById("symbol-page");
  if (page) { page.dataset.ready = "true"; }
})();
