// The pipeline board: move a card by drag and drop or its move menu without a reload.
// Each card's form works without this script (a post and a redirect back); here the same
// post goes by fetch, and a refusal shows on the card, which stays where it was.
"use strict";

(() => {
  const board = document.getElementById("board");
  if (!board) return;

  const countOf = (column, delta) => {
    const badge = column.querySelector(".board-count");
    if (!badge || badge.textContent.includes("+")) return;
    const n = parseInt(badge.textContent.replace(/\D/g, ""), 10) || 0;
    badge.textContent = String(Math.max(n + delta, 0));
  };

  const refusal = (card, text) => {
    const box = card.querySelector(".board-refusal");
    box.textContent = text || "";
    box.hidden = !text;
  };

  const move = async (card, form, to) => {
    refusal(card, "");
    const data = new FormData(form);
    data.set("to", to);
    let answer;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      answer = { ok: response.ok, body: await response.json() };
    } catch (error) {
      form.submit(); // no JSON (a login page, a network error): the plain post decides
      return;
    }
    if (!answer.ok) {
      refusal(card, answer.body.detail);
      return;
    }
    if (answer.body.url) {
      window.location.assign(answer.body.url);
      return;
    }
    const from = card.closest(".board-column");
    const target = board.querySelector(`.board-column[data-stage="${answer.body.stage}"]`);
    if (target) {
      target.querySelector(".board-cards").prepend(card);
      countOf(from, -1);
      countOf(target, 1);
    }
    // The card's links and menu follow its new stage; the reloaded board says what was done
    // (the move's success message, stored by the server).
    window.location.reload();
  };

  board.querySelectorAll(".board-card").forEach((card) => {
    const form = card.querySelector("form.board-move");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      move(card, form, form.elements.to.value);
    });
    card.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData("text/plain", card.id);
      event.dataTransfer.effectAllowed = "move";
    });
  });

  board.querySelectorAll(".board-column").forEach((column) => {
    column.addEventListener("dragover", (event) => event.preventDefault());
    column.addEventListener("drop", (event) => {
      event.preventDefault();
      const card = document.getElementById(event.dataTransfer.getData("text/plain"));
      if (!card || card.closest(".board-column") === column) return;
      move(card, card.querySelector("form.board-move"), column.dataset.stage);
    });
  });
})();
