// Visitor events: poster clicks, detail views and star ratings go to the
// endpoint named by this script tag's data-endpoint (POST, JSON, CSRF header).
// fetch(..., {keepalive: true}) lets a click that navigates away still arrive.
// Each event gets its UUID (event_id) here, and a retry sends the same ids, so
// a POST that timed out after it was stored is not stored twice.
// Clicks and detail views are also kept in sessionStorage until the server
// answers for them: a click's page is usually gone before a retry could run,
// so the next page of the tab sends what is left, with the same ids.
// window.MovieEvents.send(events) is the same sender for other scripts.
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

  var RETRY_DELAYS_MS = [500, 2000, 5000];

  function newEventId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    // Older browsers: a version 4 UUID from getRandomValues.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map
      .call(bytes, function (b) {
        return (b + 0x100).toString(16).slice(1);
      })
      .join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function wait(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  // Retried after a network failure, a 503 or a 429 (after Retry-After), with
  // the same body; any other answer is final.
  function post(body, attempt) {
    return fetch(endpoint, {
      method: "POST",
      keepalive: true,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body,
    }).then(
      function (response) {
        if ((response.status === 503 || response.status === 429) && attempt < RETRY_DELAYS_MS.length) {
          var after = parseInt(response.headers.get("Retry-After") || "", 10);
          var delay = after > 0 ? Math.min(after * 1000, 60000) : RETRY_DELAYS_MS[attempt];
          return wait(delay).then(function () {
            return post(body, attempt + 1);
          });
        }
        return response;
      },
      function (error) {
        if (attempt >= RETRY_DELAYS_MS.length) {
          throw error;
        }
        return wait(RETRY_DELAYS_MS[attempt]).then(function () {
          return post(body, attempt + 1);
        });
      }
    );
  }

  // --- Unsent clicks and views, kept across page loads of the tab ---
  var UNSENT_KEY = "movie-events-unsent";
  var UNSENT_MAX = 20; // well under the endpoint's batch limit (EVENTS_MAX_BATCH); the oldest go first

  function readUnsent() {
    try {
      var kept = JSON.parse(window.sessionStorage.getItem(UNSENT_KEY) || "[]");
      return Array.isArray(kept) ? kept : [];
    } catch (error) {
      return []; // storage disabled or full of something else: nothing kept
    }
  }

  function writeUnsent(events) {
    try {
      if (events.length) {
        window.sessionStorage.setItem(UNSENT_KEY, JSON.stringify(events.slice(-UNSENT_MAX)));
      } else {
        window.sessionStorage.removeItem(UNSENT_KEY);
      }
    } catch (error) {
      // Storage disabled: events are only as safe as the POST.
    }
  }

  function unsentBesides(events) {
    var ids = events.map(function (event) {
      return event.event_id;
    });
    return readUnsent().filter(function (event) {
      return ids.indexOf(event.event_id) < 0;
    });
  }

  function keepUnsent(events) {
    writeUnsent(unsentBesides(events).concat(events));
  }

  function forgetUnsent(events) {
    writeUnsent(unsentBesides(events));
  }

  // A final answer (stored, or refused for good) ends the keeping; a 503 or
  // 429 after the last retry, or no answer, leaves the events for the next page.
  function postKept(events) {
    keepUnsent(events);
    return post(JSON.stringify({ events: events }), 0).then(function (response) {
      if (response.status !== 503 && response.status !== 429) {
        forgetUnsent(events);
      }
      return response;
    });
  }

  function withIds(events) {
    return events.map(function (event) {
      var copy = Object.assign({}, event);
      if (!copy.event_id) {
        copy.event_id = newEventId();
      }
      return copy;
    });
  }

  // ``options.keep``: a record the visitor does not wait on (a click, a view);
  // a rating's answer is shown to the visitor, who decides to try again.
  function send(events, options) {
    var identified = withIds(events);
    if (options && options.keep) {
      return postKept(identified);
    }
    return post(JSON.stringify({ events: identified }), 0);
  }

  // What to tell the visitor when a send failed with ``error`` (its message the
  // HTTP status, when there was an answer). A 403 is a page out of date (signed
  // in or out in another tab, so its form token is stale): trying again cannot help.
  function failureSentence(error, what) {
    if (error && error.message === "403") {
      return "Could not " + what + ": this page is out of date. Reload it to continue.";
    }
    return "Could not " + what + "; please try again.";
  }

  window.MovieEvents = { send: send, newEventId: newEventId, failureSentence: failureSentence };

  function movieId(element) {
    return parseInt(element.getAttribute("data-movie-id"), 10);
  }

  // Poster and title links (data-event="click"); middle clicks open a tab, and count too.
  function onClick(event) {
    var link = event.target.closest && event.target.closest('[data-event="click"][data-movie-id]');
    if (link && (event.type === "click" || event.button === 1)) {
      var click = { type: "click", movie_id: movieId(link) };
      // A card of an experiment's row: the click names the impression (static/js/experiments.js).
      var row = link.closest("[data-impression-id]");
      if (row) {
        click.details = { impression: row.getAttribute("data-impression-id") };
      }
      send([click], { keep: true }).catch(function () {});
    }
  }
  document.addEventListener("click", onClick, true);
  document.addEventListener("auxclick", onClick, true);

  // --- Rating widget ---
  // The stars and the phone's list ("Rate…") are two views of one rating, the
  // widget's data-current: every change, from either, goes through show(), so
  // the stars, the list, the "x / 5" text and "Clear" never disagree.
  function formatRating(value) {
    return (value % 1 === 0 ? value.toFixed(0) : value.toFixed(1)) + " / 5";
  }

  function paint(widget, value) {
    widget.querySelectorAll(".rating-star").forEach(function (star) {
      var full = parseFloat(star.getAttribute("data-star"));
      star.classList.remove("full", "half", "empty");
      star.classList.add(value >= full ? "full" : value >= full - 0.5 ? "half" : "empty");
    });
  }

  function currentOf(widget) {
    var text = widget.getAttribute("data-current");
    return text ? parseFloat(text) : null;
  }

  // ``value`` null is "not rated"; ``text`` replaces the "x / 5" line (saving, an error).
  function show(widget, value, text) {
    widget.setAttribute("data-current", value === null ? "" : String(value));
    paint(widget, value === null ? 0 : value);
    var select = widget.querySelector("[data-rating-select]");
    if (select) {
      select.value = value === null ? "" : String(value);
      // Once there is a rating, the list's empty choice takes it back.
      select.options[0].textContent = value === null ? "Rate…" : "Clear rating";
    }
    var clear = widget.querySelector("[data-rating-clear]");
    if (clear) {
      clear.hidden = value === null;
    }
    widget.querySelector(".rating-value").textContent =
      text || (value === null ? "Not rated yet" : formatRating(value));
  }

  // Shows ``value`` at once and sends it. One change is in flight per widget
  // at a time, the newest waiting one next (the server stamps each when it
  // takes it, and a retried earlier one must not land after a later one), so
  // the server's order is the visitor's. If the server refuses the last one,
  // the widget goes back to the last rating it took (widget.confirmed).
  function change(widget, value) {
    show(widget, value, value === null ? "Clearing…" : "Saving " + formatRating(value) + "…");
    widget.waiting = { value: value };
    if (!widget.sending) {
      sendWaiting(widget);
    }
  }

  function sendWaiting(widget) {
    var value = widget.waiting.value;
    widget.waiting = null;
    widget.sending = true;
    var event =
      value === null
        ? { type: "rating_cleared", movie_id: movieId(widget) }
        : { type: "rating", movie_id: movieId(widget), rating: value };
    send([event])
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        widget.confirmed = value;
        return null;
      })
      .catch(function (error) {
        return error;
      })
      .then(function (error) {
        widget.sending = false;
        if (widget.waiting) {
          sendWaiting(widget); // a newer change: its answer is the one to show
        } else if (!error) {
          show(widget, widget.confirmed);
        } else {
          var what = (value === null ? "clear" : "save") + " your rating";
          show(widget, widget.confirmed, failureSentence(error, what));
        }
      });
  }

  function setUpWidget(widget) {
    // The browser may have restored the list's choice of an earlier visit (back, reload): the page's rating wins.
    widget.confirmed = currentOf(widget);
    show(widget, widget.confirmed);
    widget.addEventListener("mouseover", function (event) {
      var button = event.target.closest("[data-rating]");
      if (button) {
        paint(widget, parseFloat(button.getAttribute("data-rating")));
      }
    });
    widget.addEventListener("mouseleave", function () {
      paint(widget, currentOf(widget) || 0);
    });
    widget.addEventListener("click", function (event) {
      if (event.target.closest("[data-rating-clear]")) {
        change(widget, null);
        // "Clear" hides itself: the keyboard goes on from the control that rates, not from <body>.
        var select = widget.querySelector("[data-rating-select]");
        var rater = select && select.offsetParent !== null ? select : widget.querySelector("[data-rating]");
        if (rater) {
          rater.focus();
        }
        return;
      }
      var button = event.target.closest("[data-rating]");
      if (button) {
        change(widget, parseFloat(button.getAttribute("data-rating")));
      }
    });
    var select = widget.querySelector("[data-rating-select]");
    if (select) {
      select.addEventListener("change", function () {
        change(widget, select.value ? parseFloat(select.value) : null);
      });
    }
  }

  function start() {
    // What earlier pages of the tab could not send, read before this page adds its view.
    var unsent = readUnsent();
    document.querySelectorAll("[data-rating-widget]").forEach(setUpWidget);
    var detail = document.querySelector("[data-detail-view][data-movie-id]");
    if (detail) {
      send([{ type: "view", movie_id: movieId(detail) }], { keep: true }).catch(function () {});
    }
    if (unsent.length) {
      postKept(unsent).catch(function () {});
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
