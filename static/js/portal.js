/* Behaviour of the portal's pages, loaded by base.html on every page. The pages carry no inline
   script (Content-Security-Policy): each part below starts only where its elements are, and
   takes what it needs from data-* attributes. Every page also works without JavaScript. */
(function () {
  "use strict";

  /* data-confirm on a form asks before it is submitted; on a submit button, before that button
     submits its form. */
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  document.querySelectorAll("button[data-confirm], input[type=submit][data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });

  /* Payment countdown (order page, payment sandbox): counts down what the server said was left
     (data-seconds); the server still decides when the order closes. On the order page the
     box then gives way to #payment-ended. */
  (function () {
    const box = document.getElementById("payment-countdown");
    if (!box) return;
    const end = Date.now() + parseInt(box.dataset.seconds, 10) * 1000;
    const shown = box.querySelector(".countdown");
    const ended = document.getElementById("payment-ended");
    function pad(n) { return String(n).padStart(2, "0"); }
    function tick() {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      const hours = Math.floor(left / 3600);
      shown.textContent = (hours ? hours + ":" : "") + pad(Math.floor(left / 60) % 60) + ":" + pad(left % 60);
      if (left > 0) { window.setTimeout(tick, 1000); return; }
      if (ended) {
        box.classList.add("d-none");
        ended.classList.remove("d-none");
      }
    }
    tick();
  })();

  /* New order: the count and total of the ticked visitors. Only a preview: the server computes
     the fees and the total of the order. */
  (function () {
    const count = document.getElementById("order-count");
    const total = document.getElementById("order-total");
    if (!count || !total) return;
    const picks = Array.from(document.querySelectorAll(".order-pick"));
    const all = document.getElementById("order-all");
    function cents(text) { return parseInt(text.replace(".", ""), 10) || 0; }
    function update() {
      const chosen = picks.filter(function (box) { return box.checked; });
      const sum = chosen.reduce(function (acc, box) { return acc + cents(box.dataset.fee); }, 0);
      count.textContent = chosen.length;
      total.textContent = Math.floor(sum / 100) + "." + String(sum % 100).padStart(2, "0");
      if (all) all.checked = picks.length > 0 && chosen.length === picks.length;
    }
    picks.forEach(function (box) { box.addEventListener("change", update); });
    if (all) all.addEventListener("change", function () {
      picks.forEach(function (box) { box.checked = all.checked; });
      update();
    });
    update();
  })();

  /* Gate: keep the cursor in the box, so that the next scan lands there whatever was clicked. */
  (function () {
    const payload = document.getElementById("gate-payload");
    if (!payload) return;
    document.addEventListener("click", function (event) {
      if (event.target.closest("input, select, textarea, label")) return;
      window.setTimeout(function () { payload.focus(); }, 0);
    });
  })();

  /* Entry page: show only the unit categories of the chosen region (the server checks them
     too). */
  (function () {
    const form = document.getElementById("entry-form");
    if (!form) return;
    const domestic = ["enterprise", "social_organisation", "public_institution", "government"];
    function sync() {
      const region = form.querySelector("input[name=region]:checked");
      form.querySelectorAll("input[name=category]").forEach(function (input) {
        const show = !region || (region.value === "mainland") === domestic.includes(input.value);
        input.closest(".form-check").hidden = !show;
        if (!show) input.checked = false;
      });
    }
    form.addEventListener("change", sync);
    sync();
  })();

  /* Invite colleagues: copy the link. */
  (function () {
    const button = document.getElementById("copy-join-url");
    if (!button) return;
    button.addEventListener("click", function () {
      const field = document.getElementById("join-url");
      function done() { button.textContent = button.dataset.copied; }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done);
      } else {
        field.select();
        document.execCommand("copy");
        done();
      }
    });
  })();

  /* Refund request: the payee's fields only for a refund to another account. */
  (function () {
    const fields = document.getElementById("payee-fields");
    if (!fields) return;
    function show() {
      const chosen = document.querySelector("input[name=route]:checked");
      fields.classList.toggle("d-none", !chosen || chosen.value !== "other_account");
    }
    document.querySelectorAll("input[name=route]").forEach(function (radio) {
      radio.addEventListener("change", show);
    });
    show();
  })();
  /* A form sent back with errors: its summary (templates/_error_summary.html) takes the focus,
     so that a screen reader reads it first and Tab leads to the links to each field. */
  (function () {
    const summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  })();

  /* Tables marked .table-stack become one card per row on a phone (static/css/portal.css):
     each cell is labelled with its column's title. */
  document.querySelectorAll("table.table-stack").forEach(function (table) {
    const titles = Array.from(table.querySelectorAll("thead th")).map(function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.from(row.children).forEach(function (cell, index) {
        if (titles[index] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", titles[index]);
      });
    });
  });

  /* Long forms in sections (.form-sections-nav): the section in view is marked in the list. */
  (function () {
    const nav = document.querySelector(".form-sections-nav");
    if (!nav || !("IntersectionObserver" in window)) return;
    const links = new Map();
    nav.querySelectorAll("a[href^='#']").forEach(function (link) {
      const section = document.getElementById(link.getAttribute("href").slice(1));
      if (section) links.set(section, link);
    });
    const observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        links.forEach(function (link) { link.classList.remove("active"); link.removeAttribute("aria-current"); });
        const link = links.get(entry.target);
        link.classList.add("active");
        link.setAttribute("aria-current", "location");
      });
    }, { rootMargin: "0px 0px -70% 0px" });
    links.forEach(function (_link, section) { observer.observe(section); });
  })();
})();
