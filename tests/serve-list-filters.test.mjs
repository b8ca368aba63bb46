// Listing filters (#18, docs/serve.md "Listing"): `?tag.<key>=<value>`, `?since=`, `?until=`,
// `?status=` on `GET /$.content/{ns}/{type}/`, the same from the serving table and (SERVING=off)
// by scanning; items carry `status`; cursors are bound to the filters; any parameter the listing
// does not take is a 400 `bad-query` naming it.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, del, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const standinVars = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" };
const writer = () => mint({ org: "flt", sub: "alice", scopes: ["write:*"] });
const owner = () => readToken("flt", "alice");
const T0 = Date.parse("2026-01-01T00:00:00Z") * 1000;

describe("listing filters", () => {
  let h;
  const type = fresh("f").replaceAll("_", "-");
  before(async () => {
    h = await start({ standin: true, standinVars, serveVars: { METADATA_TTL_SECONDS: "0" } });
    const recs = [
      { id: "a", ts: T0 + 1, tags: { team: "docs", tier: "1" } },
      { id: "b", ts: T0 + 2, tags: { team: "docs", tier: "2" } },
      { id: "c", ts: T0 + 3, tags: { team: "web" } },
      { id: "d", ts: T0 + 4 },
      { id: "gone", ts: T0 + 5, tags: { team: "docs" } },
    ].map((r) => ({ ns: "fdocs", type, visibility: "public", markdown: `# ${r.id}`, ...r }));
    const r = await post(h, ndjson(recs), { token: writer(), mode: "bulk" });
    assert.equal(r.status, 200, r.text);
    const d = await del(h, `fdocs/${type}/gone`, { token: writer(), mode: "build" });
    assert.equal(d.status, 200, d.text);
    await h.flush();
  });
  after(async () => {
    await h?.dispose();
  });

  const list = (q, token = owner()) => fetchContent(h, `/$.content/fdocs/${type}/?${q}`, { token });
  const ids = async (q, token) => {
    const r = await list(q, token);
    assert.equal(r.status, 200, `${q}: ${r.text}`);
    return r.body.items.map((i) => i.id);
  };

  test("tags, times and status select the rows; items carry their status", async () => {
    assert.deepEqual(await ids(""), ["a", "b", "c", "d"]);
    assert.deepEqual(await ids("tag.team=docs"), ["a", "b"], "the tombstone is not listed by default");
    assert.deepEqual(await ids("tag.team=docs&tag.tier=2"), ["b"]);
    assert.deepEqual(await ids("tag.team=nobody"), []);
    assert.deepEqual(await ids(`since=${T0 + 2}&until=${T0 + 4}`), ["b", "c"]);
    assert.deepEqual(await ids(`since=${encodeURIComponent("2026-01-01T00:00:00.000003Z")}`), ["c", "d"]);
    assert.deepEqual(await ids("status=tombstoned"), ["gone"], "the owner's org sees its tombstones when it asks");
    assert.deepEqual(await ids("status=tombstoned", null), [], "anonymous callers never do");
    // A tombstone carries no tags (the deleted version's are gone with it); its ts is the delete's.
    assert.deepEqual(await ids("status=active,tombstoned&tag.team=docs"), ["a", "b"]);
    assert.deepEqual(await ids(`status=active,tombstoned&since=${T0 + 4}`), ["d", "gone"]);
    const r = await list("limit=10");
    assert.deepEqual(r.body.items.map((i) => i.status), ["active", "active", "active", "active"]);
  });

  test("pages and cursors follow the filters; a cursor of other filters is refused", async () => {
    const first = await list("tag.team=docs&limit=1");
    assert.deepEqual(first.body.items.map((i) => i.id), ["a"]);
    assert.ok(first.body.cursor);
    const next = await list(`tag.team=docs&limit=1&cursor=${encodeURIComponent(first.body.cursor)}`);
    assert.deepEqual(next.body.items.map((i) => i.id), ["b"]);
    const other = await list(`tag.team=web&limit=1&cursor=${encodeURIComponent(first.body.cursor)}`);
    assert.equal(other.status, 400, other.text);
    assert.equal(other.body.type, "https://artifacts.dev/problems/bad-cursor");
  });

  test("bad filters are a 400 bad-query naming what is wrong", async () => {
    for (const [q, says] of [
      ["colour=red", "colour"],
      ["status=gone", "gone"],
      ["since=yesterday", "since"],
      ["tag.a%20b=x", "tag key"],
      [`tag.k=${"v".repeat(300)}`, "256"],
      ["limit=1&limit=2", "twice"],
      [Array.from({ length: 9 }, (_, i) => `tag.k${i}=v`).join("&"), "at most 8"],
    ]) {
      const r = await list(q);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.equal(r.headers.get("content-type"), "application/problem+json");
      assert.equal(r.body.type, "https://artifacts.dev/problems/bad-query", q);
      assert.ok(r.body.detail.includes(says), `${q}: ${r.body.detail}`);
    }
  });
});
