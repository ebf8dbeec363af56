// The live event stream. Rows arrive on the page's push socket (htmx's websocket extension,
// which also reconnects) already rendered and escaped by the server, as JSON frames this
// script takes before htmx would try to swap them; they are queued and written to the table
// at most once per FLUSH_MS inside an animation frame, and the table keeps the newest
// ROWS_MAX rows, so a burst of 1,000 events/s costs a few small DOM writes per second
// instead of one per event.
(function () {
  "use strict";

  var FLUSH_MS = 150;
  var RATE_WINDOW_S = 5;

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.getElementById("live-rows");
    if (!body) return;
    var ROWS_MAX = parseInt(body.parentElement.dataset.rowsMax || "500", 10);
    var form = document.getElementById("live-filters");
    var pauseButton = document.getElementById("live-pause");
    var clearButton = document.getElementById("live-clear");
    var pausedNote = document.getElementById("live-paused-note");
    var rateOut = document.getElementById("live-rate");
    var totalOut = document.getElementById("live-total");
    var connOut = document.getElementById("live-conn");

    var queue = [];          // rendered rows waiting for the next flush, oldest first
    var held = 0;            // rows that arrived while paused (kept in queue, capped)
    var paused = false;
    var total = 0;
    var buckets = {};        // second -> events received (before filtering)
    var lastFlush = 0;
    var frameRequested = false;
    var socket = null;       // the extension's socket wrapper, once open

    function filters() {
      var data = new FormData(form);
      return {
        type: "filter",
        event_type: (data.get("event_type") || "").trim(),
        stream: (data.get("stream") || "").trim(),
        correlation_id: (data.get("correlation_id") || "").trim(),
      };
    }

    function rowMatches(row, f) {
      if (f.event_type && row.dataset.type !== f.event_type) return false;
      if (f.stream && row.dataset.stream.indexOf(f.stream) !== 0) return false;
      if (f.correlation_id && row.dataset.correlation !== f.correlation_id) return false;
      return true;
    }

    function applyFiltersToShownRows() {
      var f = filters();
      var rows = body.children;
      for (var i = 0; i < rows.length; i++) rows[i].hidden = !rowMatches(rows[i], f);
    }

    function trim() {
      var rows = body.children;
      if (rows.length <= ROWS_MAX) return;
      var range = document.createRange();
      range.setStartBefore(rows[ROWS_MAX]);
      range.setEndAfter(rows[rows.length - 1]);
      range.deleteContents();
    }

    function flush() {
      frameRequested = false;
      if (paused || queue.length === 0) return;
      var now = performance.now();
      if (now - lastFlush < FLUSH_MS) {
        setTimeout(scheduleFlush, FLUSH_MS - (now - lastFlush));
        return;
      }
      lastFlush = now;
      var batch = queue.length > ROWS_MAX ? queue.slice(queue.length - ROWS_MAX) : queue;
      queue = [];
      // Newest first: the batch is oldest first, so it is written reversed on top.
      body.insertAdjacentHTML("afterbegin", batch.reverse().join(""));
      trim();
    }

    function scheduleFlush() {
      if (frameRequested) return;
      frameRequested = true;
      requestAnimationFrame(flush);
    }

    function countRate(n) {
      var second = Math.floor(Date.now() / 1000);
      buckets[second] = (buckets[second] || 0) + n;
      total += n;
    }

    setInterval(function () {
      var now = Math.floor(Date.now() / 1000);
      var sum = 0;
      for (var key in buckets) {
        var second = parseInt(key, 10);
        if (second < now - RATE_WINDOW_S) delete buckets[key];
        else if (second < now) sum += buckets[key];
      }
      rateOut.textContent = Math.round(sum / RATE_WINDOW_S).toLocaleString();
      totalOut.textContent = total.toLocaleString();
    }, 1000);

    function onMessage(event) {
      var data = event.detail.message;
      if (typeof data !== "string" || data.charAt(0) !== "{") return;
      event.preventDefault();  // ours, not a fragment for htmx to swap
      var message;
      try { message = JSON.parse(data); } catch (e) { return; }
      if (message.type !== "events") return;
      countRate(message.count || 0);
      if (!message.rows.length) return;
      for (var i = 0; i < message.rows.length; i++) queue.push(message.rows[i]);
      if (queue.length > ROWS_MAX) queue.splice(0, queue.length - ROWS_MAX);
      if (paused) {
        held = queue.length;
        pausedNote.textContent = held + " new row" + (held === 1 ? "" : "s") + " held while paused";
        return;
      }
      scheduleFlush();
    }

    function setConn(state, text) {
      connOut.dataset.state = state;
      connOut.textContent = text;
    }

    document.body.addEventListener("htmx:wsConnecting", function () { setConn("connecting", "connecting…"); });
    document.body.addEventListener("htmx:wsOpen", function (event) {
      socket = event.detail.socketWrapper;
      setConn("open", "live");
      socket.send(JSON.stringify(filters()));
    });
    document.body.addEventListener("htmx:wsClose", function () {
      socket = null;
      setConn("closed", "reconnecting…");
    });
    document.body.addEventListener("htmx:wsBeforeMessage", onMessage);

    var filterTimer = null;
    function filtersChanged() {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(function () {
        applyFiltersToShownRows();
        if (socket) socket.send(JSON.stringify(filters()));
      }, 250);
    }
    form.addEventListener("input", filtersChanged);
    form.addEventListener("change", filtersChanged);
    form.addEventListener("submit", function (event) { event.preventDefault(); filtersChanged(); });

    pauseButton.addEventListener("click", function () {
      paused = !paused;
      pauseButton.textContent = paused ? "Resume" : "Pause";
      pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
      document.body.classList.toggle("live-paused", paused);
      if (paused) {
        pausedNote.hidden = false;
        pausedNote.textContent = "paused";
      } else {
        pausedNote.hidden = true;
        held = 0;
        scheduleFlush();
      }
    });
    clearButton.addEventListener("click", function () {
      body.textContent = "";
      queue = [];
    });
  });
})();
