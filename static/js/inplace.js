// Act in place on the rep's Today: accept, reject, claim, log, snooze and complete a task
// without a page reload. Without this script the same forms post and redirect back.
"use strict";

(() => {
  const root = document.querySelector("[data-inplace]");
  if (!root) return;
  const status = document.getElementById("today-status");

  // The answer's message as the page's messages look, fixed at the bottom so that
  // showing it moves nothing on the page.
  const toasts = document.getElementById("today-toasts");
  function say(text, kind) {
    if (status) status.textContent = text;
    if (!toasts || !text) return;
    const alert = document.createElement("div");
    alert.className = `alert alert-${kind} alert-dismissible fade show shadow-sm mb-2`;
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.dataset.bsDismiss = "alert";
    close.setAttribute("aria-label", toasts.dataset.closeLabel || "Close");
    alert.appendChild(close);
    toasts.replaceChildren(alert);
  }

  function showError(form, text) {
    let box = form.querySelector(".inplace-error");
    if (!box) {
      box = document.createElement("div");
      box.className = "inplace-error alert alert-danger small py-1 px-2 mt-2 mb-0";
      box.setAttribute("role", "alert");
      form.appendChild(box);
    }
    box.textContent = text;
  }

  // Re-read the page and swap in its summary and sections: rows acted on update or leave,
  // counts update, and the window is not scrolled (nothing navigates).
  async function refresh() {
    const response = await fetch(window.location.href, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const x = window.scrollX;
    const y = window.scrollY;
    const summary = page.querySelector("[data-today-summary]");
    const here = root.querySelector("[data-today-summary]");
    if (summary && here) here.replaceWith(summary);
    root.querySelectorAll("[data-today-section]").forEach((section) => {
      const fresh = page.getElementById(section.id);
      if (fresh) section.replaceWith(fresh);
    });
    window.scrollTo(x, y);
  }

  root.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
    event.preventDefault();
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
        },
      });
      let data = {};
      try {
        data = await response.json();
      } catch {
        data = { detail: response.statusText };
      }
      if (!response.ok) {
        // Refused: what was typed stays in the form, with why.
        showError(form, data.detail || response.statusText);
        return;
      }
      say(data.detail || "", "success");
      await refresh();
    } catch {
      // The network failed: post the form the ordinary way.
      form.submit();
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  });
})();
