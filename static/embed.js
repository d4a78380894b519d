// mailer embed script: fills the fill-timer token and shows the answer inline.
// Without it, the plain HTML form still works: the hosted page asks the person to press the button once more.
(function () {
  "use strict";
  // The hosted page styles the answer through data-ok-class / data-error-class / data-invalid-class; a snippet on
  // another website gets only the plain mailer-ok / mailer-error classes, so nothing clashes with its own CSS.
  function classes(box, name) { return (box.getAttribute(name) || "").split(/\s+/).filter(Boolean); }
  function markField(form, box, field) {
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (input) {
      input.removeAttribute("aria-invalid");
      classes(box, "data-invalid-class").forEach(function (c) { input.classList.remove(c); });
    });
    if (!/^[a-z][a-z0-9_]*$/.test(field || "")) return;
    var inputs = form.querySelectorAll("[name=" + field + "]");
    Array.prototype.forEach.call(inputs, function (input) {
      input.setAttribute("aria-invalid", "true");
      classes(box, "data-invalid-class").forEach(function (c) { input.classList.add(c); });
    });
    if (inputs.length) inputs[0].focus();
  }
  // The form carries its own words for what the script says (data-msg-*, in the form's language).
  function say(form, name, english) { return form.getAttribute("data-msg-" + name) || english; }
  function setMessage(form, text, ok, fallbackUrl, field) {
    var box = form.querySelector("[data-mailer-message]");
    if (!box) { window.alert(text); return; }
    markField(form, box, ok ? null : field);
    classes(box, "data-ok-class").concat(classes(box, "data-error-class")).forEach(function (c) { box.classList.remove(c); });
    classes(box, ok ? "data-ok-class" : "data-error-class").forEach(function (c) { box.classList.add(c); });
    box.textContent = text;
    if (fallbackUrl) {  // the form's own page works even where this website can't reach the server
      var link = document.createElement("a");
      link.href = fallbackUrl;
      link.textContent = say(form, "elsewhere", "Sign up on our page instead.");
      box.appendChild(document.createTextNode(" "));
      box.appendChild(link);
    }
    box.setAttribute("role", ok ? "status" : "alert");
    box.className = (box.className || "").replace(/\bmailer-(ok|error)\b/g, "") + (ok ? " mailer-ok" : " mailer-error");
  }
  function enhance(form) {
    if (form.dataset.mailerReady || !window.fetch || !window.FormData) return;  // old browser: plain POST
    form.dataset.mailerReady = "1";
    var ts = form.querySelector("input[name=ts]");
    var started = Promise.resolve();
    if (ts && !ts.value) {
      started = fetch(form.action.replace(/\/$/, "") + "/start", { credentials: "omit", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data && data.ts) ts.value = data.ts; })
        .catch(function () {});
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      started  // a quick first press waits for the fill-timer token instead of being asked to press again
        .then(function () {
          return fetch(form.action, { method: "POST", body: new FormData(form), credentials: "omit",
                                      headers: { Accept: "application/json" } });
        })
        .then(function (r) { return r.json().catch(function () { return { ok: false, error: say(form, "later", "Please try again later.") }; }); })
        .then(function (data) {
          setMessage(form, data.ok ? data.message : data.error, !!data.ok, null, data.field);
          if (data.ok) form.reset();
        })
        .catch(function () {
          var elsewhere = new URL(form.action, window.location.href).origin !== window.location.origin;
          setMessage(form, say(form, "unreachable", "We couldn't send your sign-up from this page."), false, elsewhere ? form.action : null);
        })
        .then(function () { if (button) button.disabled = false; });
    });
  }
  function init() { Array.prototype.forEach.call(document.querySelectorAll("form[data-mailer-form]"), enhance); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
