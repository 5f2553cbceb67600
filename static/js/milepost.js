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
