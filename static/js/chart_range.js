// The time-range buttons above a chart (templates/charts/_range.html): 1M, 3M, YTD, 1Y, Max. They filter
// the points the page already has (no request); the range is counted back from the chart's last point, so
// a chart that ends on a horizon day or a stale close still shows a full month. The choice is remembered
// per page kind in localStorage ("quantai.range.<key>") and the pressed button says so (aria-pressed).
//
//   QuantRange.attach(group, function (range) { ...setData(QuantRange.filter(points, range)) ... });
//   QuantRange.cutoff("3M", "2024-06-14") === "2024-03-14"
(function () {
  "use strict";
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
  function filter(points, range, key) {
    key = key || "time";
    if (!points.length) { return points; }
    var from = cutoff(range, points[points.length - 1][key]);
    if (from === null) { return points.slice(); }
    return points.filter(function (p) { return String(p[key]).slice(0, 10) >= from; });
  }

  function storageKey(group) { return "quantai.range." + (group.dataset.rangeKey || "chart"); }

  function remembered(group) {
    try {
      var value = window.localStorage.getItem(storageKey(group));
      return RANGES.indexOf(value) === -1 ? null : value;
    } catch (e) {
      return null; // storage refused (private mode, blocked cookies): the default range then
    }
  }

  function remember(group, range) {
    try { window.localStorage.setItem(storageKey(group), range); } catch (e) { /* not remembered, still applied */ }
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

  window.QuantRange = { RANGES: RANGES, cutoff: cutoff, filter: filter, attach: attach };
})();
