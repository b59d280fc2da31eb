// algo-tracer verification page, the "check" button of a stage stored on IPFS (docs/web.md
// section 2). The content is fetched from this server (GET …/stored/{index}: the CID the chain
// states for the stored stage, read from the IPFS node), streamed chunk by chunk into the page's
// hashing worker (app.js digestStream, file-digest.js digestChunks: the loop that hashes dropped
// files), and its SHA-256 compared with the digest the stored stage names on chain. The page's
// Content-Security-Policy is unchanged: the browser talks to this server only.
//
// A content that does not all arrive (the node is down, the connection breaks off, fewer bytes
// than the server announced) is "not retrievable", never a mismatch. Text is set as
// textContent only, never parsed as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let shown = null; // the experiment the results list belongs to

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function size(bytes) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit ? `${value.toFixed(1)} ${units[unit]}` : `${bytes} bytes`;
  }

  // Adds a "check" button after the IPFS link of every stored file stage of the timeline.
  function render(view) {
    const key = `${view.app_id}/${view.experiment_id}`;
    if (shown !== key) { $("stored-results").replaceChildren(); shown = key; }
    for (const ref of view.report.stored || []) {
      if (ref.type !== "file") continue; // a directory: `algo-tracer fetch` checks it
      const row = $("timeline").querySelector(
        `tbody tr.row-stage[data-index="${Number(ref.named_index)}"]`);
      const link = row && row.querySelector(".ipfs-link");
      if (!link) continue;
      const button = el("button", "check", "check-stored");
      button.type = "button";
      button.dataset.stored = String(ref.index);
      button.title = `fetch ${ref.name} (${ref.cid}) through this server from the IPFS node ` +
        "and hash it in this browser";
      button.addEventListener("click", () => check(view, ref, button));
      link.after(" ", button);
    }
  }

  // Fetches and hashes the content: {state: "hashed", digest} | {state: "not_retrievable" |
  // "error", message, fix}.
  async function fetchAndHash(view, ref, onProgress) {
    const url = `/api/apps/${encodeURIComponent(view.app_id)}/experiments/` +
      `${encodeURIComponent(view.experiment_id)}/stored/${encodeURIComponent(ref.index)}`;
    let response;
    try {
      response = await fetch(url, { cache: "no-store" });
    } catch {
      return { state: "not_retrievable", message: "the algo-tracer server did not answer",
        fix: "check that `algo-tracer serve` is still running, then check again" };
    }
    if (!response.ok) {
      let problem = {};
      try { problem = await response.json(); } catch { /* not a Problem: the status says it */ }
      const lost = problem.state === "not_retrievable" || [502, 504].includes(response.status);
      return { state: lost ? "not_retrievable" : "error",
        message: problem.message || `the server answered HTTP ${response.status}`,
        fix: problem.fix };
    }
    const length = response.headers.get("Content-Length");
    const total = length !== null && /^[0-9]+$/.test(length) ? Number(length) : null;
    try {
      const digest = await window.algoTracer.digestStream(
        window.algoTracerFileDigest.readerChunks(response.body),
        { total, onProgress, name: ref.name });
      return { state: "hashed", digest };
    } catch (err) {
      if (err.kind === "TruncatedStream" || err.kind === "StreamAborted") {
        const why = err.cause ? `${err.cause.name}: ${err.cause.message}` : err.message;
        return { state: "not_retrievable",
          message: `the content stopped arriving before its end (${why})`,
          fix: "check the IPFS node (ALGO_TRACER_IPFS_API of the server), then check again" };
      }
      return { state: "error", message: err.message };
    }
  }

  async function check(view, ref, button) {
    button.disabled = true;
    const li = el("li", undefined, "file-result stored-result pending");
    li.dataset.stored = String(ref.index);
    li.append(el("strong", ref.stage),
      el("span", ` (${ref.name}, stored stage ${ref.index}, ${ref.cid}) `, "sub"));
    const bar = el("progress");
    const text = el("span", " fetching from the IPFS node…", "progress-text");
    li.append(bar, text);
    $("stored-results").prepend(li);
    let last = 0;
    const outcome = await fetchAndHash(view, ref, (done, total) => {
      const now = Date.now();
      if (now - last < 100 && done !== total) return; // a DOM update ~10 times a second
      last = now;
      if (total) { bar.max = Math.max(total, 1); bar.value = done; }
      text.textContent = ` hashing… ${size(done)}` + (total ? ` of ${size(total)} ` +
        `(${Math.floor((100 * done) / Math.max(total, 1))}%)` : "");
      li.dataset.done = String(done);
    });
    button.disabled = false;
    bar.remove();
    text.remove();
    li.classList.remove("pending");
    show(li, view, ref, outcome);
  }

  function show(li, view, ref, outcome) {
    if (outcome.state !== "hashed") {
      li.classList.add(outcome.state === "not_retrievable" ? "unretrievable" : "error");
      li.append(el("span", outcome.state === "not_retrievable" ? "not retrievable: "
        : "cannot be checked: ", "verdict-text"), el("span", outcome.message));
      if (outcome.fix) li.append(el("span", ` Fix: ${outcome.fix}`, "sub"));
      return;
    }
    // The stored stage names the content's digest; for a data, model or artifact file it is
    // also the named stage's own on-chain digest. Say which was compared, and whether they agree.
    const expected = `sha256:${ref.digest}`;
    const named = view.timeline.find((e) => e.type === "stage" && e.index === ref.named_index);
    const same = named && named.digest === expected;
    const which = `the digest stored stage ${ref.index} names on chain` + (same
      ? `, which is stage ${ref.named_index} (${ref.stage})'s on-chain digest`
      : `; stage ${ref.named_index}'s own on-chain digest is ${named && named.digest} ` +
        "(not the same: see the checks)");
    if (outcome.digest === expected) {
      li.classList.add("match");
      li.append(el("span", "✓ matches the on-chain digest", "verdict-text"),
        el("span", ` – SHA-256 of the ${ref.name} served for ${ref.cid} equals ${which}`, "sub"));
    } else {
      li.classList.add("mismatch");
      li.append(el("span", "✗ DOES NOT match the on-chain digest", "verdict-text"),
        el("span", ` – the content served for ${ref.cid} hashes to ${outcome.digest}, not ` +
          `${expected}, ${which}: this is not the recorded ${ref.name}`, "sub"));
    }
    li.dataset.digest = outcome.digest;
    li.append(el("code", outcome.digest, "digest-full"));
  }

  document.addEventListener("algotracer:experiment", (event) => render(event.detail));
})();
