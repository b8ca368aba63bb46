// pyiceberg reads the serving table (#15): records posted to ingest in several commits (updates,
// a tombstone, every mode) are absorbed by the stand-in's compactor into serving/artifacts, written
// with `file://` locations; a copy of the bucket is read with pyiceberg's StaticTable
// (tests/support/pyiceberg_read.py, the pinned venv of `make pyenv`). Its newest row per key by
// the winner rule (greater ts, then _seq, then the lower _source, then _pos) must be the newest
// write sent; after `POST /compact?full=1` every key is in the table once.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { start, SERVING_ROOT } from "./support/harness.mjs";
import { post, del, ndjson, fresh } from "./support/ingest.mjs";
import { mint } from "./support/token.mjs";
import { PYTHON, pyiceberg } from "./support/pyiceberg.mjs";

const MODES = ["preview", "build", "bulk"];


/** The greater of two serving rows by the winner rule. */
function newer(a, b) {
  if (a.ts !== b.ts) return a.ts > b.ts;
  if (a._seq !== b._seq) return a._seq > b._seq;
  if (a._source !== b._source) return a._source < b._source;
  return a._pos > b._pos;
}

describe("pyiceberg reads the serving table", { skip: (process.env.SERVING ?? "").toLowerCase() === "off" && "SERVING=off" }, () => {
  let h;
  let dir;
  let location;
  const sent = new Map(); // key → newest markdown sent (null: deleted)

  before(async () => {
    assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run \`make pyenv\` first (make test-node does it)`);
    dir = mkdtempSync(path.join(os.tmpdir(), "serving-pyiceberg-"));
    location = `file://${dir}/`;
    h = await start({
      standin: true,
      serving: true,
      standinVars: { WAREHOUSE_LOCATION: location, ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000", SERVING_FILE_ROWS: "3" },
      serveVars: { LOCATION_PREFIX: location, METADATA_TTL_SECONDS: "0" },
    });
  });
  after(async () => {
    await h?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function copyBucket() {
    const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
    for (const prefix of ["artifacts/", `${SERVING_ROOT}/`]) {
      let cursor;
      do {
        const page = await r2.list({ prefix, cursor });
        for (const o of page.objects) {
          const file = path.join(dir, o.key);
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, Buffer.from(await (await r2.get(o.key)).arrayBuffer()));
        }
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
    }
  }

  async function readServing() {
    await copyBucket();
    const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
    const n = (await (await r2.get(`${SERVING_ROOT}/metadata/version-hint.text`)).text()).trim();
    // The root commits the version and names its metadata (`vN-<nonce>.metadata.json`).
    const root = JSON.parse(await (await r2.get(`${SERVING_ROOT}/metadata/v${n}.serving.json`)).text());
    const loc = `${location}${root.metadata}`;
    const out = await pyiceberg("static", "--ids=", loc);
    return out.tables[loc];
  }

  function assertNewest(table, what) {
    const best = new Map();
    for (const r of table.rows) {
      const key = `${r.ns}/${r.type}/${r.id}`;
      if (!best.has(key) || newer(r, best.get(key))) best.set(key, r);
    }
    assert.deepEqual([...best.keys()].sort(), [...sent.keys()].sort(), `${what}: keys`);
    for (const [key, markdown] of sent) {
      const r = best.get(key);
      assert.equal(r.deleted, markdown === null, `${what}: ${key} deleted`);
      if (markdown !== null) assert.equal(r.markdown, markdown, `${what}: ${key}`);
      assert.equal(r.owner_org, "acme");
      assert.match(r._lookup, /^[0-9a-f]+$/, "_lookup reads as bytes");
    }
  }

  test("newest per key by the winner rule equals the newest write; FULL leaves one row per key", async () => {
    const token = mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
    const ids = Array.from({ length: 8 }, (_, i) => fresh(`py${i}`));
    for (let round = 0; round < 5; round++) {
      const mode = MODES[round % 3];
      const recs = ids.filter((_, i) => (i + round) % 2 === 0).map((id) => ({ ns: "docs", type: "guide", id, markdown: `# ${id} r${round} ${mode} ünï ✓` }));
      const r = await post(h, ndjson(recs), { token, mode });
      assert.equal(r.status, 200, r.text);
      for (const x of recs) sent.set(`docs/guide/${x.id}`, x.markdown);
      if (round === 2) {
        const d = await del(h, `docs/guide/${recs[0].id}`, { token, mode });
        assert.ok(d.status < 300, `DELETE answered ${d.status}: ${d.text}`);
        sent.set(`docs/guide/${recs[0].id}`, null);
      }
      const [out] = await h.flush(mode);
      assert.deepEqual(out.compactor?.errors, [], JSON.stringify(out));
    }
    const table = await readServing();
    const schema = Object.fromEntries(table.schema.map((f) => [f.name, f]));
    assert.deepEqual(
      ["_lookup", "_source", "_seq", "_pos"].map((n) => [schema[n]?.id, schema[n]?.type, schema[n]?.required]),
      [[100, "binary", true], [101, "int", true], [102, "long", true], [103, "long", true]],
    );
    assert.equal(schema.ns.id, 1);
    assertNewest(table, "after incremental runs");

    const full = await (await h.standin("/compact?full=1", { method: "POST" })).json();
    assert.deepEqual(full.errors, [], JSON.stringify(full));
    const compacted = await readServing();
    assertNewest(compacted, "after FULL");
    assert.equal(compacted.rows.length, sent.size, "one row per key after FULL");
  });
});
