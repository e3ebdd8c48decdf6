// A change page whose work is running reloads itself every few seconds, so that its progress
// moves without a click. Once the researcher edits a field it stops, so that nothing typed is lost.
(function () {
  "use strict";
  const seconds = Number(document.currentScript.dataset.seconds) || 3;
  let edited = false;
  document.addEventListener("input", function () {
    edited = true;
  });
  window.setTimeout(function () {
    if (!edited) window.location.reload();
  }, seconds * 1000);
})();
