// Incremental SHA-256 of a File/Blob, read slice by slice: docs/web.md section 2.
//
// Shared by the page's hashing worker (hash-worker.js, through importScripts) and by the offline
// test (tests/test_web_hashing_offline.py runs it under node), so the slicing that CI checks is
// the slicing the browser runs. Only one slice is held at a time: memory stays flat whatever the
// file's size. The digest is the `file` scheme of docs/hashing.md section 2 (plain SHA-256 of
// the bytes), the same as algo_tracer.hashing.hash_file and `sha256sum`.
"use strict";

(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.algoTracerFileDigest = api;
})(typeof self !== "undefined" ? self : this, function () {
  // 8 MiB: large enough that per-slice overhead (a promise, a message to the page) is
  // negligible, small enough that a slice in flight costs little memory.
  const CHUNK_SIZE = 8 * 1024 * 1024;

  // The byte ranges [start, end) a blob of `size` bytes is read in, in order.
  function slices(size, chunkSize = CHUNK_SIZE) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad size ${size}`);
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
      throw new RangeError(`bad chunk size ${chunkSize}`);
    }
    const out = [];
    for (let start = 0; start < size; start += chunkSize) {
      out.push([start, Math.min(start + chunkSize, size)]);
    }
    return out;
  }

  // `hasher` is an incremental SHA-256 with init(), update(Uint8Array) and digest("hex") (hash-wasm's
  // createSHA256()). `onProgress(done, total)` is called after every slice.
  async function digestBlob(blob, hasher, { chunkSize = CHUNK_SIZE, onProgress } = {}) {
    const total = blob.size;
    hasher.init();
    if (onProgress) onProgress(0, total);
    for (const [start, end] of slices(total, chunkSize)) {
      const bytes = new Uint8Array(await blob.slice(start, end).arrayBuffer());
      if (bytes.length !== end - start) {
        throw new Error(`read ${bytes.length} bytes at offset ${start} instead of ` +
          `${end - start}: the file changed while it was being hashed`);
      }
      hasher.update(bytes);
      if (onProgress) onProgress(end, total);
    }
    return "sha256:" + hasher.digest("hex");
  }

  return { CHUNK_SIZE, slices, digestBlob };
});
