// Caching: the Cache API with stale-while-revalidate done by the worker, private content keyed by
// who may read it, `?fresh=true` / `?max_age=`, and purge-on-write through the generation ingest
// records in ARTIFACT_STATE (the shared cache-key contract).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWarehouse, expectedTable } from "./support/warehouse.mjs";
import { fetchContent, ownerToken, readToken } from "./support/content.mjs";
// Answered from the tables: `serving` (the serving table) or `tail` (the source tables), with the
// serving table on or off.
const FROM_TABLES = /^(serving|tail)$/;

const ROOT = "artifacts/pyi_unpartitioned";
const table = expectedTable(ROOT);
const winners = Object.entries(table.winners).filter(([, w]) => !w.row.deleted && w.row.markdown !== null);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const source = (r) => r.headers.get("x-artifact-source");

describe("fresh, stale, expired", () => {
  let h;
  before(async () => { h = await startWarehouse(ROOT, { serveVars: { FRESH_SECONDS: "1", STALE_SECONDS: "60" } }); });
  after(() => h?.dispose());

  test("a miss reads the table, the next read is a cache hit with an age", async () => {
    const [key, w] = winners[0];
    const token = ownerToken(w.row);
    const a = await fetchContent(h, `/$.content/${key}.md`, { token });
    assert.equal(a.status, 200);
    assert.match(source(a), FROM_TABLES);
    await sleep(50); // the entry is stored in waitUntil
    const b = await fetchContent(h, `/$.content/${key}.md`, { token });
    assert.equal(b.status, 200);
    assert.equal(source(b), "cache");
    assert.equal(b.text, a.text);
    assert.equal(b.headers.get("etag"), a.headers.get("etag"));
    assert.ok(b.headers.get("x-artifact-age") !== null);
  });

  test("stale: answered from cache at once, refreshed in the background", async () => {
    const [key, w] = winners[1];
    const token = ownerToken(w.row);
    assert.match(source(await fetchContent(h, `/$.content/${key}.md`, { token })), FROM_TABLES);
    await sleep(1_300); // past the 1 s fresh window, inside the 60 s stale window
    const stale = await fetchContent(h, `/$.content/${key}.md`, { token });
    assert.equal(source(stale), "cache");
    assert.ok(Number(stale.headers.get("x-artifact-age")) >= 1, `age ${stale.headers.get("x-artifact-age")}`);
    await sleep(300); // the background refresh has replaced the entry
    const refreshed = await fetchContent(h, `/$.content/${key}.md`, { token });
    assert.equal(source(refreshed), "cache");
    assert.equal(refreshed.headers.get("x-artifact-age"), "0", "the refresh stored a new entry");
  });

  test("?fresh=true without a token is 401 token-required (skipping the cache costs table reads)", async () => {
    const [key] = winners.find(([, w]) => w.row.visibility === "public");
    const r = await fetchContent(h, `/$.content/${key}.md?fresh=true`);
    assert.equal(r.status, 401);
    assert.ok(r.body.type.endsWith("token-required"));
  });

  test("?fresh=true bypasses the cache and answers no-store", async () => {
    const [key, w] = winners[0];
    const r = await fetchContent(h, `/$.content/${key}.md?fresh=true`, { token: ownerToken(w.row) });
    assert.match(source(r), FROM_TABLES);
    assert.equal(r.headers.get("cache-control"), "no-store");
  });
});

describe("expiry, max_age, private content, purge-on-write", () => {
  let h, kv;
  before(async () => {
    h = await startWarehouse(ROOT, { serveVars: { FRESH_SECONDS: "1", STALE_SECONDS: "1" } });
    kv = await h.mf.getKVNamespace("ARTIFACT_STATE", "serve");
  });
  after(() => h?.dispose());

  test("past both windows the table is read again", async () => {
    const [key, w] = winners[2];
    const token = ownerToken(w.row);
    assert.match(source(await fetchContent(h, `/$.content/${key}.md`, { token })), FROM_TABLES);
    await sleep(2_300);
    assert.match(source(await fetchContent(h, `/$.content/${key}.md`, { token })), FROM_TABLES);
  });

  // Regression (security issue 6): `?max_age=31536000` was stored with the shared entry, so every
  // later plain reader was told to keep the public copy for a year.
  test("?max_age shortens its own answer only: capped at the configured window, never stored", async () => {
    const [key] = winners.find(([, w]) => w.row.visibility === "public");
    const long = await fetchContent(h, `/$.content/${key}.md?max_age=31536000`);
    assert.equal(long.status, 200);
    assert.match(long.headers.get("cache-control"), /^public, max-age=[01], /);
    await sleep(50);
    const plain = await fetchContent(h, `/$.content/${key}.md`);
    assert.equal(source(plain), "cache");
    assert.match(plain.headers.get("cache-control"), /^public, max-age=[01], /, "the stored entry keeps the configured window");
  });

  test("?max_age=N under the configured window (at least 10 s) keeps the entry cached", async () => {
    const [key, w] = winners[0];
    const r = await fetchContent(h, `/$.content/${key}.json?max_age=3`, { token: ownerToken(w.row) });
    assert.equal(r.status, 200);
    // org rows go out private whatever the window; the stored entry uses max(3, 10) = 10 s.
    assert.match(r.headers.get("cache-control"), /^private/);
    await sleep(1_300);
    assert.equal(source(await fetchContent(h, `/$.content/${key}.json?max_age=3`, { token: ownerToken(w.row) })), "cache");
  });

  test("org content warmed by its owner is never served to an anonymous caller or another org", async () => {
    const [key, w] = winners.find(([, w]) => w.row.visibility === "org");
    const warm = await fetchContent(h, `/$.content/${key}.md?max_age=60`, { token: ownerToken(w.row) });
    assert.equal(warm.status, 200);
    assert.match(warm.headers.get("cache-control"), /^private/);
    await sleep(50);
    assert.equal(source(await fetchContent(h, `/$.content/${key}.md?max_age=60`, { token: ownerToken(w.row) })), "cache");
    for (const token of [undefined, readToken("globex", w.row.owner_user)]) {
      const r = await fetchContent(h, `/$.content/${key}.md?max_age=60`, { token });
      assert.equal(r.status, 404, `token ${token ? "globex" : "none"}`);
      assert.equal(r.body.type.endsWith("not-found"), true);
      assert.equal(source(r), null);
    }
  });

  test("purge-on-write: a new generation in ARTIFACT_STATE makes the cached answer unreachable", async () => {
    const [key, w] = winners[0];
    const token = ownerToken(w.row);
    const path = `/$.content/${key}.md?max_age=60`;
    await fetchContent(h, path, { token });
    await sleep(50);
    assert.equal(source(await fetchContent(h, path, { token })), "cache");
    // What ingest writes once a chunk with this artifact is confirmed (shared::cache_key).
    await kv.put(`art:${key}`, JSON.stringify({ h: "new-content", g: Date.now() * 1000 }));
    assert.match(source(await fetchContent(h, path, { token })), FROM_TABLES);
  });

  test("serve never trapped", async () => {
    assert.equal((await (await h.serve("/$.health")).json()).resets, 0);
  });
});

describe("coalescing", () => {
  let h;
  before(async () => { h = await startWarehouse(ROOT); });
  after(() => h?.dispose());
  const health = async () => (await h.serve("/$.health")).json();

  // Regression (security issue 6): `?max_age=10` stored a 10 s window, sending every later reader
  // to the tables; it shortens only the answer it was asked on.
  test("?max_age=10 does not shorten the window of later readers", async () => {
    const [key] = winners.find(([, w]) => w.row.visibility === "public");
    await fetchContent(h, `/$.content/${key}.md?max_age=10`);
    await sleep(50);
    const later = await fetchContent(h, `/$.content/${key}.md`);
    assert.equal(source(later), "cache");
    const maxAge = Number(/max-age=(\d+)/.exec(later.headers.get("cache-control"))?.[1]);
    assert.ok(maxAge > 10, `the stored entry keeps the configured window, not max_age=10 (max-age=${maxAge})`);
  });

  test("50 concurrent misses for one artifact share one table read", async () => {
    const [key, w] = winners[0];
    const token = ownerToken(w.row);
    const before = await health();
    const answers = await Promise.all(Array.from({ length: 50 }, () => fetchContent(h, `/$.content/${key}.md`, { token })));
    for (const r of answers) {
      assert.equal(r.status, 200);
      assert.equal(r.text, w.row.markdown);
    }
    const after = await health();
    assert.equal(after.table_reads - before.table_reads, 1, "one table read for 50 concurrent misses");
    // The other 49 joined the running read (or took its outcome just after), or — arriving after
    // it was stored — hit the cache.
    const hits = answers.filter((r) => source(r) === "cache").length;
    assert.equal(after.coalesced - before.coalesced + hits, 49);
  });

  test("different callers do not share a read (visibility is per caller)", async () => {
    const [key, w] = winners[3];
    const before = (await health()).table_reads;
    // ?fresh needs a token (security issue 9), so the other caller is another org's reader.
    const [owner, other] = await Promise.all([
      fetchContent(h, `/$.content/${key}.md?fresh=true`, { token: ownerToken(w.row) }),
      fetchContent(h, `/$.content/${key}.md?fresh=true`, { token: readToken(`not-${w.row.owner_org}`) }),
    ]);
    assert.equal(owner.status, 200);
    assert.equal(other.status, ["public", "unlisted"].includes(w.row.visibility) ? 200 : 404);
    assert.equal((await health()).table_reads - before, 2);
  });
});

describe("windows per tenant", () => {
  let h, kv;
  before(async () => {
    h = await startWarehouse(ROOT);
    kv = await h.mf.getKVNamespace("ARTIFACT_STATE", "serve");
    // The owner org of the public fixture row sets its own windows.
    await kv.put("tenant:team", JSON.stringify({ cache: { fresh_seconds: 1, stale_seconds: 30 } }));
  });
  after(() => h?.dispose());

  test("a tenant's fresh and stale windows apply to its content", async () => {
    const path = "/$.content/team%40acme.dev/page/home.md";
    const first = await fetchContent(h, path);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("cache-control"), "public, max-age=1, stale-while-revalidate=30");
    await sleep(1_300);
    const stale = await fetchContent(h, path);
    assert.equal(source(stale), "cache");
    assert.equal(stale.headers.get("cache-control"), "public, max-age=0, stale-while-revalidate=30", "the stored entry keeps the tenant's windows");
  });

  test("other tenants keep the defaults", async () => {
    const [key, w] = winners.find(([, w]) => w.row.owner_org === "acme");
    const r = await fetchContent(h, `/$.content/${key}.md`, { token: ownerToken(w.row) });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("cache-control"), /^private/);
  });
});
