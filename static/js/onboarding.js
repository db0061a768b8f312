// The onboarding panel ({% onboarding_panel %}): each picked movie is posted
// to /api/events as a "like" event; once the visitor has picked enough of
// them, the panel asks /api/recommendations for their list and shows it
// without a reload. "More like this group" likes the group's first movies.
// "Not now" hides the panel and remembers it in a cookie (the menu reopens it).
// Cards are built with DOM calls and textContent only: titles are data.
(function () {
  "use strict";

  var panel = document.querySelector("[data-onboarding]");
  if (!panel || !window.fetch) {
    return;
  }
  var needed = parseInt(panel.getAttribute("data-picks-needed"), 10) || 3;
  var groupPicks = parseInt(panel.getAttribute("data-group-picks"), 10) || 3;
  var progress = panel.querySelector("[data-onboarding-progress]");
  var results = panel.querySelector("[data-onboarding-results]");
  var status = panel.querySelector("[data-onboarding-status]");
  var list = results.querySelector("ol");
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

  function showProgress() {
    progress.textContent =
      pickCount >= needed
        ? pickCount + " picks: your list is below. Pick more to refine it."
        : pickCount + " of " + needed + " picks";
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
        if (pickCount >= needed) {
          loadPicks();
        }
      })
      .catch(function () {
        fresh.forEach(function (movieId) {
          delete picked[movieId];
        });
        mark(fresh, "none");
        progress.textContent = "Could not save that pick; please try again.";
      });
  }

  function card(movie) {
    var poster = panel.getAttribute("data-poster-pattern").replace("/0/", "/" + movie.movie_id + "/");
    var item = document.createElement("li");
    item.className = "movie-card";
    item.setAttribute("data-movie-id", String(movie.movie_id));
    var posterLink = document.createElement("a");
    posterLink.className = "poster-link";
    posterLink.href = movie.url;
    posterLink.setAttribute("data-event", "click");
    posterLink.setAttribute("data-movie-id", String(movie.movie_id));
    var image = document.createElement("img");
    image.src = poster;
    image.alt = "Poster of " + movie.title;
    image.width = 200;
    image.height = 300;
    posterLink.appendChild(image);
    var info = document.createElement("div");
    info.className = "info";
    var title = document.createElement("a");
    title.className = "title";
    title.href = movie.url;
    title.setAttribute("data-event", "click");
    title.setAttribute("data-movie-id", String(movie.movie_id));
    title.textContent = movie.title;
    info.appendChild(title);
    if (movie.year) {
      var meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = String(movie.year);
      info.appendChild(meta);
    }
    item.appendChild(posterLink);
    item.appendChild(info);
    return item;
  }

  function loadPicks() {
    var number = ++requestNumber;
    results.hidden = false;
    status.textContent = "Finding movies for you…";
    fetch(panel.getAttribute("data-recommendations"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (body) {
        if (number !== requestNumber) {
          return; // a newer pick asked again
        }
        list.replaceChildren.apply(list, body.recommendations.map(card));
        status.textContent = body.fallback ? "Popular movies for now: no model is trained yet." : "";
      })
      .catch(function () {
        status.textContent = "Could not load your picks; reload the page to try again.";
      });
  }

  if (pickCount) {
    showProgress();
  }

  panel.addEventListener("click", function (event) {
    var pick = event.target.closest("[data-pick]");
    if (pick) {
      like([parseInt(pick.getAttribute("data-movie-id"), 10)]);
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
    }
  });
})();
