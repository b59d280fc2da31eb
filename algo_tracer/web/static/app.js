// algo-tracer verification page: plain JavaScript, no build step, nothing loaded from elsewhere.
//
// The server (algo_tracer/web/app.py) verifies an experiment with algo_tracer.verify and returns
// its timeline. Files given to the page are hashed here, in a worker and slice by slice, SHA-256
// of the bytes exactly as algo_tracer.hashing does for files (docs/hashing.md, section 2), and
// compared with the stages' on-chain digests. No file, and no digest of one, is ever sent to the server.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const RETRY_LIMIT = 24; // indexer_behind: give up after about two minutes
  const STATUS_EVERY_MS = 15000;

  const TITLES = {
    invalid_input: "Not a valid lookup",
    unknown_app: "Unknown registry app",
    unknown_experiment: "Unknown experiment",
    network_down: "Network down",
    indexer_behind: "Indexer behind",
    network_error: "Network error",
    config_error: "Server configuration problem",
    busy: "Server busy",
    server_down: "The algo-tracer server does not answer",
    loading: "Verifying…",
  };

  const BATCH_PAGE = 100; // note batches per timeline page (the API's default)
  const page = { view: null, files: [], seq: 0, retryTimer: null, retries: 0, offset: 0 };

  // -- hashing: the `file` scheme of docs/hashing.md is plain SHA-256 of the content ----------
  //
  // Files are hashed in a Web Worker (hash-worker.js) that reads them in 8 MiB slices and feeds
  // an incremental SHA-256 (hash-wasm, vendored under static/vendor/): memory stays flat for
  // multi-GB files, the page stays responsive, and progress is reported per slice.

  const hashing = { worker: null, next: 0, pending: new Map() };

  function hashWorker() {
    if (hashing.worker) return hashing.worker;
    const worker = new Worker("/static/hash-worker.js");
    worker.onmessage = (event) => {
      const { id, type } = event.data;
      const job = hashing.pending.get(id);
      if (!job) return;
      if (type === "progress") {
        if (job.onProgress) job.onProgress(event.data.done, event.data.total);
        return;
      }
      hashing.pending.delete(id);
      if (type === "done") { job.resolve(event.data.digest); return; }
      const err = new Error(`the browser could not hash ${job.name} (${event.data.message})` +
        "; compare `sha256sum FILE` with the digests above instead");
      err.kind = event.data.name; // TruncatedStream, StreamAborted: the content did not all come
      job.reject(err);
    };
    worker.onerror = (event) => {
      // The worker itself failed (its script or hash-wasm did not load): fail every job, and
      // start a new worker for the next file.
      event.preventDefault();
      for (const job of hashing.pending.values()) {
        job.reject(new Error(`the page's hashing worker failed (${event.message || "no detail"})` +
          "; reload the page, or compare `sha256sum FILE` with the digests above"));
      }
      hashing.pending.clear();
      worker.terminate();
      hashing.worker = null;
    };
    hashing.worker = worker;
    return worker;
  }

  async function digestBytes(bytes) {
    if (!window.isSecureContext || !crypto.subtle) {
      throw new Error("this browser offers Web Crypto only on https:// pages and on " +
        "localhost; open the page through http://localhost:PORT or serve it over https");
    }
    return "sha256:" + toHex(await crypto.subtle.digest("SHA-256", bytes));
  }

  // -- params scheme v2 of docs/hashing.md §4: RFC 8785 (JCS). JSON.stringify already writes
  // numbers and strings as JCS does (ECMAScript Number::toString); keys sort by UTF-16 code
  // units, which is what Array.prototype.sort compares. NaN/Infinity are refused, as in Python.
  function jcs(value) {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new Error(`${value} has no RFC 8785 form`);
    }
    if (value === null || typeof value !== "object") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(jcs).join(",") + "]";
    return "{" + Object.keys(value).sort()
      .map((k) => JSON.stringify(k) + ":" + jcs(value[k])).join(",") + "}";
  }

  // H(tag, salt || JCS(value)) of docs/hashing.md §13, JSON scheme v2: the digest of any JSON
  // value of an experiment recorded under RFC 8785 (manifest format v3): seed, environment and
  // code snapshots ("algotrace/v2/seed", ...), the metadata digest ("algotrace/v2/metadata"),
  // a study's records and params ("algotrace-hash/v2/params"), a plan (salt: its 32 bytes),
  // the manifest's final digest ("algotrace/v3/manifest"). Scheme v1 keeps 1.0 apart from 1,
  // which a JS number cannot, so v1 digests are not recomputed here.
  async function jsonDigest(tag, value, salt) {
    const head = new TextEncoder().encode(tag + "\0");
    const body = new TextEncoder().encode(jcs(value));
    const pre = salt || new Uint8Array(0);
    const bytes = new Uint8Array(head.length + pre.length + body.length);
    bytes.set(head);
    bytes.set(pre, head.length);
    bytes.set(body, head.length + pre.length);
    return digestBytes(bytes);
  }

  // A params / metrics stage's digest from its manifest detail (params scheme v2).
  function paramsDigest(value) {
    return jsonDigest("algotrace-hash/v2/params", value);
  }

  // "sha256:<hex>" of a File or Blob; onProgress(done, total) in bytes as slices are hashed.
  function digestFile(file, onProgress) {
    return new Promise((resolve, reject) => {
      const id = ++hashing.next;
      hashing.pending.set(id, { resolve, reject, onProgress, name: file.name || "the file" });
      hashWorker().postMessage({ id, file });
    });
  }

  // "sha256:<hex>" of a stream of chunks (an async iterable of Uint8Arrays, e.g. a fetched
  // stored stage), hashed by the same worker. Chunks are transferred, never copied, and at most
  // IN_FLIGHT bytes wait in the worker: memory stays flat however large the content. `total`
  // (bytes, or null) makes a stream that ends short an error (err.kind "TruncatedStream"); a
  // stream that throws rejects with that error (err.kind "StreamAborted", err.cause the error).
  const IN_FLIGHT = 16 * 1024 * 1024;

  function digestStream(chunks, { total = null, onProgress, name = "the content" } = {}) {
    const id = ++hashing.next;
    let hashed = 0, wake = null;
    const resume = () => { if (wake) { const w = wake; wake = null; w(); } };
    let broke = null;
    const result = new Promise((resolve, reject) => {
      hashing.pending.set(id, {
        name,
        resolve,
        reject: (err) => {
          if (broke) { err.kind = "StreamAborted"; err.cause = broke; }
          reject(err);
        },
        onProgress: (done, t) => { hashed = done; if (onProgress) onProgress(done, t); resume(); },
      });
    });
    result.catch(() => {}).finally(resume);
    const worker = hashWorker();
    worker.postMessage({ id, stream: "begin", total });
    (async () => {
      let sent = 0;
      try {
        for await (const chunk of chunks) {
          if (!hashing.pending.has(id)) return; // the worker failed: stop reading
          // Only a whole buffer can be transferred; a view into a larger one is copied.
          const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength
            ? chunk : chunk.slice();
          sent += own.byteLength;
          worker.postMessage({ id, stream: "chunk", bytes: own.buffer }, [own.buffer]);
          while (sent - hashed > IN_FLIGHT && hashing.pending.has(id)) {
            await new Promise((r) => { wake = r; });
          }
        }
        worker.postMessage({ id, stream: "end" });
      } catch (err) {
        broke = err;
        worker.postMessage({ id, stream: "abort", message: `${err && err.message}` });
      }
    })();
    return result;
  }

  function matchingStages(digest, view) {
    if (!view) return [];
    return view.timeline.filter((e) => e.type === "stage" && e.digest === digest);
  }

  // -- small helpers ---------------------------------------------------------------------

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function shortDigest(digest) {
    if (!digest) return "–";
    const [alg, hex] = digest.split(":");
    return `${alg}:${hex.slice(0, 16)}…`;
  }

  function shortAddress(address) {
    return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : "–";
  }

  function utc(iso) {
    if (!iso) return "–";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 19).replace("T", " ");
  }

  function size(bytes) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit ? `${value.toFixed(1)} ${units[unit]}` : `${bytes} bytes`;
  }

  function setBodyState(state) { document.body.dataset.state = state; }

  // -- network status pill ------------------------------------------------------------------

  async function refreshStatus() {
    const pill = $("network");
    try {
      const response = await fetch("/api/status", { cache: "no-store" });
      const status = await response.json();
      const where = status.genesis_id
        ? `${status.genesis_id}${status.is_localnet ? " (LocalNet)" : ""}` : "network";
      pill.className = "pill " + ({ ok: "pill-ok", indexer_behind: "pill-warn" }[status.state]
        || "pill-down");
      pill.textContent = status.state === "ok"
        ? `${where} · round ${status.algod.round}`
        : status.state === "indexer_behind"
          ? `${where} · Indexer ${status.indexer_lag} rounds behind`
          : `network down: ${status.message}`;
      pill.title = `algod ${status.algod.url || "?"} (round ${status.algod.round ?? "–"}), ` +
        `Indexer ${status.indexer.url || "?"} (round ${status.indexer.round ?? "–"})`;
      if (status.default_app_id && !$("app-id").value) $("app-id").value = status.default_app_id;
      return status;
    } catch {
      pill.className = "pill pill-down";
      pill.textContent = "algo-tracer server does not answer";
      return null;
    }
  }

  // -- lookup -------------------------------------------------------------------------------

  function showState(state, message, fix, extra) {
    setBodyState(state);
    const box = $("state");
    box.hidden = false;
    box.className = `card state state-${state}`;
    $("state-title").textContent = TITLES[state] || state;
    $("state-message").textContent = message || "";
    $("state-fix").textContent = fix ? `Fix: ${fix}` : "";
    if (extra) $("state-message").append(el("span", ` ${extra}`, "retry"));
  }

  function clearRetry() {
    if (page.retryTimer) clearInterval(page.retryTimer);
    page.retryTimer = null;
  }

  async function lookup(appId, experimentId, { retry = false, offset = 0 } = {}) {
    clearRetry();
    if (!retry) page.retries = 0;
    page.offset = offset;
    const seq = ++page.seq;
    $("experiment").hidden = true;
    showState("loading", `Reading experiment ${experimentId} of app ${appId} from algod and ` +
      "the Indexer and checking it (the server first waits for the Indexer to catch up, " +
      "which can take a few seconds).");
    $("lookup-button").disabled = true;
    let response, body;
    try {
      response = await fetch(`/api/apps/${encodeURIComponent(appId)}/experiments/` +
        `${encodeURIComponent(experimentId)}?batch_offset=${offset}&batch_limit=${BATCH_PAGE}`,
      { cache: "no-store" });
      body = await response.json();
    } catch {
      if (seq !== page.seq) return;
      $("lookup-button").disabled = false;
      showState("server_down", "The page could not reach the algo-tracer server that serves it.",
        "check that `algo-tracer serve` is still running, then look up again");
      return;
    }
    if (seq !== page.seq) return; // a newer lookup started meanwhile
    $("lookup-button").disabled = false;
    if (!response.ok) {
      const state = body.state || (response.status < 500 ? "invalid_input" : "network_error");
      if (!body.state) body.message = `the server answered HTTP ${response.status} to this lookup`;
      if ((state === "indexer_behind" || state === "busy") && page.retries < RETRY_LIMIT) {
        page.retries += 1;
        let left = body.retry_after || 5;
        const tick = () => showState(state, body.message, body.fix,
          `Retrying in ${left} s (attempt ${page.retries} of ${RETRY_LIMIT}).`);
        tick();
        page.retryTimer = setInterval(() => {
          left -= 1;
          if (left > 0) { tick(); return; }
          clearRetry();
          lookup(appId, experimentId, { retry: true, offset });
        }, 1000);
      } else {
        showState(state, body.message || JSON.stringify(body), body.fix);
      }
      if (state === "network_down" || state === "indexer_behind") refreshStatus();
      return;
    }
    page.view = body;
    $("state").hidden = true;
    renderExperiment(body);
    setBodyState("ready");
  }

  function renderExperiment(view) {
    const report = view.report;
    $("exp-id").textContent = view.experiment_id;
    const verdict = $("verdict");
    verdict.textContent = view.verified ? "verified" : "verification failed";
    verdict.className = `badge ${view.verified ? "ok" : "bad"}`;
    $("exp-app").textContent = `app ${view.app_id} on ${view.genesis_id || "?"}`;
    $("exp-owner").textContent = report.owner || "–";
    $("exp-created").textContent = report.created_round
      ? `round ${report.created_round}, ${utc(report.created_time)} UTC` : "–";
    $("exp-seal").textContent = view.sealed
      ? `sealed in round ${report.sealed_round}, ${utc(report.sealed_time)} UTC: nothing can be added`
      : "open (not sealed): stages may still be added; an interrupted run is finished with " +
        "`algo-tracer resume`";
    $("exp-seal").className = view.sealed ? "sealed" : "open";
    $("exp-checked").textContent = `${utc(report.verified_at)} UTC at round ${report.data_round}` +
      (view.cache === "cache" ? ` (cached result, checked through round ${view.checked_round})`
        : "") +
      `, ${report.counts.events} events, ${report.counts.stages} stages` +
      (report.counts.note_records ? `, ${report.counts.note_records} note records` : "") +
      (report.counts.anchors ? `, ${report.counts.anchors} anchored ` +
        (report.counts.anchors === 1 ? "batch" : "batches") : "");
    $("exp-link").href = view.link;
    $("exp-link").textContent = new URL(view.link, location.href).href;
    renderTimeline(view);
    renderPager(view);
    window.algoTracerStudy.render(report, view.app_id, $("study-card"));  // static/study.js
    renderChecks(report);
    renderFiles();
    // Separate blocks of the page (reproductions.js) render from the same view.
    document.dispatchEvent(new CustomEvent("algotracer:experiment", { detail: view }));
    $("experiment").hidden = false;
  }

  function renderTimeline(view) {
    const body = $("timeline").querySelector("tbody");
    body.replaceChildren();
    for (const entry of view.timeline) {
      const row = el("tr", undefined, `row-${entry.type}${entry.ok ? "" : " failing"}`);
      if (entry.type === "stage") {
        row.dataset.digest = entry.digest || "";
        row.dataset.index = String(entry.index);
      }
      row.append(el("td", entry.type === "batch" ? `a${entry.index}` : entry.index ?? "–"));
      const label = el("td", entry.label);
      if (entry.kind && entry.kind !== entry.label) label.append(el("span", ` ${entry.kind}`, "sub"));
      // A stage stored on IPFS (docs/ipfs.md): its CID is on chain; link it to the gateway.
      const cid = entry.type === "stage" ? (view.report.stored_cids || {})[String(entry.index)] : null;
      if (cid) {
        const link = el("a", " IPFS", "sub ipfs-link");
        link.href = `${view.ipfs_gateway}/ipfs/${encodeURIComponent(cid)}`;
        link.title = `stored on IPFS as ${cid} (public): open it through the gateway, or ` +
          "check it here (a file) or with `algo-tracer fetch`";
        link.rel = "noopener noreferrer";
        label.append(link);
      }
      row.append(label);
      const digest = el("td", entry.type === "batch" ? "root " + entry.digest.slice(5, 17) + "…"
        : shortDigest(entry.digest), "mono");
      if (entry.digest) digest.title = entry.digest;
      row.append(digest);
      const recorder = el("td", shortAddress(entry.recorder), "mono");
      if (entry.recorder) recorder.title = entry.recorder;
      row.append(recorder);
      row.append(el("td", entry.round ?? "–"));
      row.append(el("td", utc(entry.time)));
      const status = el("td");
      const badge = el("span", entry.status.replaceAll("_", " "),
        `badge ${entry.ok ? (entry.status === "match" ? "ok" : "neutral") : "bad"}`);
      badge.title = entry.message || "";
      status.append(badge);
      row.append(status);
      row.append(el("td", "", "file-cell"));
      if (entry.txid) row.title = `transaction ${entry.txid}`;
      body.append(row);
    }
  }

  // Large experiments have hundreds of note batches: the timeline shows one page of them.
  function renderPager(view) {
    const pager = $("batch-pager");
    pager.hidden = view.batches_total <= view.batch_limit;
    const last = Math.min(view.batch_offset + view.batch_limit, view.batches_total);
    $("batch-range").textContent = ` note batches ${view.batches_total ? view.batch_offset + 1 : 0}` +
      `–${last} of ${view.batches_total} `;
    $("batch-prev").disabled = view.batch_offset === 0;
    $("batch-next").disabled = last >= view.batches_total;
  }

  function renderChecks(report) {
    const checks = $("checks");
    checks.replaceChildren();
    for (const c of report.checks) {
      checks.append(el("li", `[${c.status}] ${c.step} ${c.name}: ${c.detail}`, `check-${c.status}`));
    }
    const findings = $("findings");
    findings.replaceChildren();
    for (const f of report.findings) {
      findings.append(el("li", `${f.severity.toUpperCase()} ${f.code}: ${f.message}`,
        `finding-${f.severity}`));
    }
    const notChecked = $("not-checked");
    notChecked.replaceChildren();
    for (const text of report.not_checked) notChecked.append(el("li", `not checked: ${text}`));
  }

  // -- files ---------------------------------------------------------------------------------

  async function addFiles(fileList) {
    for (const file of Array.from(fileList)) {
      const item = { name: file.name, size: file.size, done: 0, digest: null, error: null };
      page.files.unshift(item);
      renderFiles();
      try {
        item.digest = await digestFile(file, (done) => { item.done = done; showProgress(item); });
      } catch (err) {
        item.error = err.message;
      }
      renderFiles();
    }
  }

  function renderFiles() {
    const list = $("file-results");
    list.replaceChildren();
    const cells = new Map();
    for (const row of $("timeline").querySelectorAll("tbody tr.row-stage")) {
      const cell = row.querySelector(".file-cell");
      cell.textContent = "";
      cell.className = "file-cell";
      row.classList.remove("matched");
      cells.set(row, cell);
    }
    for (const file of page.files) {
      const li = el("li", undefined, "file-result");
      li.append(el("strong", file.name), el("span", ` (${size(file.size)}) `, "sub"));
      if (file.error) {
        li.classList.add("error");
        li.append(el("span", `cannot be checked: ${file.error}`));
      } else if (!file.digest) {
        li.classList.add("pending");
        const bar = el("progress");
        bar.max = Math.max(file.size, 1);
        bar.value = file.done;
        li.append(bar, el("span", "", "progress-text"));
        file.node = li;
        showProgress(file);
      } else {
        const hits = matchingStages(file.digest, page.view);
        li.classList.add(hits.length ? "match" : "mismatch");
        li.dataset.digest = file.digest;
        if (hits.length) {
          const where = hits.map((h) => `stage ${h.index} (${h.label}), round ${h.round}, ` +
            `${utc(h.time)} UTC`).join("; ");
          li.append(el("span", `✓ matches ${where}`, "verdict-text"));
        } else {
          li.append(el("span", "✗ matches no stage of this experiment", "verdict-text"));
          li.append(el("span", " – a different file, or one the experiment traced as a " +
            "directory, table or in-memory object (see docs/hashing.md)", "sub"));
        }
        li.append(el("code", file.digest, "digest-full"));
        for (const [row, cell] of cells) {
          if (row.dataset.digest === file.digest) {
            cell.textContent = `✓ ${file.name}`;
            cell.className = "file-cell match";
            row.classList.add("matched");
          }
        }
      }
      list.append(li);
    }
  }

  // Updates one file's progress bar in place: a full re-render per slice would be wasted work.
  function showProgress(file) {
    const li = file.node;
    if (!li || !li.isConnected) return;
    const pct = file.size ? Math.floor((100 * file.done) / file.size) : 0;
    li.querySelector("progress").value = file.done;
    li.querySelector(".progress-text").textContent =
      ` hashing… ${size(file.done)} of ${size(file.size)} (${pct}%)`;
    li.dataset.progress = String(pct);
  }

  // -- wiring --------------------------------------------------------------------------------

  function fromUrl() {
    const params = new URLSearchParams(location.search);
    const app = (params.get("app") || "").trim(), id = (params.get("id") || "").trim();
    if (app) $("app-id").value = app;
    if (id) $("experiment-id").value = id;
    return app && id ? [app, id] : null;
  }

  function init() {
    setBodyState("idle");
    $("lookup").addEventListener("submit", (event) => {
      event.preventDefault();
      const app = $("app-id").value.trim(), id = $("experiment-id").value.trim();
      const url = `/?${new URLSearchParams({ app, id })}`;
      if (url !== location.pathname + location.search) history.pushState(null, "", url);
      lookup(app, id);
    });
    const turn = (delta) => {
      const view = page.view;
      if (!view) return;
      const offset = Math.max(0, view.batch_offset + delta * view.batch_limit);
      lookup(String(view.app_id), view.experiment_id, { offset });
    };
    $("batch-prev").addEventListener("click", () => turn(-1));
    $("batch-next").addEventListener("click", () => turn(1));
    window.addEventListener("popstate", () => {
      const target = fromUrl();
      if (target) lookup(...target);
    });
    const zone = $("drop-zone");
    // Dropping outside the zone must not make the browser open the file instead of the page.
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (event) => event.preventDefault());
    }
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
    });
    zone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("file-input").click(); }
    });
    $("file-input").addEventListener("change", (event) => {
      addFiles(event.target.files);
      event.target.value = ""; // the same file may be chosen again
    });
    refreshStatus();
    setInterval(refreshStatus, STATUS_EVERY_MS);
    const target = fromUrl();
    if (target) lookup(...target);
  }

  // For tests and for anyone checking the scheme from the console.
  window.algoTracer = Object.freeze({ digestBytes, digestFile, digestStream, matchingStages, jcs,
    jsonDigest, paramsDigest });
  document.addEventListener("DOMContentLoaded", init);
})();
