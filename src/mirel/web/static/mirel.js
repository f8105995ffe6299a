// mirel's pages work without this script; it only makes two things quicker:
// - menus (<details class="menu">) open over everything, inside the window (a table that
//   scrolls sideways would clip them otherwise), and close on Escape or a click elsewhere;
// - in the Releases tab, clicking a version opens a list of releases in place, and picking one
//   adds the change to the pending changes at once (the link behind it opens the same choice as
//   a page when scripts are off).
"use strict";

(function () {
  document.documentElement.classList.add("js"); // the style sheet's fallbacks are for no script

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // -- menus ----------------------------------------------------------------------------------
  var MARGIN = 8; // px kept free between a menu and the window's edges

  // Place an open menu's body in the window, fixed: below its button when it fits there (or
  // where there is more room), above it otherwise, scrolling inside when it fits neither.
  function placeMenu(menu) {
    var body = menu.querySelector(".menu-body");
    var summary = menu.querySelector("summary");
    if (!body || !summary) {
      return;
    }
    body.classList.add("placed");
    body.style.maxHeight = "";
    var anchor = summary.getBoundingClientRect();
    var width = document.documentElement.clientWidth;
    var height = window.innerHeight;
    var left = Math.max(MARGIN, Math.min(anchor.right - body.offsetWidth, width - body.offsetWidth - MARGIN));
    var below = height - anchor.bottom - MARGIN - 4;
    var above = anchor.top - MARGIN - 4;
    var needed = body.offsetHeight;
    var top;
    if (needed <= below || below >= above) {
      top = anchor.bottom + 4;
      if (needed > below) {
        body.style.maxHeight = below + "px";
      }
    } else {
      if (needed > above) {
        body.style.maxHeight = above + "px";
        needed = above;
      }
      top = anchor.top - 4 - needed;
    }
    body.style.left = left + "px";
    body.style.top = top + "px";
  }

  function placeOpenMenus() {
    document.querySelectorAll("details.menu[open]").forEach(placeMenu);
  }

  // "toggle" does not bubble, so it is caught on its way down.
  document.addEventListener(
    "toggle",
    function (event) {
      var menu = event.target;
      if (menu.matches && menu.matches("details.menu") && menu.open) {
        placeMenu(menu);
      }
    },
    true
  );
  window.addEventListener("resize", placeOpenMenus);
  document.addEventListener("scroll", placeOpenMenus, true); // the page or a table scrolling

  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.removeAttribute("open");
      }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) {
        summary.focus();
      }
    });
  });

  // -- the Releases tab -----------------------------------------------------------------------
  function option(value, label, selected) {
    var item = document.createElement("option");
    item.value = value;
    item.textContent = label;
    item.selected = selected;
    return item;
  }

  function showCount(count) {
    var counter = document.getElementById("review-count");
    var noun = document.getElementById("review-noun");
    var bar = document.getElementById("reviewbar");
    if (counter) {
      counter.textContent = String(count);
    }
    if (noun) {
      noun.textContent = count === 1 ? "pending change" : "pending changes";
    }
    if (bar) {
      bar.hidden = count === 0;
    }
  }

  function showError(cell, message) {
    var note = cell.querySelector(".note.error-note");
    if (!note) {
      note = document.createElement("span");
      note.className = "note error-note";
      note.setAttribute("role", "alert");
      cell.appendChild(note);
    }
    note.textContent = message;
  }

  function clearErrors(cell) {
    cell.querySelectorAll(".note.error-note").forEach(function (note) {
      note.remove();
    });
  }

  // After a change was kept: the cell shows the new value and what it was, nothing stale.
  function showChosen(cell, link, value) {
    var original = link.getAttribute("data-current") || "";
    link.setAttribute("data-chosen", value);
    var label = link.querySelector(".value");
    if (label) {
      label.textContent = value === "" ? "\u2014" : value;
    }
    var resolved = link.querySelector(".resolved");
    if (resolved) {
      resolved.hidden = value !== original;
    }
    var was = cell.querySelector(".note.was-note");
    if (value === original) {
      if (was) {
        was.remove();
      }
    } else {
      if (!was) {
        was = document.createElement("span");
        was.className = "note was-note";
        link.insertAdjacentElement("afterend", was);
      }
      was.textContent = "was " + (original === "" ? "not in manifest" : original);
    }
    cell.classList.toggle("changed", value !== original);
  }

  function openPicker(link) {
    var cell = link.closest("td.cell");
    var row = link.closest("tr");
    if (!cell || !row || cell.querySelector("select")) {
      return;
    }
    var releases = JSON.parse(row.getAttribute("data-releases") || "[]");
    var chosen = link.getAttribute("data-chosen") || "";
    var select = document.createElement("select");
    select.setAttribute(
      "aria-label",
      "Release of " + row.getAttribute("data-name") + " in " + cell.getAttribute("data-manifest") +
        "; Enter keeps it, Escape cancels"
    );
    select.appendChild(option("", "not in manifest", chosen === ""));
    select.appendChild(option("latest", "latest", chosen === "latest"));
    releases.forEach(function (version) {
      select.appendChild(option(version, version, chosen === version));
    });
    link.hidden = true;
    cell.insertBefore(select, link);
    select.focus();
    // Arrow keys change a closed list's value at once: from the keyboard, a choice is kept on
    // Enter or on leaving the list; a pick with the mouse is kept at once.
    var byKeyboard = false;
    var done = false;

    function close() {
      done = true;
      select.remove();
      link.hidden = false;
    }

    function keep() {
      if (done) {
        return;
      }
      if (select.value === chosen) {
        close();
        return;
      }
      done = true;
      select.disabled = true;
      var body = new URLSearchParams();
      body.set("element", row.getAttribute("data-element"));
      body.set("manifest", cell.getAttribute("data-manifest"));
      body.set("release", select.value);
      fetch("/settings/releases/draft", {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          "X-CSRF-Token": csrfToken(),
          "X-Requested-With": "fetch"
        },
        body: body.toString()
      })
        .then(function (answer) {
          if (answer.status === 401) {
            window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname +
              window.location.search));
            return null;
          }
          return answer.json().then(function (data) {
            return { ok: answer.ok, data: data };
          });
        })
        .then(function (result) {
          if (result === null) {
            return;
          }
          var value = select.value;
          select.remove();
          link.hidden = false;
          clearErrors(cell);
          if (!result.ok) {
            showError(cell, result.data.message || "that change was refused");
            return;
          }
          showChosen(cell, link, value);
          showCount(result.data.count);
          link.focus();
        })
        .catch(function () {
          select.remove();
          link.hidden = false;
          showError(cell, "the server did not answer; try again");
        });
    }

    select.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        close();
        link.focus();
      } else if (event.key === "Enter") {
        event.preventDefault();
        keep();
      } else {
        byKeyboard = true;
      }
    });
    select.addEventListener("change", function () {
      if (!byKeyboard) {
        keep();
      }
    });
    select.addEventListener("blur", function () {
      window.setTimeout(function () {
        if (!done && document.activeElement !== select) {
          keep();
        }
      }, 100);
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("table.matrix[data-editable] a.pin");
    if (link) {
      event.preventDefault();
      openPicker(link);
    }
  });
})();
