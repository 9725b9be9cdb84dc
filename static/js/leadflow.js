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
