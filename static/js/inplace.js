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
  // counts update, and the window is not scrolled (nothing navigates). A form the rep
  // has open in another row keeps what they typed: that row is carried over as it is.
  async function refresh(actedRow) {
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
    const kept = [];
    root.querySelectorAll("details[open][data-filled]").forEach((details) => {
      const row = details.closest("tr[id]");
      if (row && row !== actedRow && page.getElementById(row.id)) kept.push(row);
    });
    root.querySelectorAll("[data-today-section]").forEach((section) => {
      const fresh = page.getElementById(section.id);
      if (fresh) section.replaceWith(document.adoptNode(fresh));
    });
    kept.forEach((row) => {
      const fresh = document.getElementById(row.id);
      if (fresh && fresh !== row) fresh.replaceWith(row);
    });
    window.scrollTo(x, y);
  }

  // After an action, keyboard focus goes where the rep was: the same row if it is still
  // there, else the row that followed it, else its section's heading.
  function restoreFocus(rowId, nextRowId, sectionId) {
    const target =
      (rowId && document.getElementById(rowId)) ||
      (nextRowId && document.getElementById(nextRowId));
    const control = target && target.querySelector("summary, button, a[href]");
    if (control) {
      control.focus({ preventScroll: true });
      return;
    }
    const heading = sectionId && document.querySelector(`#${sectionId} h2`);
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }

  // A row's log, snooze or reject form is copied from the page's <template> of that kind
  // when the row's form is first opened (sales_tags.row_form_template): the stand-in
  // lead id and id prefix become the row's. Until then the row holds a link to the form's
  // own page, which is what a browser without this script follows.
  function fillRowForm(details) {
    if (details.dataset.filled) return;
    const template = document.querySelector(
      `template[data-row-form="${details.dataset.rowForm}"]`
    );
    if (!template) return;
    const html = template.innerHTML
      .split(template.dataset.standInPk).join(details.dataset.lead)
      .split(template.dataset.standInPrefix).join(details.dataset.prefix);
    const summary = details.querySelector("summary");
    details.replaceChildren(summary);
    details.insertAdjacentHTML("beforeend", html);
    details.dataset.filled = "1";
  }
  root.addEventListener("click", (event) => {
    const summary = event.target.closest("details[data-row-form] > summary");
    if (summary) fillRowForm(summary.parentElement);
  });
  root.addEventListener(
    "toggle",
    (event) => {
      const details = event.target;
      if (details instanceof HTMLDetailsElement && details.open && details.dataset.rowForm) {
        fillRowForm(details);
      }
    },
    true
  );

  // After tapping a row's phone link, coming back to Today offers to log that call: the
  // row's log form opens with Call chosen and the call's time filled in.
  const callPrompt = document.getElementById("today-call-prompt");
  const KEY = window.LeadFlow.CALL_KEY;
  root.addEventListener("click", (event) => {
    const link = event.target.closest('a[href^="tel:"]');
    const row = link && link.closest("tr[id]");
    const details = row && row.querySelector('details[data-row-form="log"]');
    if (!details) return;
    const name = row.querySelector("a.fw-semibold");
    sessionStorage.setItem(
      KEY,
      JSON.stringify({
        lead: details.dataset.lead,
        row: row.id,
        name: name ? name.textContent : "",
        at: Date.now(),
      })
    );
  });
  function pendingCall() {
    try {
      const call = JSON.parse(sessionStorage.getItem(KEY) || "null");
      return call && call.row && document.getElementById(call.row) ? call : null;
    } catch {
      return null;
    }
  }
  function offerCall() {
    const call = document.visibilityState === "visible" && pendingCall();
    if (!callPrompt || !call) return;
    const text = callPrompt.querySelector("[data-call-text]");
    text.textContent = text.dataset.template.replace("NAME", call.name);
    callPrompt.hidden = false;
  }
  if (callPrompt) {
    document.addEventListener("visibilitychange", offerCall);
    window.addEventListener("pageshow", offerCall);
    document.getElementById("today-call-log").addEventListener("click", () => {
      const call = pendingCall();
      sessionStorage.removeItem(KEY);
      callPrompt.hidden = true;
      const row = call && document.getElementById(call.row);
      const details = row && row.querySelector('details[data-row-form="log"]');
      if (!details) return;
      fillRowForm(details);
      details.open = true;
      const form = details.querySelector("form");
      const kind = form.querySelector('input[name="kind"][value="call"]');
      if (kind) kind.checked = true;
      const when = form.querySelector('input[name="occurred_at"]');
      if (when) when.value = window.LeadFlow.siteLocal(call.at, form.dataset.tz);
      const notes = form.querySelector('textarea[name="notes"]');
      if (notes) notes.focus();
    });
    document.getElementById("today-call-dismiss").addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      callPrompt.hidden = true;
    });
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
      const row = form.closest("tr[id]");
      const next = row && row.nextElementSibling;
      const section = form.closest("[data-today-section]");
      await refresh(row);
      restoreFocus(
        row && row.id,
        next && next.id,
        section && section.id
      );
    } catch {
      // The network failed: post the form the ordinary way.
      form.submit();
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  });
})();
