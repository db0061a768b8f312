/* The site's own behaviour: the phone menu and the search suggestions.
   Loaded in <head>, so the "js" class is set before the page is drawn (the
   stylesheet folds the phone menu away only when this script runs). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var script = document.currentScript;
  var endpoint = script && script.dataset.suggestEndpoint;
  var DELAY_MS = 120;

  function setUpMenu() {
    var header = document.querySelector("[data-site-header]");
    var button = document.querySelector("[data-menu-button]");
    if (!header || !button) return;
    function setOpen(open) {
      header.classList.toggle("menu-open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.addEventListener("click", function () {
      setOpen(!header.classList.contains("menu-open"));
    });
    // Escape closes the open menu from anywhere in the page, and the keyboard goes
    // on from the Menu button (not from <body>, where a hidden link had the focus).
    // An Escape that closed the search suggestions is theirs (defaultPrevented).
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || event.defaultPrevented || !header.classList.contains("menu-open")) return;
      setOpen(false);
      button.focus();
    });
    // A click outside the "Compare models" group closes it.
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.nav-group[open]").forEach(function (group) {
        if (!group.contains(event.target)) group.removeAttribute("open");
      });
    });
  }

  /* One suggestion list per input marked data-suggest, following the ARIA
     combobox pattern: arrows move, Enter opens, Escape closes. */
  function setUpSuggestions(input, number) {
    var list = document.createElement("ul");
    var active = -1;
    var timer = null;
    var asked = "";
    list.id = "search-suggestions-" + number;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    input.parentNode.classList.add("has-suggestions");
    input.parentNode.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");

    function options() { return list.querySelectorAll("[role=option]"); }

    function close() {
      list.hidden = true;
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var all = options();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach(function (option, i) { option.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", all[active].id);
    }

    function show(results) {
      list.textContent = "";
      results.forEach(function (movie, i) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        item.id = list.id + "-" + i;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        link.href = movie.url;
        link.tabIndex = -1;
        link.textContent = movie.year ? movie.title + " (" + movie.year + ")" : movie.title;
        item.appendChild(link);
        list.appendChild(item);
      });
      list.hidden = results.length === 0;
      input.setAttribute("aria-expanded", results.length ? "true" : "false");
      active = -1;
    }

    function ask() {
      var query = input.value.trim();
      if (query === asked) return;
      asked = query;
      if (!query) { show([]); return; }
      fetch(endpoint + "?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (answer) { if (input.value.trim() === query) show(answer.results || []); })
        .catch(function () { show([]); });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Escape") { event.preventDefault(); close(); } // the text stays; a second Escape clears it
      else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location.assign(options()[active].querySelector("a").href);
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  /* A display equation or a table wider than the screen scrolls inside its
     own box, and says so ("scroll →", site.css) only while it is wider than
     its box: a ResizeObserver sees the box and what it holds change size
     (a turned phone, a resized window, math laid out late), the window's
     resize event where there is none. */
  function setUpScrollHints() {
    document.querySelectorAll('.review-body math[display="block"], .review-body table').forEach(function (wide) {
      if (wide.parentNode.matches(".math-scroll, .table-scroll")) return;
      var box = document.createElement("div");
      box.className = wide.tagName.toLowerCase() === "table" ? "table-scroll" : "math-scroll";
      wide.parentNode.insertBefore(box, wide);
      box.appendChild(wide);
    });
    var boxes = document.querySelectorAll(".review-body .math-scroll, .review-body .table-scroll");
    // The box scrolls a table; a display equation scrolls itself (site.css), inside it.
    function wider(element) {
      return !!element && element.scrollWidth > element.clientWidth + 1;
    }
    function mark(box) {
      box.classList.toggle("overflows", wider(box) || wider(box.firstElementChild));
    }
    if (window.ResizeObserver) {
      // Marked in the next frame: the hint's own line resizes the box, which
      // inside the callback would be a "ResizeObserver loop" error.
      var observer = new ResizeObserver(function (entries) {
        window.requestAnimationFrame(function () {
          entries.forEach(function (entry) { mark(entry.target.closest(".math-scroll, .table-scroll")); });
        });
      });
      boxes.forEach(function (box) {
        observer.observe(box);
        if (box.firstElementChild) observer.observe(box.firstElementChild);
      });
    } else {
      boxes.forEach(mark);
      window.addEventListener("resize", function () { boxes.forEach(mark); });
    }
  }

  /* What the last action did ("Your comment was posted."): focused, so that a
     screen reader says it, except where the URL has an #anchor, whose target
     the browser has scrolled to and keeps as the place the keyboard goes on from. */
  function focusMessages() {
    var messages = document.querySelector("[data-messages]");
    if (messages && !window.location.hash) messages.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusMessages();
    setUpMenu();
    setUpScrollHints();
    if (endpoint) document.querySelectorAll("input[data-suggest]").forEach(setUpSuggestions);
  });
})();
