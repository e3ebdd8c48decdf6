// A form whose fields depend on one choice (a survey's kind, a study's recruiter): the choosing
// field carries, as data attributes, the fields each choice uses and every field that depends
// on the choice; the rows of the fields the current choice does not use are hidden.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  for (const chooser of document.querySelectorAll("[data-fields-by-choice]")) {
    const byChoice = JSON.parse(chooser.dataset.fieldsByChoice);
    const dependent = new Set(Object.values(byChoice).flat());
    const show = function () {
      const used = new Set(byChoice[chooser.value] || []);
      for (const name of dependent) {
        for (const row of document.querySelectorAll(".form-row.field-" + name + ", .fieldBox.field-" + name)) {
          row.hidden = !used.has(name);
        }
      }
    };
    chooser.addEventListener("change", show);
    show();
  }
});
