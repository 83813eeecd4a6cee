// Trellis console, Momentum board (loaded only there; the board works without it).
// - Drag a card (.issue, whose form is its move form) onto another column
//   (.column[data-state]): POSTs the move with the CSRF header; a refusal is shown on the
//   card, which stays; the note survives the live refreshes that re-render the columns
//   until the card is moved again.
// - Live: a ticket from data-ticket opens /ws, subscribes to team:<id>, and every event
//   re-fetches the columns (htmx GET of data-columns). Reconnects with backoff.
(function () {
  "use strict";
  var board = document.getElementById("columns");
  if (!board) return;
  var live = document.getElementById("live");
  var dragged = null;
  var notes = {}; // card id -> refusal text, re-applied after each refresh

  function note(card, text) {
    var p = card.querySelector("p.error");
    if (!p) {
      p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      card.insertBefore(p, card.querySelector("form"));
    }
    p.textContent = text;
  }

  function token() {
    var i = document.querySelector('input[name="csrf_token"]');
    return i ? i.value : "";
  }

  function refresh() {
    // Not under the user's hands: while a card is dragged or a state picker is open, later.
    var a = document.activeElement;
    if (dragged || (a && a.tagName === "SELECT" && board.contains(a))) {
      setTimeout(refresh, 1000);
      return;
    }
    if (window.htmx) {
      return window.htmx.ajax("GET", board.getAttribute("data-columns"), { target: "#columns", swap: "innerHTML" });
    }
  }

  function refuse(card, text) {
    notes[card.id] = text;
    note(card, text);
  }
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.target !== board) return;
    Object.keys(notes).forEach(function (id) {
      var card = document.getElementById(id);
      if (card) note(card, notes[id]);
    });
  });

  function move(card, column) {
    var to = column.getAttribute("data-state");
    var from = card.closest(".column");
    var form = card.querySelector("form");
    if (!to || !form || (from && from.getAttribute("data-state") === to)) return;
    var body = new URLSearchParams();
    body.set("to_state_id", to);
    fetch(form.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token(), "X-Board-Move": "1", "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (r) {
      if (r.ok) {
        delete notes[card.id];
        column.appendChild(card);
        var old = card.querySelector("p.error");
        if (old) old.remove();
        refresh();
        return;
      }
      return r.json().catch(function () { return {}; }).then(function (b) { refuse(card, b.error || ("HTTP " + r.status)); });
    }).catch(function () { refuse(card, "Network error"); });
  }

  document.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest(".issue");
    if (!card) return;
    dragged = card;
    if (e.dataTransfer) {
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", card.id);
    }
  });
  document.addEventListener("dragover", function (e) {
    var col = dragged && e.target.closest && e.target.closest(".column[data-state]");
    if (!col) return;
    e.preventDefault();
    col.classList.add("over");
  });
  document.addEventListener("dragleave", function (e) {
    var col = e.target.closest && e.target.closest(".column");
    if (col) col.classList.remove("over");
  });
  document.addEventListener("drop", function (e) {
    var col = dragged && e.target.closest && e.target.closest(".column[data-state]");
    if (!col) return;
    e.preventDefault();
    col.classList.remove("over");
    var card = dragged;
    dragged = null;
    move(card, col);
  });
  document.addEventListener("dragend", function () { dragged = null; });

  var delay = 1000, pending = null, pinger = null;
  function status(on) {
    board.setAttribute("data-live", on ? "open" : "closed");
    if (live) live.textContent = live.getAttribute(on ? "data-on" : "data-off");
  }
  function later() {
    if (pending) return;
    pending = setTimeout(function () { pending = null; refresh(); }, 150);
  }
  function retry() {
    status(false);
    clearInterval(pinger);
    // Jittered, so a server restart is not met by every tab at the same instant.
    setTimeout(connect, delay * (0.5 + Math.random()));
    delay = Math.min(delay * 2, 30000);
  }
  function connect() {
    fetch(board.getAttribute("data-ticket"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token() }
    }).then(function (r) {
      if (!r.ok) throw new Error("ticket " + r.status);
      return r.json();
    }).then(function (t) {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var ws = new WebSocket(scheme + location.host + "/ws?ticket=" + encodeURIComponent(t.ticket));
      ws.onopen = function () {
        ws.send(JSON.stringify({ type: "subscribe", request_id: "board", topics: ["team:" + board.getAttribute("data-team")] }));
        pinger = setInterval(function () { ws.send('{"message_type":"ping"}'); }, 60000);
      };
      ws.onmessage = function (m) {
        var f;
        try { f = JSON.parse(m.data); } catch (_) { return; }
        if (f.message_type === "command_response" && f.data && f.data.command_type === "subscribe" && f.data.success) {
          later(); // changes made before the subscription (or while we were away)
          delay = 1000;
          status(true);
        } else if (f.message_type === "event") {
          later();
        }
      };
      ws.onclose = retry;
    }).catch(retry);
  }
  connect();
})();
