// LeadFlow's small progressive enhancements; every page works without them.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // "Select all" on the lead list selects every lead checkbox on the page.
  const selectAll = document.getElementById("select-all");
  // Once every row of the page is ticked, the list offers "Select all N matching" (the
  // whole filtered set); without this script that choice is always shown.
  const matching = document.getElementById("select-matching");
  const allMatching = document.getElementById("all-matching");
  if (matching) matching.hidden = true;
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      document.querySelectorAll(".lead-check").forEach((box) => {
        box.checked = selectAll.checked;
      });
      if (matching) {
        matching.hidden = !selectAll.checked;
        if (!selectAll.checked && allMatching) allMatching.checked = false;
      }
    });
  }
  document.querySelectorAll(".lead-check").forEach((box) => {
    box.addEventListener("change", () => {
      if (!box.checked && selectAll) {
        selectAll.checked = false;
        if (matching) matching.hidden = true;
        if (allMatching) allMatching.checked = false;
      }
    });
  });
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
