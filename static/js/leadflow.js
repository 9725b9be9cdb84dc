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
  // The bulk bar shows a hand-off's target and a disqualification's reason only for
  // those actions, and the rep picker only for "the chosen rep".
  const bulkAction = document.getElementById("id_bulk_action");
  const bulkMode = document.getElementById("id_bulk_mode");
  if (bulkAction) {
    const fit = () => {
      document.querySelectorAll("[data-bulk-for]").forEach((group) => {
        group.hidden = group.dataset.bulkFor !== bulkAction.value;
      });
      document.querySelectorAll("[data-bulk-for-mode]").forEach((group) => {
        group.hidden = !bulkMode || group.dataset.bulkForMode !== bulkMode.value;
      });
    };
    bulkAction.addEventListener("change", fit);
    if (bulkMode) bulkMode.addEventListener("change", fit);
    fit();
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

window.LeadFlow = {
  // A moment as a datetime-local value in the site's time zone (a form's data-tz),
  // whatever the browser's own zone is.
  siteLocal(ms, timeZone) {
    const parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: timeZone || undefined,
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date(ms)).forEach((p) => { parts[p.type] = p.value; });
    return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
  },
  // Where a tapped phone link is remembered until the rep comes back to log the call.
  CALL_KEY: "leadflow.call",
};

// After tapping a phone link on a lead's page, coming back to the page offers to log that
// call, prefilled with its kind and time (the log form works the same without this).
(() => {
  const KEY = window.LeadFlow.CALL_KEY;
  const prompt = document.getElementById("call-prompt");
  const form = document.querySelector("#sales-actions form.log-contact");
  document.addEventListener("click", (event) => {
    const link = event.target.closest('a[href^="tel:"]');
    if (!link || !form) return;
    sessionStorage.setItem(KEY, JSON.stringify({ lead: form.dataset.lead, at: Date.now() }));
  });
  if (!prompt || !form) return;
  const pending = () => {
    try {
      const call = JSON.parse(sessionStorage.getItem(KEY) || "null");
      return call && call.lead === form.dataset.lead ? call : null;
    } catch (error) {
      return null;
    }
  };
  const offer = () => {
    if (document.visibilityState === "visible" && pending()) prompt.hidden = false;
  };
  const local = (ms) => window.LeadFlow.siteLocal(ms, form.dataset.tz);
  document.addEventListener("visibilitychange", offer);
  window.addEventListener("pageshow", offer);
  document.getElementById("call-prompt-log").addEventListener("click", () => {
    const call = pending();
    sessionStorage.removeItem(KEY);
    prompt.hidden = true;
    if (!call) return;
    const kind = form.querySelector('input[name="kind"][value="call"]');
    if (kind) kind.checked = true;
    const when = form.querySelector('input[name="occurred_at"]');
    if (when) when.value = local(call.at);
    const notes = form.querySelector('textarea[name="notes"]');
    if (notes) notes.focus();
  });
  document.getElementById("call-prompt-dismiss").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    prompt.hidden = true;
  });
})();
