/* Behaviour the templates ask for with data attributes, so that no page needs an inline
   script or event handler (the Content-Security-Policy allows neither):

   <form data-confirm="Really?">      asks before submitting (a submit button may carry its
                                      own data-confirm instead)
   <button data-print>                prints the page
   <select data-autosubmit>           submits its form when the choice changes
*/
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var submitter = event.submitter;
    var message = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (!target) return;
    event.preventDefault();
    window.print();
  });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
  });
})();
