// The caption grid's glue (no inline scripts: the CSP forbids them).
// - An edited caption is saved when its field loses focus, or with Ctrl+Enter.
// - Keyboard: arrows (or h j k l) move between cards; Space / a approve; e / Enter edit;
//   r reject; x exclude; s select; [ ] change page; ? help. The help lists them all.
// - Clicking a picture whose caption is being saved approves it once the save is done,
//   so the approval is for the text just saved (the server refuses approving a version
//   that is not the one shown).
// - A save that does not reach the server (it is down, the network failed) says so on
//   the card, keeps the typed text, and is tried again until it goes through; a
//   thumbnail that failed to load is loaded again.
// - Ticking an image switches a batch to the ticked images; its button says how many
//   captions it is for before it is pressed.
// - Tab stops per card: the picture (approve) and the caption. Select, reject and
//   exclude are the keys s, r and x on the card that has the focus.
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

  // --- saves that fail, and trying them again -----------------------------------------
  const retryDelays = new Map(); // card id → the next wait in ms
  const RETRY_FIRST_MS = 1500;
  const RETRY_MAX_MS = 15000;

  function markUnsaved(card) {
    if (card.classList.contains("unsaved")) return;
    card.classList.add("unsaved");
    const badge = card.querySelector(".status-badge");
    if (badge) badge.textContent = "edited, not saved";
  }

  function saveFailed(card, why) {
    delete card.dataset.saving;
    if (approveAfterSave === card.id) approveAfterSave = null; // not the text on screen
    markUnsaved(card);
    const wait = retryDelays.get(card.id) || RETRY_FIRST_MS;
    retryDelays.set(card.id, Math.min(wait * 2, RETRY_MAX_MS));
    const problem = card.querySelector(".save-problem");
    if (problem) {
      problem.textContent = `Not saved: ${why} Your text is kept here; loragate tries again in ${Math.round(wait / 1000)} s.`;
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "button small-button";
      retry.dataset.action = "retry-save";
      retry.textContent = "Try now";
      problem.append(retry);
      problem.hidden = false;
    }
    clearTimeout(Number(card.dataset.retryTimer || 0));
    card.dataset.retryTimer = String(setTimeout(() => retrySave(card.id), wait));
  }

  function retrySave(id) {
    const card = document.getElementById(id);
    const field = card && card.querySelector(".caption-text");
    if (field) saveField(field);
  }

  const isCardForm = (elt) => elt && elt.closest && elt.closest(".caption-card form");

  document.addEventListener("htmx:sendError", (event) => {
    const form = isCardForm(event.detail.elt);
    if (!form) return;
    const card = form.closest(".caption-card");
    if (form.classList.contains("caption-form")) saveFailed(card, "the server did not answer.");
    else showCardProblem(card, "The server did not answer: nothing was changed. Try again in a moment.");
    reloadBrokenThumbs(); // loragate may be back, or not: no harm either way
  });

  // An answer without the card (a server error, or a refusal as a toast) must not take
  // the card's place: the card and its typed text stay, the toast still shows.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const form = isCardForm(event.detail.elt);
    if (!form) return;
    const card = form.closest(".caption-card");
    if (event.detail.xhr.status >= 500) {
      event.detail.shouldSwap = false;
      if (form.classList.contains("caption-form")) saveFailed(card, "loragate had an error.");
      else showCardProblem(card, "loragate had an error: nothing was changed.");
    } else if (!event.detail.serverResponse.includes(`id="${card.id}"`)) {
      event.detail.swapOverride = "none";
      delete card.dataset.saving;
      if (approveAfterSave === card.id) approveAfterSave = null;
    }
  });

  function showCardProblem(card, message) {
    const problem = card.querySelector(".save-problem");
    if (!problem) return;
    problem.textContent = message;
    problem.hidden = false;
  }

  // --- thumbnails that failed to load -------------------------------------------------
  const THUMB_TRIES = 6;

  function reloadThumb(img) {
    const tries = Number(img.dataset.tries || 0);
    if (tries >= THUMB_TRIES) return;
    img.dataset.tries = String(tries + 1);
    const url = new URL(img.src, window.location.href);
    url.searchParams.set("retry", String(tries + 1));
    img.src = url.toString();
  }

  function reloadBrokenThumbs() {
    document.querySelectorAll("img.thumb[data-broken]").forEach((img) => {
      delete img.dataset.broken;
      reloadThumb(img);
    });
  }

  // Load errors do not bubble: listen while they go down.
  document.addEventListener("error", (event) => {
    const img = event.target;
    if (!(img instanceof HTMLImageElement) || !img.classList.contains("thumb")) return;
    img.dataset.broken = "1";
    const tries = Number(img.dataset.tries || 0);
    setTimeout(() => { if (img.dataset.broken) { delete img.dataset.broken; reloadThumb(img); } }, 1000 * 2 ** tries);
  }, true);

  // --- batch scope --------------------------------------------------------------------
  function updateBatch() {
    const apply = document.getElementById("batch-apply");
    if (!apply) return;
    const ticked = Array.from(document.querySelectorAll(".card-select:checked"));
    const selection = document.getElementById("scope-selection");
    const inView = document.getElementById("scope-view");
    if (selection && inView && !selection.dataset.chosen) {
      selection.checked = ticked.length > 0;
      inView.checked = ticked.length === 0;
    }
    const useSelection = selection && selection.checked;
    const count = useSelection
      ? ticked.filter((box) => box.closest(".caption-card").dataset.included === "1").length
      : Number(apply.dataset.viewCount || 0);
    const nouns = count === 1 ? "caption" : "captions";
    apply.textContent = useSelection ? `Apply to the ${count} ticked ${nouns}` : `Apply to ${count} ${nouns}`;
    apply.disabled = count === 0;
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.classList && target.classList.contains("card-select")) {
      const selection = document.getElementById("scope-selection");
      if (selection) delete selection.dataset.chosen; // ticking decides the scope again
      updateBatch();
    } else if (target.name === "scope" && target.form && target.form.id === "batch-form") {
      // The artist chose the scope by hand: ticking no longer switches it.
      document.getElementById("scope-selection").dataset.chosen = "1";
      updateBatch();
    }
  });

  // --- tab stops ----------------------------------------------------------------------
  const SECONDARY = ".card-select, [data-action=reject], [data-action=exclude], .card-findings summary, .card-findings a";

  function trimTabStops(root) {
    root.querySelectorAll(`.caption-card ${SECONDARY.split(", ").join(", .caption-card ")}`)
      .forEach((el) => el.setAttribute("tabindex", "-1"));
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
    // Enter and Space on a link or a button do what they say (a skip link, a filter).
    if ((event.key === "Enter" || event.key === " ") && target.closest && target.closest("a, button, summary")) return;
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
      case "s":
        if (card) {
          const box = card.querySelector(".card-select");
          box.checked = !box.checked;
          box.dispatchEvent(new Event("change", { bubbles: true }));
        }
        break;
      case "]": { const next = document.getElementById("next-page"); if (next) next.click(); break; }
      case "[": { const prev = document.getElementById("prev-page"); if (prev) prev.click(); break; }
      default: break;
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target.classList && event.target.classList.contains("caption-text")) {
      markUnsaved(event.target.closest(".caption-card"));
    }
  });

  document.addEventListener("focusin", (event) => {
    const card = event.target.closest && event.target.closest(".caption-card");
    if (card && card.id !== current) select(card, false);
  });

  document.addEventListener("focusout", (event) => {
    if (event.target.classList && event.target.classList.contains("caption-text")) saveField(event.target);
  });

  // A click on a picture while its caption is being saved waits for the save.
  document.addEventListener("click", (event) => {
    const help = event.target.closest("[data-open-help]");
    if (help) { openHelp(); return; }
    const retry = event.target.closest("[data-action=retry-save]");
    if (retry) { retrySave(retry.closest(".caption-card").id); return; }
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
    trimTabStops(document);
    updateBatch();
    const swapped = event.detail.elt;
    const id = swapped && swapped.id;
    if (id && retryDelays.has(id)) { retryDelays.delete(id); reloadBrokenThumbs(); }
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

  document.addEventListener("DOMContentLoaded", () => {
    trimTabStops(document);
    updateBatch();
    // Thumbnails that failed before this script ran.
    document.querySelectorAll("img.thumb").forEach((img) => {
      if (img.complete && img.naturalWidth === 0) { img.dataset.broken = "1"; setTimeout(reloadBrokenThumbs, 1000); }
    });
  });
})();
