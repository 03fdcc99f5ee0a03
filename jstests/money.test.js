// The money arithmetic the browser does (static/js/money.js), under Node's own test runner:
//   node --test jstests/*.test.js
// (quantai/tests/test_javascript.py runs it with the Python suite.) No npm package.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const money = require("../static/js/money.js");

test("parse reads decimal text exactly, signs and exponents included", () => {
  assert.deepEqual(money.parse("1234.5600"), { coefficient: 12345600n, scale: 4 });
  assert.deepEqual(money.parse("-0.004"), { coefficient: -4n, scale: 3 });
  assert.deepEqual(money.parse(" +7 "), { coefficient: 7n, scale: 0 });
  assert.deepEqual(money.parse(".5"), { coefficient: 5n, scale: 1 });
  assert.deepEqual(money.parse("1.5e3"), { coefficient: 1500n, scale: 0 });
  assert.deepEqual(money.parse("25e-4"), { coefficient: 25n, scale: 4 });
  assert.deepEqual(money.parse(12.5), { coefficient: 125n, scale: 1 });
});

test("parse refuses what is no number", () => {
  for (const value of [null, undefined, "", " ", ".", "-", "abc", "1,000", "1.2.3", "NaN", "Infinity", NaN, Infinity, true]) {
    assert.equal(money.parse(value), null, String(value));
  }
});

test("toCents rounds half to even, as the ledger does", () => {
  assert.equal(money.toCents("2.345"), 234n);
  assert.equal(money.toCents("2.355"), 236n);
  assert.equal(money.toCents("2.3450001"), 235n); // above the half: up
  assert.equal(money.toCents("-2.345"), -234n);
  assert.equal(money.toCents("-2.355"), -236n);
  assert.equal(money.toCents("-2.3451"), -235n);
  assert.equal(money.toCents("0.005"), 0n);
  assert.equal(money.toCents("0.015"), 2n);
  assert.equal(money.toCents("100"), 10000n);
  assert.equal(money.toCents("x"), null);
});

test("decimal text avoids the float errors of Number", () => {
  // Number("1.015").toFixed(2) is "1.01" (the float is 1.01499...) and 0.1 + 0.2 is 0.30000000000000004.
  assert.equal(money.fixed("1.005"), "1.00"); // half-even: the 0 stays
  assert.equal(money.fixed("1.015"), "1.02");
  assert.equal(money.fixed("8.345"), "8.34"); // Number("8.345").toFixed(2) gives "8.35" (8.3450000000000006...)
  assert.equal(money.formatCents(money.toCents("0.1") + money.toCents("0.2")), "0.30");
});

test("fixed gives an input's value: no grouping, the places asked for", () => {
  assert.equal(money.fixed("1234567.891"), "1234567.89");
  assert.equal(money.fixed("187.1234", 4), "187.1234");
  assert.equal(money.fixed("187.12345", 4), "187.1234");
  assert.equal(money.fixed("5", 0), "5");
  assert.equal(money.fixed("2.5", 0), "2");
  assert.equal(money.fixed("3.5", 0), "4");
  assert.equal(money.fixed(null), money.DASH);
});

test("format shows money like the templates' money filter", () => {
  // The cases of quantai/templatetags/numbers.py: grouped thousands, half-even, no "-0.00", a dash for no number.
  assert.equal(money.format("1737000"), "1,737,000.00");
  assert.equal(money.format("1234.5"), "1,234.50");
  assert.equal(money.format("999.995"), "1,000.00");
  assert.equal(money.format("-1234567.125"), "-1,234,567.12");
  assert.equal(money.format("-0.004"), "0.00");
  assert.equal(money.format("0.00"), "0.00");
  assert.equal(money.format("100", 4), "100.0000");
  assert.equal(money.format(""), "\u2013");
  assert.equal(money.format("abc"), "\u2013");
});

test("formatCents groups and signs integer cents", () => {
  assert.equal(money.formatCents(123456n), "1,234.56");
  assert.equal(money.formatCents(-5n), "-0.05");
  assert.equal(money.formatCents(0n), "0.00");
  assert.equal(money.formatCents(100000000n), "1,000,000.00");
});

test("spyEquivalent: one deposit follows SPY's index", () => {
  const out = money.spyEquivalent([
    { date: "2024-01-02", net_deposits: "10000.00", spy: "1.000000" },
    { date: "2024-01-03", net_deposits: "10000.00", spy: "1.050000" },
    { date: "2024-01-04", net_deposits: "10000.00", spy: "0.980000" }
  ]);
  assert.deepEqual(out.map((p) => p.time), ["2024-01-02", "2024-01-03", "2024-01-04"]);
  assert.deepEqual(out.map((p) => p.cents), [1000000n, 1050000n, 980000n]);
  assert.deepEqual(out.map((p) => p.value), [10000, 10500, 9800]);
});

test("spyEquivalent: later deposits and withdrawals buy and sell SPY at that day's index", () => {
  const out = money.spyEquivalent([
    { date: "2024-01-02", net_deposits: "1000.00", spy: "1.000000" },
    { date: "2024-01-03", net_deposits: "2000.00", spy: "2.000000" }, // +1000 at 2: 500 more units, 1500 units
    { date: "2024-01-04", net_deposits: "2000.00", spy: "3.000000" }, // 1500 * 3
    { date: "2024-01-05", net_deposits: "500.00", spy: "3.000000" } // -1500 at 3: 500 units sold, 1000 left
  ]);
  assert.deepEqual(out.map((p) => money.formatCents(p.cents)), ["1,000.00", "3,000.00", "4,500.00", "3,000.00"]);
});

test("spyEquivalent: a third of a unit is carried exactly enough to land on the cent", () => {
  // 100 / 3 units at 3, then the index at 3.000003: exact value 100.0001, and 100 / 0.3 * 0.3 comes back to 100.
  const out = money.spyEquivalent([
    { date: "2024-01-02", net_deposits: "100.00", spy: "3.000000" },
    { date: "2024-01-03", net_deposits: "100.00", spy: "3.000003" },
    { date: "2024-01-04", net_deposits: "200.00", spy: "0.300000" }, // +100 at 0.3
    { date: "2024-01-05", net_deposits: "200.00", spy: "3.000000" }
  ]);
  // Day 3: 33.333... units + 333.333... units = 366.666... at 0.3 = 110.00; day 4 at 3 = 1100.00.
  assert.deepEqual(out.map((p) => p.cents), [10000n, 10000n, 11000n, 110000n]);
});

test("spyEquivalent rounds each day's value half-even to the cent", () => {
  // 0.01 USD at index 1, then the index at 1.5: 0.015 -> 0.02; at 1.25: 0.0125 -> 0.01; at 2.5 with 0.01 more
  // deposited (0.004 units more): 0.014 units at 2.5 = 0.035 -> 0.04 (half to even).
  const out = money.spyEquivalent([
    { date: "d1", net_deposits: "0.01", spy: "1" },
    { date: "d2", net_deposits: "0.01", spy: "1.5" },
    { date: "d3", net_deposits: "0.01", spy: "1.25" },
    { date: "d4", net_deposits: "0.02", spy: "2.5" }
  ]);
  assert.deepEqual(out.map((p) => p.cents), [1n, 2n, 1n, 4n]);
});

test("spyEquivalent: a day without SPY adds no point and its flow is not invested", () => {
  const out = money.spyEquivalent([
    { date: "2024-01-01", net_deposits: "500.00", spy: null },
    { date: "2024-01-02", net_deposits: "1500.00", spy: "2.000000" }, // only the 1000 of this day is invested
    { date: "2024-01-03", net_deposits: "1500.00", spy: "0" },
    { date: "2024-01-04", net_deposits: "1500.00", spy: "4.000000" }
  ]);
  assert.deepEqual(out.map((p) => p.time), ["2024-01-02", "2024-01-04"]);
  assert.deepEqual(out.map((p) => p.cents), [100000n, 200000n]);
});

test("spyEquivalent agrees with exact rational arithmetic over a long random history", () => {
  // A seeded generator, so a failure can be replayed.
  let seed = 20240614;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const series = [];
  let deposits = 0n; // cents
  let index = 1000000n; // SPY index times 10^6
  for (let day = 0; day < 750; day++) {
    if (next() < 0.1) { deposits += BigInt(Math.floor(next() * 2000000)) - 500000n; }
    index += BigInt(Math.floor(next() * 40001)) - 20000n;
    if (index < 100000n) { index = 100000n; }
    series.push({ date: "day" + day, net_deposits: money.formatCents(deposits).replace(/,/g, ""), spy: money.fixed(String(index) + "e-6", 6) });
  }
  // Exact: units = sum flow_i / spy_i as a fraction num/den (cents and 10^6 units cancel in the ratio).
  let num = 0n, den = 1n, previous = 0n;
  const gcd = (a, b) => { a = a < 0n ? -a : a; while (b) { [a, b] = [b, a % b]; } return a; };
  const expected = series.map((p) => {
    const cents = money.toCents(p.net_deposits);
    const spy = money.parse(p.spy).coefficient; // scale 6
    // units (in "cents per index unit") += (cents - previous) / spy
    num = num * spy + (cents - previous) * den;
    den = den * spy;
    const g = gcd(num, den);
    num /= g; den /= g;
    previous = cents;
    // value in cents = units * spy, rounded half-even
    const n = num * spy, q = n / den, r = n - q * den;
    const twice = (r < 0n ? -r : r) * 2n;
    if (twice > den || (twice === den && q % 2n !== 0n)) { return r < 0n ? q - 1n : q + 1n; }
    return q;
  });
  assert.deepEqual(money.spyEquivalent(series).map((p) => p.cents), expected);
});

test("allocation: each slice's share of the total, to a tenth of a percent half-even", () => {
  const slices = money.allocation([
    { label: "AAPL", value: "1000.00" },
    { label: "NVDA (short)", value: "1000.00" },
    { label: "Cash", value: "1000.00" }
  ]);
  assert.deepEqual(slices.map((s) => s.percent), ["33.3", "33.3", "33.3"]);
  assert.deepEqual(slices.map((s) => s.cents), [100000n, 100000n, 100000n]);
  assert.deepEqual(slices.map((s) => s.value), [1000, 1000, 1000]);
  assert.equal(slices[1].label, "NVDA (short)");
});

test("allocation works in cents: sub-cent values are rounded before the shares", () => {
  // 0.125 -> 0.12 (half-even) and 0.875 -> 0.88: shares 12 / 100 and 88 / 100 of 1.00.
  const slices = money.allocation([{ label: "A", value: "0.125" }, { label: "B", value: "0.875" }]);
  assert.deepEqual(slices.map((s) => s.percent), ["12.0", "88.0"]);
  // 1 cent of 8 is 12.5 %, 3 of 8 is 37.5 %: ties go to the even tenth.
  const tie = money.allocation([{ label: "A", value: "0.0001" }, { label: "B", value: "10" }]);
  assert.deepEqual(tie.map((s) => s.percent), ["0.0", "100.0"]);
  const halves = money.allocation([{ label: "A", value: "0.01" }, { label: "B", value: "0.07" }]);
  assert.deepEqual(halves.map((s) => s.percent), ["12.5", "87.5"]);
});

test("allocation of nothing shows 0.0 % rather than dividing by zero", () => {
  const slices = money.allocation([{ label: "Cash", value: "0.00" }, { label: "AAPL", value: null }]);
  assert.deepEqual(slices.map((s) => s.percent), ["0.0", "0.0"]);
  assert.deepEqual(money.allocation([]), []);
});

test("grouped amounts follow the page's number format; values for inputs keep the point", () => {
  globalThis.document = { documentElement: { dataset: { decimal: ",", group: "." } } };
  try {
    assert.equal(money.format("1737000", 2), "1.737.000,00");
    assert.equal(money.formatCents(123456n), "1.234,56");
    assert.equal(money.fixed("1234.5", 2), "1234.50");
  } finally {
    delete globalThis.document;
  }
  assert.equal(money.format("1737000", 2), "1,737,000.00");
});
