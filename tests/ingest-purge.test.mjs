// Purge-on-write: once a chunk is confirmed, the zone cache is purged by tag (art:ns/type/id),
// at most 30 tags per call; nothing is purged for a chunk that was not confirmed.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, del, rec, ndjson, fresh, assertProblem, assertSummary, assertNoTrap } from "./support/ingest.mjs";

const PURGE_URL = "https://purge.test/client/v4/zones/zone123/purge_cache";
let h;
before(async () => {
  h = await start({
    ingestVars: { ZONE_ID: "zone123", PURGE_API_TOKEN: "ptoken", PURGE_API_BASE: "https://purge.test/client/v4", SEND_ATTEMPTS: "2" },
  });
});
after(() => h?.dispose());
beforeEach(() => {
  h.recorder.reset();
  h.outbound.calls.length = 0;
  h.outbound.status = 200;
});

function assertPurgeCall(call, tags) {
  assert.equal(call.url, PURGE_URL);
  assert.equal(call.method, "POST");
  assert.equal(call.headers.authorization, "Bearer ptoken");
  assert.match(call.headers["content-type"] ?? "", /^application\/json/);
  assert.deepEqual(JSON.parse(call.body), { tags });
}

test("a confirmed write purges the zone by tag: POST …/zones/zone123/purge_cache, Bearer ptoken", async () => {
  const [a, b] = [fresh("p"), fresh("p")];
  const r = await post(h, ndjson([rec(a), { ...rec(b), ns: "blog", type: "post" }]));
  assertSummary(r, 200, { accepted: 2 });
  assert.equal(h.outbound.calls.length, 1, JSON.stringify(h.outbound.calls));
  assertPurgeCall(h.outbound.calls[0], [`art:docs/guide/${a}`, `art:blog/post/${b}`]);
});

test("more than 30 artifacts → purge calls of at most 30 tags, covering every artifact once", async () => {
  const ids = Array.from({ length: 31 }, () => fresh("many"));
  const r = await post(h, ndjson(ids.map((id) => rec(id))));
  assertSummary(r, 200, { accepted: 31 });
  assert.equal(h.outbound.calls.length, 2);
  const tags = h.outbound.calls.flatMap((c) => JSON.parse(c.body).tags);
  for (const c of h.outbound.calls) assert.ok(JSON.parse(c.body).tags.length <= 30);
  assert.deepEqual(tags, ids.map((id) => `art:docs/guide/${id}`));
});

test("a chunk that was not confirmed (503) purges nothing", async () => {
  h.recorder.failNext(100, "503");
  const r = await post(h, ndjson([rec(fresh("down"))]));
  assertProblem(r, 503, "pipeline-unavailable");
  assert.deepEqual(h.outbound.calls, []);
});

test("deduped records are not purged again; rejected lines are never purged", async () => {
  const a = fresh("dd");
  await post(h, ndjson([rec(a)]));
  h.outbound.calls.length = 0;
  const b = fresh("dd");
  const r = await post(h, ndjson([rec(a), rec(b), rec("..")]));
  assertSummary(r, 207, { accepted: 2, deduped: 1, rejected: 1 });
  assert.equal(h.outbound.calls.length, 1);
  assertPurgeCall(h.outbound.calls[0], [`art:docs/guide/${b}`]);
});

test("a DELETE purges its artifact", async () => {
  const id = fresh("del");
  const r = await del(h, `docs/guide/${id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(h.outbound.calls.length, 1);
  assertPurgeCall(h.outbound.calls[0], [`art:docs/guide/${id}`]);
});

test("a failing purge API does not fail the write", async () => {
  h.outbound.status = 500;
  const r = await post(h, ndjson([rec(fresh("pf"))]));
  assertSummary(r, 200, { accepted: 1 });
  assert.equal(h.outbound.calls.length, 1);
});

test("without ZONE_ID no purge call is made", async () => {
  const plain = await start();
  try {
    const r = await post(plain, ndjson([rec(fresh("nz"))]));
    assertSummary(r, 200, { accepted: 1 });
    assert.deepEqual(plain.outbound.calls, []);
  } finally {
    await plain.dispose();
  }
});

test("no wasm trap during the purge spec", async () => {
  await assertNoTrap(h);
});
