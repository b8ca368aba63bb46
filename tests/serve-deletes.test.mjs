// Row-level deletes through the serve worker: the fixture under tests/fixtures/iceberg/deletes
// (written by shared's locate tests with our writers: `cargo test -p shared --features reader --
// --ignored write_delete_fixture`) holds a table with position deletes (`pos`) and one with
// equality deletes and a position delete older than its data file (`eq`); expected.json says
// what each id must answer, from the scenario that wrote them. pyiceberg reads `pos` too and must
// see exactly the rows that survive.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { start, resets } from "./support/harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE = path.join(root, "tests/fixtures/iceberg/deletes");
const EXPECTED = JSON.parse(readFileSync(path.join(FIXTURE, "expected.json"), "utf8"));
const PYTHON = path.join(root, ".venv/bin/python");

function keys(dir, rel = "") {
  return readdirSync(path.join(dir, rel)).flatMap((name) => {
    const child = rel ? `${rel}/${name}` : name;
    return statSync(path.join(dir, child)).isDirectory() ? keys(dir, child) : [child];
  });
}

let h;
before(async () => {
  h = await start({
    serveVars: { TABLE_ROOTS: Object.keys(EXPECTED.tables).join(","), LOCATION_PREFIX: EXPECTED.location_prefix, CATALOG_URL: "" },
  });
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "serve");
  for (const key of keys(FIXTURE).filter((k) => k !== "expected.json")) {
    await r2.put(key, new Uint8Array(readFileSync(path.join(FIXTURE, key))));
  }
});
after(() => h?.dispose());

test("every id answers its newest surviving version, or 404 when every version is deleted", async () => {
  const ids = Object.entries(EXPECTED.winners);
  assert.ok(ids.length >= 9);
  for (const [id, want] of ids) {
    const res = await h.serve(`/$.content/docs/guide/${id}.md`);
    const body = await res.text();
    if (want === null) {
      assert.equal(res.status, 404, `${id}: ${body}`);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
    } else {
      assert.equal(res.status, 200, `${id}: ${body}`);
      assert.equal(body, want.markdown, id);
      const json = await (await h.serve(`/$.content/docs/guide/${id}.json`)).json();
      assert.equal(json.id, id);
      assert.equal(json.markdown, want.markdown);
    }
  }
  // The listing applies the same deletes.
  const listed = await (await h.serve("/$.content/docs/guide/")).json();
  const names = listed.items.map((a) => a.id).sort();
  const survivors = ids.filter(([, w]) => w !== null).map(([id]) => id).sort();
  assert.deepEqual(names, survivors);
  assert.equal(await resets(h.serve), 0);
});

test("pyiceberg sees exactly the rows that survive the position deletes", { skip: !existsSync(PYTHON) && "run make pyenv" }, async () => {
  // The fixture's locations are file:///tmp/artifacts-deletes-fixture/…: put it there.
  const local = new URL(EXPECTED.location_prefix).pathname;
  rmSync(local, { recursive: true, force: true });
  cpSync(FIXTURE, local, { recursive: true });
  const metadata = `${EXPECTED.location_prefix}${EXPECTED.tables.pos}`;
  const out = await new Promise((ok, fail) =>
    execFile(PYTHON, [path.join(root, "tests/support/pyiceberg_read.py"), "static", metadata], { maxBuffer: 64 << 20, timeout: 180_000 }, (err, stdout, stderr) =>
      err ? fail(new Error(`${err.message}\n${stderr}`)) : ok(JSON.parse(stdout)),
    ),
  );
  const rows = out.tables[metadata].rows.map((r) => ({ id: r.id, ts: r.ts, markdown: r.markdown }));
  const byId = (a, b) => a.id.localeCompare(b.id);
  assert.deepEqual(rows.sort(byId), [...EXPECTED.pos_rows].sort(byId));
});
