// The dataset pages' glue (no inline scripts: the CSP forbids them).
// Drop zone: files and whole folders dropped on #import-files are put into its file
// input, with each file's path inside the dropped folder in the hidden "paths" field,
// then the form is sent by htmx (which reports upload progress).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("[data-dropzone]");
  if (form) initDropzone(form);
});

function initDropzone(form) {
  const input = form.querySelector("#files-input");
  const folderInput = form.querySelector("#folder-input");
  const pathsField = form.querySelector("#files-paths");
  const status = form.querySelector("#dropzone-status");
  const progress = form.querySelector("#upload-progress");

  const useFiles = (entries) => {
    const transfer = new DataTransfer();
    entries.forEach(({ file }) => transfer.items.add(file));
    input.files = transfer.files;
    pathsField.value = JSON.stringify(entries.map(({ path }) => path));
    const size = entries.reduce((total, { file }) => total + file.size, 0);
    status.textContent = `${entries.length} file${entries.length === 1 ? "" : "s"} ready (${(size / 1048576).toFixed(1)} MB).`;
  };

  input.addEventListener("change", () => {
    pathsField.value = JSON.stringify(Array.from(input.files, (file) => file.name));
  });
  folderInput.addEventListener("change", () => {
    useFiles(Array.from(folderInput.files, (file) => ({ file, path: file.webkitRelativePath || file.name })));
  });

  ["dragenter", "dragover"].forEach((name) =>
    form.addEventListener(name, (event) => {
      event.preventDefault();
      form.classList.add("dragging");
    }),
  );
  ["dragleave", "drop"].forEach((name) =>
    form.addEventListener(name, () => form.classList.remove("dragging")),
  );
  form.addEventListener("drop", async (event) => {
    event.preventDefault();
    const roots = Array.from(event.dataTransfer.items || [])
      .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null))
      .filter(Boolean);
    let entries;
    if (roots.length) {
      status.textContent = "Reading the dropped files…";
      entries = (await Promise.all(roots.map((entry) => collect(entry, "")))).flat();
    } else {
      entries = Array.from(event.dataTransfer.files, (file) => ({ file, path: file.name }));
    }
    if (!entries.length) {
      status.textContent = "Nothing to upload in what was dropped.";
      return;
    }
    useFiles(entries);
    form.requestSubmit();
  });

  form.addEventListener("htmx:xhr:progress", (event) => {
    if (!event.detail.lengthComputable) return;
    progress.hidden = false;
    progress.value = Math.round((100 * event.detail.loaded) / event.detail.total);
    status.textContent = `Uploading… ${progress.value}%`;
  });
  form.addEventListener("htmx:beforeRequest", () => {
    form.querySelector("#upload-button").disabled = true;
  });
  form.addEventListener("htmx:afterRequest", () => {
    form.querySelector("#upload-button").disabled = false;
  });
}

// Every file under a dropped entry, with its path relative to the drop.
async function collect(entry, prefix) {
  const path = prefix + entry.name;
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [{ file, path }];
  }
  const reader = entry.createReader();
  const children = [];
  // readEntries returns at most ~100 entries per call: read until it returns none.
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    children.push(...batch);
  }
  const nested = await Promise.all(children.map((child) => collect(child, path + "/")));
  return nested.flat();
}
