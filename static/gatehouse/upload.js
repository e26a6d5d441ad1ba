// Uploads from the browser, the way the Hub client uploads: each file's sha256, then preupload
// (which files go to LFS), the LFS batch API (single PUT, or the multipart transfer in parts of
// the size the server sets, straight to the signed URLs: the local store or an S3 bucket), each
// request retried after a dropped connection, then one commit once every file has arrived.
// Progress per file and in all, with the time left. Hashing streams each file through js-sha256
// (static/vendor, MIT; WebCrypto has no incremental digest and would read a file whole), so
// large files are never held in memory. Without the script the form posts as before.
"use strict";

(() => {
  const form = document.querySelector("form[data-upload-form][data-api]");
  if (!form || !window.sha256 || !window.fetch) return;

  const HASH_SLICE = 8 * 1024 * 1024;
  const MAX_ATTEMPTS = 8; // per request: 7 retries, from half a second apart to 30 s (a minute in all)
  const RETRYABLE = new Set([0, 408, 425, 429, 500, 502, 503, 504]);
  const LFS_JSON = "application/vnd.git-lfs+json";
  const panel = document.querySelector("[data-upload-progress]");
  const list = panel.querySelector("[data-file-list]");
  const totalBar = panel.querySelector("[data-total-bar]");
  const totalText = panel.querySelector("[data-total-text]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  class Refused extends Error {} // a 4xx or an LFS object error: retrying cannot help

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function online() {
    if (navigator.onLine !== false) return Promise.resolve();
    return new Promise((resolve) => window.addEventListener("online", resolve, { once: true }));
  }

  function size(bytes) {
    const units = ["bytes", "KB", "MB", "GB", "TB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
  }

  function duration(seconds) {
    if (!Number.isFinite(seconds)) return "";
    const s = Math.max(1, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  // One request with XMLHttpRequest (fetch has no upload progress). Resolves with the xhr
  // whatever its status; rejects only when no answer came (a dropped connection).
  function send(method, url, body, { headers = {}, onProgress } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => reject(new Error("the connection was lost"));
      xhr.ontimeout = () => reject(new Error("the request timed out"));
      xhr.onabort = () => reject(new Error("the request was aborted"));
      xhr.send(body);
    });
  }

  function errorOf(xhr) {
    const header = xhr.getResponseHeader("X-Error-Message");
    if (header) return header;
    try {
      const body = JSON.parse(xhr.responseText);
      return body.error || body.message || `HTTP ${xhr.status}`;
    } catch {
      return `HTTP ${xhr.status}`;
    }
  }

  // Runs `attempt` until it answers 2xx; a lost connection or a 5xx/429 is retried with
  // back-off (once the browser is online again), anything else is a refusal.
  async function withRetries(label, attempt, onRetry) {
    for (let number = 1; ; number += 1) {
      let xhr = null;
      let failure = "";
      try {
        xhr = await attempt();
        if (xhr.status >= 200 && xhr.status < 300) return xhr;
        failure = errorOf(xhr);
        if (!RETRYABLE.has(xhr.status)) throw new Refused(`${label}: ${failure}`);
      } catch (error) {
        if (error instanceof Refused) throw error;
        failure = error.message;
      }
      if (number >= MAX_ATTEMPTS) throw new Error(`${label}: ${failure} (tried ${number} times)`);
      if (onRetry) onRetry(number, failure);
      const base = Number(form.dataset.retryBaseMs || 500); // half a second; tests set it shorter
      await sleep(Math.min(60 * base, base * 2 ** (number - 1)));
      await online();
    }
  }

  const jsonHeaders = { "Content-Type": "application/json", "X-CSRFToken": csrf };

  async function base64Of(blob) {
    const url = await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
    return url.slice(url.indexOf(",") + 1);
  }

  // --- progress -------------------------------------------------------------------------------
  const started = { at: 0, samples: [] };

  function track(entry, text) {
    if (text !== undefined) entry.status.textContent = text;
    entry.bar.value = entry.file.size ? entry.sent / entry.file.size : entry.done ? 1 : 0;
    entry.row.dataset.sent = String(entry.sent);
  }

  function showTotal(entries) {
    const total = entries.reduce((sum, entry) => sum + entry.file.size, 0);
    const sent = entries.reduce((sum, entry) => sum + entry.sent, 0);
    const now = performance.now();
    started.samples.push([now, sent]);
    while (started.samples.length > 2 && now - started.samples[0][0] > 10000) started.samples.shift();
    const [then, before] = started.samples[0];
    const rate = now > then ? ((sent - before) * 1000) / (now - then) : 0;
    const left = rate > 0 ? duration((total - sent) / rate) : "";
    totalBar.value = total ? sent / total : 0;
    totalText.textContent = `${size(sent)} of ${size(total)}${left ? ` · about ${left} left` : ""}`;
  }

  // --- the steps --------------------------------------------------------------------------------
  async function hashAll(entries) {
    for (const entry of entries) {
      if (entry.oid) continue; // hashed by an earlier try
      const hash = window.sha256.create();
      for (let start = 0; start < entry.file.size; start += HASH_SLICE) {
        track(entry, `hashing ${Math.floor((100 * start) / entry.file.size)}%`);
        hash.update(await entry.file.slice(start, start + HASH_SLICE).arrayBuffer());
      }
      entry.oid = hash.hex();
      entry.sample = await base64Of(entry.file.slice(0, 512));
    }
  }

  async function preupload(entries) {
    if (entries.every((entry) => entry.mode)) return;
    const body = JSON.stringify({
      files: entries.map((entry) => ({ path: entry.path, size: entry.file.size, sample: entry.sample })),
    });
    const xhr = await withRetries("Preparing the upload", () =>
      send("POST", `${form.dataset.api}/preupload/${encodeURIComponent(form.dataset.revision)}`, body, {
        headers: jsonHeaders,
      }),
    );
    const modes = new Map(JSON.parse(xhr.responseText).files.map((item) => [item.path, item.uploadMode]));
    for (const entry of entries) {
      entry.mode = modes.get(entry.path) || "regular";
      entry.lfs = entry.mode === "lfs";
    }
  }

  async function uploadPart(entry, url, blob, label, partsDone) {
    const xhr = await withRetries(
      label,
      () =>
        send("PUT", url, blob, {
          onProgress: (loaded) => {
            entry.sent = partsDone() + loaded;
            track(entry);
            showTotal(entriesInFlight);
          },
        }),
      (attempt, reason) => {
        entry.retries += 1;
        entry.row.dataset.retries = String(entry.retries);
        entry.sent = partsDone();
        track(entry, `${label}: ${reason}; retrying (attempt ${attempt + 1})`);
        showTotal(entriesInFlight);
      },
    );
    return xhr;
  }

  // A multipart upload's parts that arrived (their ETags) are kept on the entry: a new try after a
  // failure sends only the missing ones, while the batch's signed URLs are still valid.
  async function transfer(entry, answer) {
    const upload = answer.actions && answer.actions.upload;
    if (!upload) {
      entry.sent = entry.file.size;
      track(entry, "already on the server");
      return;
    }
    const header = upload.header || {};
    if (header.chunk_size) {
      const chunk = Number(header.chunk_size);
      const count = Math.ceil(entry.file.size / chunk);
      const length = (number) => Math.min(entry.file.size, number * chunk) - (number - 1) * chunk;
      const arrived = () => entry.parts.reduce((sum, part) => (part ? sum + length(part.partNumber) : sum), 0);
      for (let number = 1; number <= count; number += 1) {
        if (entry.parts[number - 1]) continue;
        const blob = entry.file.slice((number - 1) * chunk, (number - 1) * chunk + length(number));
        track(entry, `uploading part ${number} of ${count}`);
        const xhr = await uploadPart(entry, header[String(number)], blob, `Part ${number} of ${entry.path}`, arrived);
        entry.parts[number - 1] = { partNumber: number, etag: xhr.getResponseHeader("ETag") || "" };
        entry.sent = arrived();
      }
      track(entry, "assembling");
      await withRetries(`Completing ${entry.path}`, () =>
        send("POST", upload.href, JSON.stringify({ oid: entry.oid, parts: entry.parts }), {
          headers: { "Content-Type": LFS_JSON },
        }),
      );
    } else {
      track(entry, "uploading");
      await uploadPart(entry, upload.href, entry.file, `Uploading ${entry.path}`, () => 0);
      entry.sent = entry.file.size;
    }
    const verify = answer.actions.verify;
    if (verify) {
      track(entry, "verifying");
      await withRetries(`Verifying ${entry.path}`, () =>
        send("POST", verify.href, JSON.stringify({ oid: entry.oid, size: entry.file.size }), {
          headers: { "Content-Type": LFS_JSON, Accept: LFS_JSON, "X-CSRFToken": csrf },
        }),
      );
    }
  }

  function stillValid(entry) {
    const upload = entry.answer && entry.answer.actions && entry.answer.actions.upload;
    const lifetime = upload && upload.expires_in ? Number(upload.expires_in) : 0;
    return Boolean(entry.answer) && (!upload || (performance.now() - entry.answeredAt) / 1000 < lifetime - 60);
  }

  async function uploadLfs(entries) {
    const byOid = new Map();
    for (const entry of entries.filter((item) => item.lfs && !item.done)) {
      if (!byOid.has(entry.oid)) byOid.set(entry.oid, []);
      byOid.get(entry.oid).push(entry);
    }
    const firsts = [...byOid.values()].map(([first]) => first);
    const ask = firsts.filter((entry) => !stillValid(entry));
    if (ask.length) {
      const objects = ask.map((entry) => ({ oid: entry.oid, size: entry.file.size }));
      const body = JSON.stringify({ operation: "upload", transfers: ["basic", "multipart"], objects, hash_algo: "sha256" });
      const xhr = await withRetries("Asking where to upload", () =>
        send("POST", form.dataset.lfs, body, {
          headers: { "Content-Type": LFS_JSON, Accept: LFS_JSON, "X-CSRFToken": csrf },
        }),
      );
      for (const answer of JSON.parse(xhr.responseText).objects) {
        const [first] = byOid.get(answer.oid);
        if (answer.error) throw new Refused(`${first.path}: ${answer.error.message}`);
        first.answer = answer; // a new upload: the parts of an earlier one are not part of it
        first.answeredAt = performance.now();
        first.parts = [];
      }
    }
    for (const first of firsts) {
      await transfer(first, first.answer);
      for (const entry of byOid.get(first.oid)) {
        entry.sent = entry.file.size;
        entry.done = true;
        track(entry, "uploaded");
      }
      showTotal(entriesInFlight);
    }
  }

  async function commit(entries) {
    const summary = form.querySelector("[name=summary]").value || `Upload ${entries.length} file(s)`;
    const description = form.querySelector("[name=description]").value;
    const lines = [JSON.stringify({ key: "header", value: { summary, description } })];
    for (const entry of entries) {
      if (entry.lfs) {
        lines.push(JSON.stringify({ key: "lfsFile", value: { path: entry.path, algo: "sha256", oid: entry.oid, size: entry.file.size } }));
      } else {
        const content = await base64Of(entry.file);
        lines.push(JSON.stringify({ key: "file", value: { path: entry.path, encoding: "base64", content } }));
      }
    }
    const body = new Blob([lines.join("\n") + "\n"], { type: "application/x-ndjson" });
    const xhr = await withRetries("Committing", () =>
      send("POST", `${form.dataset.api}/commit/${encodeURIComponent(form.dataset.revision)}`, body, {
        headers: { "Content-Type": "application/x-ndjson", "X-CSRFToken": csrf },
        onProgress: () => showTotal(entriesInFlight),
      }),
    );
    return JSON.parse(xhr.responseText);
  }

  // --- the form --------------------------------------------------------------------------------
  let entriesInFlight = [];
  let chosenKey = "";

  function keyOf(chosen) {
    return JSON.stringify(chosen.map(({ file, path }) => [path, file.size, file.lastModified]));
  }

  function chosenFiles() {
    const directory = form.querySelector("[name=directory]").value.replace(/^\/+|\/+$/g, "");
    const chosen = [];
    for (const input of form.querySelectorAll("input[type=file][name=files]")) {
      for (const file of input.files) {
        const relative = (file.webkitRelativePath || file.name).replace(/^\/+/, "");
        chosen.push({ file, path: directory ? `${directory}/${relative}` : relative });
      }
    }
    return chosen;
  }

  function rowFor(entry) {
    const row = document.createElement("li");
    row.dataset.testid = "upload-file";
    row.dataset.path = entry.path;
    row.dataset.retries = "0";
    const name = document.createElement("code");
    name.textContent = entry.path;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    const status = document.createElement("span");
    status.className = "muted";
    status.textContent = `${size(entry.file.size)} · waiting`;
    row.append(name, " ", bar, " ", status);
    list.append(row);
    const state = { sent: 0, retries: 0, done: false, mode: "", lfs: false, oid: "", answer: null, parts: [] };
    return { ...entry, row, bar, status, ...state };
  }

  form.addEventListener("submit", async (event) => {
    const chosen = chosenFiles();
    if (!chosen.length) return; // the server answers the empty form with its message
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    panel.hidden = false;
    panel.dataset.state = "uploading";
    const error = panel.querySelector("[data-upload-error]");
    error.hidden = true;
    // The same files again (after a failure): what was hashed, answered and uploaded is kept.
    if (keyOf(chosen) !== chosenKey) {
      list.replaceChildren();
      entriesInFlight = chosen.map(rowFor);
      chosenKey = keyOf(chosen);
    }
    started.at = performance.now();
    started.samples = [];
    showTotal(entriesInFlight);
    try {
      await hashAll(entriesInFlight);
      await preupload(entriesInFlight);
      await uploadLfs(entriesInFlight);
      for (const entry of entriesInFlight) {
        if (!entry.lfs) track(entry, "sent with the commit");
      }
      totalText.textContent = "Committing…";
      const result = await commit(entriesInFlight);
      for (const entry of entriesInFlight) {
        entry.sent = entry.file.size;
        track(entry, "committed");
      }
      showTotal(entriesInFlight);
      panel.dataset.state = "committed";
      totalText.textContent = `Committed ${result.commitOid.slice(0, 7)}.`;
      window.location.assign(form.dataset.done);
    } catch (failure) {
      panel.dataset.state = "failed";
      error.textContent = `${failure.message} Nothing was committed yet: choose Commit changes to go on (what arrived is not sent again).`;
      error.hidden = false;
      button.disabled = false;
    }
  });
})();
