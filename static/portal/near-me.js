/* "Find stations near me" (/find/): asks the phone where it is and submits the form
   with lat and lon rounded to 3 decimals (about 100 m) — the server lists the nearest
   stations. <form data-near-me data-msg-locating data-msg-denied data-msg-unavailable>
   with hidden inputs lat and lon and a hidden submit button, shown when geolocation
   exists (without JavaScript the page offers the town list and the search). */
(function () {
  "use strict";
  var form = document.querySelector("form[data-near-me]");
  if (!form || !("geolocation" in navigator)) return;
  var button = form.querySelector("button[type=submit]");
  var status = form.querySelector("[role=status]");
  if (!button) return;
  button.hidden = false;

  var say = function (text) {
    if (status) status.textContent = text || "";
  };

  form.addEventListener("submit", function (event) {
    if (form.elements.lat.value && form.elements.lon.value) return;
    event.preventDefault();
    button.disabled = true;
    say(form.dataset.msgLocating);
    navigator.geolocation.getCurrentPosition(
      function (position) {
        form.elements.lat.value = position.coords.latitude.toFixed(3);
        form.elements.lon.value = position.coords.longitude.toFixed(3);
        form.submit();
      },
      function (error) {
        button.disabled = false;
        say(error.code === error.PERMISSION_DENIED ? form.dataset.msgDenied : form.dataset.msgUnavailable);
      },
      {enableHighAccuracy: false, timeout: 15000, maximumAge: 600000}
    );
  });
})();
