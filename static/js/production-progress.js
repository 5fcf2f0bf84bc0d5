/* Credential production job page (admin): follows the job's progress until it is finished.
   The box #production-progress gives the progress URL (data-url), whether the job is finished
   already (data-finished) and the translated count text (data-count-template). */
(function () {
  "use strict";
  const box = document.getElementById("production-progress");
  if (!box || box.dataset.finished === "1") { return; }
  const bar = document.getElementById("production-bar");
  const status = document.getElementById("production-status");
  const count = document.getElementById("production-count");
  const template = box.dataset.countTemplate;
  function show(data) {
    bar.value = data.percent;
    status.textContent = data.status_display;
    count.textContent = template.replace("%(done)s", data.done).replace("%(total)s", data.total)
      .replace("%(percent)s", data.percent).replace("%%", "%");
  }
  function tick() {
    fetch(box.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        show(data);
        // Finished: reload once, to show the final counts and the print batches.
        if (data.finished) { window.location.reload(); } else { window.setTimeout(tick, 2000); }
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 2000);
})();
