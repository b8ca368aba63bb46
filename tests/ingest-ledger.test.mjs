// Ingest on the ledger (#17, docs/design/ledger.md, build order step 4): dedupe, purge state and
// idempotency keys live in the ledger's Durable Objects, not in KV, under production's KV limit
// (the harness refuses a second put of a key within a second), with the ledger's calls counted.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, rec, ndjson, fresh, assertSummary, assertProblem, assertNoTrap } from "./support/ingest.mjs";
import { shardOf } from "./support/ledger.mjs";
import { fetchContent, readToken } from "./support/content.mjs";

let h;
before(async () => { h = await start(); });
after(() => h?.dispose());
beforeEach(async () => {
  h.recorder.reset();
  await h.ledgerDown(false);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const lookup = async (key) => (await h.ledger(shardOf(key, h.ledgerShards), "lookup", { k: key })).json;

test("a 10,000-record body: at most one check and one confirm per shard per chunk, no KV write", async () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => `${fresh("bulk")}-${i}`);
  await h.resetOps();
  const r = await post(h, ndjson(ids.map((id) => rec(id))));
  assertSummary(r, 200, { accepted: 10_000, deduped: 0 });
  assert.equal(r.body.ledger, undefined, "nothing deferred");
  const chunks = h.recorder.calls.length;
  assert.ok(chunks >= 1);
  const ops = await h.ops();
  for (const [shard, s] of Object.entries(ops.ledger.shards)) {
    assert.ok((s.calls.check ?? 0) <= chunks, `shard ${shard}: ${s.calls.check} checks for ${chunks} chunks`);
    assert.ok((s.calls.confirm ?? 0) <= chunks, `shard ${shard}: ${s.calls.confirm} confirms for ${chunks} chunks`);
  }
  assert.equal(ops.ledger.calls.check, chunks * h.ledgerShards, "every shard touched by every chunk, once");
  assert.equal(ops.ledger.calls.confirm, chunks * h.ledgerShards);
  assert.equal(ops.kv.put, 0, `no KV write: ${JSON.stringify(ops.kv)}`);
  assert.equal(ops.kv.delete, 0);
  assert.ok(ops.kv.get <= 1, `KV reads: only the tenant's settings (${ops.kv.get})`);
  // The same body again: every record a duplicate, nothing sent, one check per shard per chunk.
  h.recorder.reset();
  await h.resetOps();
  const again = await post(h, ndjson(ids.map((id) => rec(id))));
  assertSummary(again, 200, { accepted: 10_000, deduped: 10_000 });
  assert.equal(h.recorder.calls.length, 0);
  const ops2 = await h.ops();
  assert.equal(ops2.ledger.calls.confirm, undefined, "nothing sent, nothing to confirm");
  assert.ok(ops2.ledger.calls.check <= chunks * h.ledgerShards);
  assert.equal(ops2.kv.put, 0);
});

test("the same key written 5 times within a second: five 200s, the last stamped wins in the ledger", async () => {
  const id = fresh("five");
  const key = `docs/guide/${id}`;
  await h.resetOps();
  const t0 = Date.now();
  for (let i = 1; i <= 5; i++) {
    const r = await post(h, ndjson([rec(id, { markdown: `# version ${i}` })]));
    assertSummary(r, 200, { accepted: 1, deduped: 0 });
  }
  assert.ok(Date.now() - t0 < 1000, `five writes took ${Date.now() - t0} ms`);
  const sent = h.recorder.accepted().filter((x) => x.id === id);
  assert.equal(sent.length, 5);
  const last = sent.reduce((a, b) => (b.ts > a.ts ? b : a));
  assert.equal(last.markdown, "# version 5");
  const state = (await lookup(key)).state;
  assert.equal(state.t, last.ts, "the ledger holds the last stamped write");
  assert.equal(state.c, last.content_hash);
  const ops = await h.ops();
  assert.equal(ops.kv.refused, 0, "no KV write refused");
  assert.equal(ops.kv.put, 0, "nobody read the key: no generation write");
});

test("five writes of one key within a second through the stand-in: serve answers the last stamped after the flush", async () => {
  const s = await start({ standin: true });
  try {
    const id = fresh("five-serve");
    const t0 = Date.now();
    for (let i = 1; i <= 5; i++) assertSummary(await post(s, ndjson([rec(id, { markdown: `# version ${i}` })])), 200, { accepted: 1, deduped: 0 });
    assert.ok(Date.now() - t0 < 1000, `five writes took ${Date.now() - t0} ms`);
    await s.flush("build");
    const r = await fetchContent(s, `/$.content/docs/guide/${id}.md`, { token: readToken("acme") });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, "# version 5");
    const state = (await s.ledger(shardOf(`docs/guide/${id}`, s.ledgerShards), "lookup", { k: `docs/guide/${id}` })).json.state;
    assert.ok(state.t > 0);
    assert.equal((await s.ops()).kv.refused, 0, "no KV write refused");
  } finally {
    await s.dispose();
  }
});

test("idempotency keys under the KV limit: the replay within a second, no KV write", async () => {
  const body = ndjson([rec(fresh("idem"))]);
  const key = fresh("k");
  await h.resetOps();
  const first = await post(h, body, { idem: key });
  assertSummary(first, 200, { accepted: 1 });
  const again = await post(h, body, { idem: key });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get("x-idempotency-replayed"), "true");
  assert.equal(again.text, first.text);
  const ops = await h.ops();
  assert.equal(ops.kv.put, 0);
  assert.equal(ops.ledger.calls.idem_begin, 2);
  assert.equal(ops.ledger.calls.idem_complete, 1);
});

test("ledger unreachable at idem_begin → 503 state-unavailable, nothing sent", async () => {
  await h.ledgerDown(true);
  const r = await post(h, ndjson([rec(fresh("idem-down"))]), { idem: fresh("k") });
  assertProblem(r, 503, "state-unavailable");
  assert.equal(h.recorder.calls.length, 0);
});

test("ledger unreachable: 200 with ledger deferred, the outbox drains, nothing lost, a resend is deduped", async () => {
  const ids = Array.from({ length: 40 }, () => fresh("down"));
  const body = ndjson(ids.map((id) => rec(id)));
  await h.ledgerDown(true);
  const r = await post(h, body);
  assertSummary(r, 200, { accepted: 40, deduped: 0 });
  assert.equal(r.body.ledger, "deferred");
  assert.equal(r.body.deferred, 40);
  assert.equal(r.headers.get("x-ledger"), "deferred");
  assert.equal(h.recorder.accepted().length, 40, "every record sent (check skipped)");
  await h.ledgerDown(false);
  // The outbox consumer (the ledger worker) confirms them.
  const t0 = Date.now();
  for (;;) {
    const states = await Promise.all(ids.map((id) => lookup(`docs/guide/${id}`)));
    if (states.every((s) => s.state?.t)) break;
    if (Date.now() - t0 > 15_000) throw new Error(`outbox not drained: ${states.filter((s) => !s.state?.t).length} keys missing`);
    await sleep(200);
  }
  h.recorder.reset();
  const again = await post(h, body);
  assertSummary(again, 200, { accepted: 40, deduped: 40 });
  assert.equal(again.body.ledger, undefined);
  assert.equal(h.recorder.calls.length, 0);
});

test("a tombstone with the ledger unreachable is accepted and deferred", async () => {
  const id = fresh("tomb-down");
  await post(h, ndjson([rec(id)]));
  await h.ledgerDown(true);
  const r = await h.ingest(`/$.artifacts/docs/guide/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${(await import("./support/token.mjs")).mint()}` } });
  const b = await r.json();
  assert.equal(r.status, 200);
  assert.equal(b.ledger, "deferred");
  assert.equal(r.headers.get("x-ledger"), "deferred");
});

test("a key read since its last generation write gets the colo hint of its newest write (design: Purge 5)", async () => {
  const id = fresh("hint");
  const key = `docs/guide/${id}`;
  await post(h, ndjson([rec(id)]));
  assert.equal(await h.hint(key), null, "nobody read it: no hint");
  await lookup(key); // serve's miss marks the key read
  const r = await post(h, ndjson([rec(id, { markdown: "# second" })]));
  assertSummary(r, 200, { accepted: 1, deduped: 0 });
  const state = (await lookup(key)).state;
  const hint = await h.hint(key);
  assert.ok(hint, "the hint is in caches.default");
  assert.equal(hint.g, state.t);
  assert.equal(hint.h, [state.c, state.v, state.d ? "1" : "0", state.o, state.u].join(":"));
});

test("no wasm trap during the ledger spec", async () => {
  await assertNoTrap(h);
});
