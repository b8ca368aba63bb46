// Retention (#18, docs/serve.md "Retention"): a tenant's policy per mode (overridable per
// ns/type) and a record's own `expires_at`, evaluated at read time. An expired artifact answers
// 404 like a deleted one, leaves listings, and its history is not readable; cache windows never
// outlive the expiry; extending the policy brings it back while its rows exist.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const standinVars = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" };
const writer = () => mint({ org: "ret", sub: "alice", scopes: ["write:*"] });
const reader = () => readToken("ret", "alice");

describe("retention at read time", () => {
  let h;
  let kv;
  before(async () => {
    h = await start({ standin: true, standinVars, serveVars: { METADATA_TTL_SECONDS: "0" } });
    kv = await h.mf.getKVNamespace("ARTIFACT_STATE", "serve");
  });
  after(async () => {
    await h?.dispose();
  });

  const setPolicy = (retention) => kv.put("tenant:ret", JSON.stringify({ retention }));
  const ids = (n, label) => Array.from({ length: n }, () => fresh(label));
  async function write(mode, recs) {
    const r = await post(h, ndjson(recs.map((x) => ({ ns: "rdocs", type: "guide", visibility: "public", ...x }))), { token: writer(), mode });
    assert.equal(r.status, 200, r.text);
    await h.flush(mode);
  }
  const read = (id, q = "") => fetchContent(h, `/$.content/rdocs/guide/${id}.md${q}`, { token: reader() });
  async function listed() {
    const r = await fetchContent(h, `/$.content/rdocs/guide/?limit=1000`, { token: reader() });
    assert.equal(r.status, 200, r.text);
    return r.body.items.map((i) => i.id);
  }

  test("a mode's policy expires its artifacts; extending it brings them back; cache windows end at the expiry", async () => {
    const [p, b] = ids(2, "pol");
    await setPolicy({ preview: "3s" });
    await write("preview", [{ id: p, markdown: "# preview" }]);
    await write("build", [{ id: b, markdown: "# build" }]);
    const first = await read(p);
    assert.equal(first.status, 200, first.text);
    const maxAge = Number(/max-age=(\d+)/.exec(first.headers.get("cache-control") ?? "")?.[1]);
    const swr = Number(/stale-while-revalidate=(\d+)/.exec(first.headers.get("cache-control") ?? "")?.[1] ?? 0);
    assert.ok(maxAge + swr <= 3, `windows within the 3 s left: ${first.headers.get("cache-control")}`);
    assert.deepEqual((await listed()).filter((x) => x === p || x === b).sort(), [b, p].sort());
    await sleep(3200);
    assertGone(await read(p), p);
    assertGone(await read(p, "?fresh=1"), p);
    assert.equal((await read(b)).status, 200, "build has no policy: kept");
    assert.deepEqual((await listed()).filter((x) => x === p || x === b), [b], "the expired artifact leaves the listing");
    // Extending the policy brings it back (its row is still there).
    await setPolicy({ preview: "1h" });
    const back = await read(p, "?fresh=1");
    assert.equal(back.status, 200, back.text);
    assert.equal(back.text, "# preview");
    // Per ns/type over the tenant's mode policy; null keeps.
    await setPolicy({ preview: "1s", "rdocs/guide": { preview: null } });
    assert.equal((await read(p, "?fresh=1")).status, 200, "kept for this type");
    await setPolicy({ build: "1s" });
    await sleep(1100);
    assertGone(await read(b, "?fresh=1"), b);
    await setPolicy({});
  });

  test("a record's expires_at overrides the policy either way, and an expired artifact's history is gone", async () => {
    const [soon, later] = ids(2, "exp");
    await setPolicy({ build: "1s" });
    const now = Date.now();
    await write("build", [
      { id: soon, markdown: "# soon", expires_at: new Date(now + 2500).toISOString() },
      { id: later, markdown: "# later", expires_at: new Date(now + 3_600_000).toISOString() },
    ]);
    await sleep(1200);
    assert.equal((await read(soon, "?fresh=1")).status, 200, "its own expires_at is later than the policy's");
    assert.equal((await read(later, "?fresh=1")).status, 200);
    // Its version as of now (after the commit), by time, while readable.
    const asOf = new Date().toISOString();
    const version = await read(`${soon}@${asOf}`);
    assert.equal(version.status, 200, version.text);
    await sleep(1500);
    assertGone(await read(soon, "?fresh=1"), soon);
    assertGone(await read(`${soon}@${asOf}`), `${soon}@version`);
    assert.equal((await read(later, "?fresh=1")).status, 200, "later than the policy: kept");
    assert.ok(!(await listed()).includes(soon));
    await setPolicy({});
  });
});

function assertGone(r, what) {
  assert.equal(r.status, 404, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  assert.equal(r.body?.type, "https://artifacts.dev/problems/not-found", `${what}: the same 404 as a missing artifact`);
}
