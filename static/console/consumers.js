// Rebuild progress pushed over a websocket, already rendered by the server with the page's
// own partial; the consumer tables still refresh every 5 s through htmx.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    if (!document.getElementById("consumer-tables")) return;
    var retryMs = 1000;
    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + "/ws/rebuilds/");
      socket.onopen = function () { retryMs = 1000; };
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        if (message.type !== "rebuild") return;
        var rows = document.querySelectorAll("tr[data-projection]");
        for (var i = 0; i < rows.length; i++) {
          if (rows[i].dataset.projection !== message.projection) continue;
          var cell = rows[i].querySelector(".rebuild-cell");
          if (!cell) continue;
          cell.innerHTML = message.html;
          if (window.htmx) window.htmx.process(cell);
        }
      };
      socket.onclose = function () {
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 15000);
      };
    }
    connect();
  });
})();
