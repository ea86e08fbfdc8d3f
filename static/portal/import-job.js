/* The progress of an import job (portal.imports), without inline script (CSP):

   <div id="import-progress" data-status-url="…/status/">
     <p data-progress-label>…</p>
     <div class="progress" data-progress-done="0" data-progress-total="0">
       <div class="progress-bar" data-progress-bar></div>
     </div>
   </div>

   Polls the status URL every second; shows done/total on the bar (an indeterminate full
   striped bar while the total is unknown) and reloads the page once the job has finished
   or stalled, so the page shows the result or the "run it now" button.
*/
(function () {
  "use strict";

  var box = document.getElementById("import-progress");
  if (!box) return;
  var url = box.dataset.statusUrl;
  var bar = box.querySelector("[data-progress-bar]");
  var track = box.querySelector("[data-progress-done]");
  var label = box.querySelector("[data-progress-label]");
  var wasStalled = !!document.getElementById("import-run");
  var failures = 0;

  function show(done, total) {
    var percent = total > 0 ? Math.min(100, Math.round((100 * done) / total)) : 100;
    bar.style.width = percent + "%";
    bar.textContent = total > 0 ? done + " / " + total : "";
    track.setAttribute("aria-valuenow", String(done));
    track.setAttribute("aria-valuemax", String(total));
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (state) {
        failures = 0;
        show(state.done, state.total);
        if (label && state.label) label.textContent = state.label;
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

  show(Number(track.dataset.progressDone) || 0, Number(track.dataset.progressTotal) || 0);
  window.setTimeout(poll, 500);
})();
