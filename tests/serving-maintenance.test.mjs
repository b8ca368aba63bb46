// The serving table follows the sink's own maintenance (#16, docs/design/serving-table.md,
// "Following the sink's maintenance"): sink commits, the stand-in's `/maintain/compact` (a
// `replace` snapshot of compacted-* files) and `/maintain/expire` (old snapshots dropped, their
// files deleted) and compactor runs interleave with reads, on one Miniflare stack. Every answer
// equals the newest committed write; a replace after the watermark does not send serve back to the
// source tables (its tail ignores it); once the compactor has caught up every answer comes from
// the serving table; an expired watermark resumes with the gap said in /$.health.
//
// Each post is its own commit (COMMIT_MAX_BYTES=1) and a compactor run absorbs one commit
// (COMPACT_MAX_ROWS=1: whole snapshots, at least one), so a flush of two posts leaves the
// compactor one commit behind — the state in which the catalog may compact or expire.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, resets } from "./support/harness.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const MODES = ["preview", "build", "bulk"];
const standinVars = {
  ROLL_MS_PREVIEW: "600000",
  ROLL_MS_BUILD: "600000",
  ROLL_MS_BULK: "600000",
  SERVING_FILE_ROWS: "5",
  COMMIT_MAX_BYTES: "1",
  COMPACT_MAX_ROWS: "1",
};
const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
const reader = () => readToken("acme", "alice");

describe("the serving table follows the sink's maintenance", () => {
  let h;
  before(async () => {
    h = await start({ standin: true, standinVars, serveVars: { METADATA_TTL_SECONDS: "0" } });
  });
  after(async () => {
    await h?.dispose();
  });

  /** What serve must answer per key: the newest committed markdown. */
  const committed = new Map();
  const pending = new Map();
  const ids = Array.from({ length: 6 }, (_, i) => fresh(`mt${i}`));

  async function write(mode, round, some) {
    const recs = some.map((id) => ({ ns: "docs", type: "guide", id, markdown: `# ${id} round ${round} (${mode})` }));
    const r = await post(h, ndjson(recs), { token: writer(), mode });
    assert.equal(r.status, 200, r.text);
    for (const x of recs) pending.set(`${x.ns}/${x.type}/${x.id}`, { mode, markdown: x.markdown });
  }

  async function flush(mode) {
    const out = await h.flush(mode);
    for (const [k, v] of pending) if (v.mode === mode) committed.set(k, v.markdown), pending.delete(k);
    for (const o of out) assert.deepEqual(o.compactor?.errors ?? [], [], JSON.stringify(o));
    return out;
  }

  async function maintain(op, query = "") {
    const res = await h.standin(`/maintain/${op}${query}`, { method: "POST" });
    const out = await res.json();
    assert.equal(res.status, 200, JSON.stringify(out));
    return Object.fromEntries(out.map((o) => [o.mode, o]));
  }

  /** Compactor runs until one has nothing left to absorb. */
  async function catchUp() {
    for (let n = 0; n < 30; n++) {
      const report = await h.compact();
      assert.equal(report.error, undefined, JSON.stringify(report));
      assert.deepEqual(report.errors, [], JSON.stringify(report));
      if (report.version === null) return report;
    }
    assert.fail("the compactor does not catch up");
  }

  async function serving() {
    return (await (await h.serve("/$.health")).json()).serving;
  }

  /** Every committed key answers its newest write; with `fromServing`, read from the serving table. */
  async function assertAnswers(what, { fromServing }) {
    for (const [key, markdown] of committed) {
      const r = await fetchContent(h, `/$.content/${key}.md?fresh=true`, { token: reader() });
      const timing = r.headers.get("server-timing") ?? "";
      assert.equal(r.status, 200, `${what}: ${key}: ${r.text.slice(0, 200)}`);
      assert.equal(r.text, markdown, `${what}: ${key}`);
      assert.doesNotMatch(timing, /fallback/, `${what}: ${key} is not a fallback (${timing})`);
      if (fromServing) assert.equal(r.headers.get("x-artifact-source"), "serving", `${what}: ${key} (${timing})`);
    }
  }

  test("replace, compacted appends and an expired watermark: every answer the newest write, from the serving table once caught up", async (t) => {
    if (!h.serving) return t.skip("serving off");
    // Several commits per table, all absorbed.
    for (let round = 0; round < 3; round++) {
      for (const mode of MODES) {
        await write(mode, round, ids.filter((_, i) => (i + round) % 3 !== MODES.indexOf(mode)));
        await flush(mode);
      }
    }
    await catchUp();
    await assertAnswers("before any maintenance", { fromServing: true });

    // The catalog compacts every table: a replace after each watermark. Serve's tail ignores it
    // (no fallback, the answer from the serving table) before the compactor has seen it.
    const compacted = await maintain("compact");
    for (const mode of MODES) assert.ok(compacted[mode].rewritten >= 2, JSON.stringify(compacted[mode]));
    await assertAnswers("after the catalog's compaction, before the compactor ran", { fromServing: true });
    const report = await catchUp();
    assert.ok(report.sources.every((s) => s.error === null), JSON.stringify(report));
    await assertAnswers("after the compactor passed the replace", { fromServing: true });
    const health = await serving();
    assert.equal(health.status, "on", JSON.stringify(health));
    assert.ok(health.sources.every((s) => !s.gap && !s.error), JSON.stringify(health));

    // Two commits of preview; the compactor absorbs the first only, then the catalog compacts
    // both (with the files before them) into one file: the second's rows are found in it.
    await write("preview", 3, [ids[0], ids[1]]);
    await write("preview", 4, [ids[1], ids[2]]);
    const [out] = await flush("preview");
    assert.equal(out.committed, 4, JSON.stringify(out));
    assert.equal(out.compactor.sources[0].behind, true, JSON.stringify(out.compactor));
    const second = await maintain("compact", "?mode=preview");
    assert.ok(second.preview.rewritten >= 2, JSON.stringify(second));
    await assertAnswers("a replace holding an append not yet absorbed", { fromServing: false });
    await catchUp();
    await assertAnswers("after the compactor read the compacted file", { fromServing: true });

    // Three commits of build, the compactor two behind; the catalog expires every snapshot but
    // the current one, the watermark's and its child's included. Serve falls back meanwhile (its history does not reach
    // the watermark); the compactor resumes from the oldest snapshot left and says so.
    await write("build", 5, [ids[3], ids[4]]);
    await write("build", 6, [ids[4], ids[5]]);
    await write("build", 7, [ids[5], ids[0]]);
    const [b] = await flush("build");
    assert.equal(b.committed, 6, JSON.stringify(b));
    assert.equal(b.compactor.sources[1].behind, true, JSON.stringify(b.compactor));
    const expired = await maintain("expire", "?mode=build&keep=1");
    assert.ok(expired.build.expired >= 2, JSON.stringify(expired));
    for (const [key, markdown] of committed) {
      const r = await fetchContent(h, `/$.content/${key}.md?fresh=true`, { token: reader() });
      assert.equal(r.status, 200, `expired watermark: ${key}`);
      assert.equal(r.text, markdown, `expired watermark: ${key}`);
    }
    await catchUp();
    await assertAnswers("after the compactor resumed past the expired watermark", { fromServing: true });
    const after = await serving();
    const build = after.sources.find((s) => s.id === "artifacts/build");
    assert.match(build?.gap ?? "", /expired/, JSON.stringify(after));
    assert.ok(after.sources.filter((s) => s.id !== "artifacts/build").every((s) => !s.gap), JSON.stringify(after));

    // Commits after all of it are followed as usual; the catalog compacting and expiring right
    // after a run (the watermark expired, its child the replace) loses nothing and says no gap.
    for (const mode of MODES) {
      await write(mode, 8, ids.slice(0, 3));
      await flush(mode);
    }
    await catchUp();
    await maintain("compact");
    await maintain("expire", "?keep=1");
    await assertAnswers("the end", { fromServing: true });
    assert.equal(await resets(h.serve), 0);
    assert.equal(await resets(h.standin), 0);
  });
});
