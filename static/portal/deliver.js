// The delivery report's participants (templates/orders/volunteer/deliver.html): typing a
// member's hours ticks them; ticking a member with no hours yet puts the cursor in them.
(function () {
  "use strict";
  document.querySelectorAll("#participants .participant-check").forEach(function (box) {
    var hours = document.getElementById(box.dataset.hours);
    if (!hours) {
      return;
    }
    hours.addEventListener("input", function () {
      if (hours.value.trim() !== "") {
        box.checked = true;
      }
    });
    box.addEventListener("change", function () {
      if (box.checked && hours.value.trim() === "") {
        hours.focus();
      }
    });
  });
})();
