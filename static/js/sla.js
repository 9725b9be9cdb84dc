// SLA page: while stored deadlines are being recomputed, refresh the progress notice
// (an HTML fragment from the server) every few seconds; the page works without this.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("recompute-status");
  if (!box || !box.dataset.statusUrl) {
    return;
  }
  const poll = () => {
    if (!box.querySelector("[data-recompute-running]")) {
      return;
    }
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        box.innerHTML = html;
        window.setTimeout(poll, 3000);
      })
      .catch(() => window.setTimeout(poll, 15000));
  };
  window.setTimeout(poll, 3000);
});
