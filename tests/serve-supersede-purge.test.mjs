// A successor purges its predecessor's cached answers (#18, docs/design/artifact-operations.md "A
// successor purges its predecessors' cached answers"): ingest marks every ref of a confirmed
// record's `supersedes` in the ledger (the ref's shard, same chunk) and purges the zone by the
// ref's tag too; the ledger stamps the ref's `sup` and, since the ref was read, its alarm writes KV
// `{"g","h","s"}`; serve folds `s` into the cache key (`…&u=S&s=…`), so the cached answer is no
// longer found, and within the settle window answers are stored for SUPERSEDE_RECHECK_SECONDS
// only. Real parts: ingest, the ledger's Durable Objects and alarm, KV under the 1 write/s limit,
// the stand-in's tables, serve with the Cache API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, ndjson, fresh, assertNoTrap } from "./support/ingest.mjs";
import { fetchContent } from "./support/content.mjs";
import { shardOf } from "./support/ledger.mjs";
import { mint } from "./support/token.mjs";

const PURGE_URL = "https://purge.test/client/v4/zones/zone123/purge_cache";
// Answered from the tables: `serving` (the serving table) or `tail` (the source tables).
const FROM_TABLES = /^(serving|tail)$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });

let h;
before(async () => {
  h = await start({
    standin: true,
    ingestVars: { ZONE_ID: "zone123", PURGE_API_TOKEN: "ptoken", PURGE_API_BASE: "https://purge.test/client/v4" },
    // Long windows: without the stamp the predecessor would be served from cache for 5 minutes.
    serveVars: { FRESH_SECONDS: "300", STALE_SECONDS: "60", METADATA_TTL_SECONDS: "1", SUPERSEDE_SETTLE_SECONDS: "300", SUPERSEDE_RECHECK_SECONDS: "7" },
    standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" },
  });
});
after(() => h?.dispose());

const purgedTags = () => h.outbound.calls.filter((c) => c.url === PURGE_URL).flatMap((c) => JSON.parse(c.body).tags);
const lookup = async (key) => (await h.ledger(shardOf(key, h.ledgerShards), "lookup", { k: key })).json;

/** Publishes P (build mode, public), commits it and reads it twice: the second read is a cache hit. */
async function cachedPredecessor(label) {
  const id = fresh(label);
  const key = `docs/guide/${id}`;
  const path = `/$.content/${key}.md`;
  const p = await post(h, ndjson([{ ns: "docs", type: "guide", id, visibility: "public", markdown: "# P" }]), { token: writer() });
  assert.equal(p.status, 200, p.text);
  await h.flush("build");
  // Serve sees the commit within its metadata TTL (1 s).
  let first;
  for (const until = Date.now() + 3_000; Date.now() < until; await sleep(100)) {
    first = await fetchContent(h, path);
    if (first.status === 200) break;
  }
  assert.equal(first.text, "# P");
  assert.match(first.headers.get("x-artifact-source"), FROM_TABLES);
  assert.match(first.headers.get("cache-control"), /max-age=300/, "no stamp: the configured windows");
  await sleep(100);
  const hit = await fetchContent(h, path);
  assert.equal(hit.headers.get("x-artifact-source"), "cache", "P is cached");
  return { id, key, path };
}

test("a successor's confirm moves readers off the predecessor's cached answer within seconds; the zone purge gets its tag", async () => {
  const p = await cachedPredecessor("pred");
  h.outbound.calls.length = 0; // P's own write purged its tag
  assert.equal((await lookup(p.key)).sup, 0);
  const sid = fresh("succ");
  const before = Date.now();
  const s = await post(h, ndjson([{ ns: "docs", type: "guide", id: sid, visibility: "public", markdown: "# S", supersedes: [p.key] }]), {
    token: writer(),
  });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.body?.ledger, undefined, "confirmed, not deferred");
  // The zone purge: the successor's own tag and its predecessor's.
  const tags = purgedTags();
  assert.ok(tags.includes(`art:docs/guide/${sid}`) && tags.includes(`art:${p.key}`), JSON.stringify(tags));
  // The ledger stamped P (its shard, the same chunk's confirm).
  const look = await lookup(p.key);
  assert.ok(look.sup >= before && look.sup <= Date.now(), JSON.stringify(look));
  assert.equal(look.state.t > 0, true, "P's state is unchanged");
  // Within a few seconds (the alarm's KV write), a read of P is no longer the cached entry.
  const deadline = Date.now() + 5_000;
  let seen;
  while (Date.now() < deadline) {
    seen = await fetchContent(h, p.path);
    if (seen.headers.get("x-artifact-source") !== "cache") break;
    await sleep(100);
  }
  assert.match(seen.headers.get("x-artifact-source"), FROM_TABLES, "the stamp moved the cache key");
  assert.equal(seen.text, "# P", "P itself is still readable");
  // Settle window: stored (and told to clients) for SUPERSEDE_RECHECK_SECONDS at most.
  assert.match(seen.headers.get("cache-control"), /max-age=7, stale-while-revalidate=0/);
  await sleep(100);
  const again = await fetchContent(h, p.path);
  assert.equal(again.headers.get("x-artifact-source"), "cache", "cached again under the stamped key");
  assert.match(again.headers.get("cache-control"), /max-age=[0-7],/);
});

test("a record superseding nothing changes nothing for P", async () => {
  const p = await cachedPredecessor("alone");
  h.outbound.calls.length = 0; // P's own write purged its tag
  const other = fresh("other");
  const o = await post(
    h,
    ndjson([
      { ns: "docs", type: "guide", id: other, visibility: "public", markdown: "# O" },
      { ns: "docs", type: "guide", id: `${other}-2`, visibility: "public", markdown: "# O2", supersedes: [] },
    ]),
    { token: writer() },
  );
  assert.equal(o.status, 200, o.text);
  assert.ok(!purgedTags().includes(`art:${p.key}`));
  await sleep(1_500);
  assert.equal((await lookup(p.key)).sup, 0);
  const read = await fetchContent(h, p.path);
  assert.equal(read.headers.get("x-artifact-source"), "cache");
  assert.match(read.headers.get("cache-control"), /stale-while-revalidate=60/, "the configured windows");
});

test("a predecessor superseded before its first read is cached (for the recheck seconds) all the same", async () => {
  const id = fresh("early");
  const key = `docs/guide/${id}`;
  const path = `/$.content/${key}.md`;
  const both = await post(
    h,
    ndjson([
      { ns: "docs", type: "guide", id, visibility: "public", markdown: "# E" },
      { ns: "docs", type: "guide", id: `${id}-next`, visibility: "public", markdown: "# N", supersedes: [key] },
    ]),
    { token: writer() },
  );
  assert.equal(both.status, 200, both.text);
  assert.ok((await lookup(key)).sup > 0);
  await h.flush("build");
  let first;
  for (const until = Date.now() + 3_000; Date.now() < until; await sleep(100)) {
    first = await fetchContent(h, path);
    if (first.status === 200) break;
  }
  assert.equal(first.text, "# E");
  // Never read before its mark: no KV write was due, KV holds no stamp, and the answer made after
  // the stamp is stored under KV's key, capped by the settle window.
  assert.match(first.headers.get("cache-control"), /max-age=7, stale-while-revalidate=0/);
  await sleep(100);
  assert.equal((await fetchContent(h, path)).headers.get("x-artifact-source"), "cache");
});

test("with the ledger unreachable at confirm, the outbox carries the marks to the refs' shards", async () => {
  const id = fresh("deferred");
  const preds = [1, 2].map((i) => `docs/guide/${id}-p${i}`);
  await h.ledgerDown(true);
  let r;
  try {
    r = await post(h, ndjson([{ ns: "docs", type: "guide", id, visibility: "public", markdown: "# D", supersedes: preds }]), { token: writer() });
  } finally {
    await h.ledgerDown(false);
  }
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.body.ledger, r.body.deferred], ["deferred", 1], "records are counted, not marks");
  const tags = purgedTags();
  assert.ok(preds.every((k) => tags.includes(`art:${k}`)), JSON.stringify(tags));
  // The outbox consumer confirms the write and the marks (never-written refs: markers holding it).
  for (const until = Date.now() + 15_000; ; await sleep(200)) {
    const looks = await Promise.all(preds.map(lookup));
    if (looks.every((l) => l.sup > 0 && l.state === null)) break;
    assert.ok(Date.now() < until, `marks not delivered: ${JSON.stringify(looks)}`);
  }
  assert.ok((await lookup(`docs/guide/${id}`)).state?.t > 0);
});

test("no wasm trap during the supersede spec", async () => {
  await assertNoTrap(h);
});
