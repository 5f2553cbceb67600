/* The board: drag a card to another status column, click a card to edit it, keep every card in
   the column of its status after the server answers. The card's Move menu does the same as
   dragging, for keyboards and touch screens. */
(function () {
  "use strict";

  let dragged = null;
  // The card whose Move menu sent the last move: its answer replaces the card, so the focus
  // goes back to the new card's Move button (keyboard users keep their place).
  let movedByMenu = null;

  function columnList(card, status) {
    const lane = card.closest(".lane");
    return lane ? lane.querySelector('.column[data-status="' + status + '"] .cards') : null;
  }

  function updateCounts(lane) {
    if (!lane) return;
    lane.querySelectorAll(".column").forEach(function (column) {
      const count = column.querySelectorAll(".card").length;
      const badge = column.querySelector(".column-count");
      if (badge) badge.textContent = count;
    });
  }

  // The server's answer is the truth: put each card in the column its status names.
  function place(card) {
    const list = columnList(card, card.dataset.status);
    if (list && card.parentElement !== list) {
      const slot = list.querySelector(".add-slot");
      list.insertBefore(card, slot);
    }
    updateCounts(card.closest(".lane"));
  }

  document.addEventListener("htmx:load", function (event) {
    const root = event.detail.elt;
    if (!(root instanceof Element)) return;
    const cards = root.matches(".card") ? [root] : root.querySelectorAll(".card");
    cards.forEach(function (card) {
      place(card);
      if (card.matches(".card-editing")) {
        // Focus the first field with an error (so a person reads why), else the first field.
        const first =
          card.querySelector('[aria-invalid="true"]') ||
          card.querySelector("input:not([type=hidden]), select, textarea");
        if (first) first.focus();
      } else if (card.dataset.changed) {
        card.classList.add("just-changed");
      }
      if (movedByMenu === card.id) {
        movedByMenu = null;
        const summary = card.querySelector(".menu summary");
        if (summary) summary.focus();
      }
    });
    root.querySelectorAll && root.querySelectorAll(".add-slot input[name=title]").forEach(function (i) { i.focus(); });
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    const form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest(".menu-body");
    const card = form && form.closest(".card");
    if (card) movedByMenu = card.id;
  });

  // A refused move (403, 5xx) leaves the card where it came from.
  document.addEventListener("htmx:responseError", function (event) {
    const card = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest(".card");
    if (card) place(card);
  });

  document.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest('.card[draggable="true"]');
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.id);
    card.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    document.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
    dragged = null;
  });

  function dropColumn(event) {
    const column = event.target.closest && event.target.closest(".column");
    // Cards move between statuses within their department's lane only.
    if (!column || !dragged || column.closest(".lane") !== dragged.closest(".lane")) return null;
    return column;
  }

  document.addEventListener("dragover", function (event) {
    const column = dropColumn(event);
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".drop-target").forEach(function (c) { if (c !== column) c.classList.remove("drop-target"); });
    column.classList.add("drop-target");
  });

  document.addEventListener("drop", function (event) {
    const column = dropColumn(event);
    if (!column) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    const card = dragged;
    const status = column.dataset.status;
    if (status === card.dataset.status) return;
    const list = column.querySelector(".cards");
    list.insertBefore(card, list.querySelector(".add-slot"));
    htmx.ajax("POST", card.dataset.moveUrl, {
      source: card,
      target: card,
      swap: "outerHTML",
      values: { status: status, version: card.dataset.version },
    });
  });

  // Click anywhere on a card (not on a link or control) to edit it.
  document.addEventListener("click", function (event) {
    const card = event.target.closest && event.target.closest(".card:not(.card-editing)");
    if (!card || event.target.closest("a, button, summary, details, input, select, textarea, form")) return;
    const edit = card.querySelector("[data-edit]");
    if (edit) edit.click();
  });

  // Phones: one lane and one status at a time, picked from the lane menu and status tabs
  // (CSS shows the picker only on narrow screens; without this script the columns stack).
  function showOnPhone(board, nav) {
    const lane = nav.querySelector("[data-lane-pick]").value;
    const selected = nav.querySelector('[role="tab"][aria-selected="true"]');
    const status = selected ? selected.dataset.statusTab : "todo";
    board.querySelectorAll(".lane").forEach(function (section) {
      section.classList.toggle("is-shown", section.id === lane);
    });
    board.querySelectorAll(".column").forEach(function (column) {
      column.classList.toggle("is-shown", column.dataset.status === status);
    });
  }

  function setUpPhoneNav() {
    const nav = document.querySelector("[data-board-nav]");
    const board = document.getElementById("board");
    if (!nav || !board) return;
    board.classList.add("is-tabbed");
    nav.querySelector("[data-lane-pick]").addEventListener("change", function () { showOnPhone(board, nav); });
    nav.querySelectorAll('[role="tab"]').forEach(function (tab) {
      tab.addEventListener("click", function () {
        nav.querySelectorAll('[role="tab"]').forEach(function (t) { t.setAttribute("aria-selected", String(t === tab)); });
        showOnPhone(board, nav);
      });
    });
    showOnPhone(board, nav);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpPhoneNav);
  else setUpPhoneNav();

  // Live board: poll the version stamp; when another person's change moves it, fetch the
  // board again and swap in its cards, except a card being edited (or an add form in use):
  // that one stays as it is, so its save meets the server's conflict view, never a silent
  // overwrite. Polling a small JSON stamp holds no connection open (server-sent events would
  // keep a gunicorn worker per open board).
  const POLL_MS = 3000;

  function busy(element) {
    if (element.matches(".card-editing")) return true;
    if (element.contains(document.activeElement)) return true;
    return [...element.querySelectorAll("input[type=text], input:not([type]), textarea")].some(function (i) { return i.value; });
  }

  function mergeBoard(board, fresh) {
    const kept = [...board.querySelectorAll(".card, .add-slot")].filter(busy);
    board.querySelectorAll(".column").forEach(function (column) {
      const lane = column.closest(".lane");
      const source = fresh.querySelector("#" + lane.id + ' .column[data-status="' + column.dataset.status + '"] .cards');
      const list = column.querySelector(".cards");
      if (!source || !list) return;
      const children = [...source.children].map(function (child) {
        const mine = child.id && kept.find(function (k) { return k.id === child.id; });
        return mine || document.importNode(child, true);
      });
      kept.forEach(function (k) {
        // A busy card someone else moved stays in the column where its editor is open.
        if (k.parentElement === list && children.indexOf(k) < 0) children.push(k);
      });
      list.replaceChildren.apply(list, children);
    });
    board.querySelectorAll(".lane").forEach(updateCounts);
    htmx.process(board);
  }

  function poll(board) {
    if (document.hidden) return;
    fetch(board.dataset.stampUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (body) {
        if (!body || body.stamp === board.dataset.stamp) return null;
        return fetch(window.location.href, { credentials: "same-origin" })
          .then(function (answer) { return answer.ok ? answer.text() : null; })
          .then(function (html) {
            if (!html) return;
            const fresh = new DOMParser().parseFromString(html, "text/html");
            const freshBoard = fresh.getElementById("board");
            if (!freshBoard) return;
            mergeBoard(board, freshBoard);
            board.dataset.stamp = freshBoard.dataset.stamp;
          });
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }

  function startPolling() {
    const board = document.getElementById("board");
    if (!board || !board.dataset.stampUrl) return;
    // My own saves move the stamp too; the refetch then finds the cards as they already are.
    window.setInterval(function () { poll(board); }, POLL_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startPolling);
  else startPolling();

  // Fold or unfold a lane at once; the choice is saved for this person in the background.
  document.addEventListener("submit", function (event) {
    const form = event.target.closest && event.target.closest("[data-lane-collapse]");
    if (!form) return;
    event.preventDefault();
    const lane = form.closest(".lane");
    const field = form.querySelector("input[name=collapsed]");
    const collapsed = field.value === "1";
    lane.classList.toggle("is-collapsed", collapsed);
    form.querySelector("button").setAttribute("aria-expanded", String(!collapsed));
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
    field.value = collapsed ? "0" : "1";
  });

  // Escape leaves the inline editor without saving.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const editing = event.target.closest && event.target.closest(".card-editing, .add-slot");
    const cancel = editing && editing.querySelector("[data-cancel]");
    if (cancel) cancel.click();
  });
})();
