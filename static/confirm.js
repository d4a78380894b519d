// Confirmation needs a human-visible page; with JavaScript we submit for the person (REQUIREMENTS G2).
// Link scanners that only fetch the page never POST, so nothing is confirmed by a prefetch.
(function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (!form) return;
  var note = form.querySelector(".js-only");
  if (note) note.classList.remove("d-none");
  window.setTimeout(function () { form.submit(); }, 400);
})();
