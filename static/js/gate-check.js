/* 入场核验, offline: the JavaScript twin of credentials/entry/rules.py (docs/gate.md).

   window.CiieGate.decide(state, scan) answers as the server would, from what the device holds:

     state = {edition, keys: {"1": "<64 hex>"}, issued: {number: label} (or a Map, or a function
              number → label|undefined), revoked: [numbers], held: [numbers],
              rules: {label: {anti_passback, exit_scans, everyone_out_at}},
              earlier: [{number, direction, at, gate, admitted}]}
     scan  = {payload, direction: "in"|"out", at: ISO 8601 with an offset (default: now)}

   → Promise of {admitted, reason, number, since, gate}, exactly the "expect" of a case of
   credentials/entry/gate_vectors.json. check() gives the same with the claims and the label.

   The reasons, in the order tested: malformed, bad_signature, unknown, revoked, held,
   not_an_entry_day, no_exit_scans, already_inside, ok. Days are Beijing dates (UTC+8, no DST).
   Ed25519 is @noble/ed25519 (static/vendor/noble-ed25519, an ES module loaded on first use);
   the script tag may name its URL in data-ed25519. */
(function (global) {
  "use strict";

  const MAX_PAYLOAD_LENGTH = 256;
  const SIGNATURE_BYTES = 64;
  const LAYOUTS = { C2: { size: 11, keyId: true }, C1: { size: 10, keyId: false } };
  const SEQUENCE_DIGITS = 7;
  const DAY_MS = 86400000;
  const BEIJING_OFFSET_MS = 8 * 3600000;
  const EPOCH_DAY = 10957; // 2000-01-01 in days since 1970-01-01
  const DEFAULT_RULE = { anti_passback: true, exit_scans: false, everyone_out_at: null };
  // What Python's str.split() splits on: the payload is normalised as "".join(text.split()).upper().
  const WHITESPACE = /[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/g;
  const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

  const script = document.currentScript;
  const ED25519_URL = script
    ? script.dataset.ed25519 || new URL("../vendor/noble-ed25519/index.js", script.src).href
    : "/static/vendor/noble-ed25519/index.js";
  let ed25519Module = null;
  function ed25519() {
    if (!ed25519Module) {
      ed25519Module = import(ED25519_URL).catch(function (error) {
        ed25519Module = null; // tried again at the next check
        throw error;
      });
    }
    return ed25519Module;
  }
  // Loaded now, while the page is surely online: the first check may be an offline one.
  ed25519().catch(function () {});

  /* --- The payload ------------------------------------------------------------------------ */

  /** The QR text as the server reads it: whitespace removed, upper case; null if unusable. */
  function normalise(payload) {
    if (typeof payload !== "string" || Array.from(payload).length > MAX_PAYLOAD_LENGTH) return null;
    return payload.replace(WHITESPACE, "").toUpperCase();
  }

  /** RFC 4648 base32 with Python's b32decode rules (the text padded with "=" to a multiple of
      eight, then 0, 1, 3, 4 or 6 pad characters allowed); null where Python raises. */
  function base32Decode(encoded) {
    const padded = encoded + "=".repeat((8 - (encoded.length % 8)) % 8);
    const stripped = padded.replace(/=+$/, "");
    const padChars = padded.length - stripped.length;
    if (![0, 1, 3, 4, 6].includes(padChars)) return null;
    const out = new Uint8Array(Math.floor((stripped.length * 5) / 8));
    let buffer = 0;
    let bits = 0;
    let index = 0;
    for (let i = 0; i < stripped.length; i++) {
      const value = BASE32.indexOf(stripped[i]);
      if (value < 0) return null;
      buffer = ((buffer << 5) | value) & 0xffff;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        if (index < out.length) out[index++] = (buffer >> bits) & 0xff;
      }
    }
    return out;
  }

  function credentialNumber(edition, sequence) {
    if (!(sequence > 0 && sequence < Math.pow(10, SEQUENCE_DIGITS))) return null;
    return String(edition).padStart(2, "0") + String(sequence).padStart(SEQUENCE_DIGITS, "0");
  }

  /** What the payload says, unverified: {ok: false, reason: "malformed"} or
      {ok: true, text, version, keyId, edition, sequence, number, firstDay, lastDay, signed,
      signature}, the days as ISO dates. */
  function parsePayload(payload) {
    const text = normalise(payload);
    if (text === null) return { ok: false, reason: "malformed" };
    const prefix = text.slice(0, 2);
    const layout = LAYOUTS[prefix];
    if (!layout) return { ok: false, reason: "malformed" };
    const raw = base32Decode(text.slice(2));
    if (raw === null || raw.length !== layout.size + SIGNATURE_BYTES) {
      return { ok: false, reason: "malformed" };
    }
    const body = raw.subarray(0, layout.size);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    let offset = 0;
    const keyId = layout.keyId ? view.getUint8(offset++) : null;
    const edition = view.getUint16(offset);
    const sequence = view.getUint32(offset + 2);
    const firstDay = view.getUint16(offset + 6);
    const lastDay = view.getUint16(offset + 8);
    const signed = new Uint8Array(2 + layout.size);
    signed.set([prefix.charCodeAt(0), prefix.charCodeAt(1)], 0);
    signed.set(body, 2);
    return {
      ok: true,
      text: text,
      version: prefix === "C2" ? 2 : 1,
      keyId: keyId,
      edition: edition,
      sequence: sequence,
      number: credentialNumber(edition, sequence),
      firstDay: isoDate(EPOCH_DAY + firstDay),
      lastDay: isoDate(EPOCH_DAY + lastDay),
      firstDayNumber: firstDay,
      lastDayNumber: lastDay,
      signed: signed,
      signature: raw.slice(layout.size),
    };
  }

  function hexToBytes(hex) {
    if (typeof hex !== "string" || !/^([0-9a-fA-F]{2})*$/.test(hex)) return null;
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  /** Whether a known key signed the parsed payload: version 2 with the key of its id,
      version 1 with each key in turn. */
  async function verifySignature(parsed, keys) {
    const ed = await ed25519();
    const entries = Object.entries(keys || {});
    const candidates = parsed.version === 2
      ? entries.filter(function (entry) { return Number(entry[0]) === parsed.keyId; })
      : entries;
    for (const entry of candidates) {
      const key = hexToBytes(entry[1]);
      if (!key || key.length !== 32) continue;
      try {
        if (await ed.verifyAsync(parsed.signature, parsed.signed, key, { zip215: false })) return true;
      } catch (error) {
        // A key or signature the library refuses verifies nothing.
      }
    }
    return false;
  }

  /* --- Time: everything in Beijing time ---------------------------------------------------- */

  const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/i;

  /** Milliseconds since the epoch of an ISO 8601 time (without an offset: Beijing time). */
  function parseTime(value) {
    if (value instanceof Date) return value.getTime();
    if (typeof value === "number") return value;
    const match = ISO.exec(String(value).trim());
    if (!match) {
      const parsed = Date.parse(value);
      if (isNaN(parsed)) throw new Error("not a time: " + value);
      return parsed;
    }
    const fraction = match[7] ? Number(("0." + match[7]).slice(0, 5)) * 1000 : 0;
    let ms = Date.UTC(+match[1], +match[2] - 1, +match[3], +match[4], +match[5], +(match[6] || 0)) +
      Math.floor(fraction);
    const zone = match[8];
    if (!zone) return ms - BEIJING_OFFSET_MS;
    if (zone.toUpperCase() === "Z") return ms;
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60000;
    return ms;
  }

  function pad(n, width) { return String(n).padStart(width || 2, "0"); }

  /** Days since 1970-01-01 of the Beijing date at ms. */
  function beijingDayIndex(ms) { return Math.floor((ms + BEIJING_OFFSET_MS) / DAY_MS); }

  function isoDate(dayIndex) {
    const d = new Date(dayIndex * DAY_MS);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }

  /** The Beijing date (YYYY-MM-DD) of a time. */
  function beijingDate(value) { return isoDate(beijingDayIndex(parseTime(value))); }

  /** A time as Python's isoformat() writes it in Asia/Shanghai: 2027-11-06T09:12:00+08:00. */
  function formatBeijing(ms) {
    const d = new Date(ms + BEIJING_OFFSET_MS);
    let text = d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      "T" + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
    if (d.getUTCMilliseconds()) text += "." + pad(d.getUTCMilliseconds(), 3) + "000";
    return text + "+08:00";
  }

  /** HH:MM in Beijing time, for the screen. */
  function beijingClock(value) {
    const d = new Date(parseTime(value) + BEIJING_OFFSET_MS);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  /** Milliseconds of "HH:MM[:SS]" on the Beijing day dayIndex. */
  function clockOnDay(dayIndex, clock) {
    const parts = String(clock).split(":").map(Number);
    return dayIndex * DAY_MS - BEIJING_OFFSET_MS +
      ((parts[0] || 0) * 3600 + (parts[1] || 0) * 60 + (parts[2] || 0)) * 1000;
  }

  /* --- The decision ------------------------------------------------------------------------ */

  function lookup(collection, number) {
    if (!collection) return undefined;
    if (typeof collection === "function") return collection(number);
    if (collection instanceof Map) return collection.get(number);
    return Object.prototype.hasOwnProperty.call(collection, number) ? collection[number] : undefined;
  }

  function contains(collection, number) {
    if (!collection) return false;
    if (typeof collection === "function") return Boolean(collection(number));
    if (collection instanceof Set || collection instanceof Map) return collection.has(number);
    if (Array.isArray(collection)) return collection.includes(number);
    return Object.prototype.hasOwnProperty.call(collection, number);
  }

  /** The rule of a label: its own, else the default label's (""), else the built-in one. */
  function ruleFor(rules, label) {
    const own = lookup(rules, label || "");
    const chosen = own !== undefined ? own : lookup(rules, "");
    return Object.assign({}, DEFAULT_RULE, chosen || {});
  }

  /** The holder's entry still open at nowMs: the last admitted scan since the start of the
      Beijing day (or since today's "everyone out" time once past), if it is an entry. */
  function openEntry(earlier, number, nowMs, rule) {
    const today = beijingDayIndex(nowMs);
    let start = today * DAY_MS - BEIJING_OFFSET_MS;
    if (rule.everyone_out_at) {
      const out = clockOnDay(today, rule.everyone_out_at);
      if (nowMs >= out) start = out;
    }
    let last = null;
    let lastMs = -Infinity;
    (earlier || []).forEach(function (scan) {
      if (scan.number !== number || !scan.admitted) return;
      const ms = parseTime(scan.at);
      if (ms < start || ms > nowMs) return;
      // The first of equal times, as Python's max() picks.
      if (ms > lastMs) { last = scan; lastMs = ms; }
    });
    return last && last.direction === "in" ? { since: formatBeijing(lastMs), gate: last.gate || "" } : null;
  }

  function answer(admitted, reason, number, extra) {
    return Object.assign(
      { admitted: admitted, reason: reason, number: number || null, since: null, gate: null },
      extra || {}
    );
  }

  /** The verdict with what the screen needs besides: {admitted, reason, number, since, gate,
      claims, label}. */
  async function check(state, scan) {
    const parsed = parsePayload(scan.payload);
    if (!parsed.ok) return answer(false, "malformed", null);
    if (!(await verifySignature(parsed, state.keys))) return answer(false, "bad_signature", null);
    const claims = parsed;
    const number = parsed.number;
    if (number === null) return answer(false, "malformed", null, { claims: claims });
    const label = lookup(state.issued, number);
    if (Number(state.edition) !== parsed.edition || label === undefined || label === null) {
      return answer(false, "unknown", number, { claims: claims });
    }
    const extra = { claims: claims, label: label };
    if (contains(state.revoked, number)) return answer(false, "revoked", number, extra);
    if (contains(state.held, number)) return answer(false, "held", number, extra);
    const nowMs = scan.at === undefined || scan.at === null ? Date.now() : parseTime(scan.at);
    const today = beijingDayIndex(nowMs) - EPOCH_DAY;
    if (today < parsed.firstDayNumber || today > parsed.lastDayNumber) {
      return answer(false, "not_an_entry_day", number, extra);
    }
    const rule = ruleFor(state.rules, label);
    const direction = scan.direction || "in";
    if (direction === "out") {
      return rule.exit_scans ? answer(true, "ok", number, extra) : answer(false, "no_exit_scans", number, extra);
    }
    if (rule.anti_passback) {
      const open = openEntry(state.earlier, number, nowMs, rule);
      if (open) return answer(false, "already_inside", number, Object.assign(extra, open));
    }
    return answer(true, "ok", number, extra);
  }

  /** Exactly the verdict: {admitted, reason, number, since, gate}. */
  async function decide(state, scan) {
    const full = await check(state, scan);
    return {
      admitted: full.admitted,
      reason: full.reason,
      number: full.number,
      since: full.since,
      gate: full.gate,
    };
  }

  /* --- The holder's name in the bundle ------------------------------------------------------ */

  function base64ToBytes(text) {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  /** The holder's name from the bundle: AES-256-GCM under SHA-256("ciie-gate-name\0" ‖ the
      normalised QR text), base64 of nonce (12 bytes) ‖ ciphertext. null if it cannot be read. */
  async function decryptName(payload, encrypted) {
    const text = normalise(payload);
    if (!text || !encrypted || !global.crypto || !global.crypto.subtle) return null;
    try {
      const encoder = new TextEncoder();
      const material = encoder.encode("ciie-gate-name\u0000" + text);
      const digest = await crypto.subtle.digest("SHA-256", material);
      const key = await crypto.subtle.importKey("raw", digest, { name: "AES-GCM" }, false, ["decrypt"]);
      const raw = base64ToBytes(encrypted);
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: raw.subarray(0, 12) }, key, raw.subarray(12)
      );
      return new TextDecoder().decode(plain);
    } catch (error) {
      return null;
    }
  }

  global.CiieGate = {
    decide: decide,
    check: check,
    parsePayload: parsePayload,
    normalise: normalise,
    verifySignature: verifySignature,
    decryptName: decryptName,
    ruleFor: ruleFor,
    beijingDate: beijingDate,
    beijingClock: beijingClock,
    formatBeijing: formatBeijing,
    parseTime: parseTime,
    DEFAULT_RULE: DEFAULT_RULE,
  };
})(window);
