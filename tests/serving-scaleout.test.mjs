// The serving table at scale-out (#16, docs/design/serving-table.md "Scale-out"): the serving table
// split by key range (SERVING_SPLITS, two tables), two compact workers racing on the same tables,
// sink commits whose notifications reach the compact worker through the queue, the catalog's own
// `compact` (replace snapshots) and `expire` (old snapshots and their files gone), all interleaved
// with reads. After every step every answer equals the newest committed write and the listing
// equals the committed live ids; once the compactors have caught up every answer comes from the
// serving table, each range from its own table.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, SERVING_ROOT } from "./support/harness.mjs";
import { post, del, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";
// A deterministic PRNG (mulberry32): the same interleaving on every run.
import { rng } from "../bench/ingest/body.mjs";

const MODES = ["preview", "build", "bulk"];
const SPLITS = "docs/guide/m";
const ROUNDS = Number(process.env.SCALEOUT_ROUNDS ?? 8);
const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
const reader = () => readToken("acme", "alice");

describe("split serving tables, racing compactors and the sink's maintenance", { skip: process.env.SERVING === "off" && "SERVING=off" }, () => {
  let h;
  before(async () => {
    h = await start({
      standin: true,
      notify: true,
      compactWorkers: 2,
      // Only explicit flushes commit; each post is its own commit.
      standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000", COMMIT_MAX_BYTES: "1" },
      serveVars: { SERVING_SPLITS: SPLITS, METADATA_TTL_SECONDS: "0" },
      compactVars: { SERVING_SPLITS: SPLITS, SERVING_FILE_ROWS: "4", COMPACT_MAX_ROWS: "3" },
    });
  });
  after(async () => {
    await h?.dispose();
  });

  // Ids on both sides of the split (`a…` in range 0, `n…` in range 1).
  const ids = [...Array.from({ length: 5 }, (_, i) => fresh(`a${i}`)), ...Array.from({ length: 5 }, (_, i) => fresh(`n${i}`))];
  /** key → newest committed markdown (null: deleted). */
  const committed = new Map();
  const pending = new Map();

  async function write(mode, round, some, rand) {
    const recs = some.map((id) => ({ ns: "docs", type: "guide", id, visibility: "public", markdown: `# ${id} r${round} ${mode} ${rand().toString(36).slice(2, 6)}` }));
    const r = await post(h, ndjson(recs), { token: writer(), mode });
    assert.equal(r.status, 200, r.text);
    for (const x of recs) pending.set(x.id, { mode, markdown: x.markdown });
  }

  async function remove(mode, id) {
    const r = await del(h, `docs/guide/${id}`, { token: writer(), mode });
    assert.equal(r.status, 200, r.text);
    pending.set(id, { mode, markdown: null });
  }

  async function flush(mode) {
    await h.flush(mode);
    for (const [k, v] of pending) if (v.mode === mode) committed.set(k, v.markdown), pending.delete(k);
  }

  async function maintain(op, query = "") {
    const res = await h.standin(`/maintain/${op}${query}`, { method: "POST" });
    assert.equal(res.status, 200, await res.text());
  }

  /** Both compact workers run every range at once (they race for each table's next version). */
  async function race() {
    const [a, b] = await Promise.all([h.compactRun("", 0), h.compactRun("", 1)]);
    for (const out of [a, b]) {
      for (const r of out.ranges ?? []) assert.equal(r.error, undefined, JSON.stringify(r));
    }
    return [a, b];
  }

  async function assertAnswers(what, { fromServing = false } = {}) {
    for (const [id, markdown] of committed) {
      const r = await fetchContent(h, `/$.content/docs/guide/${id}.md?fresh=1`, { token: reader() });
      const timing = r.headers.get("server-timing") ?? "";
      if (markdown === null) {
        assert.equal(r.status, 404, `${what}: ${id} was deleted (${timing})`);
        continue;
      }
      assert.equal(r.status, 200, `${what}: ${id}: ${r.text.slice(0, 200)}`);
      assert.equal(r.text, markdown, `${what}: ${id} (${timing})`);
      if (fromServing) {
        assert.equal(r.headers.get("x-artifact-source"), "serving", `${what}: ${id} (${timing})`);
        assert.doesNotMatch(timing, /fallback/, `${what}: ${id}`);
      }
    }
    // The listing, page by page (3 a page: pages cross the split).
    const want = [...committed].filter(([, m]) => m !== null).map(([id]) => id).sort();
    const got = [];
    let cursor = "";
    for (let n = 0; n < 50; n++) {
      const r = await fetchContent(h, `/$.content/docs/guide/?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token: reader() });
      assert.equal(r.status, 200, r.text);
      got.push(...r.body.items.map((i) => i.id).filter((id) => ids.includes(id)));
      if (!r.body.cursor) break;
      cursor = r.body.cursor;
    }
    assert.deepEqual(got, want, `${what}: the listing`);
  }

  test("every answer is the newest committed write while commits, maintenance and two compactors interleave", async (t) => {
    if (!h.serving) return t.skip("serving off");
    const rand = rng(16);
    for (let round = 0; round < ROUNDS; round++) {
      const mode = MODES[round % 3];
      const some = ids.filter(() => rand() < 0.5);
      await write(mode, round, some.length ? some : [ids[round % ids.length]], rand);
      if (round % 3 === 2) await remove(mode, ids[(round * 7) % ids.length]);
      await flush(mode);
      await assertAnswers(`round ${round}, after the commit`);
      const step = rand();
      if (step < 0.3) await maintain("compact", `?mode=${mode}`);
      else if (step < 0.5) await maintain("expire", `?mode=${mode}&keep=1`);
      await assertAnswers(`round ${round}, after maintenance`);
      await race();
      await assertAnswers(`round ${round}, after two compactors raced`);
    }
    // Caught up: a last race with nothing left, then every answer from the serving table.
    for (let n = 0; n < 10; n++) {
      const [a, b] = await race();
      if ([a, b].every((o) => (o.ranges ?? [o]).every((r) => (r.report ?? r).version === null))) break;
    }
    await assertAnswers("caught up", { fromServing: true });
    // Two tables, each holding its range, both at versions past 1 (both compactors committed).
    const bucket = await h.mf.getR2Bucket("WAREHOUSE", "standin");
    for (const [i, range] of [[0, { lo: null, hi: "docs\u0000guide\u0000m" }], [1, { lo: "docs\u0000guide\u0000m", hi: null }]]) {
      const hint = await bucket.get(`${SERVING_ROOT}/range-${i}/metadata/version-hint.text`);
      assert.ok(hint, `range ${i} has a table`);
      const n = Number((await hint.text()).trim());
      const root = JSON.parse(await (await bucket.get(`${SERVING_ROOT}/range-${i}/metadata/v${n}.serving.json`)).text());
      assert.deepEqual(root.range, range, `range ${i}'s root holds its range`);
      assert.ok(n > 1, `range ${i} moved on: v${n}`);
    }
    const health = (await (await h.serve("/$.health")).json()).serving;
    assert.equal(health.tables, 2, JSON.stringify(health));
    assert.equal(health.status, "on", JSON.stringify(health));
  });
});

describe("a SERVING_SPLITS that does not parse", { skip: process.env.SERVING === "off" && "SERVING=off" }, () => {
  let h;
  before(async () => {
    h = await start({
      standin: true,
      standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" },
      // Boundaries out of order: serve cannot tell which table holds a key.
      serveVars: { SERVING_SPLITS: "docs/guide/m,docs/guide/a", METADATA_TTL_SECONDS: "0" },
    });
  });
  after(async () => {
    await h?.dispose();
  });

  test("reads are answered by the tables, never wrongly, and say why (Server-Timing, health)", async () => {
    const id = fresh("badsplit");
    const r = await post(h, ndjson([{ ns: "docs", type: "guide", id, visibility: "public", markdown: "# right" }]), { token: writer(), mode: "build" });
    assert.equal(r.status, 200, r.text);
    await h.flush("build");
    const res = await fetchContent(h, `/$.content/docs/guide/${id}.md?fresh=1`, { token: reader() });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, "# right");
    assert.equal(res.headers.get("x-artifact-source"), "tail");
    assert.match(res.headers.get("server-timing") ?? "", /serving;desc="fallback: [^"]*SERVING_SPLITS/);
    const health = (await (await h.serve("/$.health")).json()).serving;
    assert.equal(health.status, "fallback");
    assert.equal(health.tables, 0, "the setting gives no tables");
  });
});
