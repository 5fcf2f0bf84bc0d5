/* 运行监控, the operations page in the admin (ciie_portal/admin_ops.py): draws the charts with
   Chart.js (static/vendor/chartjs/) and refreshes the page from its JSON every few seconds,
   unless paused or hidden. The root #content-main.ops gives the JSON's URL (data-url), the
   period (data-refresh-seconds) and the translated texts (data-text-*); the charts' first
   numbers are in the json_script element #ops-chart-data. A refresh replaces the parts the JSON
   carries again (rendered by the same templates), the charts' numbers and the time of the last
   update (an aria-live region). */
(function () {
  "use strict";
  const root = document.querySelector(".ops[data-url]");
  const dataNode = document.getElementById("ops-chart-data");
  if (!root || !dataNode) { return; }
  const period = (parseInt(root.dataset.refreshSeconds, 10) || 15) * 1000;
  const status = document.getElementById("ops-status");
  const timeNode = document.getElementById("ops-updated-time");
  const pauseButton = document.getElementById("ops-pause");
  const windowButtons = Array.prototype.slice.call(root.querySelectorAll("button[data-window]"));
  const charts = {};
  let data = JSON.parse(dataNode.textContent);
  let windowKey = windowButtons.length ? windowButtons[0].dataset.window : "hour";
  let paused = false;
  let stopped = false;
  let timer = null;

  function colour(name, fallback) {
    const value = window.getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value || "").trim() || fallback;
  }

  function draw() {
    if (typeof window.Chart === "undefined" || !data.windows[windowKey]) { return; }
    const win = data.windows[windowKey];
    const primary = colour("--primary", "#c8222c");
    const quiet = colour("--body-quiet-color", "#666");
    const hairline = colour("--hairline-color", "#ddd");
    data.series.forEach(function (series) {
      const values = win.values[series.name] || [];
      const chart = charts[series.name];
      if (chart) {
        chart.data.labels = win.labels;
        chart.data.datasets[0].data = values;
        chart.update("none");
        return;
      }
      const canvas = root.querySelector('canvas[data-series="' + series.name + '"]');
      if (!canvas) { return; }
      charts[series.name] = new window.Chart(canvas, {
        type: series.level ? "line" : "bar",
        data: {
          labels: win.labels,
          datasets: [{
            label: series.label,
            data: values,
            backgroundColor: primary,
            borderColor: primary,
            borderWidth: series.level ? 2 : 0,
            pointRadius: 0,
            fill: false
          }]
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          interaction: {mode: "index", intersect: false},
          plugins: {legend: {display: false}},
          scales: {
            x: {grid: {display: false}, ticks: {color: quiet, maxRotation: 0, autoSkip: true, maxTicksLimit: 6}},
            y: {beginAtZero: true, grid: {color: hairline}, ticks: {color: quiet, precision: 0}}
          }
        }
      });
    });
  }

  function showWindow() {
    windowButtons.forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.window === windowKey ? "true" : "false");
    });
    root.querySelectorAll("table[data-window]").forEach(function (table) {
      table.hidden = table.dataset.window !== windowKey;
    });
    draw();
  }

  function apply(fresh) {
    Object.keys(fresh.sections).forEach(function (id) {
      const node = document.getElementById(id);
      if (node) { node.innerHTML = fresh.sections[id]; }
    });
    data = fresh.charts;
    timeNode.setAttribute("datetime", fresh.updated.iso);
    timeNode.textContent = fresh.updated.text;
    showWindow();
  }

  function schedule() {
    window.clearTimeout(timer);
    if (!paused && !stopped) { timer = window.setTimeout(refresh, period); }
  }

  function refresh() {
    if (paused || stopped) { return; }
    if (document.hidden) { schedule(); return; }
    window.fetch(root.dataset.url, {
      credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}
    }).then(function (response) {
      const type = response.headers.get("Content-Type") || "";
      if (response.ok && type.indexOf("application/json") === 0) { return response.json(); }
      // Sent to the sign-in page (the session ended) or refused: nothing more to fetch.
      const error = new Error("not signed in");
      error.signedOut = response.ok || response.status === 403;
      throw error;
    }).then(function (fresh) {
      apply(fresh);
      status.textContent = "";
      schedule();
    }).catch(function (error) {
      if (error.signedOut) {
        stopped = true;
        status.textContent = root.dataset.textSignedOut;
        return;
      }
      status.textContent = root.dataset.textFailed;
      schedule();
    });
  }

  windowButtons.forEach(function (button) {
    button.addEventListener("click", function () {
      windowKey = button.dataset.window;
      showWindow();
    });
  });

  pauseButton.addEventListener("click", function () {
    paused = !paused;
    pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
    status.textContent = paused ? root.dataset.textPaused : "";
    if (paused) { window.clearTimeout(timer); } else { refresh(); }
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !paused && !stopped) { refresh(); }
  });

  showWindow();
  schedule();
})();
