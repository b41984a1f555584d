"use strict";
// Form fields of a campaign: drag a row by its handle to reorder; positions follow (10, 20, …).
// The position inputs stay editable, so keyboard users and browsers without drag and drop can
// still order the fields by number.
(function () {
  function rows(tbody) {
    return Array.from(tbody.querySelectorAll("tr.form-row:not(.empty-form)"));
  }

  function positionInput(row) {
    return row.querySelector('input[name$="-position"]');
  }

  function renumber(tbody) {
    rows(tbody).forEach(function (row, index) {
      const input = positionInput(row);
      if (input) {
        input.value = (index + 1) * 10;
      }
    });
  }

  function setUp(group) {
    const tbody = group.querySelector("tbody");
    if (!tbody) {
      return;
    }
    let dragged = null;

    function prepare(row) {
      if (row.classList.contains("empty-form") || row.querySelector(".drag-handle")) {
        return;
      }
      const cell = row.querySelector("td.original") || row.querySelector("td");
      const handle = document.createElement("span");
      handle.className = "drag-handle";
      handle.textContent = "\u2195";
      handle.title = "Drag to reorder";
      handle.draggable = true;
      handle.setAttribute("aria-hidden", "true");
      handle.style.cursor = "move";
      handle.style.fontSize = "1.2em";
      handle.style.paddingRight = "0.3em";
      cell.insertBefore(handle, cell.firstChild);
      handle.addEventListener("dragstart", function (event) {
        dragged = row;
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", row.id);
        row.style.opacity = "0.5";
      });
      handle.addEventListener("dragend", function () {
        row.style.opacity = "";
        dragged = null;
        renumber(tbody);
      });
      row.addEventListener("dragover", function (event) {
        if (!dragged || dragged === row) {
          return;
        }
        event.preventDefault();
        const box = row.getBoundingClientRect();
        const after = event.clientY > box.top + box.height / 2;
        tbody.insertBefore(dragged, after ? row.nextSibling : row);
      });
      row.addEventListener("drop", function (event) {
        event.preventDefault();
      });
    }

    rows(tbody).forEach(prepare);
    document.addEventListener("formset:added", function (event) {
      const row = event.target;
      if (!group.contains(row)) {
        return;
      }
      prepare(row);
      // A new field goes last.
      const others = rows(tbody).filter(function (r) { return r !== row; });
      const highest = others.reduce(function (max, r) {
        const input = positionInput(r);
        return Math.max(max, input ? Number(input.value) || 0 : 0);
      }, 0);
      const input = positionInput(row);
      if (input) {
        input.value = highest + 10;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const group = document.getElementById("fields-group");
    if (group) {
      setUp(group);
    }
  });
})();
