// Online experiments: a row the server drafted for an experiment carries
// data-impression-details (experiment, surface, shown, credits, signature).
// When the row is first on screen this sends one impression event with an id
// made here, and marks the row with data-impression-id, which events.js adds
// to the clicks on the row's cards ({"details": {"impression": id}}).
(function () {
  "use strict";

  var script = document.currentScript;
  var endpoint = script && script.dataset.endpoint;
  if (!endpoint || !window.fetch) {
    return;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // A version 4 UUID; crypto.randomUUID exists only on HTTPS and localhost pages.
  function uuid4() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function sendImpression(row) {
    if (row.hasAttribute("data-impression-id")) {
      return;
    }
    var details;
    try {
      details = JSON.parse(row.getAttribute("data-impression-details"));
    } catch (error) {
      return;
    }
    var id = uuid4();
    row.setAttribute("data-impression-id", id);
    fetch(endpoint, {
      method: "POST",
      keepalive: true,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ events: [{ type: "impression", event_id: id, details: details }] }),
    }).catch(function () {});
  }

  function start() {
    var rows = document.querySelectorAll("[data-impression-details]");
    if (!("IntersectionObserver" in window)) {
      rows.forEach(sendImpression);
      return;
    }
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) {
          observer.unobserve(entry.target);
          sendImpression(entry.target);
        }
      });
    });
    rows.forEach(function (row) {
      observer.observe(row);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
