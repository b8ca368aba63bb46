// serve's serving-table path (#15, docs/design/serving-table.md, docs/serve.md "The serving
// table"): reads answered by the serving table say so in Server-Timing and X-Artifact-Source; a
// commit the serving table has not absorbed is answered from the tail, then from the serving table
// once compacted; a corrupt root or data file gives the right answer through the tables, with the
// fallback and its reason in Server-Timing and /$.health. With serving off (SERVING=off, or
// `start({ serving: false })`) reads say `serving;desc="off"` and come from the tail.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, resets, SERVING_ROOT } from "./support/harness.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

// Only explicit flushes commit (each commit is followed by a compactor run).
const standinVars = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" };
// Pointers are read on every request, so a moved pointer is seen at once.
const serveVars = { METADATA_TTL_SECONDS: "0" };
const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
const reader = () => readToken("acme", "alice");
const HINT = `${SERVING_ROOT}/metadata/version-hint.text`;

/** Server-Timing members as name → desc. */
function timing(r) {
  const out = {};
  for (const part of (r.headers.get("server-timing") ?? "").split(/,\s*(?=[a-z0-9-]+(?:;|$))/)) {
    const m = /^([a-z0-9-]+)(?:;desc="([^"]*)")?/.exec(part.trim());
    if (m) out[m[1]] = m[2] ?? "";
  }
  return out;
}

describe("serve reads the serving table", { skip: process.env.SERVING === "off" && "SERVING=off" }, () => {
  let h;
  before(async () => {
    h = await start({ standin: true, standinVars, serveVars, serving: true });
  });
  after(async () => {
    await h?.dispose();
  });

  const bucket = () => h.mf.getR2Bucket("WAREHOUSE", "standin");
  const text = async (key) => {
    const o = await (await bucket()).get(key);
    return o ? await o.text() : null;
  };
  const put = async (key, body) => (await bucket()).put(key, body);
  const write = async (mode, recs) => {
    const r = await post(h, ndjson(recs), { token: writer(), mode });
    assert.equal(r.status, 200, r.text);
    const out = await h.flush(mode);
    return out;
  };
  // `?fresh=1` keeps the Cache API out of it: every read below reads the tables.
  const fresh_read = (key) => fetchContent(h, `/$.content/${key}.md?fresh=1`, { token: reader() });
  const health = async () => (await (await h.serve("/$.health")).json()).serving;

  test("a compacted write is answered by the serving table, with its reads in Server-Timing", async () => {
    const id = fresh("sv");
    await write("build", [{ ns: "docs", type: "guide", id, markdown: "# one" }]);
    assert.ok(await text(HINT), "the compactor moved the serving pointer");
    const r = await fresh_read(`docs/guide/${id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, "# one");
    assert.equal(r.headers.get("x-artifact-source"), "serving");
    const t = timing(r);
    assert.equal(t.source, "serving", JSON.stringify(t));
    assert.equal(t.serving, "on");
    assert.match(t["serving-reads"], /^\d+$/);
    assert.match(t["tail-reads"], /^\d+$/);
    assert.equal(t.tail, "0", "caught up: no snapshot after the watermark");
    assert.ok(Number(t["r2-reads"]) >= Number(t["serving-reads"]), JSON.stringify(t));
    const s = await health();
    assert.equal(s.status, "on");
    assert.equal(s.reason, null);
    assert.equal(typeof s.version, "number");
    assert.equal(s.tables, 1, "unsplit: one serving table");
    assert.deepEqual(s.sources.map((x) => x.id), ["artifacts/preview", "artifacts/build", "artifacts/bulk"]);
    const build = s.sources[1];
    assert.equal(build.error, null);
    assert.equal(typeof build.watermark.sequence_number, "number");
    // The whole record comes from the serving file too (one page per column).
    const rec = await fetchContent(h, `/$.content/docs/guide/${id}.json?fresh=1`, { token: reader() });
    assert.equal(rec.status, 200, rec.text);
    assert.equal(rec.headers.get("x-artifact-source"), "serving");
    const body = JSON.parse(rec.text);
    assert.equal(body.markdown, "# one");
    assert.equal(body.id, id);
    assert.equal(body.owner_org, "acme", "the owners' org sees owners");
    // Warm: the same artifact again reads nothing of the serving table the isolate does not
    // hold (root, index region and pages are cached) but its pointer (a TTL of 0 here).
    const again = timing(await fresh_read(`docs/guide/${id}`));
    assert.equal(again.source, "serving");
    assert.equal(again["serving-reads"], "1", JSON.stringify(again));
  });

  test("a commit the serving table has not absorbed is answered from the tail, then from the serving table", async () => {
    const id = fresh("tail");
    await write("preview", [{ ns: "docs", type: "guide", id, markdown: "# v1" }]);
    const before = await text(HINT);
    await write("preview", [{ ns: "docs", type: "guide", id, markdown: "# v2" }]);
    const compacted = await text(HINT);
    assert.notEqual(compacted, before, "the second commit was compacted");
    // The pointer moved back: the serving table as it was before the second commit (v2 is
    // after its watermark), exactly what serve sees between a commit and the compactor's run.
    await put(HINT, before);
    const r = await fresh_read(`docs/guide/${id}`);
    assert.equal(r.text, "# v2", "the tail is newer than the serving table");
    assert.equal(r.headers.get("x-artifact-source"), "tail");
    assert.equal(timing(r).serving, "on");
    assert.ok(Number(timing(r).tail) >= 1, `the tail's length: ${JSON.stringify(timing(r))}`);
    // The next compactor run finds the newer version and moves the pointer to it.
    await h.compact();
    assert.notEqual(await text(HINT), before);
    const s = await fresh_read(`docs/guide/${id}`);
    assert.equal(s.text, "# v2");
    assert.equal(s.headers.get("x-artifact-source"), "serving");
  });

  test("a corrupt or missing root: the right answer from the tables, the fallback in Server-Timing and health", async () => {
    const id = fresh("root");
    await write("bulk", [{ ns: "docs", type: "guide", id, markdown: "# bulk" }]);
    const good = await text(HINT);
    // A pointer to a root that is not there, then to one that is not a root.
    await put(HINT, "999999");
    let r = await fresh_read(`docs/guide/${id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, "# bulk");
    assert.equal(r.headers.get("x-artifact-source"), "tail");
    assert.match(timing(r).serving, /^fallback: .*v999999\.serving\.json is missing/);
    let s = await health();
    assert.equal(s.status, "fallback");
    assert.match(s.reason, /is missing/);
    await put(`${SERVING_ROOT}/metadata/v999998.serving.json`, "{ not json");
    await put(HINT, "999998");
    r = await fresh_read(`docs/guide/${id}`);
    assert.equal(r.text, "# bulk");
    assert.match(timing(r).serving, /^fallback: .*is corrupt: not a serving root/);
    s = await health();
    assert.match(s.reason, /not a serving root/);
    // Back: on again.
    await put(HINT, good);
    r = await fresh_read(`docs/guide/${id}`);
    assert.equal(r.headers.get("x-artifact-source"), "serving");
    assert.equal((await health()).status, "on");
  });

  test("a corrupt serving data file: the right answer from the tables, the fallback named", async () => {
    const id = fresh("file");
    await write("build", [{ ns: "docs", type: "guide", id, markdown: "# file" }]);
    // Every file the newest version wrote (never read by serve yet, so nothing of it is cached).
    const version = Number((await text(HINT)).trim());
    const root = JSON.parse(await text(`${SERVING_ROOT}/metadata/v${version}.serving.json`));
    const fresh_files = root.files.filter((f) => new RegExp(`/L[01]-${version}-[^/]+\\.parquet$`).test(f.key));
    assert.ok(fresh_files.length > 0, JSON.stringify(root.files.map((f) => f.key)));
    for (const f of fresh_files) await put(f.key, new Uint8Array(f.size).fill(7));
    const r = await fresh_read(`docs/guide/${id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, "# file");
    assert.equal(r.headers.get("x-artifact-source"), "tail");
    assert.match(timing(r).serving, /^fallback: object serving\/artifacts\/data\/L[01]-\d+-[^ ]+\.parquet is corrupt/);
    const s = await health();
    assert.equal(s.status, "fallback");
    assert.match(s.reason, /\.parquet is corrupt/);
    assert.equal(await resets(h.serve), 0);
  });
});

describe("serve with the serving table off", () => {
  let h;
  before(async () => {
    h = await start({ standin: true, standinVars, serveVars, serving: false });
  });
  after(async () => {
    await h?.dispose();
  });

  test("reads come from the tail and say serving off; health says off", async () => {
    const id = fresh("off");
    const r0 = await post(h, ndjson([{ ns: "docs", type: "guide", id, markdown: "# off" }]), { token: writer(), mode: "build" });
    assert.equal(r0.status, 200, r0.text);
    await h.flush("build");
    const r = await fetchContent(h, `/$.content/docs/guide/${id}.md?fresh=1`, { token: reader() });
    assert.equal(r.text, "# off");
    assert.equal(r.headers.get("x-artifact-source"), "tail");
    const t = timing(r);
    assert.equal(t.source, "tail");
    assert.equal(t.serving, "off");
    assert.equal(t["serving-reads"], "0");
    const s = (await (await h.serve("/$.health")).json()).serving;
    assert.equal(s.status, "off");
  });
});
