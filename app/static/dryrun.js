// The Dry run page's live log: the job's "log" events from the jobs SSE stream,
// appended to #dryrun-log as they come (jobs/_progress.html reloads the page at the end).
(function () {
  "use strict";
  function follow() {
    var log = document.getElementById("dryrun-log");
    if (!log || !window.EventSource) return;
    var source = new EventSource(log.dataset.events);
    source.addEventListener("log", function (event) {
      var line;
      try { line = JSON.parse(event.data).line; } catch (e) { return; }
      if (typeof line !== "string") return;
      log.appendChild(document.createTextNode(line + "\n"));
      log.scrollTop = log.scrollHeight;
    });
    source.addEventListener("end", function () { source.close(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", follow);
  else follow();
})();
