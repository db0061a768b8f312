// The onboarding panel ({% onboarding_panel %}): each picked movie is posted
// to /api/events as a "like" event; once the visitor has picked enough of
// them, each pick brings the home page's personal rows from the server
// (/for-you/rows) in place of the popular grid, without a reload. Pressing a
// picked movie again takes the pick back (a "like_cleared" event). "More like
// this group" likes the group's first movies. "Not now" hides the panel and
// remembers it in a cookie (the menu reopens it).
(function () {
  "use strict";

  var panel = document.querySelector("[data-onboarding]");
  if (!panel || !window.fetch) {
    return;
  }
  var needed = parseInt(panel.getAttribute("data-picks-needed"), 10) || 3;
  var groupPicks = parseInt(panel.getAttribute("data-group-picks"), 10) || 3;
  var progress = panel.querySelector("[data-onboarding-progress]");
  var slot = document.querySelector("[data-home-content]");
  var picked = {};
  // Likes from earlier visits (the menu reopened the panel) count, and their buttons show as picked.
  var pickCount = parseInt(panel.getAttribute("data-picked"), 10) || 0;
  panel.querySelectorAll('[data-pick][aria-pressed="true"]').forEach(function (button) {
    picked[parseInt(button.getAttribute("data-movie-id"), 10)] = true;
  });
  var requestNumber = 0;

  // events.js's sender (event ids, CSRF header, retries). It is deferred after
  // this script, so it is there by the time the visitor picks anything.
  function send(events) {
    if (!window.MovieEvents) {
      return Promise.reject(new Error("events.js is not loaded"));
    }
    return window.MovieEvents.send(events);
  }

  function pickButtons(movieId) {
    return panel.querySelectorAll('[data-pick][data-movie-id="' + movieId + '"]');
  }

  function mark(movieIds, state) {
    movieIds.forEach(function (movieId) {
      pickButtons(movieId).forEach(function (button) {
        button.setAttribute("aria-pressed", state === "picked" ? "true" : "false");
        button.classList.toggle("saving", state === "saving");
      });
    });
  }

  // Says only what the page shows: the rows below once they are there.
  function showProgress() {
    if (pickCount < needed) {
      progress.textContent = pickCount + " of " + needed + " picks";
    } else if (slot && slot.querySelector("[data-home-rows]")) {
      progress.textContent = pickCount + " picks: your recommendations are below. Pick more to refine them.";
    } else {
      progress.textContent = pickCount + " picks: finding movies for you…";
    }
  }

  function like(movieIds, most) {
    var fresh = movieIds
      .filter(function (movieId) {
        return !picked[movieId];
      })
      .slice(0, most || movieIds.length);
    if (!fresh.length) {
      return;
    }
    fresh.forEach(function (movieId) {
      picked[movieId] = true;
    });
    mark(fresh, "saving");
    send(
      fresh.map(function (movieId) {
        return { type: "like", movie_id: movieId };
      })
    )
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        mark(fresh, "picked");
        pickCount += fresh.length;
        showProgress();
        if (pickCount >= needed && slot) {
          loadRows(0);
        }
      })
      .catch(function (error) {
        fresh.forEach(function (movieId) {
          delete picked[movieId];
        });
        mark(fresh, "none");
        progress.textContent = window.MovieEvents.failureSentence(error, "save that pick");
      });
  }

  function unlike(movieId) {
    delete picked[movieId];
    mark([movieId], "saving");
    send([{ type: "like_cleared", movie_id: movieId }])
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        mark([movieId], "none");
        pickCount = Math.max(0, pickCount - 1);
        showProgress();
        if (pickCount && slot && slot.querySelector("[data-home-rows]")) {
          loadRows(0); // the rows shown were chosen with that pick
        }
      })
      .catch(function (error) {
        picked[movieId] = true;
        mark([movieId], "picked");
        progress.textContent = window.MovieEvents.failureSentence(error, "take back that pick");
      });
  }

  // The home page's personal rows, rendered by the server (/for-you/rows), put
  // in place of the popular grid: the page a reload would show, without one.
  // A 204 means the picks are not history on that worker yet (another worker
  // took them and the consumer has not stored them): ask again a little later.
  var ROWS_RETRY_MS = [500, 1000, 2000, 4000];

  function loadRows(attempt) {
    attempt = attempt || 0;
    var number = attempt ? requestNumber : ++requestNumber;
    fetch(panel.getAttribute("data-rows-url"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        if (number !== requestNumber) {
          return; // a newer pick asked again
        }
        if (!html) {
          if (attempt < ROWS_RETRY_MS.length) {
            setTimeout(function () {
              if (number === requestNumber) {
                loadRows(attempt + 1);
              }
            }, ROWS_RETRY_MS[attempt]);
          } else if (slot.querySelector("[data-home-rows]")) {
            showProgress(); // the rows of the earlier picks are there: they stay
          } else {
            progress.textContent =
              pickCount + " picks saved: reload the page in a moment to see your recommendations.";
          }
          return;
        }
        // Focus inside the old rows would fall to <body> with them: keep it on the new rows' heading.
        var hadFocus = slot.contains(document.activeElement);
        slot.innerHTML = html;
        if (hadFocus) {
          var heading = slot.querySelector("h1, h2");
          if (heading) {
            heading.setAttribute("tabindex", "-1");
            heading.focus();
          }
        }
        if (window.MovieExperiments) {
          window.MovieExperiments.watch(slot);
        }
        showProgress();
      })
      .catch(function () {
        if (number === requestNumber) {
          progress.textContent = "Could not load your recommendations; reload the page to try again.";
        }
      });
  }

  if (pickCount) {
    showProgress();
  }

  panel.addEventListener("click", function (event) {
    var pick = event.target.closest("[data-pick]");
    if (pick) {
      var movieId = parseInt(pick.getAttribute("data-movie-id"), 10);
      if (pick.classList.contains("saving")) {
        return; // its last press is still on its way
      }
      if (pick.getAttribute("aria-pressed") === "true") {
        unlike(movieId);
      } else {
        like([movieId]);
      }
      return;
    }
    var group = event.target.closest("[data-pick-group]");
    if (group) {
      like(group.getAttribute("data-movie-ids").split(",").map(Number), groupPicks);
      return;
    }
    if (event.target.closest("[data-onboarding-dismiss]")) {
      document.cookie = "onboarding_dismissed=1; path=/; max-age=31536000; SameSite=Lax";
      panel.hidden = true;
      // The pressed button is gone: the keyboard goes on from the heading under the panel, not from <body>.
      var heading = slot && slot.querySelector("h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
    }
  });
})();
