// The caption grid's glue (no inline scripts: the CSP forbids them).
// - An edited caption is saved when its field loses focus, or with Ctrl+Enter.
// - Keyboard: arrows (or h j k l) move between cards; Space / a approve; e / Enter edit;
//   r reject; x exclude; s select; [ ] change page; ? help. The help lists them all.
// - Clicking a picture whose caption is being saved approves it once the save is done,
//   so the approval is for the text just saved (the server refuses approving a version
//   that is not the one shown).
(() => {
  let current = null; // id of the card the keyboard acts on
  let refocus = null; // id of the card to focus again once htmx has swapped it
  let approveAfterSave = null; // id of a card to approve once its save is back

  const cards = () => Array.from(document.querySelectorAll(".caption-card"));
  // Fields that take keys; a checkbox or a button does not, so shortcuts still work there.
  const isTyping = (el) => el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT"
    || (el.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(el.type)));

  function select(card, focus = true) {
    if (!card) return;
    document.querySelectorAll(".caption-card.current").forEach((el) => el.classList.remove("current"));
    card.classList.add("current");
    current = card.id;
    if (focus) {
      card.focus({ preventScroll: true });
      card.scrollIntoView({ block: "nearest" });
    }
  }

  function neighbour(card, dx, dy) {
    const all = cards();
    const index = all.indexOf(card);
    if (index < 0) return all[0];
    if (dy === 0) return all[Math.min(all.length - 1, Math.max(0, index + dx))];
    // Up and down: the card in the next row whose left edge is closest.
    const box = card.getBoundingClientRect();
    const rows = all.filter((other) => {
      const top = other.getBoundingClientRect().top;
      return dy > 0 ? top > box.top + 5 : top < box.top - 5;
    });
    if (!rows.length) return card;
    const rowTop = dy > 0 ? Math.min(...rows.map((c) => c.getBoundingClientRect().top))
      : Math.max(...rows.map((c) => c.getBoundingClientRect().top));
    const row = rows.filter((c) => Math.abs(c.getBoundingClientRect().top - rowTop) < 5);
    return row.reduce((best, c) => (Math.abs(c.getBoundingClientRect().left - box.left) < Math.abs(best.getBoundingClientRect().left - box.left) ? c : best));
  }

  function act(card, action) {
    if (!card) return;
    const button = card.querySelector(`[data-action="${action}"]`);
    if (!button) return;
    refocus = card.id;
    button.click();
  }

  function saveField(field) {
    const card = field.closest(".caption-card");
    if (!card || field.value === field.defaultValue || card.dataset.saving) return;
    card.dataset.saving = "1";
    field.closest("form").requestSubmit();
  }

  function openHelp() {
    const dialog = document.getElementById("keyboard-help");
    if (dialog && !dialog.open) dialog.showModal();
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.classList && target.classList.contains("caption-text")) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        refocus = target.closest(".caption-card").id;
        saveField(target);
      } else if (event.key === "Escape") {
        event.preventDefault();
        const card = target.closest(".caption-card");
        target.blur(); // saves
        select(card);
      }
      return;
    }
    if (isTyping(target) || event.altKey || event.ctrlKey || event.metaKey) return;
    if (document.querySelector("dialog[open]")) return; // Esc closes it natively
    const card = document.getElementById(current) || null;
    const go = (dx, dy) => { event.preventDefault(); select(neighbour(card || cards()[0], dx, dy)); };
    switch (event.key) {
      case "?": event.preventDefault(); openHelp(); break;
      case "ArrowRight": case "l": go(1, 0); break;
      case "ArrowLeft": case "h": go(-1, 0); break;
      case "ArrowDown": case "j": go(0, 1); break;
      case "ArrowUp": case "k": go(0, -1); break;
      case " ": case "a": if (card) { event.preventDefault(); act(card, "approve"); } break;
      case "e": case "Enter":
        if (card) { event.preventDefault(); const field = card.querySelector(".caption-text"); field.focus(); field.setSelectionRange(field.value.length, field.value.length); }
        break;
      case "r": act(card, "reject"); break;
      case "x": act(card, "exclude"); break;
      case "s": if (card) { const box = card.querySelector(".card-select"); box.checked = !box.checked; } break;
      case "]": { const next = document.getElementById("next-page"); if (next) next.click(); break; }
      case "[": { const prev = document.getElementById("prev-page"); if (prev) prev.click(); break; }
      default: break;
    }
  });

  document.addEventListener("focusout", (event) => {
    if (event.target.classList && event.target.classList.contains("caption-text")) saveField(event.target);
  });

  // A click on a picture while its caption is being saved waits for the save.
  document.addEventListener("click", (event) => {
    const help = event.target.closest("[data-open-help]");
    if (help) { openHelp(); return; }
    const button = event.target.closest(".thumb-button");
    if (!button) {
      const card = event.target.closest(".caption-card");
      if (card) select(card, false);
      return;
    }
    const card = button.closest(".caption-card");
    select(card, false);
    const field = card.querySelector(".caption-text");
    if (field && field.value !== field.defaultValue && !card.dataset.saving) saveField(field);
    if (card.dataset.saving) {
      event.preventDefault();
      event.stopPropagation();
      approveAfterSave = card.id;
    }
  }, true);

  document.addEventListener("htmx:afterSettle", (event) => {
    const swapped = event.detail.elt;
    const id = swapped && swapped.id;
    if (!id) return;
    const card = document.getElementById(id);
    if (!card || !card.classList.contains("caption-card")) {
      if (id === "grid") { current = null; const first = cards()[0]; if (first && refocus) select(first); refocus = null; }
      return;
    }
    if (approveAfterSave === id) {
      approveAfterSave = null;
      // A save that came back with a conflict saved nothing: the text on the card is not
      // what was typed, so it is not approved unseen.
      if (!card.dataset.conflict && card.dataset.status !== "approved" && card.dataset.status !== "none") {
        act(card, "approve");
        return;
      }
    }
    if (refocus === id) {
      refocus = null;
      select(card);
    }
  });
})();
