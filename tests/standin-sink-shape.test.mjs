// The stand-in creates its tables the way an R2 Data Catalog sink would from the stream schema
// (wrangler/stream-schema.json): the record's timestamps as Iceberg `timestamp` (no zone, Parquet
// TIMESTAMP(isAdjustedToUTC=false, MICROS)); with INGEST_TS_COLUMN=1 the sink's `__ingest_ts`
// column; with PARTITION_BY_INGEST_DAY=1 also partitioned by day(__ingest_ts), one data file per
// day. Serve reads every shape back, field by field, next to the default one.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { start, resets } from "./support/harness.mjs";
import { fresh } from "./support/ingest.mjs";
import { fetchContent } from "./support/content.mjs";
import { serveVars, LONG_ROLLS, owner, send, assertServed } from "./support/standin.mjs";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PYTHON = path.join(root, ".venv/bin/python");
const READER = path.join(root, "tests/support/pyiceberg_read.py");

function records(tag) {
  return [
    { ns: "docs", type: "guide", id: fresh(`${tag}-a`), markdown: "# Grüße", mdast: { type: "root", children: [] }, inputs: ["docs/guide/x"] },
    { ns: "docs", type: "guide", id: fresh(`${tag}-b`), markdown: "", html: "<p>b</p>", frontmatter: { t: 1 } },
  ];
}

async function metadata(h, mode = "build") {
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
  const hint = (await (await r2.get(`artifacts/${mode}/metadata/version-hint.text`)).text()).trim();
  return JSON.parse(await (await r2.get(`artifacts/${mode}/metadata/v${hint}.metadata.json`)).text());
}

const schemaOf = (m) => m.schemas.find((s) => s["schema-id"] === m["current-schema-id"]);

async function dataKeys(h, mode = "build") {
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
  const listed = await r2.list({ prefix: `artifacts/${mode}/data/` });
  return listed.objects.map((o) => o.key);
}

/** A data file's Parquet schema and rows, read with hyparquet (another reader than ours). */
async function parquet(h, key) {
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
  const file = await (await r2.get(key)).arrayBuffer();
  const meta = parquetMetadata(file);
  const rows = await parquetReadObjects({ file, compressors });
  return { schema: meta.schema, rows };
}

describe("default shape: the sink's types, no __ingest_ts, unpartitioned", () => {
  let h;
  before(async () => {
    h = await start({ standin: true, serveVars, standinVars: LONG_ROLLS });
  });
  after(() => h?.dispose());

  test("ts is Iceberg timestamp (no zone), the schema is the record contract, serve reads it", async () => {
    const recs = records("plain");
    await send(h, recs);
    await h.flush("build");
    const m = await metadata(h);
    const fields = schemaOf(m).fields;
    assert.equal(fields.find((f) => f.name === "ts").type, "timestamp");
    assert.equal(fields.find((f) => f.name === "__ingest_ts"), undefined);
    assert.deepEqual(m["partition-specs"], [{ "spec-id": 0, fields: [] }]);
    for (const r of recs) await assertServed(h, r);
    // The data file says the same: TIMESTAMP(isAdjustedToUTC=false, MICROS).
    const [key] = await dataKeys(h);
    const { schema } = await parquet(h, key);
    const ts = schema.find((e) => e.name === "ts");
    assert.deepEqual(ts.logical_type, { type: "TIMESTAMP", isAdjustedToUTC: false, unit: "MICROS" });
    assert.equal(schema.find((e) => e.name === "__ingest_ts"), undefined);
    assert.equal(await resets(h.serve), 0);
  });
});

describe("INGEST_TS_COLUMN=1: the sink's __ingest_ts column", () => {
  let h;
  before(async () => {
    h = await start({ standin: true, serveVars, standinVars: { ...LONG_ROLLS, INGEST_TS_COLUMN: "1" } });
  });
  after(() => h?.dispose());

  test("every table has a required __ingest_ts timestamp after the record's columns; serve reads around it", async () => {
    const recs = records("ingest-ts");
    const t0 = Date.now() * 1000;
    await send(h, recs);
    const t1 = Date.now() * 1000;
    await h.flush("build");
    for (const mode of ["preview", "build", "bulk"]) {
      const fields = schemaOf(await metadata(h, mode)).fields;
      const last = fields.at(-1);
      assert.deepEqual({ name: last.name, type: last.type, required: last.required }, { name: "__ingest_ts", type: "timestamp", required: true }, mode);
      assert.equal(last.id, Math.max(...fields.slice(0, -1).flatMap((f) => [f.id, f.type?.["element-id"] ?? 0])) + 1, "the next free field id");
    }
    const m = await metadata(h);
    assert.equal(m["last-column-id"], schemaOf(m).fields.at(-1).id);
    assert.deepEqual(m["partition-specs"], [{ "spec-id": 0, fields: [] }]);
    for (const r of recs) await assertServed(h, r);
    // In the data file: the last column, zone-less, holding when the stand-in accepted the send.
    const snap = m.snapshots.find((s) => s["snapshot-id"] === m["current-snapshot-id"]);
    assert.equal(snap.summary["added-data-files"], "1");
    const [key] = await dataKeys(h);
    const { schema, rows } = await parquet(h, key);
    const leaf = schema.at(-1);
    assert.equal(leaf.name, "__ingest_ts");
    assert.equal(leaf.repetition_type, "REQUIRED");
    assert.deepEqual(leaf.logical_type, { type: "TIMESTAMP", isAdjustedToUTC: false, unit: "MICROS" });
    assert.equal(rows.length, recs.length);
    for (const row of rows) {
      const us = row.__ingest_ts instanceof Date ? row.__ingest_ts.getTime() * 1000 : Number(row.__ingest_ts);
      assert.ok(us >= t0 - 1000 && us <= t1 + 1000, `__ingest_ts ${us} within the send [${t0}, ${t1}]`);
    }
  });

  test("a newer version in a later commit still wins", async () => {
    const [a] = records("ingest-ts-update");
    await send(h, [a]);
    await h.flush("build");
    const a2 = { ...a, markdown: "# second", mdast: undefined };
    await send(h, [a2]);
    await h.flush("build");
    await assertServed(h, a2);
    assert.equal(await resets(h.serve), 0);
  });
});

describe("PARTITION_BY_INGEST_DAY=1: partitioned by day(__ingest_ts)", () => {
  let h;
  before(async () => {
    h = await start({ standin: true, serveVars, standinVars: { ...LONG_ROLLS, PARTITION_BY_INGEST_DAY: "1" } });
  });
  after(() => h?.dispose());

  test("the table has the day partition spec (and the column it needs)", async () => {
    const m = await metadata(h);
    const ingestTs = schemaOf(m).fields.find((f) => f.name === "__ingest_ts");
    assert.ok(ingestTs, "PARTITION_BY_INGEST_DAY implies the column");
    assert.deepEqual(m["partition-specs"], [{ "spec-id": 0, fields: [{ name: "__ingest_ts_day", transform: "day", "source-id": ingestTs.id, "field-id": 1000 }] }]);
    assert.equal(m["last-partition-id"], 1000);
  });

  test("records accepted on two days land in two partitions of one commit; serve reads both and the newest version", async () => {
    const [today, older] = records("by-day");
    await send(h, [today]);
    // A send two days ago: the same kind of buffer object, under a key stamped two days earlier.
    const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
    const listed = await r2.list({ prefix: "_standin/buffer/build/" });
    assert.equal(listed.objects.length, 1);
    const todayKey = listed.objects[0].key;
    const [sentRow] = JSON.parse(await (await r2.get(todayKey)).text());
    const twoDaysAgoMs = Date.now() - 2 * 86_400_000;
    const oldKey = `_standin/buffer/build/${String(twoDaysAgoMs).padStart(13, "0")}-0000000000-abcd.json`;
    await r2.put(oldKey, JSON.stringify([{ ...sentRow, id: older.id, markdown: older.markdown, html: older.html, frontmatter: JSON.stringify(older.frontmatter), mdast: null, inputs: null }]));
    const [out] = await h.flush("build");
    assert.equal(out.committed, 2, JSON.stringify(out));

    const m = await metadata(h);
    const snap = m.snapshots.find((s) => s["snapshot-id"] === m["current-snapshot-id"]);
    assert.equal(snap.summary["added-data-files"], "2", "one data file per day");
    const day = (ms) => new Date(Math.floor(ms / 86_400_000) * 86_400_000).toISOString().slice(0, 10);
    const dirs = (await dataKeys(h)).map((k) => k.split("/")[3]).sort();
    assert.deepEqual(dirs, [`__ingest_ts_day=${day(twoDaysAgoMs)}`, `__ingest_ts_day=${day(Date.now())}`].sort());

    await assertServed(h, today);
    const j = await fetchContent(h, `/$.content/docs/guide/${older.id}.json`, { token: owner() });
    assert.equal(j.status, 200, j.text);
    assert.equal(j.body.html, older.html);
    assert.deepEqual(j.body.frontmatter, older.frontmatter);

    // A later version of the older artifact, accepted today, wins over the one two days back.
    const newer = { ...older, markdown: "# newer", html: undefined, frontmatter: undefined };
    await send(h, [newer]);
    await h.flush("build");
    await assertServed(h, newer);
    assert.equal(await resets(h.serve), 0);
    assert.equal(await resets(h.standin), 0);
  });

  test("the other modes are partitioned the same way and read back", async () => {
    const recs = records("by-day-preview");
    await send(h, recs, "preview");
    await h.flush("preview");
    const m = await metadata(h, "preview");
    assert.equal(m["partition-specs"][0].fields[0].transform, "day");
    for (const r of recs) await assertServed(h, r);
  });
});

describe("pyiceberg reads the sink-shaped tables", { timeout: 300_000 }, () => {
  let h;
  let dir;
  const sent = [];
  before(async () => {
    assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run \`make pyenv\` first (make test-node does it)`);
    dir = mkdtempSync(path.join(os.tmpdir(), "standin-sink-shape-"));
    const location = `file://${dir}/`;
    h = await start({
      standin: true,
      serveVars: { ...serveVars, LOCATION_PREFIX: location },
      standinVars: { ...LONG_ROLLS, PARTITION_BY_INGEST_DAY: "1", WAREHOUSE_LOCATION: location },
    });
    for (const batch of [records("py-1"), records("py-2")]) {
      await send(h, batch);
      await h.flush("build");
      sent.push(...batch);
    }
    // The bucket as files under `dir`, where the metadata's file:// locations point.
    const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
    const listed = await r2.list({ prefix: "artifacts/build/" });
    for (const o of listed.objects) {
      const file = path.join(dir, o.key);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, Buffer.from(await (await r2.get(o.key)).arrayBuffer()));
    }
  });
  after(async () => {
    await h?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("StaticTable: the schema with __ingest_ts, every row, each id by a filtered scan", async () => {
    const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
    const hint = (await (await r2.get("artifacts/build/metadata/version-hint.text")).text()).trim();
    const location = `file://${dir}/artifacts/build/metadata/v${hint}.metadata.json`;
    const out = await new Promise((ok, fail) => {
      execFile(PYTHON, [READER, "static", location], { maxBuffer: 64 << 20, timeout: 180_000, env: { ...process.env, PYTHONUTF8: "1" } }, (err, stdout, stderr) =>
        err ? fail(new Error(`${err.message}\n${stderr}`)) : ok(JSON.parse(stdout)),
      );
    });
    const t = out.tables[location];
    const ingestTs = t.schema.find((f) => f.name === "__ingest_ts");
    assert.deepEqual({ type: ingestTs.type, required: ingestTs.required }, { type: "timestamp", required: true });
    assert.equal(t.schema.find((f) => f.name === "ts").type, "timestamp");
    assert.deepEqual(t.rows.map((r) => r.id).sort(), sent.map((r) => r.id).sort());
    for (const r of sent) {
      assert.equal(t.by_id[r.id].length, 1, r.id);
      assert.equal(t.by_id[r.id][0].markdown, r.markdown);
      assert.equal(typeof t.by_id[r.id][0].__ingest_ts, "number");
    }
    assert.equal(t.files.length, 2, "one file per commit (both on today's partition)");
    assert.ok(t.files.every((f) => f.file_path.includes("/data/__ingest_ts_day=")));
  });
});
