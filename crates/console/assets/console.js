// Trellis console: progressive enhancement only; every page works without it.
// - form[data-confirm]: asks before a destructive action.
// - form[data-upload]: sends the file with XMLHttpRequest to show upload progress
//   (<progress data-progress>), drag and drop onto .drop; the server answers JSON
//   {redirect} or {error}.
// - [data-sse]: follows a console event stream; each "patch" event carries
//   {target, html, mode} (server-rendered, escaped markup) applied to #target; the browser's
//   EventSource resumes with Last-Event-ID after a drop, the server replays what was missed.
(function () {
  "use strict";

  function csrf(form) {
    var i = form.querySelector('input[name="csrf_token"]');
    return i ? i.value : "";
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      e.preventDefault();
      return;
    }
    if (form.hasAttribute("data-upload") && window.FormData && window.XMLHttpRequest) {
      e.preventDefault();
      upload(form);
    }
  });

  function upload(form) {
    var bar = form.querySelector("progress[data-progress]");
    var note = form.querySelector("[data-upload-note]");
    var button = form.querySelector('button[type="submit"]');
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", csrf(form));
    xhr.setRequestHeader("X-Console-Upload", "1");
    if (bar) { bar.hidden = false; bar.value = 0; }
    if (note) { note.textContent = ""; note.hidden = true; }
    if (button) button.disabled = true;
    xhr.upload.addEventListener("progress", function (ev) {
      if (bar && ev.lengthComputable) bar.value = Math.round((ev.loaded / ev.total) * 100);
    });
    xhr.addEventListener("load", function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) { body = {}; }
      if (xhr.status < 400 && body.redirect) {
        window.location.assign(body.redirect);
        return;
      }
      if (button) button.disabled = false;
      if (bar) bar.hidden = true;
      if (note) { note.textContent = body.error || ("HTTP " + xhr.status); note.hidden = false; }
    });
    xhr.addEventListener("error", function () {
      if (button) button.disabled = false;
      if (note) { note.textContent = form.getAttribute("data-network-error") || "Network error"; note.hidden = false; }
    });
    xhr.send(new FormData(form));
  }

  function drops() {
    document.querySelectorAll(".drop").forEach(function (zone) {
      var input = zone.querySelector('input[type="file"]');
      if (!input) return;
      zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
      zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        zone.classList.remove("over");
        if (e.dataTransfer && e.dataTransfer.files.length) {
          input.files = e.dataTransfer.files;
          var name = zone.querySelector("[data-file-name]");
          if (name) name.textContent = e.dataTransfer.files[0].name;
        }
      });
    });
  }

  function patch(data) {
    var el = document.getElementById(data.target);
    if (!el && data.parent) {
      // An item the page did not have yet (e.g. a new node of a timeline).
      var parent = document.getElementById(data.parent);
      if (!parent) return;
      el = document.createElement(data.tag || "li");
      el.id = data.target;
      parent.appendChild(el);
    }
    if (!el) return;
    if (data.mode === "append") el.insertAdjacentHTML("beforeend", data.html);
    else if (data.mode === "attr") el.setAttribute(data.name, data.value);
    else el.innerHTML = data.html;
    if (window.htmx) window.htmx.process(el);
  }

  function streams() {
    document.querySelectorAll("[data-sse]").forEach(function (el) {
      var source = new EventSource(el.getAttribute("data-sse"));
      el.setAttribute("data-sse-state", "open");
      source.addEventListener("patch", function (e) {
        try { JSON.parse(e.data).forEach(patch); } catch (_) { /* a bad frame is skipped */ }
      });
      source.addEventListener("end", function () {
        el.setAttribute("data-sse-state", "ended");
        source.close();
      });
      source.addEventListener("error", function () {
        if (source.readyState === EventSource.CLOSED) el.setAttribute("data-sse-state", "closed");
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drops(); streams(); });
})();
