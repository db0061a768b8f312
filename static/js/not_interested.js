// "Not interested" buttons ([data-not-interested][data-movie-id]): POST a
// not_interested event to the endpoint named by this script's data-endpoint
// (JSON, CSRF header, as events.js sends), and take the movie off the page at
// once. The server hides it from every list from then on; when the event
// cannot be stored the card comes back with a sentence saying so.
(function () {
  "use strict";

  var script = document.currentScript;
  var endpoint = script && script.dataset.endpoint;
  if (!endpoint || !window.fetch || window.notInterestedReady) {
    return; // the script may be on a page twice (a row and a movie's page); one listener is enough
  }
  window.notInterestedReady = true;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function say(holder, text) {
    var note = holder.querySelector(".not-interested-note");
    if (!note) {
      note = document.createElement("span");
      note.className = "not-interested-note";
      note.setAttribute("role", "status");
      holder.appendChild(note);
    }
    note.textContent = text;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-not-interested][data-movie-id]");
    if (!button || button.disabled) {
      return;
    }
    var movieId = parseInt(button.getAttribute("data-movie-id"), 10);
    var card = button.closest(".movie-card");
    var control = button.closest("[data-not-interested-control]");
    button.disabled = true;
    if (card) {
      card.hidden = true;
      card.setAttribute("data-dismissed", "");
    } else if (control) {
      say(control, "Hidden from your lists.");
    }
    fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ events: [{ type: "not_interested", movie_id: movieId }] }),
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        if (card) {
          card.remove();
        }
      })
      .catch(function () {
        button.disabled = false;
        if (card) {
          card.hidden = false;
          card.removeAttribute("data-dismissed");
        }
        say(card ? card.querySelector(".info") : control, "Could not save that; please try again.");
      });
  });
})();
