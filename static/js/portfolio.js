// Portfolio pages: the dashboard's charts (allocation doughnut with Chart.js, value over time against SPY
// with TradingView Lightweight Charts) and the trade form's latest-close hint.
// Data arrives through Django's json_script (#portfolio-data, #latest-closes). Charts, colours and the value
// chart's 1M/3M/YTD/1Y/Max buttons come from static/js/charts.js; the money (SPY line, allocation shares, the
// close shown) is worked out in exact decimals by static/js/money.js. A live price update reloads the
// dashboard's figures from the server.
(function () {
  "use strict";
  var charts = window.QuantAICharts;
  var money = window.QuantAIMoney;

  function drawValueChart(data) {
    var box = document.getElementById("value-chart");
    if (!data.series.length) { return; }
    var view = charts.lineChart(box, { priceFormatter: charts.format.whole });
    if (!view) { return; }
    var value = view.area({ colour: "chart-1", title: "Portfolio" });
    var allValues = charts.points(data.series, "date", "equity");
    // SPY's line is worked out on the whole history (the deposits before the range count), then cut like the rest.
    var allSpy = money.spyEquivalent(data.series).map(function (p) { return { time: p.time, value: p.value }; });
    var line = allSpy.length ? view.line({ colour: "chart-2", lineStyle: 2, title: "SPY" }) : null;
    box.dataset.last = data.series[data.series.length - 1].equity;
    view.ranged(allValues, function (shown) {
      value.setData(shown);
      if (line) { line.setData(charts.since(allSpy, shown)); }
    });
  }

  function drawAllocation(data) {
    var canvas = document.getElementById("allocation-chart");
    if (!data.allocation.length) { return; }
    var slices = money.allocation(data.allocation.map(function (s) {
      return { label: s.short ? s.label + " (short)" : s.label, value: s.value };
    }));
    var labels = slices.map(function (s) { return s.label; });
    var colours = charts.palette();
    var chart = charts.chartJs(canvas, {
      type: "doughnut",
      data: {
        labels: labels,
        datasets: [{
          data: slices.map(function (s) { return s.value; }),
          backgroundColor: labels.map(function (_, i) { return colours[i % colours.length]; }),
          borderColor: charts.colour("card"),
          borderWidth: 1
        }]
      },
      options: {
        plugins: {
          legend: { position: "right" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var slice = slices[ctx.dataIndex];
                return slice.label + ": " + money.formatCents(slice.cents) + " USD (" + slice.percent + " %)";
              }
            }
          }
        }
      }
    });
    if (chart) { canvas.dataset.slices = JSON.stringify(labels); }
  }

  function latestCloseHint() {
    var form = document.getElementById("trade-form");
    var closes = charts.readJson("latest-closes");
    if (!form || !closes) { return; }
    var symbol = form.querySelector("select[name=symbol]");
    var price = form.querySelector("input[name=price]");
    var hint = document.getElementById("latest-close");
    function update() {
      var close = closes[symbol.value];
      if (close) {
        // Rounded half-even to cents, as the server shows prices; the trade itself uses the stored close.
        price.placeholder = money.fixed(close, 2);
        hint.textContent = "Latest adjusted close of " + symbol.value + ": " + money.format(close, 2) + " USD (used if you leave the price empty).";
      } else {
        price.placeholder = "";
        hint.textContent = symbol.value ? "No close is known for " + symbol.value + " yet: enter a price." : "";
      }
    }
    symbol.addEventListener("change", update);
    update();
  }

  var data = charts.readJson("portfolio-data");
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
