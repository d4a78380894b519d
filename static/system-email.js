// The confirmation email editor: live preview (HTML and text) as one types. The page works without this file
// (its Preview button renders the same preview on the server).
(() => {
  "use strict";
  const form = document.getElementById("system-email-editor");
  const pane = document.getElementById("live-preview");
  if (!form || !pane) return;
  const part = (name) => pane.querySelector(`[data-preview="${name}"]`);
  let timer = null;
  let controller = null;

  const show = (data) => {
    const box = part("error");
    if (!data.ok) {
      const messages = Object.values(data.errors || {}).flat();
      box.textContent = messages.join(" ");
      box.hidden = false;
      part("status").textContent = "The preview waits for the problems to be fixed.";
      return;
    }
    box.hidden = true;
    part("subject").textContent = data.subject;
    part("iframe").srcdoc = data.html;
    part("text").textContent = data.text;
    part("status").textContent = "Preview updated.";
  };

  const refresh = async () => {
    if (controller) controller.abort();
    controller = new AbortController();
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST", body: new FormData(form), signal: controller.signal,
        headers: {Accept: "application/json"}, credentials: "same-origin",
      });
      show(await response.json());
    } catch (err) {
      if (err.name !== "AbortError") part("status").textContent = "The preview could not be updated.";
    }
  };

  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
})();
