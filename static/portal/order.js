/* The order page (templates/orders/public/order_form.html): the platform choice is asked
   only for "something else". Without scripts it simply stays visible. */
(function () {
  "use strict";

  var other = document.querySelector("input[data-order-other]");
  var fields = document.querySelector("[data-order-other-fields]");
  if (!other || !fields || !other.form) return;

  function update() {
    fields.classList.toggle("d-none", !other.checked);
  }

  other.form.addEventListener("change", function (event) {
    if (event.target instanceof HTMLInputElement && event.target.name === "item") update();
  });
  update();
})();
