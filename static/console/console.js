// Charts: each .chart holds its figure as a JSON data block (no inline script under the
// CSP) and, with data-src, refreshes itself from that URL every data-every ms.
(function () {
  "use strict";

  var PLOT_CONFIG = { displaylogo: false, responsive: true, displayModeBar: false };

  function figureOf(chart) {
    var block = chart.querySelector("script.figure");
    if (!block || !block.textContent.trim()) return null;
    try { return JSON.parse(block.textContent); } catch (e) { return null; }
  }

  function draw(chart) {
    if (typeof window.Plotly === "undefined" || chart.dataset.drawn) return;
    var plot = chart.querySelector(".plot");
    var figure = figureOf(chart);
    if (!plot || !figure) return;
    chart.dataset.drawn = "1";
    window.Plotly.newPlot(plot, figure.data, figure.layout, PLOT_CONFIG).then(function () {
      chart.dataset.rendered = "1";
    });
    var src = chart.dataset.src;
    var every = parseInt(chart.dataset.every || "0", 10);
    if (!src || !every) return;
    var busy = false;
    function refresh() {
      if (document.hidden || busy) return;
      busy = true;
      fetch(src, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.status === 200 ? response.json() : null; })
        .then(function (next) {
          if (next) return window.Plotly.react(plot, next.data, next.layout, PLOT_CONFIG);
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }
    var timer = setInterval(function () {
      if (!document.body.contains(chart)) { clearInterval(timer); return; }
      refresh();
    }, every);
    // A push (e.g. a new lag sample) redraws at once instead of at the next tick.
    if (chart.dataset.refreshOn) document.body.addEventListener(chart.dataset.refreshOn, refresh);
  }

  function drawAll(root) {
    (root || document).querySelectorAll(".chart").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
