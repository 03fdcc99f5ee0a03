// Money in the browser, without floating point: amounts arrive from the server as decimal strings
// ("1234.5600", Decimal rendered by json_script) and are worked on as BigInt integers of a known scale
// (cents for money), so 0.1 + 0.2 is 0.30 and 1.005 rounds like the server rounds it.
//
// Rounding is half-even (banker's rounding) at every step that drops digits, as the ledger and the
// templates' `money` filter (quantai/templatetags/numbers.py) round: 2.345 -> 2.34, 2.355 -> 2.36.
// A float (Number) is made only at the very end, for a chart's y value, where a 1e-15 error is invisible.
//
// Pure functions, no DOM: loaded in the browser by base.html (window.QuantAIMoney) and required by the
// tests in jstests/ under Node (`node --test jstests/*.test.js`).
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) { module.exports = api; } else { root.QuantAIMoney = api; }
})(typeof window !== "undefined" ? window : globalThis, function () {
  "use strict";

  var DASH = "\u2013"; // en dash: how every page shows a missing number
  // SPY units bought by a cash flow are kept to this many decimal places (see spyEquivalent).
  var UNIT_PLACES = 18;
  var DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

  function pow10(n) { return 10n ** BigInt(n); }

  // "1234.50", "-0.004", "1e3", 12.5 -> { coefficient: 123450n, scale: 2 } (value = coefficient / 10^scale),
  // or null for null, "", NaN, Infinity and anything that is not a decimal number.
  function parse(value) {
    if (value === null || value === undefined || typeof value === "boolean") { return null; }
    if (typeof value === "number" && !isFinite(value)) { return null; }
    var match = DECIMAL.exec(String(value).trim());
    if (!match || (match[2] === "" && (match[3] === undefined || match[3] === ""))) { return null; }
    var fraction = match[3] || "";
    var coefficient = BigInt((match[2] || "0") + fraction);
    var scale = fraction.length - (match[4] ? Number(match[4]) : 0);
    if (scale < 0) { coefficient *= pow10(-scale); scale = 0; }
    return { coefficient: match[1] === "-" ? -coefficient : coefficient, scale: scale };
  }

  // numerator / denominator rounded half-even to an integer (denominator > 0).
  function divideHalfEven(numerator, denominator) {
    var quotient = numerator / denominator; // BigInt division truncates toward zero
    var remainder = numerator - quotient * denominator;
    if (remainder === 0n) { return quotient; }
    var negative = remainder < 0n;
    var twice = (negative ? -remainder : remainder) * 2n;
    var away = twice > denominator || (twice === denominator && quotient % 2n !== 0n);
    if (!away) { return quotient; }
    return negative ? quotient - 1n : quotient + 1n;
  }

  // A parsed decimal as an integer count of 10^-places, rounded half-even: scaled({123456n, 4}, 2) === 1235n.
  function scaled(decimal, places) {
    if (decimal.scale <= places) { return decimal.coefficient * pow10(places - decimal.scale); }
    return divideHalfEven(decimal.coefficient, pow10(decimal.scale - places));
  }

  // "12.345" -> 1234n (half-even), or null when `value` is no number.
  function toCents(value) {
    var decimal = parse(value);
    return decimal === null ? null : scaled(decimal, 2);
  }

  // The page's number format (base.html's data-decimal and data-group, the reader's locale as the server's
  // templates use it); "." and "," without a page (Node).
  function separators() {
    var html = typeof document !== "undefined" && document.documentElement;
    var data = (html && html.dataset) || {};
    return { decimal: data.decimal || ".", group: data.group || "," };
  }

  // An integer count of 10^-places as text: fixed(-5n, 2) === "-0.05". `grouped`: for reading, in the page's
  // format ("1,234.50", "1.234,50"); not grouped: for an <input>, always with a point.
  function digits(count, places, grouped) {
    var negative = count < 0n;
    var text = (negative ? -count : count).toString().padStart(places + 1, "0");
    var whole = text.slice(0, text.length - places);
    var fraction = text.slice(text.length - places);
    var point = ".";
    if (grouped) {
      var sep = separators();
      whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, sep.group);
      point = sep.decimal;
    }
    var sign = negative ? "-" : ""; // a count of zero is never negative: no "-0.00"
    return sign + whole + (places > 0 ? point + fraction : "");
  }

  // `value` with `places` decimals (2 by default) rounded half-even, no grouping: for an <input>'s value or
  // placeholder. "123.445" -> "123.44"; "–" when it is no number.
  function fixed(value, places) {
    places = places === undefined ? 2 : places;
    var decimal = parse(value);
    return decimal === null ? DASH : digits(scaled(decimal, places), places, false);
  }

  // An amount or price as the templates' `money` filter shows it: grouped, half-even, "1,737,000.00".
  function format(value, places) {
    places = places === undefined ? 2 : places;
    var decimal = parse(value);
    return decimal === null ? DASH : digits(scaled(decimal, places), places, true);
  }

  // Integer cents as text: formatCents(123456n) === "1,234.56".
  function formatCents(cents) { return digits(BigInt(cents), 2, true); }

  // Integer cents as a Number of dollars, for a chart's y axis only (never added up again).
  function centsToNumber(cents) { return Number(cents) / 100; }

  // What the same external cash flows would be worth had each gone into SPY on its day:
  //   value(t) = SPY(t) * sum over flows up to t of flow / SPY(day of the flow)
  // `series`: [{ date, net_deposits, spy }] in date order, net_deposits the running total of deposits minus
  // withdrawals (money text), spy SPY's index (text, null on a day without it). A day without SPY adds no
  // point and its flow is not invested (it was not investable that day). Returns [{ time, cents, value }].
  // Rounding: each flow is taken in cents (half-even); the SPY units it buys are kept to 18 decimals
  // (half-even); each day's value is rounded half-even to cents. The 18-decimal units make the cents equal to
  // the exact rational result rounded half-even unless that lies within ~1e-9 of a cent's half.
  function spyEquivalent(series) {
    var units = 0n; // SPY units times 10^UNIT_PLACES
    var previous = 0n; // net deposits (cents) already turned into units or skipped
    var out = [];
    for (var i = 0; i < series.length; i++) {
      var point = series[i];
      var deposits = toCents(point.net_deposits);
      if (deposits === null) { deposits = previous; }
      var spy = parse(point.spy);
      if (spy === null || spy.coefficient <= 0n) { previous = deposits; continue; }
      // flow / spy in units of 10^-UNIT_PLACES: flowCents / 100 * 10^scale / coefficient * 10^UNIT_PLACES
      var flow = deposits - previous;
      units += divideHalfEven(flow * pow10(spy.scale + UNIT_PLACES), spy.coefficient * 100n);
      previous = deposits;
      // units * spy in cents: units / 10^UNIT_PLACES * coefficient / 10^scale * 100
      var cents = divideHalfEven(units * spy.coefficient * 100n, pow10(UNIT_PLACES + spy.scale));
      out.push({ time: point.date, cents: cents, value: centsToNumber(cents) });
    }
    return out;
  }

  // The slices of an allocation chart: [{ label, value }] (value money text, >= 0) ->
  // [{ label, cents, value, percent }], percent the slice's share of the total as text with one decimal,
  // rounded half-even ("33.3"); "0.0" for every slice when the total is zero. Rounded shares need not add
  // up to exactly 100.0.
  function allocation(slices) {
    var rows = slices.map(function (slice) {
      var cents = toCents(slice.value);
      return { label: slice.label, cents: cents === null ? 0n : cents };
    });
    var total = rows.reduce(function (sum, row) { return sum + row.cents; }, 0n);
    return rows.map(function (row) {
      var tenths = total > 0n ? divideHalfEven(row.cents * 1000n, total) : 0n;
      return { label: row.label, cents: row.cents, value: centsToNumber(row.cents), percent: digits(tenths, 1, false) };
    });
  }

  return {
    DASH: DASH,
    parse: parse,
    toCents: toCents,
    fixed: fixed,
    format: format,
    formatCents: formatCents,
    centsToNumber: centsToNumber,
    spyEquivalent: spyEquivalent,
    allocation: allocation
  };
});
