// Import (and bulk action) progress: poll the job's progress while it runs, reload when it
// changes state.
// The words under the bar come ready-made from the server (progress_label), in the page's
// language and number format; a null progress means the number of rows is not known yet,
// shown as an indeterminate bar without a percentage.
"use strict";

(() => {
  const box = document.getElementById("import-progress") || document.getElementById("job-progress");
  const url = box && box.dataset.progressUrl;
  if (!url) return;
  const bar = box.querySelector("[data-progress-bar]");
  const text = box.querySelector("[data-progress-text]");
  const wrapper = box.querySelector("[role=progressbar]");
  const status = document.getElementById(box.dataset.statusId || "import-status");
  const initial = status.textContent.trim();
  const wasStalled = box.dataset.stalled === "1";
  const show = (progress) => {
    const known = progress !== null && progress !== undefined && progress !== "";
    wrapper.classList.toggle("progress-indeterminate", !known);
    if (known) {
      bar.style.width = `${progress}%`;
      bar.textContent = `${progress}%`;
      wrapper.setAttribute("aria-valuenow", progress);
    } else {
      bar.style.width = "";
      bar.textContent = "";
      wrapper.removeAttribute("aria-valuenow");
    }
  };
  // The server renders the bar without a width (no inline styles under the CSP).
  show(wrapper.getAttribute("aria-valuenow"));
  const poll = () => {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => {
        show(data.progress);
        if (text && data.progress_label) text.textContent = data.progress_label;
        // A bulk job's cards (moved, skipped), worded by the server.
        for (const [name, [number, label]] of Object.entries(data.cards || {})) {
          const numberBox = document.querySelector(`[data-card-number="${name}"]`);
          const labelBox = document.querySelector(`[data-card-label="${name}"]`);
          if (numberBox) numberBox.textContent = number;
          if (labelBox) labelBox.textContent = label;
        }
        if (data.status_label !== initial || Boolean(data.stalled) !== wasStalled) {
          window.location.reload();
        } else {
          setTimeout(poll, 1000);
        }
      })
      .catch(() => setTimeout(poll, 3000));
  };
  setTimeout(poll, 500);
})();
