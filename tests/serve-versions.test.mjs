// Versions: `{id}@{snapshot-id}.{ext}` and `{id}@{RFC 3339}.{ext}` read the table as of then
// (Iceberg time travel through the snapshot log). Expectations come from the generator's model
// (expected.json): from the commit that wrote a winning row on, every snapshot shows that row.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWarehouse, expectedTable } from "./support/warehouse.mjs";
import { fetchContent, ownerToken, rfc3339 } from "./support/content.mjs";

const ROOT = "artifacts/pyi_unpartitioned";
const table = expectedTable(ROOT);
let h;
before(async () => { h = await startWarehouse(ROOT); });
after(() => h?.dispose());

const live = Object.entries(table.winners).filter(([, w]) => !w.row.deleted);
// Snapshot ids exceed 2^53, so JSON.parse rounds them; the manifest-list file name keeps the digits.
const snapshotId = (snap) => snap.manifest_list.match(/snap-(\d+)-/)[1];

test("@snapshot-id shows the row every snapshot since its commit held", async () => {
  let checked = 0;
  for (const [key, w] of live) {
    for (const snap of table.snapshots.filter((s) => s.sequence_number >= w.sequence_number)) {
      const id = snapshotId(snap);
      const r = await fetchContent(h, `/$.content/${key}@${id}.json`, { token: ownerToken(w.row) });
      assert.equal(r.status, 200, `${key}@${id}: ${r.text}`);
      assert.equal(r.body.ts, rfc3339(w.row.ts), `${key}@${id}`);
      checked += 1;
    }
  }
  assert.ok(checked > 10, `checked ${checked}`);
});

test("@time before the first commit, or an unknown snapshot, is 404 not-found", async () => {
  const [key, w] = live[0];
  const before = new Date(table.snapshots[0].timestamp_ms - 1000).toISOString();
  for (const v of [before, "42"]) {
    const r = await fetchContent(h, `/$.content/${key}@${v}.json`, { token: ownerToken(w.row) });
    assert.equal(r.status, 404, `${key}@${v}`);
    assert.equal(r.body.type.endsWith("not-found"), true);
  }
});

test("@time at the newest commit equals the latest", async () => {
  const [key, w] = live[0];
  const last = table.snapshots.at(-1);
  const at = new Date(last.timestamp_ms).toISOString();
  const a = await fetchContent(h, `/$.content/${key}@${at}.json`, { token: ownerToken(w.row) });
  const b = await fetchContent(h, `/$.content/${key}.json`, { token: ownerToken(w.row) });
  assert.equal(a.status, 200, a.text);
  // `status` is the artifact's now (#18): a latest read's `.json` says it, a version's does not.
  const { status, ...latest } = b.body;
  assert.equal(status, "active");
  assert.equal(a.body.status, undefined);
  assert.deepEqual(a.body, latest);
});

test("serve never trapped", async () => {
  assert.equal((await (await h.serve("/$.health")).json()).resets, 0);
});
