// "Not interested" buttons ([data-not-interested][data-movie-id]): send a
// not_interested event through events.js's sender (window.MovieEvents: its
// event ids, CSRF header and retries). The server leaves the movie out of
// every recommendation from then on. A card makes way at once for a note with an Undo button;
// a movie page's control ({% not_interested_control %}) shows its marked
// state, the one a reload shows, with its Undo. Undo sends an "unhidden"
// event the same way (after the not_interested one was accepted, so it is the
// newer of the two), which puts the movie back in every list however late the
// not_interested reaches the store; the card or button comes back.
// Focus goes to what took the pressed button's place (Undo, and the button
// again after an undo), so a keyboard keeps its place on the page.
(function () {
  "use strict";

  if (window.notInterestedReady) {
    return; // the script may be on a page twice (rows and a movie's control); one listener is enough
  }
  window.notInterestedReady = true;
  var sending = {}; // movie id -> its not_interested event's promise: an Undo pressed at once waits for it

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

  function accepted(response) {
    if (!response.ok) {
      throw new Error(String(response.status));
    }
    return response;
  }

  function undo(movieId) {
    return (sending[movieId] || Promise.resolve())
      .then(function () {
        return window.MovieEvents.send([{ type: "unhidden", movie_id: movieId }]);
      })
      .then(accepted);
  }

  // The note that stands in a hidden card's place until a reload, with its Undo.
  function standIn(card, movieId) {
    var title = card.querySelector(".title");
    var name = title ? title.textContent : "this movie";
    var note = document.createElement("li");
    note.className = "dismissed-card";
    note.setAttribute("data-dismissed-movie-id", String(movieId));
    var text = document.createElement("span");
    text.textContent = "Left out of your recommendations: " + name + ".";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "not-interested";
    button.setAttribute("data-undo-card", "");
    button.setAttribute("aria-label", "Undo: show " + name + " in your recommendations again");
    button.textContent = "Undo";
    note.appendChild(text);
    note.appendChild(button);
    card.parentNode.insertBefore(note, card);
    return note;
  }

  function showMarked(control, marked) {
    control.querySelector("[data-not-interested-open]").hidden = marked;
    control.querySelector("[data-not-interested-marked]").hidden = !marked;
    var button = control.querySelector(marked ? "[data-undo-not-interested] button" : "[data-not-interested]");
    button.disabled = false;
    button.focus();
  }

  // Hides the card behind its stand-in; returns what puts it back.
  function hideCard(card, button, movieId) {
    var note = standIn(card, movieId);
    var undoButton = note.querySelector("button");
    function restore() {
      if (note.parentNode) {
        note.parentNode.replaceChild(card, note);
      }
      card.hidden = false;
      card.removeAttribute("data-dismissed");
      button.disabled = false;
    }
    card.hidden = true;
    card.setAttribute("data-dismissed", "");
    undoButton.focus();
    undoButton.addEventListener("click", function () {
      undoButton.disabled = true;
      undo(movieId)
        .then(function () {
          restore();
          button.focus();
        })
        .catch(function (error) {
          undoButton.disabled = false;
          say(note, window.MovieEvents.failureSentence(error, "undo that"));
        });
    });
    return restore;
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
    var sent = window.MovieEvents.send([{ type: "not_interested", movie_id: movieId }]).then(accepted);
    sending[movieId] = sent;
    var restore = card ? hideCard(card, button, movieId) : null;
    if (!card && control) {
      showMarked(control, true);
    }
    sent
      .then(function () {
        if (card) {
          card.remove(); // kept by the note's Undo, which puts it back
        }
      })
      .catch(function (error) {
        var sentence = window.MovieEvents.failureSentence(error, "save that");
        if (restore) {
          restore();
          say(card.querySelector(".info"), sentence);
        } else if (control) {
          showMarked(control, false);
          say(control, sentence);
        }
        button.disabled = false;
        button.focus();
      });
  });

  // The movie page's Undo: a form, so that it works before this script runs too (the server answers it with the page).
  document.addEventListener("submit", function (event) {
    var form = event.target.closest && event.target.closest("[data-undo-not-interested]");
    var control = form && form.closest("[data-not-interested-control]");
    if (!control || !window.MovieEvents) {
      return;
    }
    event.preventDefault();
    var submit = form.querySelector("button");
    submit.disabled = true;
    undo(parseInt(control.getAttribute("data-movie-id"), 10))
      .then(function () {
        showMarked(control, false);
      })
      .catch(function (error) {
        submit.disabled = false;
        say(control, window.MovieEvents.failureSentence(error, "undo that"));
      });
  });
})();
