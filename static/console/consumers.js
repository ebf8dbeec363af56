// The consumers page listens on two websockets: rebuild progress, already rendered by the
// server with the page's own partial, and a note after every lag sample, which fires a
// "lag-sampled" event so htmx reloads the tables and the chart redraws at once (both also
// refresh every 15 s, should no push come).
(function () {
  "use strict";

  function listen(path, onMessage) {
    var retryMs = 1000;
    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + path);
      socket.onopen = function () { retryMs = 1000; };
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        onMessage(message);
      };
      socket.onclose = function () {
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 15000);
      };
    }
    connect();
  }

  function rebuildShow(message) {
    if (message.type !== "rebuild") return;
    var rows = document.querySelectorAll("tr[data-projection]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].dataset.projection !== message.projection) continue;
      var cell = rows[i].querySelector(".rebuild-cell");
      if (!cell) continue;
      cell.innerHTML = message.html;
      if (window.htmx) window.htmx.process(cell);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.getElementById("consumer-tables")) return;
    listen("/ws/rebuilds/", rebuildShow);
    listen("/ws/lag/", function (message) {
      if (message.type === "lag") document.body.dispatchEvent(new CustomEvent("lag-sampled"));
    });
  });
})();
