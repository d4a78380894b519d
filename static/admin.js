// Small progressive enhancements for the admin; every page works without them.
document.addEventListener("click", (event) => {
  const printButton = event.target.closest("[data-print]");
  if (printButton) window.print();
  const copyButton = event.target.closest("[data-copy]");
  if (copyButton) {
    const source = document.getElementById(copyButton.dataset.copy);
    navigator.clipboard.writeText(source.value || source.textContent).then(() => {
      copyButton.textContent = "Copied";
    });
  }
});
