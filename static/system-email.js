// The confirmation email editor: live preview (HTML and text) as one types. The page works without this file
// (its Preview button renders the same preview on the server).
(() => {
  "use strict";
  const form = document.getElementById("system-email-editor");
  const pane = document.getElementById("live-preview");
  if (!form || !pane) return;
  const part = (name) => pane.querySelector(`[data-preview="${name}"]`);
  // The page's words, in its language (data-text-* on the pane); English when a page has none.
  const words = {
    waits: pane.dataset.textWaits || "The preview waits for the problems to be fixed.",
    updated: pane.dataset.textUpdated || "Preview updated.",
    notUpdated: pane.dataset.textNotUpdated || "The preview could not be updated.",
  };
  let timer = null;
  let controller = null;

  const show = (data) => {
    const box = part("error");
    if (!data.ok) {
      const messages = Object.values(data.errors || {}).flat();
      box.textContent = messages.join(" ");
      box.hidden = false;
      part("status").textContent = words.waits;
      return;
    }
    box.hidden = true;
    part("subject").textContent = data.subject;
    part("iframe").srcdoc = data.html;
    part("text").textContent = data.text;
    part("status").textContent = words.updated;
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
      if (err.name !== "AbortError") part("status").textContent = words.notUpdated;
    }
  };

  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
})();
