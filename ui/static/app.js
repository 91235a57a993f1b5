// clinicmesh UI helpers: live refresh over server-sent events, idle lock, small conveniences.
// Written by hand, no framework; every page works without it (forms post normally).
(function () {
  "use strict";

  // Live refresh: an element with data-live="/url" is re-fetched when any document changes.
  function startLive() {
    var box = document.getElementById("live");
    var state = document.getElementById("live-state");
    if (!box || !window.EventSource) { return; }
    var url = box.getAttribute("data-live");
    var select = box.getAttribute("data-live-select");
    var pending = false;
    var again = false;  // a change arrived during a fetch: that fetch may predate it
    function settle() {
      pending = false;
      if (again) { again = false; refresh(); }
    }
    function refresh() {
      if (pending) { again = true; return; }
      pending = true;
      // Keep the user's typing: never refresh while a field inside the box has focus.
      if (box.contains(document.activeElement) && document.activeElement.tagName !== "BODY") {
        pending = false;
        setTimeout(refresh, 1500);
        return;
      }
      fetch(url, { headers: { "X-Live": "1" }, credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 401) { window.location.href = "/lock"; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null) { show(html); }
          settle();
        })
        .catch(settle);
    }
    function show(html) {
      if (select) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var part = doc.querySelector(select);
        if (part) { box.innerHTML = part.outerHTML; }
      } else {
        box.innerHTML = html;
      }
      box.setAttribute("data-refreshed", String(Date.now()));
    }
    var source = new EventSource("/events");
    source.addEventListener("open", function () {
      box.setAttribute("data-connected", "1");
      if (state) { state.textContent = state.getAttribute("data-connected"); state.className = "live-state"; }
    });
    source.addEventListener("change", refresh);
    source.addEventListener("error", function () {
      box.removeAttribute("data-connected");
      if (state) { state.textContent = state.getAttribute("data-disconnected"); state.className = "live-state off"; }
    });
  }

  // Idle lock: the server locks the session anyway; this takes the screen away promptly.
  function startIdleLock() {
    var seconds = parseInt(document.body.getAttribute("data-idle-lock") || "0", 10);
    if (!seconds || window.location.pathname === "/lock") { return; }
    var last = Date.now();
    ["keydown", "pointerdown", "touchstart", "input"].forEach(function (name) {
      document.addEventListener(name, function () { last = Date.now(); }, { passive: true });
    });
    setInterval(function () {
      if (Date.now() - last > seconds * 1000) { window.location.href = "/lock"; }
    }, 1000);
  }

  function conveniences() {
    document.querySelectorAll(".js-autosubmit").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
    document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
    document.querySelectorAll(".js-print").forEach(function (el) {
      el.addEventListener("click", function () { window.print(); });
    });
    // An upload over the size limit is refused here, before minutes of sending it; the
    // server refuses it too (413) when this script does not run.
    document.querySelectorAll("form.js-upload").forEach(function (form) {
      var input = form.querySelector("input[type=file]");
      var message = form.querySelector(".js-too-big");
      var max = parseInt(form.getAttribute("data-max-bytes"), 10);
      function tooBig() {
        var file = input.files && input.files[0];
        return file && file.size > max ? file : null;
      }
      input.addEventListener("change", function () {
        var file = tooBig();
        message.hidden = !file;
        if (file) {
          var mb = (file.size / 1048576).toFixed(1);
          message.textContent = form.getAttribute("data-too-big").replace("{size}", mb);
        }
      });
      form.addEventListener("submit", function (event) {
        if (tooBig()) { event.preventDefault(); message.hidden = false; }
      });
    });
    // Highlight a vital sign outside its normal range while it is typed.
    document.querySelectorAll("input[data-normal-low]").forEach(function (el) {
      function check() {
        var v = parseFloat(el.value.replace(",", "."));
        var low = parseFloat(el.getAttribute("data-normal-low"));
        var high = parseFloat(el.getAttribute("data-normal-high"));
        el.classList.toggle("abnormal", !isNaN(v) && (v < low || v > high));
      }
      el.addEventListener("input", check);
      check();
    });
  }

  // Triage: a ticked danger sign means emergency; pre-select it (the nurse can still change it).
  function dangerSignsSuggestEmergency() {
    var emergency = document.querySelector("input[name=category][value=emergency]");
    if (!emergency) { return; }
    document.querySelectorAll("input[name=danger_signs]").forEach(function (box) {
      box.addEventListener("change", function () {
        if (box.checked) { emergency.checked = true; }
      });
    });
  }

  // Diagnosis search: suggestions while typing, each one a small form like the server renders.
  function diagnosisSuggestions() {
    var input = document.getElementById("dx");
    var list = document.querySelector(".dx-results");
    if (!input || !list || !window.fetch) { return; }
    var action = list.getAttribute("data-action");
    var addLabel = list.getAttribute("data-add-label");
    var csrf = document.body.getAttribute("data-csrf");
    var timer = null;
    function show(codes) {
      list.textContent = "";
      codes.forEach(function (c) {
        var form = document.createElement("form");
        form.method = "post";
        form.action = action;
        form.className = "inline";
        [["csrf", csrf], ["code", c.code], ["certainty", "provisional"]].forEach(function (kv) {
          var hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = kv[0]; hidden.value = kv[1];
          form.appendChild(hidden);
        });
        var code = document.createElement("span");
        code.className = "code"; code.textContent = c.code;
        var label = document.createElement("span");
        label.textContent = " " + c.label + " ";
        var button = document.createElement("button");
        button.type = "submit"; button.className = "primary"; button.textContent = addLabel;
        form.appendChild(code); form.appendChild(label); form.appendChild(button);
        var item = document.createElement("li");
        item.appendChild(form);
        list.appendChild(item);
      });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (q.length < 2) { return; }
        fetch("/icd10?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(show)
          .catch(function () {});
      }, 250);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    conveniences();
    dangerSignsSuggestEmergency();
    diagnosisSuggestions();
    startLive();
    startIdleLock();
  });
})();
