// The stand-in's table maintenance (#16), what R2 Data Catalog does to a sink's tables on its own:
// `POST /maintain/compact` (binpack small files into compacted-* files, a `replace` snapshot) and
// `POST /maintain/expire` (drop old snapshots, delete the files only they reached). Records are
// committed over several snapshots — updates, a tombstone, bulk versions of one id tied on `ts`
// across commits (the newest commit wins) — and every answer serve gives (bodies, ETags, status)
// is the same before compaction, after it and after expiry; the replaced files are gone from R2
// after expiry; pyiceberg reads the same rows before and after.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { start, resets } from "./support/harness.mjs";
import { post, del, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent } from "./support/content.mjs";
import { writer, owner } from "./support/standin.mjs";
import { PYTHON, pyiceberg } from "./support/pyiceberg.mjs";

const MODES = ["preview", "build", "bulk"];
const T0 = 1_780_000_000_000_000;


/** Every key's .md and .json as its owner, the cache bypassed: status, bytes, ETag. */
async function answers(h, keys) {
  const out = {};
  for (const key of [...keys].sort()) {
    for (const ext of ["md", "json"]) {
      const r = await fetchContent(h, `/$.content/${key}.${ext}?fresh=true`, { token: owner() });
      assert.ok([200, 404, 410].includes(r.status), `${key}.${ext}: ${r.status} ${r.text.slice(0, 300)}`);
      if (r.status === 200) assert.equal(r.headers.get("x-artifact-source"), "tail", `${key}.${ext} read from the table`);
      out[`${key}.${ext}`] = { status: r.status, etag: r.headers.get("etag"), body: r.status === 200 ? r.text : null };
    }
  }
  return out;
}

/** Every key under `prefix` in the bucket. */
async function listKeys(r2, prefix) {
  const out = [];
  let cursor;
  do {
    const page = await r2.list({ prefix, cursor });
    out.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
}

/** The pointer and current metadata of a mode's table. */
async function metadataOf(r2, mode) {
  const hint = (await (await r2.get(`artifacts/${mode}/metadata/version-hint.text`)).text()).trim();
  return { hint, meta: JSON.parse(await (await r2.get(`artifacts/${mode}/metadata/v${hint}.metadata.json`)).text()) };
}

/** pyiceberg's view of every mode table (a copy of the bucket under `dir`, whose URL is
 * `location`): per mode, its full scan's rows (sorted JSON) and its live data files. */
async function pyTables(r2, dir, location) {
  rmSync(path.join(dir, "artifacts"), { recursive: true, force: true });
  for (const key of await listKeys(r2, "artifacts/")) {
    const file = path.join(dir, key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, Buffer.from(await (await r2.get(key)).arrayBuffer()));
  }
  const locations = [];
  for (const mode of MODES) locations.push(`${location}artifacts/${mode}/metadata/v${(await metadataOf(r2, mode)).hint}.metadata.json`);
  const { tables } = await pyiceberg("static", "--ids=", ...locations);
  const out = {};
  for (const t of Object.values(tables)) {
    const mode = MODES.find((m) => t.metadata_location.includes(`/artifacts/${m}/`));
    out[mode] = { rows: t.rows.map((r) => JSON.stringify(r)).sort(), files: t.files };
  }
  return out;
}

/** pyiceberg's metrics of a compacted file agree with the file: split offsets where pyarrow finds
 * its row group, a value count per column equal to its rows. */
function assertCompactedMetrics(files) {
  const compacted = files.filter((f) => f.file_path.includes("/compacted-"));
  assert.ok(compacted.length > 0);
  for (const f of compacted) {
    assert.deepEqual(f.split_offsets, f.row_groups.map((g) => g.offset), f.file_path);
    assert.equal(f.row_groups.length, 1);
    assert.equal(f.value_counts["3"], f.record_count, "id values");
  }
}

describe("stand-in maintenance: compact and expire", () => {
  let h;
  let dir;
  let location;
  const keys = new Set(); // ns/type/id of everything sent
  let r2;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "standin-maintenance-"));
    location = `file://${dir}/`;
    h = await start({
      standin: true,
      // The serving table's compactor stops at a replace snapshot until it follows them (#16):
      // these answers are the source tables' own.
      serving: false,
      standinVars: { WAREHOUSE_LOCATION: location, ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000", ROLL_BYTES: "1000000000" },
      serveVars: { LOCATION_PREFIX: location, METADATA_TTL_SECONDS: "0" },
    });
    r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
  });
  after(async () => {
    await h?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function commit(mode, recs) {
    const r = await post(h, ndjson(recs), { token: writer(), mode });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.accepted, recs.length, r.text);
    for (const x of recs) keys.add(`${x.ns}/${x.type}/${x.id}`);
    const [out] = await h.flush(mode);
    assert.equal(out.committed, recs.length, JSON.stringify(out));
  }

  let first;
  let firstPy;
  let replaced;

  test("several commits per table, read through serve and pyiceberg", async () => {
    const tie = fresh("tie");
    const upd = fresh("upd");
    const gone = fresh("gone");
    for (let i = 0; i < 4; i++) {
      await commit("build", [
        { ns: "docs", type: "guide", id: fresh(`b${i}`), markdown: `# build ${i}`, visibility: "org" },
        { ns: "docs", type: "guide", id: upd, markdown: `# update ${i}`, visibility: "org" },
        ...(i === 0 ? [{ ns: "docs", type: "guide", id: gone, markdown: "# soon deleted" }] : []),
      ]);
      // Bulk: one id at the same ts in every commit; the newest commit's version wins.
      await commit("bulk", [
        { ns: "docs", type: "ref", id: tie, ts: T0, markdown: `# tie ${i}`, visibility: "public" },
        { ns: "docs", type: "ref", id: fresh(`k${i}`), ts: T0 + i, markdown: `# bulk ${i}`, inputs: [`docs/ref/${i}`] },
      ]);
    }
    await commit("preview", [{ ns: "docs", type: "note", id: fresh("p"), markdown: "# only one commit" }]);
    const d = await del(h, `docs/guide/${gone}`, { token: writer(), mode: "build" });
    assert.ok(d.status < 300, d.text);
    await h.flush("build");

    first = await answers(h, keys);
    assert.equal(first[`docs/ref/${tie}.md`].body, "# tie 3");
    assert.equal(first[`docs/guide/${upd}.md`].body, "# update 3");
    assert.equal(first[`docs/guide/${gone}.md`].status, 404);
    if (existsSync(PYTHON)) firstPy = await pyTables(r2, dir, location);
  });

  test("/maintain takes POST only: other methods are 405 with Allow; unknown operations 404", async () => {
    for (const op of ["compact", "expire"]) {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const res = await h.standin(`/maintain/${op}`, { method });
        assert.equal(res.status, 405, `${method} ${op}`);
        assert.equal(res.headers.get("allow"), "POST", `${method} ${op}`);
        await res.arrayBuffer();
      }
    }
    const res = await h.standin("/maintain/vacuum", { method: "POST" });
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    const bad = await h.standin("/maintain/expire?keep=two", { method: "POST" });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
  });

  test("compact: compacted-* files under a replace snapshot, every answer the same", async () => {
    const before = Object.fromEntries(await Promise.all(MODES.map(async (m) => [m, (await metadataOf(r2, m)).meta])));
    const res = await h.standin("/maintain/compact", { method: "POST" });
    const out = await res.json();
    assert.equal(res.status, 200, JSON.stringify(out));
    const by = Object.fromEntries(out.map((o) => [o.mode, o]));
    assert.equal(by.preview.rewritten, 0, "one file: nothing to pack");
    assert.equal(by.build.rewritten, 5, JSON.stringify(by.build)); // four commits and the tombstone's
    assert.equal(by.bulk.rewritten, 4, JSON.stringify(by.bulk));
    replaced = [];
    for (const mode of ["build", "bulk"]) {
      assert.equal(by[mode].compacted.length, 1);
      assert.match(by[mode].compacted[0], new RegExp(`^${location}artifacts/${mode}/data/compacted-[0-9a-f-]+\\.parquet$`));
      const { meta } = await metadataOf(r2, mode);
      const cur = meta.snapshots.find((s) => s["snapshot-id"] === meta["current-snapshot-id"]);
      assert.equal(cur.summary.operation, "replace");
      assert.equal(cur["parent-snapshot-id"], before[mode]["current-snapshot-id"]);
      assert.equal(cur["sequence-number"], before[mode]["last-sequence-number"] + 1);
      const prev = before[mode].snapshots.find((s) => s["snapshot-id"] === before[mode]["current-snapshot-id"]);
      assert.equal(cur.summary["total-records"], prev.summary["total-records"]);
      assert.equal(cur.summary["total-data-files"], "1");
      assert.equal(cur.summary["deleted-data-files"], String(by[mode].rewritten));
      const data = await listKeys(r2, `artifacts/${mode}/data/`);
      replaced.push(...data.filter((k) => !k.includes("/compacted-")));
    }
    assert.equal(replaced.length, 9);
    assert.deepEqual(await answers(h, keys), first);
    // A second run has nothing left to pack.
    const again = await (await h.standin("/maintain/compact", { method: "POST" })).json();
    assert.deepEqual(again.map((o) => o.rewritten), [0, 0, 0]);
  });

  test("expire: old snapshots dropped, the replaced files deleted from R2, every answer the same", async () => {
    const res = await h.standin("/maintain/expire?keep=1", { method: "POST" });
    const out = await res.json();
    assert.equal(res.status, 200, JSON.stringify(out));
    const by = Object.fromEntries(out.map((o) => [o.mode, o]));
    for (const mode of MODES) {
      const { meta } = await metadataOf(r2, mode);
      assert.equal(meta.snapshots.length, 1, mode);
      assert.equal(meta.snapshots[0]["snapshot-id"], meta["current-snapshot-id"]);
      assert.deepEqual(meta["snapshot-log"].map((e) => e["snapshot-id"]), [meta["current-snapshot-id"]]);
      assert.equal(meta.refs.main["snapshot-id"], meta["current-snapshot-id"]);
    }
    // preview had one snapshot past its empty v1: nothing to expire.
    assert.equal(by.preview.expired, 0);
    assert.equal(by.build.expired, 5); // four commits and the tombstone's
    assert.equal(by.bulk.expired, 4);
    const deleted = new Set([...by.build.deleted, ...by.bulk.deleted]);
    for (const key of replaced) {
      assert.ok(deleted.has(key), `${key} listed for deletion`);
      assert.equal(await r2.head(key), null, `${key} is gone`);
    }
    for (const mode of ["build", "bulk"]) {
      const data = await listKeys(r2, `artifacts/${mode}/data/`);
      assert.equal(data.length, 1, `${mode}: only the compacted file is left: ${data}`);
      assert.match(data[0], /\/compacted-/);
      // What is left in metadata/: the pointer, every vN.metadata.json, the current list and manifests.
      const left = (await listKeys(r2, `artifacts/${mode}/metadata/`)).filter((k) => k.endsWith(".avro"));
      assert.equal(left.filter((k) => /\/snap-/.test(k)).length, 1, `${mode}: one manifest list left: ${left}`);
    }
    assert.deepEqual(await answers(h, keys), first);
    assert.equal(await resets(h.standin), 0);
    assert.equal(await resets(h.serve), 0);
  });

  test("pyiceberg reads the same rows after compact and expire", { skip: !existsSync(PYTHON) && "no .venv: run `make pyenv`" }, async () => {
    const after = await pyTables(r2, dir, location);
    for (const mode of MODES) assert.deepEqual(after[mode].rows, firstPy[mode].rows, mode);
    assert.equal(after.build.rows.length, 10);
    assertCompactedMetrics([...after.build.files, ...after.bulk.files]);
  });
});

// Tables partitioned by day(__ingest_ts), as a sink may create them: compacted files stay in
// their partition's directory and carry its value. Then compaction races commits (each request
// interleaves with a flush in the one stand-in isolate): whoever loses redoes its work from the
// new version, no answer is lost, and after expiry every compacted file in R2 is a live one (a
// compaction that lost removes what it wrote).
describe("stand-in maintenance: a partitioned table, and compaction racing commits", () => {
  let h;
  let dir;
  let location;
  let r2;
  const keys = new Set();
  const newest = new Map(); // key → markdown last written

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "standin-maintenance-day-"));
    location = `file://${dir}/`;
    h = await start({
      standin: true,
      serving: false,
      standinVars: {
        WAREHOUSE_LOCATION: location, PARTITION_BY_INGEST_DAY: "1",
        ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000", ROLL_BYTES: "1000000000",
      },
      serveVars: { LOCATION_PREFIX: location, METADATA_TTL_SECONDS: "0" },
    });
    r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
  });
  after(async () => {
    await h?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function send(recs) {
    const r = await post(h, ndjson(recs), { token: writer(), mode: "build" });
    assert.equal(r.status, 200, r.text);
    for (const x of recs) {
      keys.add(`${x.ns}/${x.type}/${x.id}`);
      newest.set(`${x.ns}/${x.type}/${x.id}`, x.markdown);
    }
  }

  const compact = async () => {
    const res = await h.standin("/maintain/compact?mode=build", { method: "POST" });
    const out = await res.json();
    assert.equal(res.status, 200, JSON.stringify(out));
    return out[0];
  };

  test("compacted files keep their day partition; answers the same", async () => {
    const upd = fresh("day-upd");
    for (let i = 0; i < 3; i++) {
      await send([{ ns: "docs", type: "guide", id: fresh(`day${i}`), markdown: `# day ${i}` }, { ns: "docs", type: "guide", id: upd, markdown: `# upd ${i}` }]);
      await h.flush("build");
    }
    const before = await answers(h, keys);
    const py = existsSync(PYTHON) ? await pyTables(r2, dir, location) : undefined;
    const out = await compact();
    assert.equal(out.rewritten, 3, JSON.stringify(out));
    assert.match(out.compacted[0], /\/artifacts\/build\/data\/__ingest_ts_day=\d{4}-\d\d-\d\d\/compacted-[0-9a-f-]+\.parquet$/);
    assert.deepEqual(await answers(h, keys), before);
    assert.equal(before[`docs/guide/${upd}.md`].body, "# upd 2");
    if (py) {
      const after = await pyTables(r2, dir, location);
      assert.deepEqual(after.build.rows, py.build.rows);
      assertCompactedMetrics(after.build.files);
    }
  });

  test("compaction racing commits: every answer is the newest write; only live compacted files are left after expiry", async (t) => {
    const upd = fresh("race-upd");
    let redone = 0;
    for (let i = 0; i < 6; i++) {
      await send([{ ns: "docs", type: "guide", id: fresh(`race${i}`), markdown: `# race ${i}` }, { ns: "docs", type: "guide", id: upd, markdown: `# race upd ${i}` }]);
      const [c, f] = await Promise.all([compact(), h.flush("build")]);
      assert.equal(f[0].committed, 2, JSON.stringify(f));
      assert.ok(c.rewritten >= 0, JSON.stringify(c));
      if (c.attempts > 1) redone++;
    }
    // Whether a compaction lost a race is up to the scheduler; say how often it did.
    t.diagnostic(`compactions that lost a race and redid their work: ${redone} of 6`);
    const got = await answers(h, keys);
    for (const [key, md] of newest) assert.equal(got[`${key}.md`].body, md, key);
    await compact();
    const exp = await (await h.standin("/maintain/expire?mode=build&keep=1", { method: "POST" })).json();
    assert.ok(exp[0].expired > 0, JSON.stringify(exp));
    assert.deepEqual(await answers(h, keys), got);
    if (existsSync(PYTHON)) {
      const { build } = await pyTables(r2, dir, location);
      const live = new Set(build.files.map((f) => f.file_path.slice(location.length)));
      const compacted = (await listKeys(r2, "artifacts/build/data/")).filter((k) => k.includes("/compacted-"));
      assert.ok(compacted.length > 0);
      for (const k of compacted) assert.ok(live.has(k), `${k} is live`);
    }
    assert.equal(await resets(h.standin), 0);
  });
});
