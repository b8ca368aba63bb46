// Streaming: a 100 MB NDJSON body sent as a stream of ~1 MiB pieces (cut mid-line) is read as it
// arrives and sent in chunks of at most CHUNK_BYTES (default 1,000,000) — never buffered whole.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { start } from "./support/harness.mjs";
import { post, fresh, assertSummary, assertNoTrap } from "./support/ingest.mjs";

const TOTAL_BYTES = 100_000_000;
const LINE_BYTES = 4_000; // with its "\n"
const RECORDS = TOTAL_BYTES / LINE_BYTES; // 25,000: under the default 100,000 per request
const PIECE = 1024 * 1024;
const CHUNK_DEFAULT = 1_000_000;

let h;
before(async () => { h = await start(); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

/** Linux: resident set of the workerd processes Miniflare started (children of this process). */
function workerdRss() {
  let rss = 0, hwm = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      if (ppid !== process.pid || !/^Name:\s+workerd/m.test(status)) continue;
      rss += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
      hwm += Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
    } catch {}
  }
  return { rss, hwm };
}

/** The body: RECORDS lines of exactly LINE_BYTES, produced lazily in PIECE-byte pieces. */
function body(prefix) {
  const enc = new TextEncoder();
  let next = 0;
  let pending = Buffer.alloc(0);
  let produced = 0;
  const line = (i) => {
    const head = `{"ns":"docs","type":"stream","id":"${prefix}-${String(i).padStart(6, "0")}","markdown":"`;
    const tail = `"}\n`;
    return head + "m".repeat(LINE_BYTES - head.length - tail.length) + tail;
  };
  const stream = new ReadableStream({
    pull(controller) {
      while (pending.length < PIECE && next < RECORDS) {
        const lines = [];
        for (let k = 0; k < 256 && next < RECORDS; k++) lines.push(line(next++));
        pending = Buffer.concat([pending, enc.encode(lines.join(""))]);
      }
      if (pending.length === 0) return controller.close();
      const piece = pending.subarray(0, PIECE);
      pending = pending.subarray(piece.length);
      produced += piece.length;
      controller.enqueue(new Uint8Array(piece));
    },
  });
  return { stream, produced: () => produced, idOf: (i) => `${prefix}-${String(i).padStart(6, "0")}` };
}

/** The ingest instance's wasm linear memory (its peak: it never shrinks), from /$.health. */
async function wasmMemory() {
  const body = await (await h.ingest("/$.health")).json();
  assert.equal(typeof body.memory_bytes, "number", "/$.health reports memory_bytes");
  return body.memory_bytes;
}

test(`a ${TOTAL_BYTES / 1e6} MB streamed NDJSON body is accepted in full, in chunks ≤ ${CHUNK_DEFAULT} bytes`, { timeout: 120_000 }, async () => {
  const prefix = fresh("big");
  const b = body(prefix);
  const memBefore = await wasmMemory();
  const before = workerdRss();
  let peak = before.rss;
  const sampler = setInterval(() => { peak = Math.max(peak, workerdRss().rss); }, 100);
  const t0 = Date.now();
  let r;
  try {
    r = await post(h, b.stream, { init: { duplex: "half" } });
  } finally {
    clearInterval(sampler);
  }
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(b.produced(), TOTAL_BYTES, "the whole body was produced (and so read)");
  assertSummary(r, 200, { accepted: RECORDS, rejected: 0, deduped: 0 });

  const calls = h.recorder.calls;
  let maxBytes = 0;
  let count = 0;
  for (const [i, c] of calls.entries()) {
    const bytes = Buffer.byteLength(JSON.stringify(c.records));
    maxBytes = Math.max(maxBytes, bytes);
    assert.ok(c.ok, `call ${i} ok`);
    assert.ok(bytes <= CHUNK_DEFAULT, `call ${i} carries ${bytes} bytes > ${CHUNK_DEFAULT}`);
    count += c.records.length;
  }
  assert.equal(count, RECORDS, "every record sent once");
  const ids = new Set(h.recorder.accepted("build").map((x) => x.id));
  assert.equal(ids.size, RECORDS, "no record twice");
  for (const i of [0, 1, RECORDS / 2, RECORDS - 1]) assert.ok(ids.has(b.idOf(i)), `record ${i} arrived`);

  const memAfter = await wasmMemory();
  const after = workerdRss();
  const mb = (n) => (n / 1e6).toFixed(1);
  console.log(
    `streamed ${mb(TOTAL_BYTES)} MB in ${seconds.toFixed(1)} s: accepted ${r.body.accepted} records in ${calls.length} send calls ` +
      `(largest ${maxBytes} bytes); ingest wasm linear memory ${mb(memBefore)} MB before, ${mb(memAfter)} MB after (peak); ` +
      `workerd RSS (all isolates, incl. the Pipelines double and JS garbage) ${mb(before.rss)} MB before, ` +
      `peak ${mb(peak)} MB sampled during, ${mb(after.rss)} MB after`,
  );
  // Bounded by one read, one line, one open chunk and three chunks in flight (a few MB each);
  // a body buffered whole would need at least its own size (observed: ~11 MB). RSS is only
  // printed: it includes the double's isolate and V8 garbage, not the ingest worker's working set.
  assert.ok(memAfter < 32 * 1024 * 1024, `ingest wasm memory peaked at ${mb(memAfter)} MB for a ${mb(TOTAL_BYTES)} MB body`);
  h.recorder.reset(); // free ~100 MB of recorded records
});

test("no wasm trap during the streaming spec", async () => {
  await assertNoTrap(h);
});
