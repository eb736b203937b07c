// Counts down each <time class="countdown" datetime="..."> the server rendered: the
// text it shows without this script is the time left when the page was made.
"use strict";
(function () {
  function left(seconds) {
    const s = Math.max(Math.floor(seconds), 0);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    const m = Math.floor(s % 3600 / 60), r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    if (d) return d + "d " + two(h) + "h";
    if (h) return h + "h " + two(m) + "m";
    if (m) return m + "m " + two(r) + "s";
    return r + "s";
  }
  function tick() {
    for (const el of document.querySelectorAll("time.countdown")) {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(at)) el.textContent = left((at - Date.now()) / 1000);
    }
  }
  setInterval(tick, 1000);
})();
