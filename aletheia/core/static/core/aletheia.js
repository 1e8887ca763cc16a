// Aletheia's only script, loaded from our static files (no inline handlers: the pages are meant
// to run under a Content-Security-Policy without 'unsafe-inline').
document.addEventListener("DOMContentLoaded", function () {
  // the language switcher submits its form when a language is chosen
  document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
});
