// Interop of the stand-in's tables with pyiceberg (PyPI), the reference reader: records posted
// to ingest are committed by the stand-in, then pyiceberg reads them (StaticTable over a
// `file://` copy of the bucket, and RestCatalog against the stand-in's REST catalog on a real
// port) and must get exactly the rows sent. Expected rows are computed from what this file sent
// (content_hash, size_bytes, JSON text, defaults), never read back. The Python side is
// tests/support/pyiceberg_read.py in the pinned venv that `make pyenv` builds.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { start, resets, AUTH_SECRET } from "./support/harness.mjs";
import { post, ndjson, fresh, contentHash, COLUMNS } from "./support/ingest.mjs";
import { fetchContent, readToken, rfc3339, JSON_TEXT } from "./support/content.mjs";
import { FIXTURE_ROOT, LOCATION_PREFIX, expectedTable } from "./support/warehouse.mjs";
import { mint } from "./support/token.mjs";
import { PYTHON, pyiceberg } from "./support/pyiceberg.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MODES = ["preview", "build", "bulk"];
const TEXT = ["markdown", "mdx", "html", "esm", "dts", "css"];
const ORG = "acme";
const USER = "alice";

/** JSON text as serde_json (without `preserve_order`) writes it: object keys sorted. */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** µs since the epoch of an RFC 3339 string with up to 6 fractional digits. */
function micros(s) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  assert.ok(m, `test bug: ${s} is not RFC 3339`);
  return Date.parse(`${m[1]}${m[3]}`) * 1000 + Number((m[2] ?? "").padEnd(6, "0"));
}

/**
 * The row the table must hold for a client record posted by acme/alice: every column of the
 * record contract. `ts` is `{ min, max }` when ingest stamps it (not bulk, or not sent).
 */
function expectedRow(r, stamped) {
  const content = {};
  for (const f of [...TEXT, ...JSON_TEXT]) {
    if (r[f] === undefined || r[f] === null) continue;
    content[f] = JSON_TEXT.includes(f) ? canonical(r[f]) : r[f];
  }
  const row = {
    ns: r.ns,
    type: r.type,
    id: r.id,
    ts: r.ts === undefined ? stamped : typeof r.ts === "string" ? micros(r.ts) : r.ts,
    visibility: r.visibility ?? "org",
    owner_org: ORG,
    owner_user: USER,
  };
  for (const f of [...TEXT, ...JSON_TEXT]) row[f] = content[f] ?? null;
  row.inputs = r.inputs ?? null;
  // Contract v2: the metadata sent is hashed after the content (lists as JSON, tags canonical,
  // expires_at as decimal µs).
  const time = (t) => (typeof t === "string" ? micros(t) : t);
  const hashed = { ...content };
  if (r.inputs != null) hashed.inputs = JSON.stringify(r.inputs);
  if (r.supersedes != null) hashed.supersedes = JSON.stringify(r.supersedes);
  if (r.tags != null) hashed.tags = canonical(r.tags);
  if (r.expires_at != null) hashed.expires_at = String(time(r.expires_at));
  row.content_hash = contentHash(hashed);
  row.size_bytes = Object.values(content).reduce((n, v) => n + Buffer.byteLength(v), 0);
  row.deleted = r.deleted ?? false;
  row.supersedes = r.supersedes ?? null;
  row.tags = r.tags == null ? null : canonical(r.tags);
  row.expires_at = r.expires_at == null ? null : time(r.expires_at);
  assert.deepEqual(Object.keys(row), COLUMNS, "test bug: expected row columns");
  return row;
}

// ~200 KB of mixed 1-, 2-, 3- and 4-byte UTF-8.
const BIG = "aü€😀\n".repeat(200 * 1024 / 11);
const T0 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

/** Field ids of COLUMNS, in order (shared/src/record.rs): 1–21, then contract v2's 23, 25, 26. */
const FIELD_IDS = [...Array.from({ length: 21 }, (_, i) => i + 1), 23, 25, 26];

/** The records of one run; ids are fresh so dedupe never drops one. */
function corpus() {
  const id = (label) => fresh(label);
  return {
    bulk: [
      [
        { ns: "docs", type: "guide", id: id("unicode"), ts: T0 + 1, visibility: "public",
          markdown: "# Grüße 👋 — ünïcødé ✓ 中文 עברית e\u0301\r\nline\ttab \u0000 nul",
          mdast: { type: "root", children: [{ type: "text", value: "Grüße 👋" }], position: { start: 1 } },
          inputs: ["docs/guide/a", "team@acme.dev/note/x.y"],
          // contract v2
          supersedes: ["docs/guide/old/unicode", "docs/guide/older"], tags: { team: "docs", "a:b/c": "Grüße ✓" }, expires_at: T0 + 10_000_000 },
        { ns: "docs", type: "guide", id: id("empty"), ts: T0 + 2, visibility: "unlisted",
          markdown: "", html: null, mdx: "", frontmatter: { z: 1, a: [true, null, "x"], m: { b: 2, a: 1 } }, inputs: [] },
        { ns: "docs", type: "guide", id: id("big"), ts: "2026-01-02T03:04:05.123456Z", visibility: "user", markdown: BIG },
        { ns: "team@acme.dev", type: "note", id: `${id("dots")}.v1.2`, ts: -86_400_000_000, esm: "export default 1;\n",
          hast: {}, estree: "just a string", dts: "export {};" },
      ],
      [
        { ns: "x+y", type: "guide", id: id("second"), ts: T0 + 3, css: "a{color:red}", visibility: "org" },
        { ns: "docs", type: "guide", id: id("tomb"), ts: T0 + 4, deleted: true },
      ],
    ],
    build: [[
      { ns: "docs", type: "guide", id: id("build-a"), markdown: "# build ✓", inputs: ["docs/guide/a"] },
      { ns: "docs", type: "guide", id: `nested/${id("build-n")}/page`, markdown: "# nested", tags: {}, supersedes: [] },
      { ns: "docs", type: "api", id: id("build-b"), html: "<p>é</p>", estree: [1, 2, { b: 1, a: 0 }] },
    ]],
    preview: [[
      { ns: "docs", type: "guide", id: id("all"), visibility: "public", markdown: "m", mdx: "x", html: "h", esm: "e",
        dts: "d", css: "c", mdast: { a: 1 }, hast: [], estree: null, frontmatter: 3.5, inputs: ["a/b/c", "d/e/f", "g/h/i"],
        supersedes: ["docs/guide/x/y/z"], tags: { k: "v" }, expires_at: "2030-01-01T00:00:00.5Z" },
    ]],
  };
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}


/** Copies every object under `artifacts/` of the stand-in's bucket to `dir` (same keys). */
async function copyBucket(h, dir) {
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
  let cursor;
  let n = 0;
  do {
    const page = await r2.list({ prefix: "artifacts/", cursor });
    for (const o of page.objects) {
      const file = path.join(dir, o.key);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, Buffer.from(await (await r2.get(o.key)).arrayBuffer()));
      n++;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return n;
}

/** A code-point prefix of 16 characters (Iceberg's truncate(16) lower bound). */
const lower16 = (s) => [...s].slice(0, 16).join("");
/** Iceberg's truncate(16) upper bound: the value, or its prefix with the last character + 1. */
function upper16(s) {
  const cps = [...s];
  if (cps.length <= 16) return s;
  const p = cps.slice(0, 16);
  let c = p.pop().codePointAt(0) + 1;
  if (c === 0xd800) c = 0xe000;
  return p.join("") + String.fromCodePoint(c);
}
const byteCmp = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * One interop run: a Miniflare with the stand-in (its REST catalog on a real port, metadata
 * locations under a temp dir), the corpus posted to ingest and committed batch by batch, the
 * bucket copied into the temp dir, and pyiceberg's StaticTable view of the three tables.
 */
async function interop(standinVars = {}, { recs = corpus(), ids } = {}) {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run \`make pyenv\` first (make test-node does it)`);
  const run = {
    dir: mkdtempSync(path.join(os.tmpdir(), "standin-pyiceberg-")),
    port: await freePort(),
    sent: { preview: [], build: [], bulk: [] },
    batches: { preview: [], build: [], bulk: [] },
    stamps: new Map(), // id → { min, max } where ingest stamps ts
  };
  run.location = `file://${run.dir}/`;
  run.dispose = async () => {
    await run.h?.dispose();
    rmSync(run.dir, { recursive: true, force: true });
  };
  try {
    await commitAndRead(run, standinVars, recs, ids);
  } catch (e) {
    await run.dispose();
    throw e;
  }
  return run;
}

async function commitAndRead(run, standinVars, recs, ids) {
  run.h = await start({
    standin: true,
    ports: { standin: run.port },
    // Only explicit flushes commit (no roll by time or size); metadata locations point into `dir`.
    standinVars: {
      WAREHOUSE_LOCATION: run.location, ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000", ROLL_BYTES: "1000000000",
      ...standinVars,
    },
    serveVars: { LOCATION_PREFIX: run.location, METADATA_TTL_SECONDS: "0" },
  });
  const token = mint({ org: ORG, sub: USER, scopes: ["write:*"] });
  for (const mode of MODES) {
    // One commit per batch: bulk gets two snapshots, so its manifest list carries two manifests.
    for (const batch of recs[mode] ?? []) {
      const t0 = Date.now() * 1000;
      const r = await post(run.h, ndjson(batch), { token, mode });
      const t1 = Date.now() * 1000;
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.accepted, batch.length, r.text);
      for (const rec of batch) run.stamps.set(rec.id, { min: t0 - 1_000_000, max: t1 + 1_000_000 });
      run.sent[mode].push(...batch);
      run.batches[mode].push(batch);
      const [out] = await run.h.flush(mode);
      assert.equal(out.committed, batch.length, JSON.stringify(out));
    }
  }
  assert.ok((await copyBucket(run.h, run.dir)) > 0);
  const locations = [];
  const r2 = await run.h.mf.getR2Bucket("WAREHOUSE", "standin");
  for (const mode of MODES) {
    const hint = (await (await r2.get(`artifacts/${mode}/metadata/version-hint.text`)).text()).trim();
    locations.push(`${run.location}artifacts/${mode}/metadata/v${hint}.metadata.json`);
  }
  const statics = (await pyiceberg("static", ...(ids ? [`--ids=${ids.join(",")}`] : []), ...locations)).tables;
  run.table = (mode) => {
    const t = Object.values(statics).find((x) => x.metadata_location.includes(`/artifacts/${mode}/`));
    assert.ok(t, `pyiceberg loaded no ${mode} table: ${Object.keys(statics)}`);
    return t;
  };
}

/** Asserts pyiceberg's rows are exactly the rows `run` sent to `mode` (in any order). */
function assertRows(run, mode, got, what) {
  const want = run.sent[mode].map((r) => expectedRow(r, run.stamps.get(r.id)));
  assert.equal(got.length, want.length, `${what}: row count`);
  const byId = new Map(got.map((r) => [r.id, r]));
  assert.equal(byId.size, got.length, `${what}: ids are unique`);
  for (const w of want) {
    const g = byId.get(w.id);
    assert.ok(g, `${what}: row ${w.id} missing`);
    if (typeof w.ts === "object") {
      assert.ok(Number.isInteger(g.ts) && g.ts >= w.ts.min && g.ts <= w.ts.max, `${what}: ${w.id} ts ${g.ts} not in [${w.ts.min}, ${w.ts.max}]`);
      w.ts = g.ts;
    }
    assert.deepEqual(Object.keys(g).sort(), [...COLUMNS].sort(), `${what}: ${w.id} columns`);
    for (const c of COLUMNS) assert.deepEqual(g[c], w[c], `${what}: ${w.id}.${c}`);
  }
}

/** Asserts a scan filtered on `id == X` finds exactly X's row, for every id sent to `mode`. */
function assertById(run, mode, t, what) {
  for (const r of run.sent[mode]) {
    const got = t.by_id[r.id];
    assert.ok(got, `${what}: ${r.id} not scanned`);
    assert.equal(got.length, 1, `${what}: id == ${r.id} gave ${got.length} rows`);
    assert.deepEqual(got[0], t.rows.find((x) => x.id === r.id), `${what}: ${r.id}`);
  }
}

/** The manifest's split offsets are where pyarrow finds the file's row groups start. */
function assertSplits(f) {
  assert.ok(Array.isArray(f.row_groups) && f.row_groups.length > 0, `${f.file_path}: row groups`);
  assert.deepEqual(f.split_offsets, f.row_groups.map((g) => g.offset), `${f.file_path}: split offsets`);
  assert.equal(f.row_groups.reduce((n, g) => n + g.rows, 0), f.record_count, `${f.file_path}: rows in row groups`);
}

describe("pyiceberg reads the stand-in's tables", { timeout: 600_000 }, () => {
  let run;
  before(async () => {
    run = await interop();
  });
  after(() => run?.dispose());

  for (const mode of MODES) {
    test(`${mode}: StaticTable scan returns exactly the rows sent, every field`, () => {
      const t = run.table(mode);
      assert.equal(t.format_version, 2);
      assertRows(run, mode, t.rows, `${mode} static`);
    });

    test(`${mode}: a scan filtered on id (pruning by our bounds and counts) finds each row alone`, () => {
      assertById(run, mode, run.table(mode), mode);
    });

    test(`${mode}: schema, snapshots and data-file metrics as pyiceberg decodes them`, () => {
      const t = run.table(mode);
      const batches = run.batches[mode];
      assert.deepEqual(t.schema.map((f) => f.name), COLUMNS);
      assert.deepEqual(t.schema.map((f) => f.id), FIELD_IDS);
      assert.equal(t.schema.find((f) => f.name === "ts").type, "timestamp");
      assert.equal(t.snapshot.operation, "append");
      // v1 is empty; then one snapshot, one data file per committed batch.
      assert.equal(t.snapshots, batches.length);
      assert.equal(t.snapshot.sequence_number, batches.length);
      assert.equal(t.files.length, batches.length, "one data file per commit");
      const rows = new Map(t.rows.map((r) => [r.id, r]));
      for (const sentBatch of batches) {
        // The batch's rows as pyiceberg read them (already checked against what was sent).
        const batch = sentBatch.map((r) => rows.get(r.id));
        const ids = batch.map((r) => r.id);
        const f = t.files.find((x) => x.record_count === batch.length && ids.every((id) => byteCmp(x.lower_bounds["3"], id) <= 0 && byteCmp(id, x.upper_bounds["3"]) <= 0));
        assert.ok(f, `a data file of ${batch.length} rows whose id bounds hold ${ids}`);
        assert.equal(f.file_format, "PARQUET");
        assertSplits(f);
        assert.ok(f.file_path.startsWith(`${run.location}artifacts/${mode}/data/`), f.file_path);
        COLUMNS.forEach((c, i) => {
          const fid = String(FIELD_IDS[i]);
          if (c === "inputs" || c === "supersedes") return; // metrics are kept on the elements (fields 22, 24)
          const present = batch.map((r) => r[c]).filter((v) => v !== null);
          assert.equal(f.value_counts[fid], batch.length, `${c} value count`);
          assert.equal(f.null_value_counts[fid], batch.length - present.length, `${c} null count`);
          if (present.length === 0) {
            assert.equal(f.lower_bounds[fid], undefined, `${c}: no lower bound when all null`);
            assert.equal(f.upper_bounds[fid], undefined, `${c}: no upper bound when all null`);
          } else if (typeof present[0] === "string") {
            const sorted = [...present].sort(byteCmp);
            assert.equal(f.lower_bounds[fid], lower16(sorted[0]), `${c} lower bound`);
            assert.equal(f.upper_bounds[fid], upper16(sorted.at(-1)), `${c} upper bound`);
          } else if (typeof present[0] === "number") {
            assert.equal(f.lower_bounds[fid], Math.min(...present), `${c} lower bound`);
            assert.equal(f.upper_bounds[fid], Math.max(...present), `${c} upper bound`);
          } else {
            assert.equal(f.lower_bounds[fid], present.every(Boolean), `${c} lower bound`);
            assert.equal(f.upper_bounds[fid], present.some(Boolean), `${c} upper bound`);
          }
        });
        const elements = batch.flatMap((r) => r.inputs ?? []).sort(byteCmp);
        if (elements.length > 0) {
          assert.equal(f.lower_bounds["22"], lower16(elements[0]), "inputs element lower bound");
          assert.equal(f.upper_bounds["22"], upper16(elements.at(-1)), "inputs element upper bound");
        }
      }
    });
  }

  test("RestCatalog against the stand-in's REST catalog: lists, loads and scans the same rows", async () => {
    const rest = await pyiceberg("rest", `http://127.0.0.1:${run.port}`, "artifacts");
    assert.deepEqual(rest.namespaces, [["artifacts"]]);
    assert.equal(rest.namespace_exists, true);
    assert.equal(rest.missing_namespace_exists, false);
    assert.equal(rest.missing_table_exists, false);
    assert.deepEqual(Object.keys(rest.tables).sort(), MODES.map((m) => `artifacts.${m}`).sort());
    for (const mode of MODES) {
      const t = rest.tables[`artifacts.${mode}`];
      assert.equal(t.exists, true);
      assert.equal(t.metadata_location, run.table(mode).metadata_location, "the catalog names the current metadata");
      assertRows(run, mode, t.rows, `${mode} rest`);
      assertById(run, mode, t, `${mode} rest`);
    }
  });

  test("the catalog's HEAD routes and errors (what pyiceberg falls back from, checked directly)", async () => {
    const at = (p, method = "GET") => run.h.standin(`/v1/artifacts-warehouse/namespaces/${p}`, { method });
    assert.equal((await at("artifacts/tables/bulk", "HEAD")).status, 204);
    assert.equal((await at("artifacts/tables/nope", "HEAD")).status, 404);
    assert.equal((await at("artifacts", "HEAD")).status, 204);
    assert.equal((await at("other", "HEAD")).status, 404);
    const wrongNs = await at("other/tables/bulk");
    assert.equal(wrongNs.status, 404);
    assert.equal((await wrongNs.json()).error.type, "NoSuchTableException");
    const noNs = await at("other/tables");
    assert.equal(noNs.status, 404);
    assert.equal((await noNs.json()).error.type, "NoSuchNamespaceException");
    const write = await at("artifacts/tables/bulk", "POST");
    assert.equal(write.status, 405);
    assert.equal(write.headers.get("allow"), "GET, HEAD", "a 405 names the methods the route answers");
    assert.equal((await write.json()).error.code, 405);
    const listWrite = await at("artifacts/tables", "POST");
    assert.equal(listWrite.status, 405);
    assert.equal(listWrite.headers.get("allow"), "GET");
  });

  test("serve reads the same rows from the file:// tables", async () => {
    const { h } = run;
    const r = run.sent.bulk.find((x) => x.markdown && x.expires_at === undefined && !x.deleted);
    const res = await fetchContent(h, `/$.content/${r.ns}/${r.type}/${r.id}.md`, { token: readToken(ORG, USER) });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal(res.text, r.markdown);
    // The first bulk record's own expires_at (T0 + 10 s) is long past: retention answers 404 (#18).
    const expired = run.sent.bulk[0];
    assert.ok(expired.expires_at < Date.now() * 1000);
    const gone = await fetchContent(h, `/$.content/${expired.ns}/${expired.type}/${expired.id}.md`, { token: readToken(ORG, USER) });
    assert.equal(gone.status, 404, gone.text.slice(0, 300));
    assert.equal(await resets(h.standin), 0);
    assert.equal(await resets(h.serve), 0);
  });
});

// One commit of more rows than a row group holds (cut at ROW_GROUP_ROWS, 10,000 by default; 100
// here so the test stays fast).
describe("a commit past one row group: pyiceberg reads every row group", { timeout: 600_000 }, () => {
  const N = 250;
  const tag = fresh("rg");
  const batch = Array.from({ length: N }, (_, i) => ({
    ns: "docs", type: "guide", id: `${tag}-${String(i).padStart(5, "0")}`, ts: T0 + i, markdown: `# ${i} ✓`, ...(i % 3 === 0 ? { html: "" } : {}),
  }));
  const probe = [0, 99, 100, 199, 200, N - 1].map((i) => batch[i].id);
  let run;
  before(async () => {
    run = await interop({ ROW_GROUP_ROWS: "100" }, { recs: { bulk: [batch] }, ids: probe });
  });
  after(() => run?.dispose());

  test("every row exactly, three row groups whose starts are the split offsets, ids at each edge found by filter", () => {
    const t = run.table("bulk");
    assertRows(run, "bulk", t.rows, "row groups");
    assert.equal(t.files.length, 1);
    const [f] = t.files;
    assert.deepEqual(f.row_groups.map((g) => g.rows), [100, 100, 50]);
    assertSplits(f);
    assert.equal(f.null_value_counts["10"], N - Math.ceil(N / 3), "html null count");
    for (const id of probe) {
      assert.equal(t.by_id[id]?.length, 1, `id == ${id}`);
      assert.deepEqual(t.by_id[id][0], t.rows.find((r) => r.id === id));
    }
  });
});

// The other Parquet codecs the stand-in writes (zstd, the default, is read above).
for (const codec of ["snappy", "gzip", "none"]) {
  describe(`PARQUET_CODEC=${codec}: pyiceberg reads the same rows`, { timeout: 600_000 }, () => {
    let run;
    before(async () => {
      run = await interop({ PARQUET_CODEC: codec });
    });
    after(() => run?.dispose());

    test("every mode: exactly the rows sent, and each found alone by id", () => {
      for (const mode of MODES) {
        assertRows(run, mode, run.table(mode).rows, `${codec} ${mode}`);
        assertById(run, mode, run.table(mode), `${codec} ${mode}`);
      }
    });
  });
}

// The other direction, through `make dev`'s own script: tables written by pyiceberg (the
// fixtures of tests/fixtures/iceberg/pyiceberg), loaded with WAREHOUSE_DIR / WAREHOUSE_LOCATION
// / TABLES, are served next to the stand-in's tables, and the ingest → stand-in → serve loop runs.
// tools/dev.mjs is run as it is, from a copy in a temp dir (only its harness import is made
// absolute) so its persisted state stays there instead of the repo's .dev/.
describe("make dev serves pyiceberg tables loaded with WAREHOUSE_DIR and TABLES", { timeout: 600_000 }, () => {
  const TABLES = ["artifacts/pyi_unpartitioned", "artifacts/pyi_partitioned"];
  let child;
  let dir;
  let log;
  let serveUrl;
  let ingestUrl;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "standin-dev-"));
    const script = readFileSync(path.join(root, "tools/dev.mjs"), "utf8");
    const harnessImport = `"../tests/support/harness.mjs"`;
    assert.ok(script.includes(harnessImport), "tools/dev.mjs imports the harness as this test expects");
    mkdirSync(path.join(dir, "tools"));
    writeFileSync(
      path.join(dir, "tools/dev.mjs"),
      script.replace(harnessImport, JSON.stringify(pathToFileURL(path.join(root, "tests/support/harness.mjs")).href)),
    );
    const [ingestPort, servePort] = [await freePort(), await freePort()];
    ingestUrl = `http://127.0.0.1:${ingestPort}`;
    serveUrl = `http://127.0.0.1:${servePort}`;
    log = path.join(dir, "dev.log");
    const out = openSync(log, "w");
    child = spawn(process.execPath, [path.join(dir, "tools/dev.mjs")], {
      cwd: root,
      stdio: ["ignore", out, out],
      env: {
        ...process.env,
        AUTH_SECRET,
        INGEST_PORT: String(ingestPort),
        SERVE_PORT: String(servePort),
        WAREHOUSE_DIR: FIXTURE_ROOT,
        WAREHOUSE_LOCATION: LOCATION_PREFIX,
        TABLES: TABLES.join(","),
      },
    });
    closeSync(out);
    const until = Date.now() + 120_000;
    for (;;) {
      const text = readFileSync(log, "utf8");
      if (text.includes("Ctrl-C stops everything.")) break;
      if (child.exitCode !== null || Date.now() > until) assert.fail(`tools/dev.mjs did not start (exit ${child.exitCode}):\n${text}`);
      await new Promise((ok) => setTimeout(ok, 200));
    }
    assert.match(readFileSync(log, "utf8"), /loaded \d+ objects from /);
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((ok) => child.once("exit", ok));
      child.kill("SIGTERM"); // dev.mjs disposes Miniflare and exits
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // A key in both tables is won by the greater ts (the fixtures have no tie across tables).
  const winners = new Map();
  for (const table of TABLES) {
    for (const [key, { row }] of Object.entries(expectedTable(table).winners)) {
      const other = winners.get(key);
      assert.notEqual(other?.ts, row.ts, `test bug: ${key} ties across tables`);
      if (!other || row.ts > other.ts) winners.set(key, row);
    }
  }

  for (const table of TABLES) {
    test(`${table}: every winner of expected.json (newest across both tables) is served as pyiceberg wrote it`, async () => {
      const keys = Object.keys(expectedTable(table).winners);
      assert.ok(keys.length > 0);
      for (const key of keys) {
        const row = winners.get(key);
        const url = `${serveUrl}/$.content/${key.split("/").map(encodeURIComponent).join("/")}.json`;
        const res = await fetch(url, { headers: { authorization: `Bearer ${readToken(row.owner_org, row.owner_user)}` } });
        const text = await res.text();
        if (row.deleted) {
          assert.equal(res.status, 404, `${key}: ${text}`);
          continue;
        }
        assert.equal(res.status, 200, `${key}: ${text}`);
        const body = JSON.parse(text);
        for (const c of COLUMNS) {
          const v = row[c] ?? null;
          const want = c === "ts" ? rfc3339(v) : JSON_TEXT.includes(c) && v !== null ? JSON.parse(v) : v;
          assert.deepEqual(body[c], want, `${key}.json ${c}`);
        }
      }
    });
  }

  test("the loop runs beside them: a record posted to ingest is served after the roll", async () => {
    const rec = { ns: "docs", type: "guide", id: fresh("dev-loop"), markdown: "# dev ✓" };
    const token = mint({ org: ORG, sub: USER, scopes: ["write:*"] });
    const posted = await fetch(`${ingestUrl}/$.artifacts`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson", "x-artifact-mode": "preview" },
      body: ndjson([rec]),
    });
    assert.equal(posted.status, 200, await posted.text());
    const until = Date.now() + 30_000;
    let res;
    let text;
    do {
      await new Promise((ok) => setTimeout(ok, 250));
      res = await fetch(`${serveUrl}/$.content/docs/guide/${rec.id}.md?fresh=1`, { headers: { authorization: `Bearer ${readToken(ORG, USER)}` } });
      text = await res.text();
    } while (res.status !== 200 && Date.now() < until);
    assert.equal(res.status, 200, text);
    assert.equal(text, rec.markdown);
  });
});
