// Opens the signed-in user's live websocket and applies pushed updates to the page.
// Reconnects with backoff; pages work the same without it (they show fresh data on reload).
// A pushed close is shown as the server shows it (static/js/money.js: grouped, half-even to cents).
(function () {
  "use strict";
  var delay = 1000;
  function applyPriceUpdate(data) {
    var row = document.querySelector('#latest-prices tr[data-symbol="' + data.symbol + '"]');
    if (!row) { return; }
    row.cells[1].textContent = data.date;
    row.cells[2].textContent = window.QuantAIMoney.format(data.close, 2);
  }
  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/live/");
    socket.onopen = function () { delay = 1000; document.body.dataset.live = "connected"; };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      document.dispatchEvent(new CustomEvent("quantai:" + message.type, { detail: message.data }));
      if (message.type === "price.update") { applyPriceUpdate(message.data); }
    };
    socket.onclose = function (event) {
      document.body.dataset.live = "disconnected";
      if (event.code === 4401) { return; }  // signed out: do not retry
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
