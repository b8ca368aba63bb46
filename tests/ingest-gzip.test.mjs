// Content-Encoding: gzip bodies are inflated as they stream, bounded by MAX_INFLATED_BYTES.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { start } from "./support/harness.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertSummary, assertNoTrap } from "./support/ingest.mjs";

const MAX_INFLATED = 1_000_000;
let h;
before(async () => { h = await start({ ingestVars: { MAX_INFLATED_BYTES: String(MAX_INFLATED) } }); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

test("a gzip NDJSON body with Content-Encoding: gzip is inflated and ingested", async () => {
  const ids = Array.from({ length: 50 }, () => fresh("gz"));
  const r = await post(h, gzipSync(ndjson([...ids.slice(0, 25).map((id) => rec(id)), "{oops", ...ids.slice(25).map((id) => rec(id))])), {
    headers: { "content-encoding": "gzip" },
  });
  assertSummary(r, 207, { accepted: 50, rejected: 1 });
  assert.equal(r.body.rejected_lines[0].line, 26);
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), ids);
});

test("x-gzip and a gzip JSON array work too", async () => {
  const [a, b] = [fresh("xgz"), fresh("xgz")];
  const r = await post(h, gzipSync(JSON.stringify([rec(a), rec(b)])), { contentType: "application/json", headers: { "content-encoding": "x-gzip" } });
  assertSummary(r, 200, { accepted: 2 });
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [a, b]);
});

test("a gzip bomb (50 MB of blank lines) → 413 body-too-large at MAX_INFLATED_BYTES, nothing sent", async () => {
  const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, "\n"), { level: 9 });
  assert.ok(bomb.length < 100_000, `the bomb is small on the wire (${bomb.length} bytes)`);
  const t0 = Date.now();
  const r = await post(h, bomb, { headers: { "content-encoding": "gzip" } });
  assertProblem(r, 413, "body-too-large", { detail: `the inflated body is larger than ${MAX_INFLATED} bytes`, limit: MAX_INFLATED });
  assert.ok(Date.now() - t0 < 10_000, "stopped early instead of inflating everything");
  assert.equal(h.recorder.calls.length, 0);
});

test("a valid record followed by 5 MB of gzipped padding → 413, nothing sent", async () => {
  // Valid records first, then padding: the limit stops reading; nothing reaches the stream
  // because no chunk filled up before the stop.
  const body = Buffer.concat([Buffer.from(ndjson([rec(fresh("pre"))])), Buffer.alloc(5 * MAX_INFLATED, " ")]);
  const r = await post(h, gzipSync(body), { headers: { "content-encoding": "gzip" } });
  assertProblem(r, 413, "body-too-large", { limit: MAX_INFLATED });
  assert.equal(h.recorder.calls.length, 0);
});

test("a truncated gzip body → 400 bad-gzip, nothing sent", async () => {
  const full = gzipSync(ndjson(Array.from({ length: 20 }, () => rec(fresh("trunc")))));
  for (const cut of [8, Math.floor(full.length / 2)]) {
    const r = await post(h, full.subarray(0, full.length - cut), { headers: { "content-encoding": "gzip" } });
    assertProblem(r, 400, "bad-gzip", { title: "Bad Request", detail: "the gzip body is invalid or truncated" });
  }
  assert.equal(h.recorder.calls.length, 0);
});

test("a body that is not gzip at all, labelled gzip → 400 bad-gzip", async () => {
  const r = await post(h, ndjson([rec(fresh("plain"))]), { headers: { "content-encoding": "gzip" } });
  assertProblem(r, 400, "bad-gzip");
  assert.equal(h.recorder.calls.length, 0);
});

test("no wasm trap during the gzip spec", async () => {
  await assertNoTrap(h);
});
