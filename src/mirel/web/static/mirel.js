// mirel's pages work without this script; it only makes two things quicker:
// - menus (<details class="menu">) close on Escape or a click elsewhere;
// - in the Releases tab, clicking a version opens a list of releases in place, and picking one
//   adds the change to the pending changes at once (the link behind it opens the same choice as
//   a page when scripts are off).
"use strict";

(function () {
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // -- menus ----------------------------------------------------------------------------------
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
    var bar = document.getElementById("reviewbar");
    if (counter) {
      counter.textContent = String(count);
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
      "Release of " + row.getAttribute("data-name") + " in " + cell.getAttribute("data-manifest")
    );
    select.appendChild(option("", "not in manifest", chosen === ""));
    select.appendChild(option("latest", "latest", chosen === "latest"));
    releases.forEach(function (version) {
      select.appendChild(option(version, version, chosen === version));
    });
    link.hidden = true;
    cell.insertBefore(select, link);
    select.focus();

    function close() {
      select.remove();
      link.hidden = false;
    }

    select.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        close();
        link.focus();
      }
    });
    select.addEventListener("blur", function () {
      // Let a change event that caused the blur run first.
      window.setTimeout(function () {
        if (document.activeElement !== select && select.isConnected && !select.disabled) {
          close();
        }
      }, 150);
    });
    select.addEventListener("change", function () {
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
          return answer.json().then(function (data) {
            return { ok: answer.ok, data: data };
          });
        })
        .then(function (result) {
          if (!result.ok) {
            close();
            showError(cell, result.data.message || "that change was refused");
            return;
          }
          var value = select.value;
          var original = link.getAttribute("data-current") || "";
          link.setAttribute("data-chosen", value);
          var label = link.querySelector(".value");
          if (label) {
            label.textContent = value === "" ? "—" : value;
          }
          cell.classList.toggle("changed", value !== original);
          showCount(result.data.count);
          close();
          link.focus();
        })
        .catch(function () {
          close();
          showError(cell, "the server could not be reached; try again");
        });
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
