// The stand-in's table maintenance (#16), what R2 Data Catalog does to a sink's tables on its own:
// `POST /maintain/compact` (binpack small files into compacted-* files, a `replace` snapshot) and
// `POST /maintain/expire` (drop old snapshots, delete the files only they reached). Records are
// committed over several snapshots — updates, a tombstone, bulk versions of one id tied on `ts`
// across commits (the newest commit wins) — and every answer serve gives (bodies, ETags, status)
// is the same before compaction, after it and after expiry; the replaced files are gone from R2
// after expiry; pyiceberg reads the same rows before and after.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";
import { start, resets } from "./support/harness.mjs";
import { post, del, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent } from "./support/content.mjs";
import { writer, owner } from "./support/standin.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PYTHON = path.join(root, ".venv/bin/python");
const READER = path.join(root, "tests/support/pyiceberg_read.py");
const MODES = ["preview", "build", "bulk"];
const T0 = 1_780_000_000_000_000;

function pyiceberg(...args) {
  return new Promise((ok, fail) => {
    execFile(PYTHON, [READER, ...args], { maxBuffer: 256 * 1024 * 1024, timeout: 180_000, env: { ...process.env, PYTHONUTF8: "1" } }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`pyiceberg_read.py ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      try {
        ok(JSON.parse(stdout));
      } catch (e) {
        fail(new Error(`pyiceberg_read.py printed no JSON (${e.message}): ${stdout.slice(0, 500)}\n${stderr}`));
      }
    });
  });
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

  /** Every key's .md and .json as its owner, the cache bypassed: status, bytes, ETag. */
  async function answers() {
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

  async function list(prefix) {
    const out = [];
    let cursor;
    do {
      const page = await r2.list({ prefix, cursor });
      out.push(...page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return out;
  }

  async function metadata(mode) {
    const hint = (await (await r2.get(`artifacts/${mode}/metadata/version-hint.text`)).text()).trim();
    return { hint, meta: JSON.parse(await (await r2.get(`artifacts/${mode}/metadata/v${hint}.metadata.json`)).text()) };
  }

  /** pyiceberg's full scan of every mode table (a copy of the bucket under `dir`), rows sorted. */
  async function pyRows() {
    rmSync(path.join(dir, "artifacts"), { recursive: true, force: true });
    for (const key of await list("artifacts/")) {
      const file = path.join(dir, key);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, Buffer.from(await (await r2.get(key)).arrayBuffer()));
    }
    const locations = [];
    for (const mode of MODES) locations.push(`${location}artifacts/${mode}/metadata/v${(await metadata(mode)).hint}.metadata.json`);
    const { tables } = await pyiceberg("static", "--ids=", ...locations);
    const out = {};
    for (const t of Object.values(tables)) {
      const mode = MODES.find((m) => t.metadata_location.includes(`/artifacts/${m}/`));
      out[mode] = t.rows.map((r) => JSON.stringify(r)).sort();
    }
    return out;
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

    first = await answers();
    assert.equal(first[`docs/ref/${tie}.md`].body, "# tie 3");
    assert.equal(first[`docs/guide/${upd}.md`].body, "# update 3");
    assert.equal(first[`docs/guide/${gone}.md`].status, 404);
    if (existsSync(PYTHON)) firstPy = await pyRows();
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
    const before = Object.fromEntries(await Promise.all(MODES.map(async (m) => [m, (await metadata(m)).meta])));
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
      const { meta } = await metadata(mode);
      const cur = meta.snapshots.find((s) => s["snapshot-id"] === meta["current-snapshot-id"]);
      assert.equal(cur.summary.operation, "replace");
      assert.equal(cur["parent-snapshot-id"], before[mode]["current-snapshot-id"]);
      assert.equal(cur["sequence-number"], before[mode]["last-sequence-number"] + 1);
      const prev = before[mode].snapshots.find((s) => s["snapshot-id"] === before[mode]["current-snapshot-id"]);
      assert.equal(cur.summary["total-records"], prev.summary["total-records"]);
      assert.equal(cur.summary["total-data-files"], "1");
      assert.equal(cur.summary["deleted-data-files"], String(by[mode].rewritten));
      const data = await list(`artifacts/${mode}/data/`);
      replaced.push(...data.filter((k) => !k.includes("/compacted-")));
    }
    assert.equal(replaced.length, 9);
    assert.deepEqual(await answers(), first);
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
      const { meta } = await metadata(mode);
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
      const data = await list(`artifacts/${mode}/data/`);
      assert.equal(data.length, 1, `${mode}: only the compacted file is left: ${data}`);
      assert.match(data[0], /\/compacted-/);
      // What is left in metadata/: the pointer, every vN.metadata.json, the current list and manifests.
      const left = (await list(`artifacts/${mode}/metadata/`)).filter((k) => k.endsWith(".avro"));
      assert.equal(left.filter((k) => /\/snap-/.test(k)).length, 1, `${mode}: one manifest list left: ${left}`);
    }
    assert.deepEqual(await answers(), first);
    assert.equal(await resets(h.standin), 0);
    assert.equal(await resets(h.serve), 0);
  });

  test("pyiceberg reads the same rows after compact and expire", { skip: !existsSync(PYTHON) && "no .venv: run `make pyenv`" }, async () => {
    const after = await pyRows();
    assert.deepEqual(after, firstPy);
    assert.equal(after.build.length, 10);
  });
});
