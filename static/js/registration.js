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

  /* The page's language, sent to the look-ups so that a cached answer is in the right one. */
  function withLanguage(url) {
    const lang = document.documentElement.lang || "";
    return lang ? url + (url.indexOf("?") === -1 ? "?" : "&") + "lang=" + encodeURIComponent(lang) : url;
  }

  function english() { return (document.documentElement.lang || "").indexOf("zh") !== 0; }

  /* Lower case, accents and spaces gone: "Xi'an" and "xi an" both become "xian". */
  function fold(text) {
    return (text || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[\s'’·\-]/g, "");
  }

  /* Filters the options of a select by the text typed in a search box: the option's text, or
     its data-search (pinyin, initials, English name) when the server gave one. */
  function selectFilter(input, select) {
    if (!input || !select) return;
    input.addEventListener("input", function () {
      const term = fold(input.value.trim());
      let first = null;
      Array.from(select.options).forEach(function (option) {
        const keys = fold(option.text) + " " + (option.dataset.search || "");
        const match = !term || !option.value || keys.indexOf(term) !== -1;
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

  /* Province → city → district selects fed by the divisions endpoint, with a search box above
     them: a place found in Chinese, pinyin, pinyin initials or English fills in all three. */
  function divisions(root, url) {
    const levels = ["province", "city", "district"].map(function (name) {
      return root.querySelector("select[data-division=" + name + "]");
    });
    function load(index, code) {
      const select = levels[index];
      if (!select) return Promise.resolve();
      select.innerHTML = '<option value="">—</option>';
      for (let i = index + 1; i < levels.length; i++) if (levels[i]) levels[i].innerHTML = '<option value="">—</option>';
      if (!code) return Promise.resolve();
      return fetch(withLanguage(url.replace("CODE", code))).then(function (r) { return r.json(); }).then(function (data) {
        data.children.forEach(function (child) { select.add(new Option(child.name, child.code)); });
      });
    }
    levels.forEach(function (select, index) {
      if (select) select.addEventListener("change", function () { load(index + 1, select.value); });
    });
    if (levels[0]) divisionSearch(levels, load, url.replace("CODE/", ""));
  }

  /* The search box of the division pickers (the search URL is the children URL without CODE/). */
  function divisionSearch(levels, load, url) {
    const anchor = levels[0].closest(".mb-3") || levels[0].parentElement;
    const box = document.createElement("div");
    box.className = "mb-3 division-search";
    const id = "division-search-" + Math.random().toString(36).slice(2, 8);
    const label = document.createElement("label");
    label.className = "form-label small";
    label.htmlFor = id;
    label.textContent = english() ? "Find a place (Chinese, pinyin or English)" : "搜索地区（中文、拼音或英文）";
    const input = document.createElement("input");
    input.type = "search";
    input.id = id;
    input.className = "form-control form-control-sm";
    input.placeholder = english() ? "e.g. Guangzhou, gz" : "例如：广州、guangzhou、gz";
    input.autocomplete = "off";
    const list = document.createElement("div");
    list.className = "list-group division-search-results";
    // Results are buttons in a named group (not a listbox: arrow keys are not wired up).
    list.id = id + "-results";
    list.setAttribute("role", "group");
    list.setAttribute("aria-label", label.textContent);
    list.setAttribute("aria-live", "polite");
    input.setAttribute("aria-controls", list.id);
    box.append(label, input, list);
    anchor.parentElement.insertBefore(box, anchor);

    function choose(result) {
      list.innerHTML = "";
      input.value = result.label;
      levels[0].value = result.province;
      load(1, result.province).then(function () {
        if (levels[1] && result.city) levels[1].value = result.city;
        return load(2, result.city);
      }).then(function () {
        if (levels[2] && result.district) levels[2].value = result.district;
      });
    }
    let timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      const term = input.value.trim();
      if (!term) { list.innerHTML = ""; return; }
      timer = setTimeout(function () {
        fetch(withLanguage(url + "?q=" + encodeURIComponent(term))).then(function (r) { return r.json(); }).then(function (data) {
          list.innerHTML = "";
          data.results.forEach(function (result) {
            const item = document.createElement("button");
            item.type = "button";
            item.className = "list-group-item list-group-item-action py-1 small";
            item.textContent = result.label;
            item.addEventListener("click", function () { choose(result); });
            list.appendChild(item);
          });
        });
      }, 200);
    });
  }

  /* The industry field: without script it offers the whole list (a datalist); with it, the
     classes found by the server in Chinese, pinyin, pinyin initials, English or by code. */
  function industrySearch(input, url) {
    if (!input || !url) return;
    input.removeAttribute("list");
    const list = document.createElement("div");
    list.className = "list-group industry-search-results";
    list.id = (input.id || "industry") + "-results";
    list.setAttribute("role", "group");
    list.setAttribute("aria-label", input.labels && input.labels[0] ? input.labels[0].textContent.trim() : "");
    list.setAttribute("aria-live", "polite");
    input.setAttribute("aria-controls", list.id);
    input.insertAdjacentElement("afterend", list);
    let timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      const term = input.value.trim();
      if (!term) { list.innerHTML = ""; return; }
      timer = setTimeout(function () {
        fetch(withLanguage(url + "?q=" + encodeURIComponent(term))).then(function (r) { return r.json(); }).then(function (data) {
          list.innerHTML = "";
          data.results.forEach(function (result) {
            if (result.label === input.value) return;
            const item = document.createElement("button");
            item.type = "button";
            item.className = "list-group-item list-group-item-action py-1 small";
            item.textContent = result.label;
            item.addEventListener("click", function () {
              input.value = result.label;
              list.innerHTML = "";
              input.dispatchEvent(new Event("change", {bubbles: true}));
            });
            list.appendChild(item);
          });
        });
      }, 200);
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
          divisions: divisions, autosave: autosave, industrySearch: industrySearch,
          withLanguage: withLanguage};
})();

/* What each page uses, found by its elements:
   - a form with data-subdivisions-url: province → city → district selects and a place search;
   - the unit form (#unit-form): autosave to data-autosave-url, the licence read from
     #id_licence by data-licence-ocr-url, and the industry (#id_industry) searched at the
     industries look-up, beside the divisions' one (data-subdivisions-url);
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
  if (unitForm && unitForm.dataset.subdivisionsUrl) {
    R.industrySearch(byId("id_industry"),
                     unitForm.dataset.subdivisionsUrl.replace("divisions/CODE/", "industries/"));
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
