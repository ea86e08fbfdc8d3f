/* The progress of a background export (portal.exports), without inline script (CSP):

   <div id="export-progress" data-status-url="…/status/">
     <span data-progress-label>…</span> <span data-progress-percent>0</span> %
     <div class="progress" data-progress-track><div class="progress-bar" data-progress-bar>
   </div>

   Polls the status URL every second (backing off when it fails), moves the bar, and
   reloads the page once the job has finished or stalled, so the page shows the download
   link, the error or the "run it now" button. Without JavaScript the page reloads itself
   every 3 seconds (<noscript> refresh). */
(function () {
  "use strict";

  var box = document.getElementById("export-progress");
  if (!box) return;
  var url = box.dataset.statusUrl;
  var bar = box.querySelector("[data-progress-bar]");
  var track = box.querySelector("[data-progress-track]");
  var label = box.querySelector("[data-progress-label]");
  var percentText = box.querySelector("[data-progress-percent]");
  var wasStalled = !!document.getElementById("export-run");
  var failures = 0;

  function show(state) {
    var percent = Math.max(0, Math.min(100, Number(state.percent) || 0));
    bar.style.width = Math.max(percent, 3) + "%";
    bar.textContent = state.total > 0 ? state.done + " / " + state.total : "";
    track.setAttribute("aria-valuenow", String(percent));
    if (percentText) percentText.textContent = String(percent);
    if (label && state.label) label.textContent = state.label;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (state) {
        failures = 0;
        show(state);
        if (state.finished || state.stalled !== wasStalled) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        failures += 1;
        window.setTimeout(poll, Math.min(10000, 1000 * Math.pow(2, failures)));
      });
  }

  show({ percent: Number(track.getAttribute("aria-valuenow")) || 0, done: 0, total: 0 });
  window.setTimeout(poll, 500);
})();
