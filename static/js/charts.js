// The one chart module every page script uses (base.html loads it, deferred, after theme.js and before the
// page scripts, so it is there when they run):
//
//   QuantAICharts.readJson(id)              the JSON of a json_script node (the CSP allows no inline script), or null
//   QuantAICharts.points(rows, time, value) rows of text values -> [{ time, value }] for Lightweight Charts
//   QuantAICharts.lineChart(box, options)   a TradingView Lightweight chart in the page's colours, with
//                                           .line(spec), .area(spec), .markers(series), .ranged(points, draw), .fit()
//   QuantAICharts.arrow(time, sell, colour, text)  a buy (below, up) or sell (above, down) marker
//   QuantAICharts.chartJs(canvas, config)   a Chart.js chart in the page's colours, drawn without animation
//   QuantAICharts.colour(name), .palette()  chart colours from the CSS custom properties (static/js/theme.js)
//   QuantAICharts.format.*                  axis label formatters
//   QuantAICharts.range                     the 1M/3M/YTD/1Y/Max buttons (templates/charts/_range.html)
//
// Colours follow the light or dark scheme: a chart made here is recoloured when the system setting changes.
// Money is not computed here: static/js/money.js does that in exact decimals.
//
// The range buttons filter the points the page already has (no request); the range is counted back from the
// chart's last point, so a chart that ends on a horizon day or a stale close still shows a full month. The
// choice is remembered per page kind in localStorage ("quantai.range.<key>") and the pressed button says so
// (aria-pressed). QuantAICharts.range.cutoff("3M", "2024-06-14") === "2024-03-14".
//
// The DOM is only touched when a function is called, so the pure parts run under Node too (jstests/).
(function (root, factory) {
  "use strict";
  var api = factory(root);
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.QuantAICharts = api;
  }
})(typeof window !== "undefined" ? window : globalThis, function (root) {
  "use strict";

  // --- colours --------------------------------------------------------------------------------------
  // What the CSS custom properties hold in the light scheme, for a page where theme.js did not run.
  var FALLBACK = {
    "chart-1": "#1f6feb", "chart-2": "#9a6700", "chart-3": "#8250df", "chart-4": "#2da44e", "chart-5": "#bf3989",
    "chart-neutral": "#57606a", "chart-text": "#24292f", "chart-grid": "#eef1f4", up: "#137333", down: "#b3261e", card: "#ffffff"
  };

  function theme() { return root.QuantTheme || null; }

  // A colour by its custom property's name ("chart-1", "up", ...); a literal colour ("#888") is returned as it is.
  function colour(name) {
    if (/^(#|rgb|hsl)/.test(name)) { return name; }
    var t = theme();
    return t ? t.color(name, FALLBACK[name]) : FALLBACK[name] || "";
  }

  function rgba(hex, alpha) { var t = theme(); return t ? t.rgba(hex, alpha) : hex; }

  function palette() {
    var t = theme();
    return t ? t.palette() : ["chart-1", "chart-2", "chart-3", "chart-4", "chart-5", "chart-neutral"].map(colour);
  }

  function onSchemeChange(callback) { var t = theme(); if (t) { t.onChange(callback); } }

  // --- data -----------------------------------------------------------------------------------------
  function readJson(id) {
    var node = root.document ? root.document.getElementById(id) : null;
    return node ? JSON.parse(node.textContent) : null;
  }

  // [{ date: "2024-06-14", equity: "1234.50" }, ...] -> [{ time: "2024-06-14", value: 1234.5 }]; rows whose value
  // is null are left out. The keys default to "time" and "value".
  function points(rows, timeKey, valueKey) {
    timeKey = timeKey || "time";
    valueKey = valueKey || "value";
    return rows
      .filter(function (row) { return row[valueKey] !== null && row[valueKey] !== undefined; })
      .map(function (row) { return { time: row[timeKey], value: Number(row[valueKey]) }; });
  }

  // Parallel columns (dates and values, null where a series has no value) -> [{ time, value }].
  function columns(dates, values) {
    var out = [];
    for (var i = 0; i < dates.length; i++) {
      var v = values[i];
      if (v !== null && v !== undefined) { out.push({ time: dates[i], value: Number(v) }); }
    }
    return out;
  }

  // --- the range buttons ----------------------------------------------------------------------------
  var RANGES = ["1M", "3M", "YTD", "1Y", "MAX"];
  var MONTHS = { "1M": 1, "3M": 3, "1Y": 12 };

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // The first ISO date inside `range` of a chart whose last point is `lastIso`, or null for the whole series.
  // Months are counted on the calendar with the day clamped (May 31 minus 1M is April 30).
  function cutoff(range, lastIso) {
    if (!lastIso || !range || range === "MAX") { return null; }
    var parts = String(lastIso).slice(0, 10).split("-").map(Number);
    var year = parts[0], month = parts[1], day = parts[2];
    if (range === "YTD") { return year + "-01-01"; }
    var back = MONTHS[range];
    if (!back) { return null; }
    var index = year * 12 + (month - 1) - back;
    var y = Math.floor(index / 12), m = (index % 12) + 1;
    var last = new Date(Date.UTC(y, m, 0)).getUTCDate();
    return y + "-" + pad(m) + "-" + pad(Math.min(day, last));
  }

  // The points (sorted by date, each with an ISO `key` field, "time" by default) inside the range.
  function filter(list, range, key) {
    key = key || "time";
    if (!list.length) { return list; }
    var from = cutoff(range, list[list.length - 1][key]);
    if (from === null) { return list.slice(); }
    return list.filter(function (p) { return String(p[key]).slice(0, 10) >= from; });
  }

  function storageKey(group) { return "quantai.range." + (group.dataset.rangeKey || "chart"); }

  function remembered(group) {
    try {
      var value = root.localStorage.getItem(storageKey(group));
      return RANGES.indexOf(value) === -1 ? null : value;
    } catch (e) {
      return null; // storage refused (private mode, blocked cookies): the default range then
    }
  }

  function remember(group, range) {
    try { root.localStorage.setItem(storageKey(group), range); } catch (e) { /* not remembered, still applied */ }
  }

  function press(group, range) {
    group.querySelectorAll("button[data-range]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.range === range ? "true" : "false");
    });
    group.dataset.current = range;
  }

  // Wire a button group to a chart: applies the remembered (or default) range at once, then on each click.
  function attach(group, apply) {
    if (!group) { return null; }
    var initial = remembered(group) || group.dataset.rangeDefault || "MAX";
    group.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-range]");
      if (!button || !group.contains(button)) { return; }
      var range = button.dataset.range;
      press(group, range);
      remember(group, range);
      apply(range);
    });
    press(group, initial);
    apply(initial);
    group.hidden = false; // the buttons do nothing without this script, so they are shown only with it
    return initial;
  }

  // --- TradingView Lightweight Charts ---------------------------------------------------------------
  function lightweightTheme() {
    var t = theme();
    if (t) { return t.lightweight(); }
    return {
      layout: { background: { color: FALLBACK.card }, textColor: FALLBACK["chart-text"], attributionLogo: true },
      grid: { vertLines: { color: FALLBACK["chart-grid"] }, horzLines: { color: FALLBACK["chart-grid"] } }
    };
  }

  // A chart in `box` (an element with an id when it has range buttons), or null when the library or the box
  // is missing. options: priceFormatter (axis labels), rightOffset (bars of room after the last point, for a
  // marker), logScale (percentage moves look alike at every level).
  function lineChart(box, options) {
    var lc = root.LightweightCharts;
    if (!box || !lc) { return null; }
    options = options || {};
    var themed = lightweightTheme();
    var settings = {
      autoSize: true,
      layout: themed.layout,
      grid: themed.grid,
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false }
    };
    if (options.logScale) { settings.rightPriceScale.mode = lc.PriceScaleMode ? lc.PriceScaleMode.Logarithmic : 1; }
    if (options.rightOffset) { settings.timeScale.rightOffset = options.rightOffset; }
    if (options.priceFormatter) { settings.localization = { priceFormatter: options.priceFormatter }; }
    var chart = lc.createChart(box, settings);
    var painters = []; // each series' colouring, run again when the scheme changes
    var redraw = null;

    function add(kind, seriesOptions, paint) {
      var series = chart.addSeries(kind, seriesOptions);
      var apply = function () { series.applyOptions(paint()); };
      apply();
      painters.push(apply);
      return series;
    }

    // spec: colour (a custom property's name or a colour), title, lineWidth (2), lineStyle (0 solid, 1 dotted,
    // 2 dashed).
    function line(spec) {
      return add(lc.LineSeries, { lineWidth: spec.lineWidth || 2, lineStyle: spec.lineStyle || 0, title: spec.title || "" }, function () {
        return { color: colour(spec.colour || "chart-1") };
      });
    }

    // spec: as line's, plus top and bottom: the fill's opacity under the line and at the bottom of the chart.
    function area(spec) {
      return add(lc.AreaSeries, { lineWidth: spec.lineWidth || 2, title: spec.title || "" }, function () {
        var main = colour(spec.colour || "chart-1");
        return { lineColor: main, topColor: rgba(main, spec.top === undefined ? 0.25 : spec.top), bottomColor: rgba(main, spec.bottom === undefined ? 0.02 : spec.bottom) };
      });
    }

    function markers(series) { return lc.createSeriesMarkers(series, []); }

    function fit() { chart.timeScale().fitContent(); }

    // Shows `all` (points sorted by time) in the range chosen with the box's buttons, if it has any:
    // draw(shown, range) puts the shown points (and markers) on the series. The box's data-total, data-points,
    // data-range and data-first say what is shown. Redrawn when the scheme changes (markers take colours).
    function ranged(all, draw) {
      var current = "MAX";
      box.dataset.total = String(all.length);
      function show(range) {
        current = range;
        var shown = filter(all, range);
        draw(shown, range);
        fit();
        box.dataset.points = String(shown.length);
        box.dataset.range = range;
        box.dataset.first = shown.length ? String(shown[0].time) : "";
      }
      redraw = function () { show(current); };
      var group = root.document.querySelector('.range-buttons[data-range-for="' + box.id + '"]');
      if (group) { attach(group, show); } else { show("MAX"); }
    }

    onSchemeChange(function () {
      chart.applyOptions(lightweightTheme());
      painters.forEach(function (paint) { paint(); });
      if (redraw) { redraw(); }
    });

    return { chart: chart, line: line, area: area, markers: markers, ranged: ranged, fit: fit };
  }

  // A call's marker: a sell above the bar pointing down, a buy below it pointing up.
  function arrow(time, sell, tone, text) {
    return { time: time, position: sell ? "aboveBar" : "belowBar", color: tone, shape: sell ? "arrowDown" : "arrowUp", text: text };
  }

  // The markers on or after the first shown point (all of them when nothing is shown).
  function since(list, shown) {
    var from = shown.length ? shown[0].time : null;
    return list.filter(function (m) { return from === null || m.time >= from; });
  }

  // --- Chart.js ---------------------------------------------------------------------------------------
  // A Chart.js chart on `canvas`, or null when the library or the canvas is missing. Text and grid take the
  // page's colours (and follow the scheme); the chart fills its box and is drawn at once (no animation).
  function chartJs(canvas, config) {
    var Chart = root.Chart;
    if (!canvas || !Chart) { return null; }
    var t = theme();
    if (t) { t.chartJs(Chart); }
    var options = { animation: false, responsive: true, maintainAspectRatio: false };
    Object.keys(config.options || {}).forEach(function (key) { options[key] = config.options[key]; });
    return new Chart(canvas, { type: config.type, data: config.data, options: options });
  }

  // --- axis labels --------------------------------------------------------------------------------------
  var format = {
    // 1234.5 -> "1,235" (the page's thousands separator: base.html's data-group)
    whole: function (v) {
      var group = (typeof document !== "undefined" && document.documentElement.dataset.group) || ",";
      return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, group);
    },
    // fixed(2)(1.5) -> "1.50"
    fixed: function (places) { return function (v) { return v.toFixed(places); }; },
    // percent(0)(-0.123) -> "-12 %"
    percent: function (places) { return function (v) { return (100 * v).toFixed(places) + " %"; }; }
  };

  return {
    readJson: readJson,
    points: points,
    columns: columns,
    colour: colour,
    rgba: rgba,
    palette: palette,
    lineChart: lineChart,
    arrow: arrow,
    since: since,
    chartJs: chartJs,
    format: format,
    range: { RANGES: RANGES, cutoff: cutoff, filter: filter, attach: attach }
  };
});
