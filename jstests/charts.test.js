// The parts of static/js/charts.js that need no browser: the range buttons' date arithmetic, turning the
// pages' JSON into chart points, markers and readJson. Run with `node --test jstests/*.test.js`.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const charts = require("../static/js/charts.js");

test("cutoff counts calendar months back from the last point, the day clamped to the month", () => {
  const { cutoff } = charts.range;
  assert.equal(cutoff("3M", "2024-06-14"), "2024-03-14");
  assert.equal(cutoff("1M", "2024-03-31"), "2024-02-29"); // leap year
  assert.equal(cutoff("1M", "2023-03-31"), "2023-02-28");
  assert.equal(cutoff("3M", "2024-05-31"), "2024-02-29");
  assert.equal(cutoff("1Y", "2024-02-29"), "2023-02-28");
  assert.equal(cutoff("1M", "2024-01-15"), "2023-12-15"); // across the year
  assert.equal(cutoff("YTD", "2024-06-14"), "2024-01-01");
  assert.equal(cutoff("MAX", "2024-06-14"), null);
  assert.equal(cutoff("5Y", "2024-06-14"), null); // unknown range: everything
  assert.equal(cutoff("1M", null), null);
});

test("filter keeps the points inside the range and never changes the list it is given", () => {
  const days = ["2024-01-10", "2024-02-10", "2024-03-09", "2024-03-10", "2024-04-01", "2024-04-10"];
  const list = days.map((time, i) => ({ time, value: i }));
  assert.deepEqual(charts.range.filter(list, "1M").map((p) => p.time), ["2024-03-10", "2024-04-01", "2024-04-10"]);
  assert.deepEqual(charts.range.filter(list, "YTD").length, 6);
  const all = charts.range.filter(list, "MAX");
  assert.deepEqual(all, list);
  assert.notEqual(all, list); // a copy
  assert.deepEqual(charts.range.filter([], "1M"), []);
  // Another key, and timestamps cut to their day.
  const stamped = [{ at: "2024-03-09T20:00:00Z" }, { at: "2024-04-10T20:00:00Z" }];
  assert.deepEqual(charts.range.filter(stamped, "1M", "at"), [stamped[1]]);
});

test("points turns rows of decimal text into chart points and leaves out rows without a value", () => {
  const rows = [
    { date: "2024-01-02", equity: "1000.50" },
    { date: "2024-01-03", equity: null },
    { date: "2024-01-04", equity: "990" }
  ];
  assert.deepEqual(charts.points(rows, "date", "equity"), [{ time: "2024-01-02", value: 1000.5 }, { time: "2024-01-04", value: 990 }]);
  assert.deepEqual(charts.points([{ time: "2024-01-02", value: "187.25" }]), [{ time: "2024-01-02", value: 187.25 }]);
});

test("columns pairs dates with a series' values, skipping its gaps", () => {
  assert.deepEqual(charts.columns(["d1", "d2", "d3"], [1.5, null, 2]), [{ time: "d1", value: 1.5 }, { time: "d3", value: 2 }]);
  assert.deepEqual(charts.columns(["d1"], []), []);
});

test("since keeps the items on or after the first shown point, all of them when nothing is shown", () => {
  const markers = [{ time: "2024-01-05" }, { time: "2024-02-01" }, { time: "2024-03-01" }];
  assert.deepEqual(charts.since(markers, [{ time: "2024-02-01" }, { time: "2024-03-01" }]), markers.slice(1));
  assert.deepEqual(charts.since(markers, []), markers);
});

test("arrow puts a sell above the bar pointing down and a buy below pointing up", () => {
  assert.deepEqual(charts.arrow("2024-01-05", true, "#b3261e", "Sell"), {
    time: "2024-01-05", position: "aboveBar", color: "#b3261e", shape: "arrowDown", text: "Sell"
  });
  const buy = charts.arrow("2024-01-05", false, "#137333", "Buy");
  assert.equal(buy.position, "belowBar");
  assert.equal(buy.shape, "arrowUp");
});

test("colours fall back to the light scheme's when theme.js is not there, and literal colours pass through", () => {
  assert.equal(charts.colour("chart-1"), "#1f6feb");
  assert.equal(charts.colour("down"), "#b3261e");
  assert.equal(charts.colour("#888"), "#888");
  assert.equal(charts.palette().length, 6);
});

test("colours come from theme.js when the page has it", (t) => {
  globalThis.QuantTheme = { color: (name, fallback) => (name === "chart-1" ? "#4493f8" : fallback), palette: () => ["#a", "#b"] };
  t.after(() => { delete globalThis.QuantTheme; });
  assert.equal(charts.colour("chart-1"), "#4493f8");
  assert.equal(charts.colour("up"), "#137333");
  assert.deepEqual(charts.palette(), ["#a", "#b"]);
});

test("readJson reads a json_script node, and null when the page has none", (t) => {
  const nodes = { "portfolio-data": { textContent: '{"series": [{"equity": "1.50"}]}' } };
  globalThis.document = { getElementById: (id) => nodes[id] || null };
  t.after(() => { delete globalThis.document; });
  assert.deepEqual(charts.readJson("portfolio-data"), { series: [{ equity: "1.50" }] });
  assert.equal(charts.readJson("missing"), null);
});

test("the charts are not drawn without their library or their box", () => {
  assert.equal(charts.lineChart({ id: "x" }), null); // no LightweightCharts here
  assert.equal(charts.chartJs(null, { type: "bar", data: {} }), null);
});

test("axis formatters", () => {
  assert.equal(charts.format.fixed(2)(1.5), "1.50");
  assert.equal(charts.format.percent(0)(-0.123), "-12 %");
  assert.equal(charts.format.whole(1234.5), "1,235");
});
