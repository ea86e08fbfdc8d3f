// The activity form's participant rows (templates/activities/staff/activity_form.html):
// "Add a row" copies the last empty row with the next index and counts it in the formset's
// TOTAL_FORMS. Without JS the form has a fixed number of empty rows (more after saving).
(function () {
  "use strict";
  var box = document.getElementById("participants");
  var button = document.getElementById("add-participant");
  if (!box || !button) {
    return;
  }
  var total = box.querySelector("input[name$='-TOTAL_FORMS']");
  if (!total) {
    return;
  }
  var prefix = total.name.replace(/-TOTAL_FORMS$/, "");
  var pattern = new RegExp(prefix + "-\\d+-");
  button.classList.remove("d-none");
  button.addEventListener("click", function () {
    var rows = box.querySelectorAll(".participant-row");
    var last = rows[rows.length - 1];
    if (!last) {
      return;
    }
    var index = parseInt(total.value, 10);
    var row = last.cloneNode(true);
    row.dataset.row = String(index);
    row.querySelectorAll(".invalid-feedback, .form-text").forEach(function (el) {
      el.remove();
    });
    row.querySelectorAll("input, label").forEach(function (el) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) {
          el.setAttribute(attr, value.replace(pattern, prefix + "-" + index + "-"));
        }
      });
      if (el.tagName === "INPUT") {
        el.value = "";
        el.classList.remove("is-invalid");
      }
    });
    last.after(row);
    total.value = String(index + 1);
    var first = row.querySelector("input");
    if (first) {
      first.focus();
    }
  });
})();
