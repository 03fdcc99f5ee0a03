// Shows the "live updates are paused" banner (#live-paused in base.html) while the live websocket
// is down and hides it once live.js reconnects. live.js records the socket's state in
// <body data-live="connected|disconnected">; the server renders the banner already visible when it
// knows the channel layer is down.
(function () {
  "use strict";
  var banner = document.getElementById("live-paused");
  if (!banner) { return; }
  // A socket that closes and reconnects within this time (a Redis blip, a deploy) shows nothing.
  var GRACE_MS = 4000;
  var timer = null;
  function update() {
    var state = document.body.dataset.live;
    if (state === "connected") {
      if (timer !== null) { clearTimeout(timer); timer = null; }
      banner.hidden = true;
    } else if (state === "disconnected" && timer === null && banner.hidden) {
      timer = setTimeout(function () {
        timer = null;
        if (document.body.dataset.live !== "connected") { banner.hidden = false; }
      }, GRACE_MS);
    }
  }
  new MutationObserver(update).observe(document.body, { attributes: true, attributeFilter: ["data-live"] });
  update();
})();
