// Sends are retried (bounded in attempts, time and per-attempt timeout); a chunk that is never
// confirmed makes the request a 503 naming exactly the lines to resend.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertSummary, assertNoTrap } from "./support/ingest.mjs";

let h;
before(async () => {
  h = await start({ ingestVars: { SEND_ATTEMPTS: "3", SEND_BUDGET_MS: "2000", SEND_TIMEOUT_MS: "300" } });
});
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

for (const kind of ["reject", "throw", "503"]) {
  test(`two "${kind}" failures then success → 200, three calls with the same chunk`, async () => {
    const ids = [fresh(kind), fresh(kind)];
    h.recorder.failNext(2, kind);
    const r = await post(h, ndjson(ids.map((id) => rec(id))));
    assertSummary(r, 200, { accepted: 2, rejected: 0 });
    assert.deepEqual(h.recorder.calls.map((c) => [c.ok, c.failure]), [[false, kind], [false, kind], [true, null]]);
    for (const c of h.recorder.calls) assert.deepEqual(c.records.map((x) => x.id), ids, "every attempt resends the same chunk");
    assert.deepEqual(h.recorder.accepted().map((x) => x.id), ids);
  });
}

test("429 on every attempt → 503 pipeline-unavailable with Retry-After and exactly the unsent lines", async () => {
  const [a, b] = [fresh("u"), fresh("u")];
  h.recorder.failNext(100, "429");
  const r = await post(h, ndjson([rec(a), rec("", {}), rec(b)]));
  const p = assertProblem(r, 503, "pipeline-unavailable", {
    title: "Records not accepted",
    mode: "build",
    accepted: 0,
    unsent: 2,
    unsent_lines: [1, 3],
    rejected: 1,
    rejected_lines: [{ line: 2, field: "id", reason: "must not be empty" }],
    deduped: 0,
  });
  assert.match(p.detail, /2 of 2 valid records could not be confirmed by the build stream/);
  assert.match(p.last_error, /429/);
  assert.match(p.last_error, /after 3 attempts/);
  assert.ok(Number(r.headers.get("retry-after")) > 0, `Retry-After: ${r.headers.get("retry-after")}`);
  assert.equal(h.recorder.calls.length, 3, "SEND_ATTEMPTS bounds the attempts");
  assert.deepEqual(h.recorder.accepted(), []);

  // Nothing was recorded as written: resending the unsent lines sends them (no dedupe).
  h.recorder.reset();
  const again = await post(h, ndjson([rec(a), rec(b)]));
  assertSummary(again, 200, { accepted: 2, deduped: 0 });
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [a, b]);
});

test("a send that hangs past SEND_TIMEOUT_MS is abandoned and retried, then succeeds", async () => {
  const id = fresh("hang");
  h.recorder.failNext(1, "hang", { ms: 1500 });
  const t0 = Date.now();
  const r = await post(h, ndjson([rec(id)]));
  const elapsed = Date.now() - t0;
  assertSummary(r, 200, { accepted: 1 });
  assert.deepEqual(h.recorder.calls.map((c) => c.failure), ["hang", null]);
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [id]);
  assert.ok(elapsed >= 280, `waited for the attempt timeout (${elapsed} ms)`);
  assert.ok(elapsed < 1400, `did not wait for the hung send (${elapsed} ms)`);
});

test("hangs on every attempt → 503 within the budget", async () => {
  h.recorder.failNext(3, "hang", { ms: 5000 });
  const t0 = Date.now();
  const r = await post(h, ndjson([rec(fresh("hang3"))]));
  const elapsed = Date.now() - t0;
  const p = assertProblem(r, 503, "pipeline-unavailable", { unsent_lines: [1], accepted: 0 });
  assert.match(p.last_error, /did not answer within 300 ms/);
  assert.ok(elapsed < 4000, `gave up in time (${elapsed} ms)`);
  assert.equal(h.recorder.calls.length, 3);
});

test("no wasm trap during the retries spec", async () => {
  await assertNoTrap(h);
});
