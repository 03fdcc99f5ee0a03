// Colours for charts, read from the CSS custom properties of static/css/quantai.css, so a chart follows the
// light or dark scheme the system asks for (prefers-color-scheme) like the rest of the page. Loaded by
// base.html in <head> (deferred, so it runs before every page script): page scripts call
// QuantTheme.lightweight() for TradingView Lightweight Charts options, QuantTheme.chartJs(Chart) for
// Chart.js defaults, and QuantTheme.onChange(fn) to recolour a drawn chart when the system setting changes.
(function () {
  "use strict";
  var query = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function color(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue("--" + name).trim();
    return value || fallback || "";
  }

  // "#1f6feb" (or "#abc") and an opacity -> "rgba(31,111,235,0.25)"; anything else is returned unchanged.
  function rgba(hex, alpha) {
    var h = String(hex).replace("#", "");
    if (h.length === 3) { h = h.split("").map(function (c) { return c + c; }).join(""); }
    if (!/^[0-9a-fA-F]{6}$/.test(h)) { return hex; }
    var n = parseInt(h, 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function palette() {
    return [1, 2, 3, 4, 5].map(function (i) { return color("chart-" + i); }).concat([color("chart-neutral")]);
  }

  // The layout and grid options every Lightweight chart shares (createChart and applyOptions accept them).
  function lightweight() {
    var grid = color("chart-grid", "#eef1f4");
    return {
      layout: { background: { color: color("card", "#ffffff") }, textColor: color("chart-text", "#24292f"), attributionLogo: true },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } }
    };
  }

  var chartJsFollowing = false;

  // Chart.js text and grid colours; charts already drawn are redrawn when the system setting changes.
  function chartJs(Chart) {
    if (!Chart || !Chart.defaults) { return; }
    Chart.defaults.color = color("chart-text", "#24292f");
    Chart.defaults.borderColor = color("chart-grid", "#eef1f4");
    if (chartJsFollowing) { return; }
    chartJsFollowing = true;
    onChange(function () {
      chartJs(Chart);
      Object.keys(Chart.instances || {}).forEach(function (id) { Chart.instances[id].update(); });
    });
  }

  function onChange(callback) {
    if (!query) { return; }
    var handler = function () { callback(isDark()); };
    if (query.addEventListener) { query.addEventListener("change", handler); } else if (query.addListener) { query.addListener(handler); }
  }

  function isDark() { return !!(query && query.matches); }

  window.QuantTheme = { color: color, rgba: rgba, palette: palette, lightweight: lightweight, chartJs: chartJs, onChange: onChange, isDark: isDark };
})();
