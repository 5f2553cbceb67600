/* Milepost: behaviour shared by every page. Plain JavaScript, no build step. */
(function () {
  "use strict";

  function toast(message) {
    const region = document.getElementById("toasts");
    if (!region || !message) return;
    const item = document.createElement("div");
    item.className = "toast";
    const text = document.createElement("span");
    text.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "×";
    close.setAttribute("aria-label", document.documentElement.lang.startsWith("zh") ? "关闭" : "Close");
    close.addEventListener("click", function () { item.remove(); });
    item.append(text, close);
    region.append(item);
    setTimeout(function () { item.remove(); }, 8000);
  }
  window.milepostToast = toast;

  // Errors htmx does not swap (403, 404, 5xx, no network) still tell the user what happened.
  document.addEventListener("htmx:responseError", function (event) {
    const data = document.body.dataset;
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    toast(status === 403 ? data.msgForbidden : status === 404 ? data.msgMissing : data.msgError);
  });
  document.addEventListener("htmx:sendError", function () {
    toast(document.body.dataset.msgOffline);
  });

  // A thin bar at the top while any htmx request is on its way.
  document.addEventListener("htmx:beforeRequest", function () { document.body.classList.add("is-loading"); });
  document.addEventListener("htmx:afterRequest", function () { document.body.classList.remove("is-loading"); });

  // <form data-confirm="…">: ask before destructive or irreversible actions.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // A node's link (on a card, the timeline, My work, a list) opens the node in a side panel,
  // without leaving the page; a modified click, or no script, opens the page itself.
  const NODE_LINK = /^\/nodes\/\d+\/$/;
  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("a[href]");
    const panel = document.getElementById("side-panel");
    if (!link || !panel || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || !NODE_LINK.test(url.pathname)) return;
    if (link.closest("#side-panel") && url.pathname === panel.dataset.path) return;
    event.preventDefault();
    const body = panel.querySelector(".side-panel-body");
    // An inbox item's link (?inbox=ID) marks that item read as the panel opens.
    const item = link.closest("[data-inbox-item]");
    if (item) item.classList.remove("is-unread");
    htmx.ajax("GET", url.pathname + url.search, { target: body, swap: "innerHTML" }).then(function () {
      panel.dataset.path = url.pathname;
      if (!panel.open) panel.showModal();
      const title = panel.querySelector("h2");
      if (title) { title.setAttribute("tabindex", "-1"); title.focus(); }
    });
  });
  document.addEventListener("click", function (event) {
    const close = event.target.closest && event.target.closest("[data-close-panel]");
    const panel = document.getElementById("side-panel");
    // A click on the dimmed backdrop (the dialog itself, outside its body) closes it too.
    if (panel && (close || event.target === panel)) panel.close();
  });

  // <input data-filter-list="ID">: show only the items of list ID whose text matches.
  document.addEventListener("input", function (event) {
    const input = event.target;
    if (!input.dataset || !input.dataset.filterList) return;
    const list = document.getElementById(input.dataset.filterList);
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    if (!list) return;
    list.querySelectorAll("[data-filter-text]").forEach(function (item) {
      const text = item.dataset.filterText;
      item.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; }) && !item.querySelector("input:checked");
    });
  });

  // Close an open <details class="menu"> with Escape or a click elsewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const open = document.querySelector("details.menu[open]");
    if (open) {
      open.removeAttribute("open");
      const summary = open.querySelector("summary");
      if (summary) summary.focus();
    }
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();
