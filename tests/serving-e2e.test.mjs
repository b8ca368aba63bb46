// The serving table end to end (#15): records posted to ingest are committed by the stand-in,
// whose compactor absorbs each commit into the serving table (serving/artifacts); serve reads
// through it. Commits, compactor runs and reads interleave, and every answer equals the newest
// write committed so far (reads between a post and its commit see the previous one), except that a
// preview write (or delete) is answered from its 200 on by the ledger (#17: its pending copy, or
// its confirmed tombstone), before the sink commits it. With
// SERVING=off (make test's second pass over the serve specs) the same file checks the tail-only
// path and that nothing is compacted.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, resets, SERVING_ROOT, STANDIN_ROOTS } from "./support/harness.mjs";
import { post, del, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const MODES = ["preview", "build", "bulk"];
// Only explicit flushes commit, so the spec decides when the compactor runs.
const standinVars = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000", SERVING_FILE_ROWS: "5" };
const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
const reader = () => readToken("acme", "alice");

describe("serving table end to end", () => {
  let h;
  before(async () => {
    h = await start({ standin: true, standinVars, serveVars: { METADATA_TTL_SECONDS: "0" } });
  });
  after(async () => {
    await h?.dispose();
  });

  const bucket = () => h.mf.getR2Bucket("WAREHOUSE", "standin");
  async function text(key) {
    const o = await (await bucket()).get(key);
    return o ? await o.text() : null;
  }

  /** What serve must answer per key: the newest committed markdown, or null for a tombstone. */
  const committed = new Map();
  const pending = new Map();
  /** Keys whose answer is a preview write the sink has not committed yet: the ledger answers. */
  const viaLedger = new Set();

  // A preview write is readable from its 200 (the ledger), a build or bulk write from its commit.
  function record(mode, key, markdown) {
    if (mode === "preview") {
      committed.set(key, markdown);
      viaLedger.add(key);
    }
    pending.set(key, { mode, markdown });
  }

  async function write(mode, recs) {
    const r = await post(h, ndjson(recs), { token: writer(), mode });
    assert.equal(r.status, 200, r.text);
    for (const x of recs) record(mode, `${x.ns}/${x.type}/${x.id}`, x.markdown);
  }

  async function remove(mode, key) {
    const r = await del(h, key, { token: writer(), mode });
    assert.ok(r.status < 300, `DELETE answered ${r.status}: ${r.text}`);
    record(mode, key, null);
  }

  async function flush(mode) {
    const out = await h.flush(mode);
    for (const [k, v] of pending) if (v.mode === mode) committed.set(k, v.markdown), pending.delete(k), viaLedger.delete(k);
    return out;
  }

  async function assertAnswers(what) {
    for (const [key, markdown] of committed) {
      // ?fresh=true: the answer cache (whose windows are serve's, not this spec's) is bypassed.
      const r = await fetchContent(h, `/$.content/${key}.md?fresh=true`, { token: reader() });
      if (markdown === null) {
        assert.equal(r.status, 404, `${what}: ${key} is deleted: ${r.text.slice(0, 200)}`);
      } else {
        assert.equal(r.status, 200, `${what}: ${key}: ${r.text.slice(0, 200)}`);
        assert.equal(r.text, markdown, `${what}: ${key}`);
      }
      // Every commit was compacted at once: answers come from the serving table, never the tail
      // (or from the ledger while a preview write is not committed).
      const source = r.headers.get("x-artifact-source");
      const expected = viaLedger.has(key) ? "ledger" : h.serving ? "serving" : "tail";
      if (markdown !== null) assert.equal(source, expected, `${what}: ${key} X-Artifact-Source (${r.headers.get("server-timing")})`);
    }
  }

  test("commits, compactor runs and reads interleave; every answer is the newest committed write", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => fresh(`sv${i}`));
    let version = 0;
    for (let round = 0; round < 6; round++) {
      const mode = MODES[round % 3];
      const recs = ids
        .filter((_, i) => (i + round) % 3 !== 0)
        .slice(0, 4 + round)
        .map((id) => ({ ns: "docs", type: "guide", id, markdown: `# ${id} round ${round} (${mode})` }));
      await write(mode, recs);
      // Before the commit: the previous answers still hold (a preview write's are its own).
      await assertAnswers(`round ${round}, before the commit`);
      if (round === 3) await remove(mode, `docs/guide/${recs[0].id}`);
      const [out] = await flush(mode);
      assert.ok(out.committed > 0, JSON.stringify(out));
      if (h.serving) {
        assert.ok(out.compactor, `the commit answer says what the compactor did: ${JSON.stringify(out)}`);
        assert.equal(out.compactor.error, undefined, JSON.stringify(out.compactor));
        assert.deepEqual(out.compactor.errors, [], JSON.stringify(out.compactor));
        assert.ok(out.compactor.version > version, JSON.stringify(out.compactor));
        version = out.compactor.version;
      } else {
        assert.equal(out.compactor, undefined, "serving off: the stand-in does not compact");
      }
      await assertAnswers(`round ${round}, after the commit`);
    }
    assert.equal(await resets(h.serve), 0);
    assert.equal(await resets(h.standin), 0);
  });

  test("the serving table's root names every source and its watermark is the source's current snapshot", async (t) => {
    if (!h.serving) {
      assert.equal(await text(`${SERVING_ROOT}/metadata/version-hint.text`), null, "serving off: no serving table");
      return t.skip("serving off");
    }
    const n = Number(await text(`${SERVING_ROOT}/metadata/version-hint.text`));
    assert.ok(n > 0);
    const root = JSON.parse(await text(`${SERVING_ROOT}/metadata/v${n}.serving.json`));
    assert.equal(root.version, n);
    assert.deepEqual(root.sources.map((s) => s.id), STANDIN_ROOTS.split(","));
    for (const s of root.sources) {
      const hint = (await text(`${s.id}/metadata/version-hint.text`)).trim();
      const meta = JSON.parse(await text(`${s.id}/metadata/v${hint}.metadata.json`));
      assert.equal(s.error, null, s.id);
      assert.equal(s.snapshot_id ?? null, meta["current-snapshot-id"] ?? null, `${s.id} watermark`);
      if (meta["current-snapshot-id"]) assert.equal(s.metadata, `${s.id}/metadata/v${hint}.metadata.json`);
    }
    for (const f of root.files) assert.ok(await (await bucket()).head(f.key), `${f.key} exists`);
    // POST /compact with nothing new commits nothing.
    const res = await h.standin("/compact", { method: "POST" });
    assert.equal(res.status, 200);
    const report = await res.json();
    assert.equal(report.version, null, JSON.stringify(report));
    const refused = await h.standin("/compact");
    assert.equal(refused.status, 405);
    assert.equal(refused.headers.get("allow"), "POST");
  });

  test("POST /compact?from_scratch=1 rebuilds the next version with the same answers; ?full=1 empties L0", async (t) => {
    if (!h.serving) return t.skip("serving off");
    const before = Number(await text(`${SERVING_ROOT}/metadata/version-hint.text`));
    const rebuilt = await (await h.standin("/compact?from_scratch=1", { method: "POST" })).json();
    assert.equal(rebuilt.rebuilt, true, JSON.stringify(rebuilt));
    assert.equal(rebuilt.version, before + 1);
    await assertAnswers("after a rebuild from scratch");
    const full = await (await h.standin("/compact?full=1", { method: "POST" })).json();
    assert.deepEqual(full.errors, [], JSON.stringify(full));
    assert.equal(full.l0_runs, 0, JSON.stringify(full));
    await assertAnswers("after a full merge");
  });
});
