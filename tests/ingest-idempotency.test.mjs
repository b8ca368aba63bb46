// X-Idempotency-Key: per org; a replay returns the stored answer without sending again, another
// body under the same key is 422, the same key while the first request runs is 409.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { start } from "./support/harness.mjs";
import { mint } from "./support/token.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertSummary, assertNoTrap, until } from "./support/ingest.mjs";

let h;
before(async () => { h = await start({ ingestVars: { SEND_ATTEMPTS: "2", SEND_TIMEOUT_MS: "20000", MAX_ARTIFACTS_PER_REQUEST: "5" } }); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

test("same key, same body → the stored answer again, X-Idempotency-Replayed: true, nothing sent", async () => {
  const key = fresh("key");
  const body = ndjson([rec(fresh("i")), "{bad", rec(fresh("i"))]);
  const first = await post(h, body, { idem: key });
  assertSummary(first, 207, { accepted: 2, rejected: 1 });
  assert.equal(first.headers.get("x-idempotency-replayed"), null);
  const sent = h.recorder.calls.length;
  assert.equal(sent, 1);

  const second = await post(h, body, { idem: key });
  assert.equal(second.status, first.status);
  assert.equal(second.text, first.text, "byte-identical answer");
  assert.equal(second.headers.get("content-type"), first.headers.get("content-type"));
  assert.equal(second.headers.get("x-idempotency-replayed"), "true");
  assert.equal(h.recorder.calls.length, sent, "a replay sends nothing");
});

test("same key, different body → 422 idempotency-mismatch, nothing sent", async () => {
  const key = fresh("key");
  const first = await post(h, ndjson([rec(fresh("m"))]), { idem: key });
  assertSummary(first, 200, { accepted: 1 });
  h.recorder.reset();
  const r = await post(h, ndjson([rec(fresh("m"))]), { idem: key });
  assertProblem(r, 422, "idempotency-mismatch", { title: "Unprocessable Content", detail: "this X-Idempotency-Key was used with a different body" });
  assert.equal(r.headers.get("x-idempotency-replayed"), null);
  assert.equal(h.recorder.calls.length, 0);
});

test("the same key from another org is independent (processed, not replayed)", async () => {
  const key = fresh("key");
  const [a, b] = [fresh("o"), fresh("o")];
  const body = ndjson([rec(a, { markdown: `acme ${a}` })]);
  assertSummary(await post(h, body, { idem: key, token: mint({ org: "acme" }) }), 200, { accepted: 1 });
  const other = await post(h, ndjson([rec(b)]), { idem: key, token: mint({ org: "globex" }) });
  assertSummary(other, 200, { accepted: 1 });
  assert.equal(other.headers.get("x-idempotency-replayed"), null);
  assert.deepEqual(h.recorder.accepted().map((x) => [x.id, x.owner_org]), [[a, "acme"], [b, "globex"]]);
});

test("the same key while the first request is still sending → 409 idempotency-in-flight; then replays", async () => {
  const key = fresh("key");
  const body = ndjson([rec(fresh("slow"))]);
  h.recorder.failNext(1, "hang", { ms: 1500 });
  const first = post(h, body, { idem: key });
  await until(() => h.recorder.calls.length === 1);
  const r = await post(h, body, { idem: key });
  assertProblem(r, 409, "idempotency-in-flight", { title: "Conflict" });
  const done = await first;
  assertSummary(done, 200, { accepted: 1 });
  assert.equal(h.recorder.calls.length, 1, "the 409 sent nothing");
  const replay = await post(h, body, { idem: key });
  assert.equal(replay.headers.get("x-idempotency-replayed"), "true");
  assert.equal(replay.text, done.text);
});

test("a 503 answer is not stored: the same key and body are processed again", async () => {
  const key = fresh("key");
  const id = fresh("retry");
  const body = ndjson([rec(id)]);
  h.recorder.failNext(2, "503");
  assertProblem(await post(h, body, { idem: key }), 503, "pipeline-unavailable", { unsent_lines: [1] });
  h.recorder.reset();
  const again = await post(h, body, { idem: key });
  assertSummary(again, 200, { accepted: 1, deduped: 0 });
  assert.equal(again.headers.get("x-idempotency-replayed"), null);
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [id]);
});

test("an early stop (413) is not stored: the key can be used again, even with another body", async () => {
  const key = fresh("key");
  const six = ndjson(Array.from({ length: 6 }, () => rec(fresh("six"))));
  assertProblem(await post(h, six, { idem: key }), 413, "too-many-artifacts", { limit: 5 });
  const again = await post(h, six, { idem: key });
  assertProblem(again, 413, "too-many-artifacts");
  assert.equal(again.headers.get("x-idempotency-replayed"), null);
  const id = fresh("fits");
  const ok = await post(h, ndjson([rec(id)]), { idem: key });
  assertSummary(ok, 200, { accepted: 1 });
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [id]);
});

test("a 4xx answer is stored and replayed like a success", async () => {
  const key = fresh("key");
  const body = ndjson([rec("..")]);
  const first = await post(h, body, { idem: key });
  assertProblem(first, 400, "invalid-records");
  const second = await post(h, body, { idem: key });
  assert.equal(second.status, 400);
  assert.equal(second.headers.get("content-type"), "application/problem+json");
  assert.equal(second.headers.get("x-idempotency-replayed"), "true");
  assert.equal(second.text, first.text);
});

test("a gzip body replays when the same bytes are sent again", async () => {
  const key = fresh("key");
  const gz = gzipSync(ndjson([rec(fresh("gz"))]));
  assertSummary(await post(h, gz, { idem: key, headers: { "content-encoding": "gzip" } }), 200, { accepted: 1 });
  const again = await post(h, gz, { idem: key, headers: { "content-encoding": "gzip" } });
  assert.equal(again.headers.get("x-idempotency-replayed"), "true");
  assert.equal(h.recorder.calls.length, 1);
});

test("an over-long or non-ASCII key → 400 bad-idempotency-key", async () => {
  for (const key of ["k".repeat(257), "clé"]) {
    const r = await post(h, ndjson([rec(fresh("bad"))]), { idem: key });
    assertProblem(r, 400, "bad-idempotency-key");
  }
  assert.equal(h.recorder.calls.length, 0);
});

test("no wasm trap during the idempotency spec", async () => {
  await assertNoTrap(h);
});
