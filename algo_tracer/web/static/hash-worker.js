// The page's hashing worker: hashes dropped files off the main thread, so the page stays
// responsive and shows progress (docs/web.md section 2). Served with its own
// Content-Security-Policy, which allows WebAssembly compilation ('wasm-unsafe-eval') for
// hash-wasm and nothing else; the page itself keeps the stricter policy.
//
// Messages in:  {id, file}                 (a File or Blob)
// Messages out: {id, type: "progress", done, total}, then {id, type: "done", digest}
//               or {id, type: "error", message}
"use strict";

importScripts("/static/vendor/hash-wasm-4.13.0/sha256.umd.min.js", "/static/file-digest.js");

let hasher = null; // one WebAssembly instance, reused: files are hashed one after another
let queue = Promise.resolve();

async function hashOne({ id, file }) {
  try {
    if (!hasher) hasher = await self.hashwasm.createSHA256();
    let last = 0;
    const digest = await self.algoTracerFileDigest.digestBlob(file, hasher, {
      onProgress(done, total) {
        // A message per slice at most, and never more than ~20 a second.
        const now = Date.now();
        if (done === total || done === 0 || now - last >= 50) {
          last = now;
          self.postMessage({ id, type: "progress", done, total });
        }
      },
    });
    self.postMessage({ id, type: "done", digest });
  } catch (err) {
    self.postMessage({ id, type: "error", message: `${err && err.name}: ${err && err.message}` });
  }
}

self.onmessage = (event) => { queue = queue.then(() => hashOne(event.data)); };
