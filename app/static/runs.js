// The run page: the charts' history first (downsampled by the server), then the run's
// event stream from the newest event that history held. Every point is kept in memory;
// what is drawn is thinned to MAX_DRAWN points and redrawn at most every REDRAW_MS, so
// a run of 100,000 steps stays smooth. EventSource reconnects by itself with
// Last-Event-ID: nothing is lost or drawn twice.
(function () {
  "use strict";
  const MAX_DRAWN = 2000;
  const REDRAW_MS = 250;
  const LOG_LINES = 200;
  const root = document.getElementById("run");
  if (!root || typeof uPlot === "undefined") return;

  const steps = [], loss = [], smooth = [], vram = [];
  let lastStep = 0, pending = null, source = null;

  function chart(el, series) {
    const width = Math.max(300, el.clientWidth || 600);
    return new uPlot({
      width: width, height: 220,
      scales: { x: { time: false } },
      series: [{ label: "step" }].concat(series),
      axes: [{ label: "step" }, {}],
    }, [[]].concat(series.map(() => [])), el);
  }
  const lossEl = document.getElementById("chart-loss");
  const vramEl = document.getElementById("chart-vram");
  const lossChart = chart(lossEl, [
    { label: "loss", stroke: "#b0b8c8", width: 1 },
    { label: "smoothed", stroke: "#2a5db0", width: 2 },
  ]);
  const vramChart = chart(vramEl, [{ label: "VRAM (GB)", stroke: "#a0522d", width: 2 }]);

  function thin(columns) {
    const n = columns[0].length;
    if (n <= MAX_DRAWN) return columns;
    const stride = Math.ceil(n / MAX_DRAWN);
    return columns.map((column) => {
      const out = [];
      for (let i = 0; i < n; i += stride) out.push(column[i]);
      if ((n - 1) % stride !== 0) out.push(column[n - 1]);
      return out;
    });
  }
  function redraw() {
    pending = null;
    lossChart.setData(thin([steps, loss, smooth]));
    vramChart.setData(thin([steps, vram]));
    lossEl.dataset.points = String(steps.length);
    vramEl.dataset.points = String(steps.length);
    lossEl.dataset.lastStep = String(lastStep);
  }
  function schedule() { if (!pending) pending = setTimeout(redraw, REDRAW_MS); }

  function text(id, value) { const el = document.getElementById(id); if (el) el.textContent = value; }
  function duration(seconds) {
    if (seconds == null) return "—";
    const s = Math.round(seconds);
    if (s < 60) return s + " s";
    const m = Math.round(s / 60);
    return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }
  function figures(e) {
    text("run-step", e.step + " / " + e.total);
    const bar = document.getElementById("run-progress");
    if (bar) { bar.max = e.total || 1; bar.value = e.step; }
    if (e.loss != null) text("run-loss", Number(e.loss).toFixed(4) + (e.smoothed_loss != null ? " (smoothed " + Number(e.smoothed_loss).toFixed(4) + ")" : ""));
    if (e.seconds_per_step != null) text("run-speed", Number(e.seconds_per_step).toFixed(2) + " s");
    text("run-eta", duration(e.eta_seconds));
    if (e.vram_used_gb != null) text("run-vram", Number(e.vram_used_gb).toFixed(1) + (e.vram_total_gb ? " of " + Number(e.vram_total_gb).toFixed(1) : "") + " GB" + (e.gpu_util != null ? " · GPU " + e.gpu_util + " %" : ""));
    else text("run-vram", "not measured (CPU run)");
    if (e.cost != null) text("run-cost", Number(e.cost).toFixed(2) + " " + (e.currency || root.dataset.currency));
  }
  function addStep(e) {
    if (e.step <= lastStep) return;
    lastStep = e.step;
    steps.push(e.step); loss.push(e.loss); smooth.push(e.smoothed_loss); vram.push(e.vram_used_gb);
    figures(e);
    schedule();
  }
  function addSample(e) {
    const box = document.getElementById("run-samples");
    const empty = box.querySelector("p");
    if (empty) empty.remove();
    // The path inside the run's folder: samples/ (native), sample/ (sd-scripts),
    // validation_images/ (SimpleTuner), NAME/samples/ (ai-toolkit).
    const path = String(e.path || "").split("/").map(encodeURIComponent).join("/");
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = root.dataset.samples + path;
    const when = e.step != null ? "step " + e.step : "a sample";
    img.alt = "Sample at " + when + (e.prompt ? ": " + e.prompt : "");
    const caption = document.createElement("figcaption");
    caption.textContent = when + (e.prompt ? ": " + e.prompt : "");
    figure.append(img, caption);
    box.prepend(figure);
    while (box.children.length > 8) box.lastElementChild.remove();
  }
  function addLine(line) {
    const log = document.getElementById("run-log");
    const lines = (log.textContent ? log.textContent.split("\n") : []).concat([line]);
    log.textContent = lines.slice(-LOG_LINES).join("\n");
    log.scrollTop = log.scrollHeight;
  }
  function refreshStatus() {
    fetch(root.dataset.status, { headers: { "HX-Request": "true" } })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => { if (html != null) document.getElementById("run-status").innerHTML = html; });
  }

  function listen(after) {
    source = new EventSource(root.dataset.events + "?after=" + after);
    source.addEventListener("step", (m) => addStep(JSON.parse(m.data)));
    source.addEventListener("sample", (m) => addSample(JSON.parse(m.data)));
    source.addEventListener("line", (m) => addLine(JSON.parse(m.data).text));
    ["run", "checkpoint", "rung"].forEach((type) => source.addEventListener(type, refreshStatus));
    source.addEventListener("end", () => { source.close(); refreshStatus(); });
  }

  fetch(root.dataset.history)
    .then((r) => r.json())
    .then((h) => {
      const s = h.series;
      for (let i = 0; i < s.step.length; i++) {
        steps.push(s.step[i]); loss.push(s.loss[i]); smooth.push(s.smoothed_loss[i]); vram.push(s.vram_used_gb[i]);
      }
      if (h.latest) { lastStep = h.latest.step; figures(h.latest); }
      h.samples.forEach(addSample);
      h.log.forEach(addLine);
      redraw();
      listen(h.last_event_id);
    });
})();
