/* 入场核验: the gate device's app (templates/credentials/gate_app.html, docs/gate.md).

   - Enrolment: /gate/app/#enrol=<token> (the organiser's one-time code) is posted to the device
     API once; the device key it answers is kept in localStorage and sent with every call.
   - The bundle (credentials, revocations, holds, rules, keys) is downloaded whole once, then
     only what changed (?since=<cursor>) every minute while online, into IndexedDB.
   - A scan (USB scanner typing into the box, or the camera with jsQR) is checked online by the
     server; when the network fails, offline by gate-check.js on the bundle, and the scan is queued
     in IndexedDB with its nonce until the server has it (a re-upload answers "duplicate").
   - 401 from the API: the organiser revoked the device; the app wipes what it held and stops.
   Texts come translated from the page (json_script "gate-texts"), URLs from "gate-config". */
(function () {
  "use strict";

  const root = document.getElementById("gate-app");
  if (!root || !window.CiieGate) return;
  const Gate = window.CiieGate;
  const T = JSON.parse(document.getElementById("gate-texts").textContent);
  const C = JSON.parse(document.getElementById("gate-config").textContent);

  const DEVICE_KEY = "ciie-gate-device";
  const REVOKED_KEY = "ciie-gate-revoked";
  const DIRECTION_KEY = "ciie-gate-direction";
  const SYNC_EVERY_MS = 60000;
  const TICK_MS = 15000;
  const ONLINE_TIMEOUT_MS = 6000;
  const BUNDLE_TIMEOUT_MS = 120000;
  const CHUNK = 5000;
  const UPLOAD_BATCH = 200;

  const $ = function (id) { return document.getElementById(id); };
  const el = {
    notice: $("gate-notice"),
    enrol: $("gate-enrol"),
    enrolForm: $("gate-enrol-form"),
    enrolLink: $("gate-enrol-link"),
    revoked: $("gate-revoked"),
    scanner: $("gate-scanner"),
    device: $("gate-device"),
    form: $("gate-scan-form"),
    payload: $("gate-app-payload"),
    cameraToggle: $("gate-camera-toggle"),
    camera: $("gate-camera"),
    video: $("gate-video"),
    canvas: $("gate-canvas"),
    result: $("gate-result"),
    verdict: $("gate-verdict"),
    reason: $("gate-reason"),
    photo: $("gate-photo"),
    holder: $("gate-holder"),
    number: $("gate-number"),
    mode: $("gate-mode"),
    online: $("gate-online"),
    queue: $("gate-queue"),
    sync: $("gate-sync"),
    count: $("gate-count"),
  };

  function format(text, values) {
    // "{name}", or "%(name)s" as in the texts the server shares with its own pages.
    return String(text).replace(/\{(\w+)\}|%\((\w+)\)s/g, function (all, brace, percent) {
      const name = brace || percent;
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : all;
    });
  }

  function plural(forms, count) {
    return format(count === 1 ? forms.one : forms.other, { count: count });
  }

  let noticeTimer = null;
  function notice(text, kind, lasting) {
    window.clearTimeout(noticeTimer);
    if (text && !lasting) noticeTimer = window.setTimeout(function () { notice(""); }, 8000);
    if (!text) { el.notice.hidden = true; return; }
    el.notice.className = "alert alert-" + (kind || "info");
    el.notice.textContent = text;
    el.notice.hidden = false;
  }

  function newNonce() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20);
  }

  /* --- The device ------------------------------------------------------------------------- */

  function loadDevice() {
    try {
      const stored = JSON.parse(localStorage.getItem(DEVICE_KEY) || "null");
      return stored && stored.key ? stored : null;
    } catch (error) {
      return null;
    }
  }

  let device = loadDevice();

  function editionNumber(value) {
    if (value && typeof value === "object") return value.number;
    return value;
  }

  /* --- IndexedDB: the bundle and the device's scans ---------------------------------------- */

  const DB_NAME = "ciie-gate";
  let dbPromise = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          const db = request.result;
          db.createObjectStore("meta", { keyPath: "key" });
          db.createObjectStore("credentials", { keyPath: "number" });
          db.createObjectStore("revoked", { keyPath: "number" });
          db.createObjectStore("held", { keyPath: "number" });
          const scans = db.createObjectStore("scans", { keyPath: "nonce" });
          scans.createIndex("number", "number");
          // Only scans still to upload carry "pending": the index holds just the queue.
          scans.createIndex("pending", "pending");
        };
        request.onsuccess = function () {
          const db = request.result;
          db.onversionchange = function () { db.close(); dbPromise = null; };
          resolve(db);
        };
        request.onerror = function () { reject(request.error); };
        request.onblocked = function () { reject(new Error("IndexedDB blocked")); };
      });
    }
    return dbPromise;
  }

  /** Runs fn(stores…) in one transaction; resolves with fn's result once it has committed.
      "relaxed" (bulk writes of the bundle, which a crash only makes download again) does not
      wait for the disk. */
  function transact(names, mode, fn, durability) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        const tx = db.transaction(names, mode, { durability: durability || "default" });
        let result;
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error || new Error("transaction aborted")); };
        result = fn.apply(null, names.map(function (name) { return tx.objectStore(name); }));
      });
    });
  }

  function requested(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function read(store, fn) {
    return openDb().then(function (db) {
      return requested(fn(db.transaction(store, "readonly").objectStore(store)));
    });
  }

  function getMeta() {
    return read("meta", function (store) { return store.get("bundle"); });
  }

  function wipeDb() {
    const closing = dbPromise
      ? dbPromise.then(function (db) { db.close(); }, function () {})
      : Promise.resolve();
    dbPromise = null;
    return closing.then(function () {
      return new Promise(function (resolve) {
        const request = indexedDB.deleteDatabase(DB_NAME);
        request.onsuccess = request.onerror = request.onblocked = function () { resolve(); };
      });
    });
  }

  /** Merges a bundle into the store: a full one replaces everything, a delta adds to it. */
  async function mergeBundle(bundle, meta) {
    const edition = editionNumber(bundle.edition);
    const full = Boolean(bundle.full) || !meta || meta.edition !== edition;
    if (full) {
      await transact(["credentials", "revoked", "held"], "readwrite", function (credentials, revoked, held) {
        credentials.clear();
        revoked.clear();
        held.clear();
      });
    }
    const credentials = bundle.credentials || [];
    for (let start = 0; start < credentials.length; start += CHUNK) {
      const chunk = credentials.slice(start, start + CHUNK);
      await transact(["credentials"], "readwrite", function (store) {
        chunk.forEach(function (credential) { store.put(credential); });
      }, "relaxed");
    }
    await transact(["revoked", "held", "meta"], "readwrite", function (revoked, held, metaStore) {
      (bundle.revoked || []).forEach(function (number) { revoked.put({ number: number }); });
      // The holds come whole with every bundle and replace the device's; "released" only
      // names the holds lifted since the cursor (a hold placed again is in "held" too).
      if (Array.isArray(bundle.held)) held.clear();
      (bundle.released || []).forEach(function (number) { held.delete(number); });
      (bundle.held || []).forEach(function (number) { held.put({ number: number }); });
      metaStore.put({
        key: "bundle",
        cursor: bundle.cursor,
        edition: edition,
        edition_name: bundle.edition_name || (meta && meta.edition_name) || "",
        keys: bundle.keys || (meta && meta.keys) || {},
        rules: bundle.rules || (meta && meta.rules) || {},
        generated_at: bundle.generated_at || null,
        synced_at: Date.now(),
      });
    });
  }

  /* --- The device API --------------------------------------------------------------------- */

  function Revoked() { this.name = "Revoked"; }
  function Offline(message) { this.name = "Offline"; this.message = message || "offline"; }

  function csrfToken() {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  /** A call to the device API; rejects with Offline when the network fails, Revoked on 401. */
  async function api(method, url, body, timeout) {
    if (!navigator.onLine) throw new Offline();
    const headers = { Accept: "application/json" };
    if (device) headers.Authorization = "Bearer " + device.key;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["X-CSRFToken"] = csrfToken();
    }
    const controller = new AbortController();
    const timer = window.setTimeout(function () { controller.abort(); }, timeout || ONLINE_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(url, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
    } catch (error) {
      throw new Offline(String(error && error.message));
    } finally {
      window.clearTimeout(timer);
    }
    if (response.status === 401 && device) {
      deviceRevoked();
      throw new Revoked();
    }
    return response;
  }

  /* --- Enrolment -------------------------------------------------------------------------- */

  function tokenFrom(text) {
    const match = /(?:^|[#&?])enrol=([^&#\s]+)/.exec(text);
    if (match) return decodeURIComponent(match[1]);
    return /^[\w.~-]+$/.test(text) ? text : null;
  }

  async function enrol(token) {
    root.dataset.state = "enrolling";
    notice(T.enrolling, "info", true);
    // Registered already (a new code for this device, or another device's): what is still
    // queued goes up under the old key first, which the new registration ends.
    if (device) await uploadPending();
    let response;
    try {
      response = await fetch(C.api.enrol, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ token: token }),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (error) {
      notice(format(T.enrol_failed, { error: String(error && error.message) }), "danger", true);
      return start();
    }
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    if (!response.ok || !data.device_key) {
      notice(format(T.enrol_failed, { error: data.error || response.status }), "danger", true);
      return start();
    }
    stopTimers();
    await wipeDb();
    device = { key: data.device_key, device: data.device || {}, edition: editionNumber(data.edition) };
    localStorage.setItem(DEVICE_KEY, JSON.stringify(device));
    localStorage.removeItem(REVOKED_KEY);
    notice(T.enrolled, "success");
    return start();
  }

  function deviceRevoked() {
    stopTimers();
    stopCamera();
    device = null;
    localStorage.removeItem(DEVICE_KEY);
    localStorage.setItem(REVOKED_KEY, "1");
    wipeDb();
    showRevoked();
  }

  /* --- Screens ---------------------------------------------------------------------------- */

  function showEnrol() {
    root.dataset.state = "enrol";
    el.scanner.hidden = true;
    el.enrol.hidden = false;
  }

  function showRevoked() {
    root.dataset.state = "revoked";
    el.scanner.hidden = true;
    el.revoked.textContent = T.revoked;
    el.revoked.hidden = false;
    el.enrol.hidden = false;
    notice("");
    updateStatus();
  }

  function showScanner() {
    root.dataset.state = "ready";
    el.enrol.hidden = true;
    el.revoked.hidden = true;
    el.scanner.hidden = false;
    const info = device.device || {};
    el.device.textContent = [info.name, info.gate].filter(Boolean).join(" · ");
    const chosen = localStorage.getItem(DIRECTION_KEY) === "out" ? "out" : "in";
    $("gate-direction-" + chosen).checked = true;
    root.classList.toggle("gate-app-exit", chosen === "out");
    keepFocus();
  }

  function direction() {
    const chosen = document.querySelector("input[name=gate-direction]:checked");
    return chosen && chosen.value === "out" ? "out" : "in";
  }

  function labelText(label, display) {
    if (display) return display;
    return label ? T.labels[label] || label : "";
  }

  function reasonText(verdict) {
    if (verdict.reason === "already_inside") {
      return format(T.reasons.already_inside, {
        time: verdict.since ? Gate.beijingClock(verdict.since) : "",
        gate: verdict.gate || "",
      });
    }
    if (verdict.reason === "no_bundle") return T.no_bundle;
    return T.reasons[verdict.reason] || verdict.message || verdict.reason;
  }

  function showVerdict(verdict) {
    el.result.hidden = false;
    el.result.dataset.admitted = verdict.admitted ? "true" : "false";
    el.result.dataset.reason = verdict.reason;
    el.result.dataset.offline = verdict.offline ? "true" : "false";
    el.result.classList.toggle("gate-app-ok", Boolean(verdict.admitted));
    el.result.classList.toggle("gate-app-refused", !verdict.admitted);
    // Restart the flash, so that two scans in a row with the same verdict are told apart.
    el.result.classList.remove("gate-app-flash");
    void el.result.offsetWidth;
    el.result.classList.add("gate-app-flash");
    el.verdict.textContent = verdict.admitted ? T.valid : T.not_valid;
    el.reason.textContent = reasonText(verdict);
    const label = labelText(verdict.label, verdict.label_display);
    el.holder.textContent = [verdict.name, label].filter(Boolean).join(" · ");
    el.number.textContent = verdict.number ? T.number + " " + verdict.number : "";
    el.mode.textContent = verdict.offline ? T.checked_offline : "";
    showPhoto(verdict.photo_url);
    if (!verdict.admitted && navigator.vibrate) navigator.vibrate([120, 60, 120]);
  }

  /* The photo on record, for the face check: fetched with the device key (a plain <img> link
     would carry none) and shown from a blob: URL, never kept. */
  let photoUrl = null;
  let photoRequest = 0;
  function showPhoto(url) {
    const request = ++photoRequest;
    el.photo.hidden = true;
    el.photo.removeAttribute("src");
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    photoUrl = null;
    if (!url) return;
    api("GET", url).then(function (response) {
      return response.ok ? response.blob() : null;
    }).then(function (blob) {
      if (!blob || request !== photoRequest) return;
      photoUrl = URL.createObjectURL(blob);
      el.photo.src = photoUrl;
      el.photo.hidden = false;
    }).catch(function () {
      // No photo is shown; the verdict stands.
    });
  }

  async function updateStatus() {
    const online = navigator.onLine;
    root.dataset.online = online ? "true" : "false";
    el.online.textContent = online ? T.online : T.offline;
    el.online.className = "badge " + (online ? "text-bg-success" : "text-bg-secondary");
    if (!device) {
      el.queue.textContent = el.sync.textContent = el.count.textContent = "";
      return;
    }
    try {
      const pending = await read("scans", function (store) { return store.index("pending").count(); });
      const meta = await getMeta();
      const count = await read("credentials", function (store) { return store.count(); });
      root.dataset.pending = String(pending);
      root.dataset.synced = meta ? "true" : "false";
      el.queue.textContent = pending ? plural(T.waiting, pending) : T.nothing_waiting;
      el.sync.textContent = meta
        ? format(T.last_sync, { time: Gate.formatBeijing(meta.synced_at).slice(5, 16).replace("T", " ") })
        : (syncing ? T.syncing : T.never_synced);
      el.count.textContent = meta ? plural(T.credentials_held, count) : "";
    } catch (error) {
      // The database is being wiped or replaced: the next update shows it again.
    }
  }

  /* --- Sync: the bundle down, the queued scans up ------------------------------------------ */

  let syncing = false;
  let uploading = false;
  let lastSyncAttempt = 0;
  let timer = null;

  let syncs = 0;
  async function sync() {
    if (syncing || !device) return;
    syncing = true;
    root.dataset.syncing = "true";
    lastSyncAttempt = Date.now();
    updateStatus();
    try {
      const meta = await getMeta();
      const since = meta && meta.cursor ? "?since=" + encodeURIComponent(meta.cursor) : "";
      const response = await api("GET", C.api.bundle + since, undefined, BUNDLE_TIMEOUT_MS);
      if (response.ok) {
        await mergeBundle(await response.json(), meta);
        root.dataset.syncs = String(++syncs);
      }
    } catch (error) {
      // Offline, or the server did not answer: the next tick tries again.
    } finally {
      syncing = false;
      root.dataset.syncing = "false";
      updateStatus();
    }
  }

  function uploadItem(scan) {
    return {
      nonce: scan.nonce,
      payload: scan.payload,
      direction: scan.direction,
      scanned_at: scan.scanned_at,
      admitted: scan.admitted,
      reason: scan.reason,
      forced: scan.forced,
    };
  }

  /** Sends a batch; resolves with the server's answer per nonce, or null to retry later. A
      batch the server refuses whole (400) is sent again one by one, so that one scan it can
      never take does not hold back the others. */
  async function sendBatch(batch) {
    const response = await api("POST", C.api.scans, { scans: batch.map(uploadItem) }, BUNDLE_TIMEOUT_MS);
    if (response.status === 400) {
      if (batch.length === 1) return { [batch[0].nonce]: { status: "invalid", error: "400" } };
      const answers = {};
      for (const scan of batch) {
        const one = await sendBatch([scan]);
        if (!one) return Object.keys(answers).length ? answers : null;
        Object.assign(answers, one);
      }
      return answers;
    }
    if (!response.ok) return null;
    const answers = {};
    ((await response.json()).results || []).forEach(function (result) {
      if (result.nonce) answers[result.nonce] = result;
    });
    return answers;
  }

  /** Uploads the queued offline scans; each one the server answers for leaves the queue
      ("created", "duplicate" for one it already has, "invalid" for one it will never take). */
  async function uploadPending() {
    if (uploading || !device || !navigator.onLine) return;
    uploading = true;
    try {
      const pending = await read("scans", function (store) { return store.index("pending").getAll(); });
      pending.sort(function (a, b) { return a.scanned_at < b.scanned_at ? -1 : 1; });
      for (let start = 0; start < pending.length; start += UPLOAD_BATCH) {
        const batch = pending.slice(start, start + UPLOAD_BATCH);
        const answered = await sendBatch(batch);
        if (!answered) break;
        await transact(["scans"], "readwrite", function (store) {
          batch.forEach(function (scan) {
            const answer = answered[scan.nonce];
            if (!answer || !answer.status) return;
            delete scan.pending;
            scan.uploaded_at = Date.now();
            scan.upload_status = answer.status;
            scan.flagged = Boolean(answer.flagged);
            store.put(scan);
          });
        });
        if (Object.keys(answered).length < batch.length) break;
      }
    } catch (error) {
      // Offline again or no answer: the queue stays and the next tick retries.
    } finally {
      uploading = false;
      updateStatus();
    }
  }

  function tick() {
    if (!device || !navigator.onLine) { updateStatus(); return; }
    if (Date.now() - lastSyncAttempt >= SYNC_EVERY_MS) sync();
    uploadPending();
  }

  function startTimers() {
    stopTimers();
    timer = window.setInterval(tick, TICK_MS);
  }

  function stopTimers() {
    if (timer) window.clearInterval(timer);
    timer = null;
  }

  window.addEventListener("online", function () {
    updateStatus();
    if (!device) return;
    uploadPending();
    sync();
  });
  window.addEventListener("offline", updateStatus);

  /* --- Checking a scan -------------------------------------------------------------------- */

  async function onlineCheck(payload, chosen, nonce, scannedAt) {
    const response = await api("POST", C.api.scan, { payload: payload, direction: chosen, nonce: nonce });
    if (!response.ok) throw new Offline("HTTP " + response.status);
    const answer = await response.json();
    // Kept as one of this device's earlier scans, for the offline checks after it.
    await transact(["scans"], "readwrite", function (store) {
      store.put({
        nonce: nonce,
        payload: payload,
        direction: chosen,
        scanned_at: scannedAt,
        admitted: Boolean(answer.admitted),
        reason: answer.reason,
        forced: false,
        number: answer.number || null,
        gate: (device.device && device.device.gate) || "",
        offline: false,
      });
    }).catch(function () {});
    return Object.assign({}, answer, { offline: false });
  }

  async function offlineCheck(payload, chosen, nonce, scannedAt) {
    const meta = await getMeta();
    if (!meta || !meta.keys || !Object.keys(meta.keys).length) {
      return { admitted: false, reason: "no_bundle", number: null, offline: true };
    }
    const parsed = Gate.parsePayload(payload);
    const number = parsed.ok ? parsed.number : null;
    let record = null;
    let revoked = false;
    let held = false;
    let earlier = [];
    if (number) {
      const found = await Promise.all([
        read("credentials", function (store) { return store.get(number); }),
        read("revoked", function (store) { return store.get(number); }),
        read("held", function (store) { return store.get(number); }),
        read("scans", function (store) { return store.index("number").getAll(number); }),
      ]);
      record = found[0] || null;
      revoked = Boolean(found[1]);
      held = Boolean(found[2]);
      earlier = found[3].map(function (scan) {
        return { number: scan.number, direction: scan.direction, at: scan.scanned_at, gate: scan.gate, admitted: scan.admitted };
      });
    }
    const issued = {};
    if (record) issued[number] = record.label || "";
    const verdict = await Gate.check(
      {
        edition: meta.edition,
        keys: meta.keys,
        issued: issued,
        revoked: revoked ? [number] : [],
        held: held ? [number] : [],
        rules: meta.rules || {},
        earlier: earlier,
      },
      { payload: payload, direction: chosen, at: scannedAt }
    );
    const name = record && record.name && verdict.number ? await Gate.decryptName(payload, record.name) : null;
    await transact(["scans"], "readwrite", function (store) {
      store.put({
        nonce: nonce,
        payload: payload,
        direction: chosen,
        scanned_at: scannedAt,
        admitted: verdict.admitted,
        reason: verdict.reason,
        forced: false,
        number: verdict.number,
        gate: (device.device && device.device.gate) || "",
        offline: true,
        pending: 1,
      });
    });
    return {
      admitted: verdict.admitted,
      reason: verdict.reason,
      number: verdict.number,
      since: verdict.since,
      gate: verdict.gate,
      name: name,
      label: record ? record.label : null,
      offline: true,
    };
  }

  async function checkScan(text) {
    const payload = String(text || "").trim();
    if (!payload || !device) return;
    const nonce = newNonce();
    const scannedAt = Gate.formatBeijing(Date.now());
    const chosen = direction();
    let verdict = null;
    try {
      verdict = await onlineCheck(payload, chosen, nonce, scannedAt);
    } catch (error) {
      if (error instanceof Revoked) return;
      verdict = null;
    }
    if (!device) return;
    if (!verdict) verdict = await offlineCheck(payload, chosen, nonce, scannedAt);
    showVerdict(verdict);
    updateStatus();
    if (verdict.offline && navigator.onLine) uploadPending();
  }

  // One scan after the other, in the order read.
  let scanning = Promise.resolve();
  function enqueueScan(text) {
    scanning = scanning.then(function () { return checkScan(text); }).catch(function (error) {
      notice(String(error && error.message), "danger");
    });
    return scanning;
  }

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = el.payload.value;
    el.payload.value = "";
    enqueueScan(text);
    keepFocus();
  });

  document.querySelectorAll("input[name=gate-direction]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      localStorage.setItem(DIRECTION_KEY, direction());
      root.classList.toggle("gate-app-exit", direction() === "out");
      keepFocus();
    });
  });

  el.enrolForm.addEventListener("submit", function (event) {
    event.preventDefault();
    const token = tokenFrom(el.enrolLink.value.trim());
    el.enrolLink.value = "";
    if (token) enrol(token);
  });

  /* --- Focus: the USB scanner types into the box, whatever was clicked --------------------- */

  const coarse = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
  function keepFocus() {
    if (el.scanner.hidden || stream || coarse) return;
    window.setTimeout(function () { el.payload.focus(); }, 0);
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("input, textarea, select, a")) return;
    keepFocus();
  });

  /* --- The camera ------------------------------------------------------------------------- */

  let stream = null;
  let lastRead = { text: "", at: 0 };
  let lastDecode = 0;

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
      notice(format(T.camera_failed, { error: "getUserMedia" }), "warning");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      stream = null;
      notice(format(T.camera_failed, { error: error && (error.name || error.message) }), "warning");
      return;
    }
    el.video.srcObject = stream;
    el.camera.hidden = false;
    el.cameraToggle.textContent = T.camera_stop;
    el.payload.blur();
    try { await el.video.play(); } catch (error) { /* muted inline video plays */ }
    window.requestAnimationFrame(readFrame);
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    el.video.srcObject = null;
    el.camera.hidden = true;
    el.cameraToggle.textContent = T.camera_start;
  }

  function readFrame(now) {
    if (!stream) return;
    if (now - lastDecode >= 150 && el.video.readyState >= el.video.HAVE_ENOUGH_DATA) {
      lastDecode = now;
      const scale = Math.min(1, 800 / Math.max(el.video.videoWidth, el.video.videoHeight));
      const width = Math.round(el.video.videoWidth * scale);
      const height = Math.round(el.video.videoHeight * scale);
      el.canvas.width = width;
      el.canvas.height = height;
      const context = el.canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(el.video, 0, 0, width, height);
      const code = window.jsQR(context.getImageData(0, 0, width, height).data, width, height, {
        inversionAttempts: "dontInvert",
      });
      // The same card held in front of the camera is one scan, not one per frame.
      if (code && code.data && !(code.data === lastRead.text && Date.now() - lastRead.at < 4000)) {
        lastRead = { text: code.data, at: Date.now() };
        enqueueScan(code.data);
      } else if (code && code.data) {
        lastRead.at = Date.now();
      }
    }
    window.requestAnimationFrame(readFrame);
  }

  el.cameraToggle.addEventListener("click", function () {
    if (stream) { stopCamera(); keepFocus(); } else startCamera();
  });

  /* --- Start ------------------------------------------------------------------------------- */

  function registerServiceWorker() {
    if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
    navigator.serviceWorker.register(C.service_worker, { scope: C.app }).catch(function () {
      // The app works without it; it only cannot open offline.
    });
  }

  function start() {
    if (!device) {
      if (localStorage.getItem(REVOKED_KEY)) showRevoked(); else showEnrol();
      updateStatus();
      return;
    }
    showScanner();
    updateStatus();
    sync().then(uploadPending);
    startTimers();
  }

  registerServiceWorker();
  const token = /enrol=/.test(location.hash) ? tokenFrom(location.hash) : null;
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  if (token) enrol(token); else start();
})();
