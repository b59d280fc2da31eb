// Incremental SHA-256 of a File/Blob read slice by slice, or of a stream of chunks (a stored
// stage's content fetched from the server): docs/web.md section 2.
//
// Shared by the page's hashing worker (hash-worker.js, through importScripts) and by the offline
// test (tests/test_web_hashing_offline.py runs it under node), so the slicing that CI checks is
// the slicing the browser runs; files and streams go through the same loop (digestChunks). Only
// one slice or a few chunks are held at a time: memory stays flat whatever the size. The digest is the `file` scheme of docs/hashing.md section 2 (plain SHA-256 of
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

  // The one hashing loop: feeds the chunks of an (async) iterable of Uint8Arrays to `hasher`,
  // an incremental SHA-256 with init(), update(Uint8Array) and digest("hex") (hash-wasm's
  // createSHA256()). `onProgress(done, total)` is called before the first chunk and after every
  // one. With `total` known, a stream that ends short of it (or runs past it) is an error named
  // TruncatedStream, never a digest: a cut download must not look like other content.
  async function digestChunks(chunks, hasher, { total = null, onProgress } = {}) {
    hasher.init();
    let done = 0;
    if (onProgress) onProgress(0, total);
    for await (const bytes of chunks) {
      hasher.update(bytes);
      done += bytes.length;
      if (onProgress) onProgress(done, total);
    }
    if (total !== null && done !== total) {
      const err = new Error(`the content ended after ${done} of its ${total} bytes`);
      err.name = "TruncatedStream";
      throw err;
    }
    return "sha256:" + hasher.digest("hex");
  }

  // A File/Blob's bytes, slice by slice: only one slice is held at a time.
  async function* blobChunks(blob, chunkSize = CHUNK_SIZE) {
    for (const [start, end] of slices(blob.size, chunkSize)) {
      const bytes = new Uint8Array(await blob.slice(start, end).arrayBuffer());
      if (bytes.length !== end - start) {
        throw new Error(`read ${bytes.length} bytes at offset ${start} instead of ` +
          `${end - start}: the file changed while it was being hashed`);
      }
      yield bytes;
    }
  }

  // "sha256:<hex>" of a File/Blob (the dropped-file check).
  function digestBlob(blob, hasher, { chunkSize = CHUNK_SIZE, onProgress } = {}) {
    return digestChunks(blobChunks(blob, chunkSize), hasher, { total: blob.size, onProgress });
  }

  // The chunks of a fetch response's body (a ReadableStream), read as they arrive. A
  // connection that breaks off makes the reader, and so this, throw.
  async function* readerChunks(body) {
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        if (value.length) yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  // An async iterable fed from outside: the worker pushes the chunks the page posts to it.
  // `pending` is how many pushed chunks are not yet taken (0: the hashing has caught up).
  function chunkQueue() {
    const items = [];
    let waiting = null, ended = false, failure = null;
    const wake = () => { if (waiting) { const w = waiting; waiting = null; w(); } };
    return {
      get pending() { return items.length; },
      push(bytes) { items.push(bytes); wake(); },
      end() { ended = true; wake(); },
      fail(err) { failure = err; wake(); },
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (failure) throw failure;
          if (items.length) { yield items.shift(); continue; }
          if (ended) return;
          await new Promise((resolve) => { waiting = resolve; });
        }
      },
    };
  }

  return { CHUNK_SIZE, slices, digestChunks, blobChunks, digestBlob, readerChunks,
    chunkQueue };
});
