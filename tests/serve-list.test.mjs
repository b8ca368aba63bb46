// Listing: GET /$.content/{ns}/{type}/ → the live artifacts the caller may see (id, ts, size,
// visibility, content_hash, status), in id order, cursor-paginated. Expectations from expected.json.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWarehouse, expectedTable } from "./support/warehouse.mjs";
import { fetchContent, readToken, rfc3339 } from "./support/content.mjs";

const ROOT = "artifacts/pyi_unpartitioned";
const table = expectedTable(ROOT);
let h;
before(async () => { h = await startWarehouse(ROOT); });
after(() => h?.dispose());

function expectedList(ns, ty, who) {
  return Object.entries(table.winners)
    .filter(([k]) => k.startsWith(`${ns}/${ty}/`))
    .filter(([, w]) => !w.row.deleted && w.row.visibility !== "unlisted")
    .filter(([, w]) => w.row.visibility === "public"
      || (who && w.row.visibility === "org" && w.row.owner_org === who.org)
      || (who && w.row.visibility === "user" && w.row.owner_org === who.org && w.row.owner_user === who.sub))
    .map(([k, w]) => ({ id: k.split("/")[2], ts: rfc3339(w.row.ts), size_bytes: w.row.size_bytes, visibility: w.row.visibility, content_hash: w.row.content_hash, status: "active" }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

const types = [...new Set(Object.keys(table.winners).map((k) => k.split("/").slice(0, 2).join("/")))];

test("each type lists exactly what the caller may see, tombstones left out", async () => {
  let nonEmpty = 0;
  for (const t of types) {
    const [ns, ty] = t.split("/");
    for (const who of [null, { org: "acme", sub: "alice" }, { org: "globex", sub: "bob" }]) {
      const r = await fetchContent(h, `/$.content/${encodeURIComponent(ns)}/${ty}/`, { token: who ? readToken(who.org, who.sub) : undefined });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.items, expectedList(ns, ty, who), `${t} as ${who?.org ?? "anonymous"}`);
      assert.equal(r.body.cursor, null);
      assert.match(r.headers.get("cache-control"), /^private/);
      if (r.body.items.length) nonEmpty += 1;
    }
  }
  assert.ok(nonEmpty > 1, "some listings are not empty");
});

test("pages follow the cursor and together equal the whole list", async () => {
  const [ns, ty] = types.map((t) => t.split("/")).sort((a, b) => expectedList(...b, { org: "acme", sub: "alice" }).length - expectedList(...a, { org: "acme", sub: "alice" }).length)[0];
  const token = readToken("acme", "alice");
  const all = expectedList(ns, ty, { org: "acme", sub: "alice" });
  assert.ok(all.length >= 3, `${ns}/${ty} has ${all.length}`);
  const got = [];
  let cursor = "";
  for (let i = 0; i < 10; i++) {
    const r = await fetchContent(h, `/$.content/${encodeURIComponent(ns)}/${ty}/?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
    assert.equal(r.status, 200);
    assert.ok(r.body.items.length <= 2);
    got.push(...r.body.items);
    if (!r.body.cursor) break;
    cursor = r.body.cursor;
  }
  assert.deepEqual(got, all);
});

test("bad listing paths are 400", async () => {
  assert.equal((await fetchContent(h, "/$.content/%zz/guide/")).status, 400);
  assert.equal((await fetchContent(h, "/$.content/docs/gu%2Fide/")).status, 400);
});
