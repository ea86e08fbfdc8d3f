/* The check-in and check-out page an activity's QR code opens
   (templates/activities/attendance/check.html): before the form is sent, asks the phone
   where it is and fills the hidden inputs latitude and longitude (6 decimals), so the
   server can check the distance from the activity's place. If the phone says no, has no
   position or takes too long, the form is sent without one (the server then checks only
   the time). <form data-checkin data-msg-locating> with hidden inputs latitude, longitude
   and a role=status element. Without JavaScript the form is sent as it is. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-checkin]");
  if (!form || !("geolocation" in navigator)) return;
  var status = form.querySelector("[role=status]");
  var button = form.querySelector("button[type=submit]");
  var sent = false;

  var send = function () {
    if (sent) return;
    sent = true;
    form.submit();
  };

  form.addEventListener("submit", function (event) {
    if (sent || form.elements.latitude.value) return;
    event.preventDefault();
    if (button) button.disabled = true;
    if (status) status.textContent = form.dataset.msgLocating || "";
    // Never wait forever: send without a position after 12 s whatever happens.
    window.setTimeout(send, 12000);
    navigator.geolocation.getCurrentPosition(
      function (position) {
        form.elements.latitude.value = position.coords.latitude.toFixed(6);
        form.elements.longitude.value = position.coords.longitude.toFixed(6);
        send();
      },
      function () {
        send();
      },
      {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000}
    );
  });
})();
