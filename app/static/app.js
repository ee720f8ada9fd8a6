// loragate's own page glue. No inline scripts anywhere (the CSP forbids them):
// behaviour is attached here by class, id or data attribute.
document.addEventListener("DOMContentLoaded", () => {
  if (window.htmx) {
    // Error responses carry a plain-language toast (out-of-band): let htmx swap them.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[45]..", swap: true, error: false },
    ];
  }
  initBaseModelPicker();
});

document.addEventListener("htmx:afterSwap", () => expireToasts());

function expireToasts() {
  document.querySelectorAll("#toasts .toast:not([data-expiring])").forEach((toast) => {
    toast.dataset.expiring = "1";
    setTimeout(() => toast.remove(), 8000);
  });
}

function initBaseModelPicker() {
  const select = document.getElementById("base_model");
  const pathField = document.getElementById("base-model-path-field");
  const family = document.getElementById("model_family");
  if (!select || !pathField) return;
  const sync = () => {
    pathField.hidden = select.value !== "__path__";
    const option = select.selectedOptions[0];
    if (family && option && option.dataset.family && family.value !== option.dataset.family) {
      family.value = option.dataset.family;
      family.dispatchEvent(new Event("change", { bubbles: true }));
    }
  };
  select.addEventListener("change", sync);
  sync();
}
