// "Not interested" buttons ([data-not-interested][data-movie-id]): send a
// not_interested event through events.js's sender (window.MovieEvents: its
// event ids, CSRF header and retries), and take the movie off the page at
// once. The server hides it from every list from then on; when the event
// cannot be stored the card comes back with a sentence saying so.
(function () {
  "use strict";

  if (window.notInterestedReady) {
    return; // the script may be on a page twice (rows and a movie's control); one listener is enough
  }
  window.notInterestedReady = true;

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
    if (!button || button.disabled || !window.MovieEvents) {
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
    window.MovieEvents.send([{ type: "not_interested", movie_id: movieId }])
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
