// The live event stream. Rows arrive on the page's push socket (htmx's websocket extension,
// which also reconnects) already rendered and escaped by the server, as JSON frames this
// script takes before htmx would try to swap them. They are queued and written to the table
// at most once per FLUSH_MS, inside an animation frame, as a block of rows on top; the table
// keeps the newest ROWS_MAX rows.
//
// What a flush costs the main thread is the rows it puts in the DOM (parse, style, layout,
// paint: Chromium renders a new row even off screen), so a flush renders only the rows that
// can be on screen, the newest; the older rows of a busy flush wait, as HTML, in a lazy block
// of the same height below them, rendered when it scrolls into view. At 1,000 events/s a
// flush renders about 30 rows instead of 100 to 150, and no row is skipped: every one is in the
// table, drawn when it can be seen. (Only more than ROWS_MAX rows waiting, in a pause or a
// page that stopped drawing, drops the oldest, and the page says how many.)
(function () {
  "use strict";

  var FLUSH_MS = 100;
  var SPARE_ROWS = 5;      // rendered beyond the window's bottom, for a scroll or a resize
  var RATE_WINDOW_S = 5;

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.getElementById("live-rows");
    if (!body) return;
    var ROWS_MAX = parseInt(body.parentElement.dataset.rowsMax || "500", 10);
    var form = document.getElementById("live-filters");
    var pauseButton = document.getElementById("live-pause");
    var clearButton = document.getElementById("live-clear");
    var pausedNote = document.getElementById("live-paused-note");
    var skippedNote = document.getElementById("live-skipped-note");
    var rateOut = document.getElementById("live-rate");
    var totalOut = document.getElementById("live-total");
    var connOut = document.getElementById("live-conn");

    var queue = [];          // rendered rows waiting for the next flush, oldest first
    var held = 0;            // rows that arrived while paused (kept in queue, capped)
    var skipped = 0;         // rows dropped from a full queue, never shown
    var paused = false;
    var total = 0;
    var buckets = {};        // second -> events received (before filtering)
    var lastFlush = 0;
    var frameRequested = false;
    var socket = null;       // the extension's socket wrapper, once open
    var shown = body.querySelectorAll(".lrow").length;  // rows in the table, lazy ones included
    var rowHeight = 0;       // px, of the first row rendered
    var tableTop = 0;        // px, from the page's top to the rows' top
    var lazyRows = new Map();  // lazy block -> its rows' HTML, newest first
    var lazyObserver = new IntersectionObserver(function (entries) {
      for (var i = 0; i < entries.length; i++) if (entries[i].isIntersecting) lazyRender(entries[i].target);
    });

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

    function applyFilters(rows) {
      var f = filters();
      for (var i = 0; i < rows.length; i++) rows[i].hidden = !rowMatches(rows[i], f);
    }

    function applyFiltersToShownRows() {
      applyFilters(body.querySelectorAll(".lrow"));
    }

    function blockRows(block) {
      return lazyRows.has(block) ? lazyRows.get(block).length : block.childElementCount;
    }

    function lazyHeightSet(block) {
      block.style.height = lazyRows.get(block).length * rowHeight + "px";
    }

    function lazyRender(block) {
      var rows = lazyRows.get(block);
      if (!rows) return;
      lazyRows.delete(block);
      lazyObserver.unobserve(block);
      block.classList.remove("lazy");
      block.style.height = "";
      block.innerHTML = rows.join("");
      applyFilters(block.children);
    }

    function trim() {
      while (shown > ROWS_MAX) {
        var oldest = body.lastElementChild;
        var rows = blockRows(oldest);
        var excess = shown - ROWS_MAX;
        if (rows <= excess) {
          lazyRows.delete(oldest);
          lazyObserver.unobserve(oldest);
          oldest.remove();
          shown -= rows;
        } else if (lazyRows.has(oldest)) {
          lazyRows.get(oldest).length = rows - excess;
          lazyHeightSet(oldest);
          shown -= excess;
        } else {
          var range = document.createRange();
          range.setStartBefore(oldest.children[rows - excess]);
          range.setEndAfter(oldest.lastElementChild);
          range.deleteContents();
          shown -= excess;
        }
      }
    }

    // How many rows on top of the table can be on screen: from the table's top (or the
    // window's, scrolled past it) to the window's bottom. The row height and the table's
    // place in the page are measured once (again on a resize), so a flush forces no layout.
    function visibleRows() {
      if (!rowHeight) {
        var row = body.querySelector(".lrow");
        if (!row || !row.offsetHeight) return Infinity;  // nothing to measure yet: render all
        rowHeight = row.offsetHeight;
        tableTop = body.getBoundingClientRect().top + window.scrollY;
      }
      var top = Math.max(tableTop - window.scrollY, 0);
      return Math.max(Math.ceil((window.innerHeight - top) / rowHeight), 0) + SPARE_ROWS;
    }
    window.addEventListener("resize", function () { rowHeight = 0; });

    function flush(now) {
      frameRequested = false;
      if (paused || queue.length === 0) return;
      if (now - lastFlush < FLUSH_MS) {
        setTimeout(scheduleFlush, FLUSH_MS - (now - lastFlush));
        return;
      }
      lastFlush = now;
      // Newest first: the queue is oldest first.
      var rows = queue.reverse();
      queue = [];
      var visible = visibleRows();
      if (rows.length > visible) {
        var lazy = document.createElement("div");
        lazy.className = "lblock lazy";
        lazy.setAttribute("role", "presentation");
        lazyRows.set(lazy, rows.slice(visible));
        lazyHeightSet(lazy);
        body.insertBefore(lazy, body.firstChild);
        lazyObserver.observe(lazy);
      }
      body.insertAdjacentHTML("afterbegin", '<div class="lblock" role="presentation">' + rows.slice(0, visible).join("") + "</div>");
      shown += rows.length;
      trim();
    }

    // Only a page that stopped drawing (a background tab, a stalled machine) or a pause longer
    // than ROWS_MAX rows gets here; the page says so rather than dropping rows quietly.
    function rowsSkip(n) {
      queue.splice(0, n);
      skipped += n;
      skippedNote.hidden = false;
      skippedNote.dataset.rows = String(skipped);
      skippedNote.textContent = skipped.toLocaleString() + " row" + (skipped === 1 ? "" : "s") +
        " skipped (not shown): more than " + ROWS_MAX + " waited to be drawn; the counts include them";
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
      if (queue.length > ROWS_MAX) rowsSkip(queue.length - ROWS_MAX);
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
      shown = 0;
      lazyRows.clear();
      lazyObserver.disconnect();
      skipped = 0;
      skippedNote.hidden = true;
    });
  });
})();
