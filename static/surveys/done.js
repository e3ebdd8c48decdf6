// The last page: follow a return link by itself after a moment (Prolific, or the researcher's
// redirect for plain links). A file, not inline code, so the page's CSP allows no inline script.
document.querySelectorAll("[data-follow-after-ms]").forEach(function (link) {
  setTimeout(function () { window.location.href = link.href; }, Number(link.dataset.followAfterMs));
});
