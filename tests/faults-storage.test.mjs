// Storage faults injected through wrapped bindings (tests/support/fault-wrap.mjs, `faults: true`):
// R2 `get` failing N times or answering a truncated body, R2 `list` failing, KV reads and writes
// failing at ingest and at serve, and the ledger (#17) failing at ingest (the harness's switch). Each time: a clear answer (a problem+json naming what failed, or
// the right content), nothing reported accepted that the stream did not confirm, nothing broken
// kept in a cache, other requests unaffected, and no wasm reset in either worker.
import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { resets } from "./support/harness.mjs";
import { mint } from "./support/token.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertSummary } from "./support/ingest.mjs";
import { startWarehouse, expectedTable } from "./support/warehouse.mjs";
import { readToken, fetchContent as get, assertBytes, assertBadObject } from "./support/content.mjs";
import { faults } from "./support/fault-control.mjs";
// Answered from the tables: `serving` (the serving table) or `tail` (the source tables), with the
// serving table on or off.
const FROM_TABLES = /^(serving|tail)$/;

const T = "artifacts/pyi_unpartitioned";
const U = `${T}/metadata`;
const KEYS = {
  metadata: `${U}/00005-a54897e8-c779-48b1-93cd-b86041068f6a.metadata.json`,
  manifest: `${U}/455c3fb2-012c-42d2-bfe0-d7e5b3556ce4-m0.avro`,
  dataFile: `${T}/data/00000-0-455c3fb2-012c-42d2-bfe0-d7e5b3556ce4.parquet`,
};
const MD = "text/markdown; charset=utf-8";
const GAMMA = "/$.content/docs/guide/0123456789abcdef-gamma.md"; // in KEYS.dataFile
const HOME = "/$.content/team@acme.dev/page/home.md"; // public, in another file
const HOME_MD = expectedTable(T).winners["team@acme.dev/page/home"].row.markdown;
const TIE = "/$.content/docs/tie/in-file.md"; // pruned away from KEYS.dataFile by its bounds
const acme = () => readToken("acme", "alice");

async function assertNoResets(h) {
  assert.equal(await resets(h.ingest), 0, "the ingest wasm instance trapped and was reset");
  assert.equal(await resets(h.serve), 0, "the serve wasm instance trapped and was reset");
}

/**
 * One Miniflare per serve scenario: isolate caches (immutable reads, metadata) start empty, so
 * the first read of every object reaches the wrapped bucket. Metadata is re-read every request.
 */
function scenario(name, fn) {
  test(name, async () => {
    const h = await startWarehouse(T, { faults: true, serveVars: { METADATA_TTL_SECONDS: "0" } });
    try {
      await fn(h, faults(h, "serve"));
      await assertNoResets(h);
    } finally {
      await h.dispose();
    }
  });
}

describe("R2 get failing", () => {
  scenario("once on a data file → retried, 200 with the right bytes", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "throw", times: 1, match: KEYS.dataFile });
    assertBytes(await get(h, GAMMA, { token: acme() }), "gamma", MD);
    const reads = await f.calls({ binding: "r2", key: KEYS.dataFile });
    assert.equal(reads[0].fault, "throw", "the first read of the data file failed");
    assert.ok(reads.length >= 2 && reads.slice(1).every((c) => c.fault === null), "then it was read again");
  });

  scenario("twice on a data file → 502 naming it; other artifacts unaffected; served once it clears", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "throw", times: 2, match: KEYS.dataFile });
    const r = await get(h, GAMMA, { token: acme() });
    assertBadObject(r, KEYS.dataFile);
    assert.match(r.body.detail, /could not be read/);
    assert.equal(r.headers.get("cache-control"), null, "a failure carries no caching headers");
    // Another file's artifact (and one pruned away from the broken file) read fine meanwhile.
    assertBytes(await get(h, HOME), HOME_MD, MD);
    assertBytes(await get(h, TIE, { token: acme() }), "later row", MD);
    // Faults used up: the same artifact is served, from the table (the 502 was not cached).
    const ok = await get(h, GAMMA, { token: acme() });
    assertBytes(ok, "gamma", MD);
    assert.match(ok.headers.get("x-artifact-source"), FROM_TABLES);
  });

  scenario("on the current metadata → 502 naming it, then served", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "throw", times: 2, match: KEYS.metadata });
    assertBadObject(await get(h, HOME), KEYS.metadata);
    assertBytes(await get(h, HOME), HOME_MD, MD);
  });

  scenario("on a manifest (immutable, cacheable) → 502 naming it, then served", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "throw", times: 2, match: KEYS.manifest });
    assertBadObject(await get(h, HOME), KEYS.manifest);
    assertBytes(await get(h, HOME), HOME_MD, MD);
  });

  scenario("on every read for a while → 502 each time, never a 500 or a reset; then served", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "throw", times: 1000 });
    for (const p of [HOME, GAMMA, "/$.content/docs/guide/getting-started.json"]) {
      const r = await get(h, p, { token: acme() });
      assert.equal(r.status, 502, r.text);
      assertProblem(r, 502, "bad-upstream-object");
      assert.ok(r.body.key?.startsWith(T), `names a key of the table: ${r.text}`);
    }
    await f.clear();
    assertBytes(await get(h, GAMMA, { token: acme() }), "gamma", MD);
  });

  scenario("R2 list failing (finding the current metadata) → 502 naming the metadata prefix, then served", async (h, f) => {
    await f.arm({ binding: "r2", op: "list", kind: "throw", times: 2 });
    const r = await get(h, HOME);
    assertProblem(r, 502, "bad-upstream-object");
    assert.ok(r.body.key?.startsWith(U), `names the metadata prefix: ${r.text}`);
    assertBytes(await get(h, HOME), HOME_MD, MD);
  });
});

describe("R2 get answering a truncated body (size says more)", () => {
  scenario("once on a data file → retried, 200 with the whole content", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "truncate", times: 1, match: KEYS.dataFile });
    assertBytes(await get(h, GAMMA, { token: acme() }), "gamma", MD);
    assert.equal((await f.calls({ key: KEYS.dataFile, fault: "truncate" })).length, 1);
  });

  scenario("on every attempt for a data file → 502 naming it, never a partial 200; not cached", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "truncate", times: 2, match: KEYS.dataFile });
    const r = await get(h, GAMMA, { token: acme() });
    assertBadObject(r, KEYS.dataFile);
    assert.match(r.body.detail, /ended after \d+ of \d+ bytes/);
    // The same read again, faults used up: the whole object, not the short one kept somewhere.
    assertBytes(await get(h, GAMMA, { token: acme() }), "gamma", MD);
    const record = await get(h, GAMMA.replace(/\.md$/, ".json"), { token: acme() });
    assert.equal(record.status, 200, record.text);
    assert.equal(record.body.markdown, "gamma");
  });

  scenario("on a manifest (whole-object read, cacheable) → 502 naming it; the short read is not cached", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "truncate", times: 2, match: KEYS.manifest });
    assertBadObject(await get(h, HOME), KEYS.manifest);
    // Had the short manifest been kept in the isolate cache, this would still fail.
    assertBytes(await get(h, HOME), HOME_MD, MD);
    const served = await get(h, HOME);
    assertBytes(served, HOME_MD, MD);
  });

  scenario("on the current metadata → 502 naming it (never an older snapshot), then served", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "truncate", times: 2, match: KEYS.metadata });
    assertBadObject(await get(h, GAMMA, { token: acme() }), KEYS.metadata);
    assertBytes(await get(h, GAMMA, { token: acme() }), "gamma", MD);
  });

  scenario("in a batch → that ref's line is a 502 naming the key, the others are served", async (h, f) => {
    await f.arm({ binding: "r2", op: "get", kind: "truncate", times: 2, match: KEYS.dataFile });
    const res = await h.serve("/$.content/batch", {
      method: "POST",
      headers: { authorization: `Bearer ${acme()}` },
      body: JSON.stringify(["docs/guide/0123456789abcdef-gamma.md", "team@acme.dev/page/home.md"]),
    });
    assert.equal(res.status, 200);
    const [gamma, home] = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(gamma.status, 502);
    assert.equal(gamma.problem.key, KEYS.dataFile);
    assert.equal(home.status, 200);
    assert.equal(home.body, HOME_MD);
  });
});

describe("KV failing at serve", () => {
  scenario("generation reads fail → reads still answer from the table, no-store, nothing cached; the cache returns once KV does", async (h, f) => {
    await f.arm({ binding: "kv", op: "get", kind: "throw", times: 1000 });
    for (let i = 0; i < 2; i++) {
      const r = await get(h, HOME);
      assertBytes(r, HOME_MD, MD);
      assert.match(r.headers.get("x-artifact-source"), FROM_TABLES, "no cache entry used while KV fails");
      assert.equal(r.headers.get("cache-control"), "no-store");
    }
    assertBytes(await get(h, GAMMA, { token: acme() }), "gamma", MD);
    assert.ok((await f.calls({ binding: "kv", fault: "throw" })).length >= 3, "serve did ask KV");
    await f.clear();
    const first = await get(h, HOME);
    assert.match(first.headers.get("x-artifact-source"), FROM_TABLES);
    // The store happens in waitUntil; poll briefly for the cached answer.
    let source;
    for (let i = 0; i < 50 && source !== "cache"; i++) {
      const again = await get(h, HOME);
      assertBytes(again, HOME_MD, MD);
      source = again.headers.get("x-artifact-source");
      if (source !== "cache") await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(source, "cache", "with KV back, answers are cached again");
  });
});

describe("KV and the ledger failing at ingest", () => {
  let h;
  let f;
  before(async () => {
    h = await startWarehouse(T, { faults: true });
    f = faults(h, "ingest");
  });
  after(() => h?.dispose());
  beforeEach(async () => {
    h.recorder.reset();
    await f.clear();
    await h.ledgerDown(false);
  });

  const sent = () => h.recorder.calls.length;

  test("tenant settings unreadable → 503 state-unavailable, nothing sent; other tenants unaffected", async () => {
    await f.arm({ binding: "kv", op: "get", kind: "throw", times: 100, match: "tenant:acme" });
    const r = await post(h, ndjson([rec(fresh("ts"))]));
    assertProblem(r, 503, "state-unavailable", { title: "Service Unavailable", detail: /^reading tenant settings failed: / });
    assert.equal(sent(), 0, "nothing was sent");
    const del = await h.ingest("/$.artifacts/docs/guide/x", { method: "DELETE", headers: { authorization: `Bearer ${mint()}` } });
    assert.equal(del.status, 503, "a DELETE is refused the same way");
    await del.arrayBuffer();
    assert.equal(sent(), 0);
    const other = fresh("other");
    assertSummary(await post(h, ndjson([rec(other)]), { token: mint({ org: "globex" }) }), 200, { accepted: 1 });
    assert.deepEqual(h.recorder.accepted().map((x) => x.id), [other]);
  });

  // Idempotency keys and per-key state are the ledger's (#17): its failures are injected with the
  // harness's ledger switch (h.ledgerDown: every call, or only one call, the next n times).
  test("idempotency lookup fails (ledger unreachable at idem_begin) → 503 state-unavailable, nothing sent; the same key works once the ledger does", async () => {
    const key = fresh("idem");
    const body = ndjson([rec(fresh("idem"))]);
    await h.ledgerDown(true, "ingest", { only: "idem_begin", times: 1 });
    assertProblem(await post(h, body, { idem: key }), 503, "state-unavailable", { detail: /^idempotency store failed: / });
    assert.equal(sent(), 0);
    assertSummary(await post(h, body, { idem: key }), 200, { accepted: 1 });
    const replay = await post(h, body, { idem: key });
    assert.equal(replay.headers.get("x-idempotency-replayed"), "true");
    assert.equal(sent(), 1, "sent once");
  });

  test("the answer cannot be stored for replay (idem_complete fails) → the confirmed answer (200), and a retry is processed again, not a 409", async () => {
    const key = fresh("idem");
    const id = fresh("store");
    const body = ndjson([rec(id)]);
    await h.ledgerDown(true, "ingest", { only: "idem_complete", times: 1 });
    assertSummary(await post(h, body, { idem: key }), 200, { accepted: 1 });
    assert.deepEqual(h.recorder.accepted().map((x) => x.id), [id]);
    const again = await post(h, body, { idem: key });
    assertSummary(again, 200, { accepted: 1, deduped: 1 });
    assert.equal(again.headers.get("x-idempotency-replayed"), null);
    assert.equal(h.recorder.accepted().length, 1, "the retry was deduped, not sent twice");
  });

  test("dedupe state unreadable (ledger check fails) → records are sent (never dropped) and reported accepted once confirmed", async () => {
    const id = fresh("dd");
    assertSummary(await post(h, ndjson([rec(id)])), 200, { accepted: 1, deduped: 0 });
    await h.ledgerDown(true, "ingest", { only: "check" });
    const r = await post(h, ndjson([rec(id)]));
    await h.ledgerDown(false);
    assertSummary(r, 200, { accepted: 1, deduped: 0 });
    assert.equal(r.body.ledger, undefined, "the confirm was taken");
    assert.deepEqual(h.recorder.accepted().map((x) => x.id), [id, id], "sent again: the ledger could not say it was written");
  });

  test("the confirm after a confirmed send fails twice → still 200 with ledger deferred; the outbox delivers it and a resend is deduped", async () => {
    const id = fresh("sw");
    await h.ledgerDown(true, "ingest", { only: "confirm", times: 2 });
    const r = await post(h, ndjson([rec(id)]));
    assertSummary(r, 200, { accepted: 1 });
    assert.equal(r.body.ledger, "deferred");
    assert.equal(r.headers.get("x-ledger"), "deferred");
    // The outbox consumer confirms it within a few seconds; then a copy is deduped.
    const t0 = Date.now();
    for (;;) {
      const again = await post(h, ndjson([rec(id)]));
      assert.equal(again.status, 200, again.text);
      if (again.body.deduped === 1) break;
      if (Date.now() - t0 > 15_000) throw new Error("the deferred confirm never reached the ledger");
      await new Promise((res) => setTimeout(res, 300));
    }
  });

  test("a stream failure while the ledger also fails → 503 with exactly the unsent lines, nothing reported accepted", async () => {
    await h.ledgerDown(true);
    h.recorder.failNext(100, "503");
    const r = await post(h, ndjson([rec(fresh("both")), rec(fresh("both"))]));
    await h.ledgerDown(false);
    assertProblem(r, 503, "pipeline-unavailable", { accepted: 0, unsent_lines: [1, 2] });
    assert.deepEqual(h.recorder.accepted(), []);
  });

  test("no wasm reset in either worker", async () => {
    await assertNoResets(h);
  });
});
