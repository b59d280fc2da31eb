// The page's hashing worker: hashes dropped files, and the content of stored stages as the page
// fetches it, off the main thread, so the page stays responsive and shows progress (docs/web.md
// section 2). Served with its own Content-Security-Policy, which allows WebAssembly compilation
// ('wasm-unsafe-eval') for hash-wasm and nothing else; the page itself keeps the stricter policy.
//
// Messages in:  {id, file}                          a File or Blob to hash
//               {id, stream: "begin", total}        a stream of chunks starts (total: bytes, or null)
//               {id, stream: "chunk", bytes}        its next chunk (an ArrayBuffer, transferred)
//               {id, stream: "end"}                 it ended
//               {id, stream: "abort", message}      it broke off: no digest
// Messages out: {id, type: "progress", done, total}, then {id, type: "done", digest}
//               or {id, type: "error", name, message}
// A stream's progress is also sent whenever the worker has hashed every chunk it was given, so
// the page, which keeps only a few MiB in flight, always learns when to send more.
"use strict";

importScripts("/static/vendor/hash-wasm-4.13.0/sha256.umd.min.js", "/static/file-digest.js");

let hasher = null; // one WebAssembly instance, reused: files are hashed one after another
let queue = Promise.resolve();
const streams = new Map(); // id -> chunkQueue of a stream being hashed

function reporter(id, caughtUp) {
  let last = 0;
  return (done, total) => {
    // A message per slice at most, and never more than ~20 a second.
    const now = Date.now();
    if (done === total || done === 0 || now - last >= 50 || caughtUp()) {
      last = now;
      self.postMessage({ id, type: "progress", done, total });
    }
  };
}

function failed(id, err) {
  self.postMessage({ id, type: "error", name: err && err.name,
    message: `${err && err.name}: ${err && err.message}` });
}

async function hashOne({ id, file }) {
  try {
    if (!hasher) hasher = await self.hashwasm.createSHA256();
    const digest = await self.algoTracerFileDigest.digestBlob(file, hasher, {
      onProgress: reporter(id, () => false),
    });
    self.postMessage({ id, type: "done", digest });
  } catch (err) {
    failed(id, err);
  }
}

// A stream has a hasher of its own: it runs beside the file queue, not after it.
async function hashStream(id, total) {
  const chunks = self.algoTracerFileDigest.chunkQueue();
  streams.set(id, chunks);
  try {
    const own = await self.hashwasm.createSHA256();
    const digest = await self.algoTracerFileDigest.digestChunks(chunks, own, {
      total, onProgress: reporter(id, () => chunks.pending === 0),
    });
    self.postMessage({ id, type: "done", digest });
  } catch (err) {
    failed(id, err);
  } finally {
    streams.delete(id);
  }
}

self.onmessage = (event) => {
  const message = event.data;
  if (!message.stream) {
    queue = queue.then(() => hashOne(message));
    return;
  }
  if (message.stream === "begin") { hashStream(message.id, message.total ?? null); return; }
  const chunks = streams.get(message.id);
  if (!chunks) return;
  if (message.stream === "chunk") chunks.push(new Uint8Array(message.bytes));
  else if (message.stream === "end") chunks.end();
  else {
    const err = new Error(message.message || "the stream broke off");
    err.name = "StreamAborted";
    chunks.fail(err);
  }
};
