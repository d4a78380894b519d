// Small progressive enhancements for the admin; every page works without them.
document.addEventListener("click", (event) => {
  const printButton = event.target.closest("[data-print]");
  if (printButton) window.print();
  const copyButton = event.target.closest("[data-copy]");
  if (copyButton) {
    const source = document.getElementById(copyButton.dataset.copy);
    const text = source.value || source.textContent;
    // navigator.clipboard exists only on HTTPS (or localhost) and may be refused: then select the text instead.
    const copied = navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject(new Error("no clipboard"));
    copied.then(() => { copyButton.textContent = "Copied"; }, () => {
      if (source.select) { source.focus(); source.select(); }
      copyButton.textContent = "Selected: press Ctrl+C to copy";
    });
  }
});

// A same-origin preview frame grows to fit its page, so the form's button is never cut off.
document.querySelectorAll("iframe[data-fit]").forEach((frame) => {
  const fit = () => {
    const doc = frame.contentDocument;
    if (doc && doc.documentElement) frame.style.height = `${doc.documentElement.scrollHeight + 2}px`;
  };
  frame.addEventListener("load", fit);
  if (frame.contentDocument && frame.contentDocument.readyState === "complete") fit();
});
