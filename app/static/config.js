// The Config page's glue (no inline scripts: the CSP forbids them). htmx sends the form
// to /config/preview as fields change; this file adds what htmx cannot do alone.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("config-form");
  if (!form) return;
  const unsaved = document.getElementById("unsaved");
  const markUnsaved = () => {
    if (unsaved) unsaved.hidden = false;
  };
  form.addEventListener("input", markUnsaved);
  form.addEventListener("change", markUnsaved);

  // The trainer whose files are previewed: the picker sits outside the form, so copy its
  // value into the form's hidden field and ask htmx for a fresh panel.
  const picker = document.getElementById("backend-picker");
  const hidden = document.getElementById("preview_backend");
  if (picker && hidden) {
    picker.addEventListener("change", () => {
      hidden.value = picker.value;
      const url = new URL(window.location.href);
      url.searchParams.set("backend", picker.value);
      window.history.replaceState(null, "", url);
      if (window.htmx) window.htmx.trigger(form, "change");
    });
  }
});
