// Charts: each .chart holds its figure as JSON (no inline script under the CSP): a data
// block, or the data-figure of a .figure-data element that a push swaps in by id (htmx
// drops <script> from swapped fragments), which redraws the chart in place. With
// data-src, a chart also refreshes itself from that URL every data-every ms.
(function () {
  "use strict";

  var PLOT_CONFIG = { displaylogo: false, responsive: true, displayModeBar: false };

  function figureOf(chart) {
    var pushed = chart.querySelector(".figure-data");
    if (pushed) {
      try { return JSON.parse(pushed.dataset.figure || ""); } catch (e) { return null; }
    }
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
  }

  function redraw(figureData) {
    var chart = figureData.closest(".chart");
    var plot = chart && chart.querySelector(".plot");
    if (!plot || !chart.dataset.drawn || typeof window.Plotly === "undefined") return;
    var figure = figureOf(chart);
    if (figure) window.Plotly.react(plot, figure.data, figure.layout, PLOT_CONFIG);
  }

  function drawAll(root) {
    (root || document).querySelectorAll(".chart").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
  document.addEventListener("htmx:load", function (event) {
    if (event.target.classList && event.target.classList.contains("figure-data")) redraw(event.target);
  });
})();

// Actions: a refusal (400: bad input, 409: the action does not apply now) is a message for
// the operator, so a form marked data-swap-refusal swaps it in like a success; a
// [data-dismiss] button closes the confirmation it sits in.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if ((status === 400 || status === 409) && source && source.closest("[data-swap-refusal]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-dismiss]");
    if (!button) return;
    var panel = button.closest("[data-" + button.dataset.dismiss + "]");
    if (panel) panel.remove();
  });
})();
