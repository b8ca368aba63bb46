// Bodies that never finish (security issue 12, item 14): a body shorter than its Content-Length
// on a connection kept open, or one that trickles in forever, ends in 408 body-timeout after
// BODY_IDLE_MS without a byte, or at BODY_DEADLINE_MS in all, saying which lines were already
// sent; an idempotency key stays pending while its request runs and is free again after the 408.
// Raw sockets, since fetch always sends the whole body it announces.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { mint } from "./support/token.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertSummary, assertNoTrap, until, PROBLEM_BASE } from "./support/ingest.mjs";
import { freePort } from "./support/content.mjs";
import { shortBody, acceptedLines } from "./support/ingest-state.mjs";

const IDLE = 500;
const DEADLINE = 3_000;
let h, port;
before(async () => {
  port = await freePort();
  h = await start({
    ports: { ingest: port },
    ingestVars: { BODY_IDLE_MS: String(IDLE), BODY_DEADLINE_MS: String(DEADLINE), CHUNK_BYTES: "2048" },
  });
});
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

const headers = (extra = {}) => ({ authorization: `Bearer ${mint()}`, "content-type": "application/x-ndjson", ...extra });

/** Asserts a 408 body-timeout naming `setting` and `ms`, whose accepted lines are what the double got. */
function assertTimeout(r, ids, setting, ms) {
  assert.equal(r.status, 408, r.text);
  assert.equal(r.headers.get("content-type"), "application/problem+json");
  assert.equal(r.body.type, PROBLEM_BASE + "body-timeout");
  assert.equal(r.body.limit_ms, ms);
  assert.match(r.body.detail, new RegExp(setting));
  const got = h.recorder.accepted().map((x) => ids.indexOf(x.id) + 1).sort((a, b) => a - b);
  assert.deepEqual(got, acceptedLines(r.body, ids.length), "the answer names exactly the lines sent");
  assert.equal(r.body.accepted, got.length);
}

// Regression: a body shorter than its Content-Length on a kept-open connection hung with no bound.
test("a body shorter than its Content-Length, connection kept open → 408 after BODY_IDLE_MS, naming the lines already sent", async () => {
  const ids = Array.from({ length: 8 }, () => fresh("short"));
  const text = ndjson(ids.map((id) => rec(id)));
  const r = await shortBody(port, "/$.artifacts", { headers: headers(), pieces: [text], contentLength: Buffer.byteLength(text) + 1_000 });
  assertTimeout(r, ids, "BODY_IDLE_MS", IDLE);
  assert.ok(r.body.accepted > 0, "chunks went out before the stall");
  assert.ok(r.ms < DEADLINE, `answered after ${r.ms} ms, before the deadline`);
});

test("a body that keeps trickling in → 408 at BODY_DEADLINE_MS, though no wait reached BODY_IDLE_MS", async () => {
  const ids = Array.from({ length: 40 }, () => fresh("drip"));
  const lines = ids.map((id) => ndjson([rec(id)]));
  const total = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
  const r = await shortBody(port, "/$.artifacts", { headers: headers(), pieces: lines, contentLength: total, gapMs: IDLE / 4 });
  assertTimeout(r, ids, "BODY_DEADLINE_MS", DEADLINE);
  assert.ok(r.ms >= DEADLINE - 100 && r.ms < DEADLINE + 2_000, `answered after ${r.ms} ms`);
});

test("an idempotency key stays pending while its request waits for the body, and is free again after the 408", async () => {
  const key = fresh("key");
  const text = ndjson([rec(fresh("idem"))]);
  const stalled = shortBody(port, "/$.artifacts", { headers: headers({ "x-idempotency-key": key }), pieces: [text], contentLength: Buffer.byteLength(text) + 10 });
  await new Promise((r) => setTimeout(r, IDLE / 5));
  assertProblem(await post(h, text, { idem: key }), 409, "idempotency-in-flight");
  assert.equal((await stalled).status, 408);
  const done = await post(h, text, { idem: key });
  assertSummary(done, 200, { accepted: 1 });
  assert.equal(done.headers.get("x-idempotency-replayed"), null);
  // A replay reads the body only to hash it: a short body there is a 408 too, not a hang.
  const replay = await shortBody(port, "/$.artifacts", { headers: headers({ "x-idempotency-key": key }), pieces: [text], contentLength: Buffer.byteLength(text) + 10 });
  assert.equal(replay.status, 408, replay.text);
  assert.equal(replay.body.type, PROBLEM_BASE + "body-timeout");
});

test("no wasm trap during the body-timeout spec", async () => {
  await assertNoTrap(h);
});
