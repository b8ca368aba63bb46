// Batch: POST /$.content/batch with a JSON list of refs → one NDJSON result per distinct ref (with
// the positions it answers), each with its own status, streamed, then an `end` line; one
// request's reads are shared, so bytes several refs need are read once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWarehouse, expectedTable } from "./support/warehouse.mjs";
import { ownerToken } from "./support/content.mjs";

const ROOT = "artifacts/pyi_unpartitioned";
const table = expectedTable(ROOT);
const pubKey = "team@acme.dev/page/home";
const [orgKey, orgW] = Object.entries(table.winners).find(([, w]) => w.row.visibility === "org" && !w.row.deleted && w.row.markdown);
const [tombKey] = Object.entries(table.winners).find(([, w]) => w.row.deleted);

async function batch(h, refs, token) {
  const res = await h.serve("/$.content/batch", {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(refs),
  });
  const text = await res.text();
  const all = text.trim() ? text.trim().split("\n").map((l) => JSON.parse(l)) : [];
  const end = all.at(-1);
  if (res.status === 200) assert.equal(end?.end, true, "a complete answer ends with the end line");
  const lines = res.status === 200 ? all.slice(0, -1) : all;
  if (res.status === 200) assert.equal(end.lines, lines.length);
  return { status: res.status, type: res.headers.get("content-type"), lines, reads: end?.r2_reads, end };
}

let h;
before(async () => { h = await startWarehouse(ROOT); });
after(() => h?.dispose());

test("one result per ref, in order, each with its own status", async () => {
  const refs = [`${pubKey}.md`, `/$.content/${orgKey}.md`, `${orgKey}.json`, "docs/guide/nope.md", "docs/guide/x.txt", `${tombKey}.md`, "a/b", 7];
  const r = await batch(h, refs, ownerToken(orgW.row));
  assert.equal(r.status, 200);
  assert.equal(r.type, "application/x-ndjson");
  assert.deepEqual(r.lines.map((l) => l.status), [200, 200, 200, 404, 404, 404, 400, 400]);
  assert.equal(r.lines[0].body, table.winners[pubKey].row.markdown);
  assert.equal(r.lines[1].body, orgW.row.markdown);
  assert.equal(r.lines[2].body.id, orgKey.split("/")[2], "JSON representations are embedded as JSON");
  assert.equal(r.lines[3].problem.type.endsWith("not-found"), true);
  assert.equal(r.lines[4].problem.type.endsWith("unknown-extension"), true);
  assert.equal(r.lines[5].problem.type.endsWith("not-found"), true, "a tombstone looks missing");
  assert.deepEqual(r.lines.map((l) => l.ref), refs.map((x) => (typeof x === "string" ? x : x)));
  assert.deepEqual(r.lines.map((l) => l.positions), refs.map((_, i) => [i]));
  assert.equal(r.end.refs, refs.length);
});

test("without a token, org refs look missing", async () => {
  const r = await batch(h, [`${orgKey}.md`, `${pubKey}.md`]);
  assert.deepEqual(r.lines.map((l) => l.status), [404, 200]);
});

test("repeated refs read nothing more", async () => {
  const fresh = await startWarehouse(ROOT);
  const fresh2 = await startWarehouse(ROOT);
  try {
    const one = await batch(fresh, [`${orgKey}.md`], ownerToken(orgW.row));
    const three = await batch(fresh2, [`${orgKey}.md`, `${orgKey}.md`, `${orgKey}.md`], ownerToken(orgW.row));
    assert.ok(one.reads > 0);
    assert.equal(three.reads, one.reads, "the same ref three times costs what it costs once");
    // Regression (security issue 2): a repeated ref is answered once, its line naming every position.
    assert.equal(three.lines.length, 1);
    assert.deepEqual(three.lines[0].positions, [0, 1, 2]);
    assert.equal(three.lines[0].body, orgW.row.markdown);
  } finally {
    await fresh.dispose();
    await fresh2.dispose();
  }
});

test("repeats interleaved with other refs: one line each, in order of first appearance", async () => {
  const r = await batch(h, [`${pubKey}.md`, "docs/guide/nope.md", `${pubKey}.md`, 7, 7, "docs/guide/nope.md"]);
  assert.deepEqual(r.lines.map((l) => [l.ref, l.positions, l.status]), [
    [`${pubKey}.md`, [0, 2], 200],
    ["docs/guide/nope.md", [1, 5], 404],
    [7, [3], 400],
    [7, [4], 400],
  ]);
});

// Review finding: refs that name one artifact in different spellings were answered (and read)
// once per spelling.
test("one artifact in different spellings is one line", async () => {
  const enc = pubKey.replace("@", "%40");
  const r = await batch(h, [`${pubKey}.md`, `/$.content/${pubKey}.md`, `${enc}.md`, `${pubKey}.json`]);
  assert.deepEqual(r.lines.map((l) => [l.ref, l.positions, l.status]), [
    [`${pubKey}.md`, [0, 1, 2], 200],
    [`${pubKey}.json`, [3], 200],
  ]);
});

test("bad batches are 400", async () => {
  const res = await h.serve("/$.content/batch", { method: "POST", body: "{}" });
  assert.equal(res.status, 400);
  const big = await h.serve("/$.content/batch", { method: "POST", body: JSON.stringify(Array(101).fill("a/b/c.md")) });
  assert.equal(big.status, 400);
});
