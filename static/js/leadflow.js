// LeadFlow's small progressive enhancements; every page works without them.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // "Select all" on the lead list selects every lead checkbox on the page.
  const selectAll = document.getElementById("select-all");
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      document.querySelectorAll(".lead-check").forEach((box) => {
        box.checked = selectAll.checked;
      });
    });
  }
});

document.addEventListener("click", (event) => {
  // Copy buttons: data-copy-target names the element whose value is copied.
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.value || source.textContent).then(() => {
    button.dataset.originalText = button.dataset.originalText || button.textContent;
    button.textContent = button.dataset.copiedText || "✓";
    setTimeout(() => { button.textContent = button.dataset.originalText; }, 1500);
  });
});
