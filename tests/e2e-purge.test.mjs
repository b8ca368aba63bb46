// Purge-on-write end to end: ingest v1 → committed → read (and cached) → ingest v2 → committed →
// reads show v2 no later than the stale window plus the metadata TTL. Real parts all the way:
// ingest, the stand-in writing Iceberg into R2, serve with the Cache API, the shared KV.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";
// Answered from the tables: `serving` (the serving table) or `tail` (the source tables), with the
// serving table on or off.
const FROM_TABLES = /^(serving|tail)$/;

const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
const reader = () => readToken("acme", "alice");
let h;
before(async () => {
  h = await start({
    standin: true,
    // Long fresh window: without purge-on-write, v1 would be served from cache for 5 minutes.
    serveVars: { FRESH_SECONDS: "300", STALE_SECONDS: "1", METADATA_TTL_SECONDS: "1" },
    standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" },
  });
});
after(() => h?.dispose());

test("an update is served within stale window + metadata TTL, despite a 300 s fresh window", async () => {
  const id = fresh("purge");
  const path = `/$.content/docs/guide/${id}.md`;
  const v1 = await post(h, ndjson([{ ns: "docs", type: "guide", id, markdown: "# v1" }]), { token: writer() });
  assert.equal(v1.status, 200, v1.text);
  await h.flush("build");
  const first = await fetchContent(h, path, { token: reader() });
  assert.equal(first.text, "# v1");
  await new Promise((r) => setTimeout(r, 100));
  const cached = await fetchContent(h, path, { token: reader() });
  assert.equal(cached.headers.get("x-artifact-source"), "cache", "v1 is cached");
  const v2 = await post(h, ndjson([{ ns: "docs", type: "guide", id, markdown: "# v2" }]), { token: writer() });
  assert.equal(v2.status, 200, v2.text);
  // Confirmed by the stream but not committed yet (Pipelines rolls every 5–120 s): the table still
  // holds v1, served from the table and — regression — not cached under v2's generation.
  for (let i = 0; i < 2; i++) {
    const between = await fetchContent(h, path, { token: reader() });
    assert.equal(between.text, "# v1");
    assert.match(between.headers.get("x-artifact-source"), FROM_TABLES);
    await new Promise((r) => setTimeout(r, 100));
  }
  await h.flush("build");
  const updatedAt = Date.now();
  let seen;
  while (Date.now() - updatedAt < 2_500) {
    seen = await fetchContent(h, path, { token: reader() });
    if (seen.text === "# v2") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(seen.text, "# v2", "v2 served within stale (1 s) + metadata TTL (1 s)");
  // And it stays v2: the old cache entry is unreachable under the new generation.
  assert.equal((await fetchContent(h, path, { token: reader() })).text, "# v2");
});
