// The local Pipelines → R2 Data Catalog stand-in end to end: records posted to ingest land in
// Iceberg tables (Parquet + Avro manifests + metadata JSON) that serve reads back field by field.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { start, resets } from "./support/harness.mjs";
import { del, fresh, COLUMNS } from "./support/ingest.mjs";
import { fetchContent } from "./support/content.mjs";
import { serveVars, LONG_ROLLS, writer, owner, send, assertServed } from "./support/standin.mjs";

const MODES = ["preview", "build", "bulk"];

const mdast = { type: "root", children: [{ type: "heading", depth: 1, children: [{ type: "text", value: "Grüße 👋" }] }] };

function records(tag) {
  return [
    { ns: "docs", type: "guide", id: fresh(`${tag}-uni`), markdown: "# Grüße 👋 — ünïcødé ✓\n", mdast, inputs: ["docs/guide/a", "docs/guide/b"], visibility: "org" },
    { ns: "docs", type: "guide", id: fresh(`${tag}-empty`), markdown: "", html: "<p>x</p>", frontmatter: { title: "t", n: 1 } },
    { ns: "docs", type: "guide", id: fresh(`${tag}-big`), markdown: "x".repeat(200 * 1024), inputs: [] },
  ];
}

async function metadataChain(h, mode) {
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
  const hint = Number(await (await r2.get(`artifacts/${mode}/metadata/version-hint.text`)).text());
  const listed = await r2.list({ prefix: `artifacts/${mode}/metadata/v` });
  const versions = listed.objects.map((o) => Number(/\/v(\d+)\.metadata\.json$/.exec(o.key)?.[1])).filter(Number.isFinite).sort((a, b) => a - b);
  assert.deepEqual(versions, Array.from({ length: hint }, (_, i) => i + 1), "metadata versions 1..N, no gap, pointer at N");
  let prev;
  let total = 0;
  for (const v of versions) {
    const m = JSON.parse(await (await r2.get(`artifacts/${mode}/metadata/v${v}.metadata.json`)).text());
    const cur = m.snapshots.find((s) => s["snapshot-id"] === m["current-snapshot-id"]);
    if (prev?.["current-snapshot-id"] !== undefined) {
      assert.equal(cur["parent-snapshot-id"], prev["current-snapshot-id"], `v${v} continues v${v - 1}`);
      assert.equal(m.snapshots.length, prev.snapshots.length + 1);
    }
    if (cur) {
      assert.equal(cur.summary.operation, "append");
      total += Number(cur.summary["added-records"]);
      assert.equal(Number(cur.summary["total-records"]), total);
      assert.equal(cur["sequence-number"], m["last-sequence-number"]);
    }
    prev = m;
  }
  return { hint, total };
}

describe("stand-in", () => {
  let h;
  before(async () => {
    h = await start({ standin: true, serveVars, standinVars: LONG_ROLLS });
  });
  after(() => h?.dispose());

  test("the REST catalog answers config and loadTable", async () => {
    await h.flush();
    const cfg = await (await h.standin("/v1/config")).json();
    assert.deepEqual(cfg, { defaults: {}, overrides: { prefix: "artifacts-warehouse" } });
    const res = await h.standin("/v1/artifacts-warehouse/namespaces/artifacts/tables/build");
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.match(body["metadata-location"], /^s3:\/\/artifacts-warehouse\/artifacts\/build\/metadata\/v\d+\.metadata\.json$/);
    assert.equal(body.metadata["format-version"], 2);
    const fields = body.metadata.schemas[0].fields;
    assert.deepEqual(fields.map((f) => f.name), COLUMNS);
    assert.equal(fields.find((f) => f.name === "ts").type, "timestamp");
    assert.deepEqual(fields.find((f) => f.name === "inputs").type, { type: "list", "element-id": 22, element: "string", "element-required": false });
    const missing = await h.standin("/v1/artifacts-warehouse/namespaces/artifacts/tables/nope");
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.type, "NoSuchTableException");
  });

  test("/flush takes POST only: other methods are 405 with Allow", async () => {
    for (const method of ["GET", "PUT", "DELETE"]) {
      const res = await h.standin("/flush", { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get("allow"), "POST", method);
    }
  });

  for (const mode of MODES) {
    test(`${mode}: posted records read back field by field after a flush`, async () => {
      const recs = records(mode);
      await send(h, recs, mode);
      const [out] = await h.flush(mode);
      assert.equal(out.committed, recs.length);
      for (const r of recs) await assertServed(h, r);
      const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
      assert.equal((await r2.list({ prefix: `_standin/buffer/${mode}/` })).objects.length, 0, "buffer cleaned");
    });
  }

  test("an update after another flush wins; a tombstone reads 404", async () => {
    const id = fresh("upd");
    const base = { ns: "docs", type: "guide", id };
    await send(h, [{ ...base, markdown: "v1" }], "build");
    await h.flush("build");
    await assertServed(h, { ...base, markdown: "v1" });
    await send(h, [{ ...base, markdown: "v2 ✓" }], "build");
    await h.flush("build");
    await assertServed(h, { ...base, markdown: "v2 ✓" });
    const d = await del(h, `docs/guide/${id}`, { token: writer(), mode: "build" });
    assert.equal(d.status, 200, d.text);
    await h.flush("build");
    const gone = await fetchContent(h, `/$.content/docs/guide/${id}.md`, { token: owner() });
    assert.equal(gone.status, 404, gone.text);
  });

  test("two concurrent flushes of one mode lose nothing and leave no gap", async () => {
    const recs = [];
    for (let i = 0; i < 4; i++) {
      const batch = [0, 1, 2].map((k) => ({ ns: "docs", type: "guide", id: fresh(`cc${i}-${k}`), markdown: `# ${i}.${k}` }));
      recs.push(...batch);
      await send(h, batch, "preview");
    }
    const outs = await Promise.all([h.flush("preview"), h.flush("preview")]);
    assert.equal(outs.flat().reduce((n, o) => n + o.committed, 0), recs.length, JSON.stringify(outs));
    for (const r of recs) await assertServed(h, r);
    await metadataChain(h, "preview");
  });

  test("sends racing flushes: every acknowledged record is committed once", async () => {
    const recs = [];
    const work = [];
    for (let i = 0; i < 6; i++) {
      const batch = [{ ns: "docs", type: "guide", id: fresh(`race${i}`), markdown: `# race ${i}` }];
      recs.push(...batch);
      work.push(send(h, batch, "bulk"));
      if (i % 2 === 0) work.push(h.flush("bulk"));
    }
    await Promise.all(work);
    await h.flush("bulk");
    for (const r of recs) await assertServed(h, r);
    await metadataChain(h, "bulk");
  });

  test("every chain is gap-free, holds each record once, and the stand-in never trapped", async () => {
    // preview: 3 + 12, build: 3 + 3 (v1, v2, tombstone), bulk: 3 + 6.
    const expected = { preview: 15, build: 6, bulk: 9 };
    for (const mode of MODES) assert.equal((await metadataChain(h, mode)).total, expected[mode], mode);
    assert.equal(await resets(h.standin), 0);
    assert.equal(await resets(h.serve), 0);
  });
});

async function eventually(h, r, ms = 8000) {
  const until = Date.now() + ms;
  for (;;) {
    const res = await fetchContent(h, `/$.content/${r.ns}/${r.type}/${r.id}.md`, { token: owner() });
    if (res.status === 200 || Date.now() > until) return assertServed(h, r);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

describe("rolling without an explicit flush", () => {
  let h;
  before(async () => {
    h = await start({
      standin: true,
      serveVars,
      // preview: every send is due (commits in waitUntil); bulk: committed by the harness poll;
      // build: small commits, so one flush runs several.
      standinVars: { ROLL_MS_PREVIEW: "0", ROLL_MS_BULK: "300", ROLL_MS_BUILD: "600000", ROLL_BYTES: "100000000", COMMIT_MAX_BYTES: "1" },
      flushEveryMs: 200,
    });
  });
  after(() => h?.dispose());

  test("a send past the roll interval commits by itself", async () => {
    const recs = records("roll");
    await send(h, recs, "preview");
    for (const r of recs) await eventually(h, r);
  });

  test("the harness poll commits a mode once its buffer is older than its roll interval", async () => {
    const recs = records("poll");
    await send(h, recs, "bulk");
    for (const r of recs) await eventually(h, r);
  });

  test("a flush larger than COMMIT_MAX_BYTES runs several commits and loses nothing", async () => {
    const recs = [];
    for (let i = 0; i < 3; i++) {
      const batch = [{ ns: "docs", type: "guide", id: fresh(`cap${i}`), markdown: `# cap ${i}` }];
      recs.push(...batch);
      await send(h, batch, "build");
    }
    const [out] = await h.flush("build");
    assert.equal(out.committed, 3);
    for (const r of recs) await assertServed(h, r);
    const chain = await metadataChain(h, "build");
    assert.equal(chain.total, 3);
    assert.ok(chain.hint >= 4, "v1 empty, then one version per commit");
  });
});

test("acknowledged but unflushed records survive a restart", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "standin-"));
  try {
    const recs = records("persist");
    let h = await start({ standin: true, serveVars, standinVars: LONG_ROLLS, persistRoot: dir });
    try {
      await send(h, recs, "build");
    } finally {
      await h.dispose();
    }
    h = await start({ standin: true, serveVars, standinVars: LONG_ROLLS, persistRoot: dir });
    try {
      const outs = await h.flush();
      assert.equal(outs.find((o) => o.mode === "build").committed, recs.length);
      for (const r of recs) await assertServed(h, r);
    } finally {
      await h.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const codec of ["snappy", "gzip", "none"]) {
  test(`PARQUET_CODEC=${codec}: data files serve reads back`, async () => {
    const h = await start({ standin: true, serveVars, standinVars: { ...LONG_ROLLS, PARQUET_CODEC: codec } });
    try {
      const recs = records(codec);
      await send(h, recs, "build");
      await h.flush("build");
      for (const r of recs) await assertServed(h, r);
    } finally {
      await h.dispose();
    }
  });
}
