/* The timeline as a Gantt chart: drag a node's filled diamond along its row to re-plan it.
   On release a dialog shows the new date (a whole number of days from the old one, its time
   of day kept) and asks for the reason when the project is baselined; the server decides. */
(function () {
  "use strict";

  const DAY = 86400;

  function localInput(seconds) {
    const d = new Date(seconds * 1000);
    const pad = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function openDialog(svg, diamond, due) {
    const dialog = document.getElementById("replan-dialog");
    const form = dialog.querySelector("form");
    form.action = svg.dataset.replanUrl.replace("/0/", "/" + diamond.dataset.node + "/");
    form.querySelector("[name=version]").value = diamond.dataset.version;
    form.querySelector("[name=due_at]").value = localInput(due);
    dialog.querySelector("[data-replan-name]").textContent = "“" + diamond.dataset.title + "”";
    dialog.querySelector("[data-replan-baselined]").hidden = !diamond.dataset.baselined;
    dialog.returnFocus = diamond;
    dialog.showModal();
    const reason = form.querySelector("[name=change_reason]");
    (diamond.dataset.baselined ? reason : form.querySelector("[name=due_at]")).focus();
  }

  function setUp() {
    const svg = document.querySelector("svg.timeline[data-replan-url]");
    const dialog = document.getElementById("replan-dialog");
    if (!svg || !dialog) return;
    const secondsPerUnit = parseFloat(svg.dataset.secondsPerUnit);
    let drag = null;

    svg.addEventListener("pointerdown", function (event) {
      const diamond = event.target.closest(".tl-due[data-node]");
      if (!diamond) return;
      event.preventDefault();
      diamond.setPointerCapture(event.pointerId);
      drag = { diamond: diamond, startX: event.clientX, scale: svg.getScreenCTM().a, dx: 0 };
      diamond.classList.add("is-dragging");
    });
    svg.addEventListener("pointermove", function (event) {
      if (!drag) return;
      drag.dx = (event.clientX - drag.startX) / drag.scale;
      drag.diamond.setAttribute("transform", "translate(" + drag.dx + ",0)");
    });
    svg.addEventListener("pointerup", function () {
      if (!drag) return;
      const current = drag;
      drag = null;
      current.diamond.classList.remove("is-dragging");
      const days = Math.round((current.dx * secondsPerUnit) / DAY);
      current.diamond.setAttribute("transform", "translate(" + (days * DAY) / secondsPerUnit + ",0)");
      if (days === 0) { current.diamond.removeAttribute("transform"); return; }
      openDialog(svg, current.diamond, parseInt(current.diamond.dataset.due, 10) + days * DAY);
    });

    dialog.querySelector("[data-replan-cancel]").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () {
      if (dialog.returnFocus) { dialog.returnFocus.removeAttribute("transform"); }
    });
    // Sent back with an error (a reason missing, a stale version): show it again at once.
    if (dialog.dataset.open) dialog.showModal();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
