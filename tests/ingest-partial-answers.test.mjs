// Answers to requests that stop before the body is read to the end (security issue 12, item 13):
// records sent before the stop stay sent, and the answer says exactly which (`accepted`,
// `sent_through_line`, with `rejected_lines` / `unsent_lines` as exceptions), whatever its status.
// Each case checks that list against what the Pipelines double received.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { start } from "./support/harness.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertNoTrap } from "./support/ingest.mjs";
import { acceptedLines } from "./support/ingest-state.mjs";

// Small chunks: a few records each, so many are sent before any stop.
const CHUNK = 2048;
const MAX_BODY = 60_000;
let h;
before(async () => { h = await start({ ingestVars: { CHUNK_BYTES: String(CHUNK), MAX_BODY_BYTES: String(MAX_BODY) } }); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

/** `n` records whose markdown does not compress well (so gzip output comes in many pieces). */
function records(n, label) {
  const ids = Array.from({ length: n }, () => fresh(label));
  const noise = (i) => createHash("sha256").update(`${label}${i}`).digest("hex").repeat(3);
  return { ids, recs: ids.map((id, i) => rec(id, { markdown: noise(i) })) };
}

/** A stream of `bytes` in pieces of `size` (a chunked upload: no Content-Length). */
function pieces(bytes, size) {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(new Uint8Array(bytes.subarray(at, at + size)));
      at += size;
    },
  });
}

/** Asserts the answer's accepted lines are exactly the records the double received, in full. */
function assertSentAsSaid(r, ids) {
  const said = acceptedLines(r.body, ids.length);
  const got = h.recorder.accepted().map((x) => ids.indexOf(x.id) + 1);
  assert.ok(got.length > 0, "records were sent before the stop (else this case proves nothing)");
  assert.deepEqual([...got].sort((a, b) => a - b), said, "the lines the answer says were accepted are the records sent");
  assert.equal(r.body.accepted, got.length);
  assert.equal(new Set(got).size, got.length, "no record twice");
  assert.ok(r.body.valid_before_stop >= r.body.accepted);
}

// Regression: a JSON array cut at 70% answered 400 malformed-body with only `valid_before_stop`,
// hiding the records already sent (the docs listed malformed-body as "no line valid").
test("a JSON array cut mid-way → 400 malformed-body listing exactly the records already sent", async () => {
  const { ids, recs } = records(120, "arr");
  const text = JSON.stringify(recs);
  const r = await post(h, text.slice(0, Math.floor(text.length * 0.7)), { contentType: "application/json" });
  assertProblem(r, 400, "malformed-body");
  assertSentAsSaid(r, ids);
  assert.ok(r.body.sent_through_line < 120);
});

// Regression: the same for a 413 found mid-stream.
test("an NDJSON body over MAX_BODY_BYTES found mid-stream → 413 body-too-large listing exactly the records already sent", async () => {
  const { ids, recs } = records(400, "big");
  const bytes = Buffer.from(ndjson(recs));
  assert.ok(bytes.length > MAX_BODY);
  const r = await post(h, pieces(bytes, 4096), { init: { duplex: "half" } });
  assertProblem(r, 413, "body-too-large", { limit: MAX_BODY });
  assertSentAsSaid(r, ids);
});

// Regression: the same for gzip that breaks mid-stream.
test("a gzip body corrupt mid-stream → 400 bad-gzip listing exactly the records already sent", async () => {
  const { ids, recs } = records(200, "gz");
  const gz = gzipSync(ndjson(recs));
  const at = Math.floor(gz.length * 0.6);
  for (let i = at; i < at + 64; i++) gz[i] ^= 0xa5;
  const r = await post(h, pieces(gz, 512), { headers: { "content-encoding": "gzip" }, init: { duplex: "half" } });
  assertProblem(r, 400, "bad-gzip");
  assertSentAsSaid(r, ids);
});

test("a stop before anything was sent says so: sent_through_line 0, accepted 0", async () => {
  const r = await post(h, JSON.stringify(rec(fresh("obj"))), { contentType: "application/json" });
  assertProblem(r, 400, "malformed-body", { accepted: 0, sent_through_line: 0, valid_before_stop: 0 });
  assert.equal(h.recorder.calls.length, 0);
});

test("no wasm trap during the partial-answers spec", async () => {
  await assertNoTrap(h);
});
