// Online experiments: a row the server drafted for an experiment carries
// data-impression-details (experiment, surface, shown, credits, signature).
// When the row is first on screen this sends one impression event with an id
// made here, and marks the row with data-impression-id, which events.js adds
// to the clicks on the row's cards ({"details": {"impression": id}}).
// It sends with events.js's sender (window.MovieEvents: CSRF header, retries
// with the same id), which runs first: both scripts are deferred, in order.
(function () {
  "use strict";

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
    var id = window.MovieEvents.newEventId();
    row.setAttribute("data-impression-id", id);
    window.MovieEvents.send([{ type: "impression", event_id: id, details: details }]).catch(function () {});
  }

  var observer = null;

  // The rows under ``root`` (the document, or rows a script put on the page later: the onboarding panel's).
  function watch(root) {
    if (!window.MovieEvents) {
      return; // events.js found no endpoint or no fetch: nothing is sent
    }
    var rows = root.querySelectorAll("[data-impression-details]");
    if (!("IntersectionObserver" in window)) {
      rows.forEach(sendImpression);
      return;
    }
    observer =
      observer ||
      new IntersectionObserver(function (entries) {
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

  window.MovieExperiments = { watch: watch };

  function start() {
    watch(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
