// Import progress: poll the job's progress while it runs, reload when it changes state.
"use strict";

(() => {
  const box = document.getElementById("import-progress");
  const url = box && box.dataset.progressUrl;
  if (!url) return;
  const bar = box.querySelector("[data-progress-bar]");
  const text = box.querySelector("[data-progress-text]");
  const wrapper = box.querySelector("[role=progressbar]");
  const initial = document.getElementById("import-status").textContent.trim();
  const poll = () => {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => {
        bar.style.width = `${data.progress}%`;
        bar.textContent = `${data.progress}%`;
        wrapper.setAttribute("aria-valuenow", data.progress);
        if (text) {
          text.textContent = data.status === "validating"
            ? `${data.checked_rows} / ${data.total_rows || "?"}`
            : `${data.processed_rows} / ${data.total_rows}`;
        }
        if (data.status_label !== initial) {
          window.location.reload();
        } else {
          setTimeout(poll, 1000);
        }
      })
      .catch(() => setTimeout(poll, 3000));
  };
  setTimeout(poll, 500);
})();
