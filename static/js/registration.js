/* Small helpers for the registration pages, started below from the pages' data-* attributes
   (the pages carry no inline script). Every page also works without JavaScript. */
window.Registration = (function () {
  function csrf() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, body) {
    body.append("csrfmiddlewaretoken", csrf());
    return fetch(url, {method: "POST", body: body, credentials: "same-origin",
                       headers: {"X-Requested-With": "fetch"}})
      .then(function (response) { return response.json().then(function (data) {
        return {ok: response.ok, data: data}; }); });
  }

  function feedback(button, text, isError) {
    let note = button.parentElement.querySelector(".code-feedback");
    if (!note) {
      note = document.createElement("div");
      note.className = "form-text code-feedback";
      note.setAttribute("role", "status");
      button.parentElement.appendChild(note);
    }
    note.textContent = text;
    note.classList.toggle("text-danger", !!isError);
  }

  /* "Send code" button: asks for an SMS code by fetch and counts down before the next one. */
  function codeButton(button, purpose, params) {
    if (!button) return;
    const label = button.textContent;
    function countdown(seconds) {
      button.disabled = true;
      const timer = setInterval(function () {
        seconds -= 1;
        button.textContent = label + " (" + seconds + ")";
        if (seconds <= 0) { clearInterval(timer); button.disabled = false; button.textContent = label; }
      }, 1000);
    }
    button.addEventListener("click", function (event) {
      event.preventDefault();
      const body = new FormData();
      body.append("purpose", purpose);
      const values = params();
      Object.keys(values).forEach(function (key) { body.append(key, values[key]); });
      post(button.form.dataset.codeUrl, body).then(function (result) {
        if (result.ok) {
          feedback(button, button.dataset.sent || ("✓ " + result.data.sent_to));
          countdown(result.data.wait_seconds || 60);
        } else {
          feedback(button, result.data.error, true);
          if (result.data.wait_seconds && result.data.wait_seconds < 3600) countdown(result.data.wait_seconds);
        }
      });
    });
  }

  /* Filters the options of a select by the text typed in a search box. */
  function selectFilter(input, select) {
    if (!input || !select) return;
    input.addEventListener("input", function () {
      const term = input.value.trim();
      let first = null;
      Array.from(select.options).forEach(function (option) {
        const match = !term || !option.value || option.text.indexOf(term) !== -1;
        option.hidden = !match;
        if (match && option.value && !first) first = option;
      });
      if (term && first && select.selectedOptions[0] && select.selectedOptions[0].hidden) {
        select.value = first.value;
      }
    });
  }

  /* Uploads a licence image for OCR and fills in what was read; the user checks it. */
  function licenceOcr(input, targets) {
    if (!input) return;
    const status = document.getElementById("licence-ocr-status");
    input.addEventListener("change", function () {
      if (!input.files.length) return;
      const body = new FormData();
      body.append("licence", input.files[0]);
      status.textContent = input.dataset.reading || "…";
      post(input.dataset.url, body).then(function (result) {
        const data = result.data;
        if (!result.ok) { status.textContent = data.error; status.classList.add("text-danger"); return; }
        status.classList.remove("text-danger");
        if (!data.available) { status.textContent = document.documentElement.lang === "en"
          ? "Automatic recognition is off: please type the name and code."
          : "自动识别未开启，请手动填写单位名称和统一社会信用代码。"; return; }
        if (data.name && targets.name) targets.name.value = data.name;
        if (data.uscc && targets.uscc) targets.uscc.value = data.uscc;
        status.textContent = (data.name || data.uscc)
          ? (document.documentElement.lang === "en" ? "Filled in from the licence: please check." : "已根据营业执照自动填写，请核对。")
          : (document.documentElement.lang === "en" ? "Nothing could be read: please type them." : "未能识别，请手动填写。");
      });
    });
  }

  /* Province → city → district selects fed by the divisions endpoint. */
  function divisions(root, url) {
    const levels = ["province", "city", "district"].map(function (name) {
      return root.querySelector("select[data-division=" + name + "]");
    });
    function load(index, code) {
      const select = levels[index];
      if (!select) return;
      select.innerHTML = '<option value="">—</option>';
      for (let i = index + 1; i < levels.length; i++) if (levels[i]) levels[i].innerHTML = '<option value="">—</option>';
      if (!code) return;
      fetch(url.replace("CODE", code)).then(function (r) { return r.json(); }).then(function (data) {
        data.children.forEach(function (child) { select.add(new Option(child.name, child.code)); });
      });
    }
    levels.forEach(function (select, index) {
      if (select) select.addEventListener("change", function () { load(index + 1, select.value); });
    });
  }

  /* Autosave: every 5 seconds, if anything changed, the form goes to the draft endpoint. */
  function autosave(form, url, status) {
    let last = null;
    function snapshot() {
      const data = new FormData(form);
      data.delete("licence");
      return data;
    }
    function key(data) { return JSON.stringify(Array.from(data.entries())); }
    last = key(snapshot());
    setInterval(function () {
      const data = snapshot();
      const current = key(data);
      if (current === last) return;
      post(url, data).then(function (result) {
        if (result.ok) { last = current; status.textContent = status.dataset.template.replace("TIME", result.data.saved_at); }
      });
    }, 5000);
  }

  return {codeButton: codeButton, selectFilter: selectFilter, licenceOcr: licenceOcr,
          divisions: divisions, autosave: autosave};
})();

/* What each page uses, found by its elements:
   - a form with data-subdivisions-url: province → city → district selects;
   - the unit form (#unit-form): autosave to data-autosave-url, and the licence read from
     #id_licence by data-licence-ocr-url;
   - #licence-ocr-input (sign-up): the licence read to fill in the name and code;
   - #delegation-filter: filters the delegations of #id_delegation;
   - #send-code in a form with data-code-purpose: asks for a code, sending the fields named in
     data-code-fields (space-separated, read from #id_<name>) and data-code-channel if any. */
(function () {
  "use strict";
  const R = window.Registration;
  function byId(id) { return document.getElementById(id); }

  document.querySelectorAll("form[data-subdivisions-url]").forEach(function (form) {
    R.divisions(form, form.dataset.subdivisionsUrl);
  });

  const unitForm = byId("unit-form");
  if (unitForm && unitForm.dataset.autosaveUrl) {
    R.autosave(unitForm, unitForm.dataset.autosaveUrl, byId("autosave-status"));
  }
  const licence = byId("id_licence");
  if (licence && unitForm && unitForm.dataset.licenceOcrUrl) {
    licence.dataset.url = unitForm.dataset.licenceOcrUrl;
    R.licenceOcr(licence, {name: byId("id_name")});
  }
  R.licenceOcr(byId("licence-ocr-input"), {name: byId("id_name"), uscc: byId("id_uscc")});
  R.selectFilter(byId("delegation-filter"), byId("id_delegation"));

  const send = byId("send-code");
  if (send && send.form && send.form.dataset.codePurpose) {
    const form = send.form;
    R.codeButton(send, form.dataset.codePurpose, function () {
      const values = {};
      (form.dataset.codeFields || "").split(" ").filter(Boolean).forEach(function (name) {
        const field = byId("id_" + name);
        values[name] = field ? field.value : "";
      });
      if (form.dataset.codeChannel) values.channel = form.dataset.codeChannel;
      return values;
    });
  }
})();
