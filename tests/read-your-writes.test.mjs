// Read-your-writes (#17, docs/design/ledger.md "Read-your-writes: test and bench", build order
// steps 5 and 6): serve asks the ledger on a cache miss and answers a preview write from its
// pending copy before the sink commits; the compact worker's `covered` trims the copy once the
// serving table holds the write. The stand-in commits only on h.flush(), so until then the
// tables do not hold a write and only the ledger can answer it.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, rec, ndjson, fresh, assertSummary } from "./support/ingest.mjs";
import { shardOf } from "./support/ledger.mjs";
import { readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

let h;
// notify: commits reach the compact worker (which calls covered), not the stand-in's own runs.
before(async () => {
  h = await start({ standin: true, notify: true, serves: 2, serveVars: { METADATA_TTL_SECONDS: "0" } });
  await (await h.serves[1]("/$.health")).arrayBuffer();
});
after(() => h?.dispose());
beforeEach(async () => {
  await h.ledgerDown(false, "serve");
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Polls the async `cond` every 50 ms until it holds or `ms` pass; whether it held. */
async function waitFor(cond, ms) {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) return false;
    await sleep(50);
  }
  return true;
}
const md = (id) => `/$.content/docs/guide/${id}.md`;
const write = async (id, markdown, mode = "preview") => {
  const r = await post(h, ndjson([rec(id, { markdown, visibility: "public" })]), { mode });
  assertSummary(r, 200, { accepted: 1, deduped: 0 });
  return Date.now();
};
const lookup = async (id) => {
  const key = `docs/guide/${id}`;
  return (await h.ledger(shardOf(key, h.ledgerShards), "lookup", { k: key })).json;
};
/** Reads `path` through `serve` until it answers `body` or `ms` pass: the last answer and when. */
async function readUntil(serve, path, body, ms) {
  const t0 = Date.now();
  for (;;) {
    const res = await serve(path);
    const text = await res.text();
    if ((res.status === 200 && text === body) || Date.now() - t0 > ms) return { res, text, at: Date.now() };
    await sleep(20);
  }
}

test("a preview write is readable with its exact body within 1 s of its 200 through a second serve", async () => {
  const id = fresh("ryw-b");
  const acked = await write(id, "# one\n\nwritten through ingest");
  const { res, text, at } = await readUntil(h.serves[1], md(id), "# one\n\nwritten through ingest", 1000);
  assert.equal(res.status, 200, text);
  assert.equal(text, "# one\n\nwritten through ingest");
  assert.ok(at - acked <= 1000, `readable ${at - acked} ms after the 200`);
  assert.equal(res.headers.get("x-artifact-source"), "ledger", "the tables do not hold it yet");
  assert.match(res.headers.get("server-timing"), /ledger;desc=state/);
  // The same answer as a table row of that record: its ETag names the write's ts and visibility.
  const { state } = await lookup(id);
  assert.ok(res.headers.get("etag").includes(`-${state.t}-public.md`), res.headers.get("etag"));
  // The .json record has the table's layout.
  const json = await (await h.serves[1](`/$.content/docs/guide/${id}.json`)).json();
  assert.equal(json.markdown, "# one\n\nwritten through ingest");
  assert.equal(json.visibility, "public");
  assert.equal(json.owner_org, undefined, "owners hidden from an anonymous reader");
});

test("through the same serve right after it served and cached the previous version", async () => {
  const id = fresh("ryw-a");
  await write(id, "# v1");
  const first = await readUntil(h.serve, md(id), "# v1", 1000);
  assert.equal(first.text, "# v1");
  // Cached: the next read is a hit and makes no ledger call.
  await sleep(50);
  await h.resetOps();
  const hit = await h.serve(md(id));
  assert.equal(await hit.text(), "# v1");
  assert.equal(hit.headers.get("x-artifact-source"), "cache");
  assert.equal((await h.ops()).ledger.calls.lookup, undefined, "a hit makes no lookup");
  const acked = await write(id, "# v2");
  const { res, text, at } = await readUntil(h.serve, md(id), "# v2", 1000);
  assert.equal(text, "# v2", `still ${res.headers.get("x-artifact-source")}`);
  assert.ok(at - acked <= 1000, `readable ${at - acked} ms after the 200`);
});

test("the colo hint: with KV's generation write held back, the same serve sees the new version at once", async () => {
  const id = fresh("ryw-hint");
  const key = `docs/guide/${id}`;
  await write(id, "# h1");
  assert.equal((await readUntil(h.serve, md(id), "# h1", 1000)).text, "# h1");
  await sleep(50);
  assert.equal((await h.serve(md(id))).headers.get("x-artifact-source"), "cache");
  // Production refuses a second put of a KV key within a second: as if someone had just written
  // it, the ledger's alarm cannot write the new generation for a second. Only the hint ingest
  // leaves in this colo's cache can move serve's cache key meanwhile.
  await h.kvTouch(`art:${key}`);
  const acked = await write(id, "# h2");
  assert.ok(await h.hint(key), "ingest left the hint");
  const res = await h.serve(md(id));
  const text = await res.text();
  assert.ok(Date.now() - acked < 900, "read inside the second KV refuses the write");
  assert.equal(text, "# h2", `still ${res.headers.get("x-artifact-source")}`);
  assert.equal(res.headers.get("x-artifact-source"), "ledger");
});

test("a miss makes exactly one lookup, to the key's shard", async () => {
  const id = fresh("ryw-one");
  await write(id, "# once");
  await h.resetOps();
  const res = await h.serves[1](md(id));
  assert.equal(await res.text(), "# once");
  const ops = await h.ops();
  const shard = String(shardOf(`docs/guide/${id}`, h.ledgerShards));
  assert.equal(ops.ledger.calls.lookup, 1, JSON.stringify(ops.ledger.calls));
  assert.equal(ops.ledger.shards[shard].calls.lookup, 1);
});

test("the ledger unreachable: the tables answer with no-store and Server-Timing ledger;desc=unavailable", async () => {
  const id = fresh("ryw-down");
  await write(id, "# committed", "build");
  await h.flush();
  assert.equal(await (await readUntil(h.serve, md(id), "# committed", 5000)).text, "# committed");
  await write(id, "# pending");
  await h.ledgerDown(true, "serve");
  // A representation not read before: a miss, with the ledger down. The tables' version (the
  // copy is out of reach), never cached.
  const res = await h.serve(`/$.content/docs/guide/${id}.json`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.match(res.headers.get("server-timing"), /ledger;desc=unavailable/);
  assert.equal((await res.json()).markdown, "# committed");
  // Not cached: once the ledger is back, the pending write answers.
  await h.ledgerDown(false, "serve");
  const back = await h.serve(`/$.content/docs/guide/${id}.json`);
  assert.equal((await back.json()).markdown, "# pending");
  assert.equal(back.headers.get("x-artifact-source"), "ledger");
});

test("after the compactor absorbs a preview write its pending copy is trimmed (covered)", async (t) => {
  if (!h.serving) return t.skip("serving off: no compact worker");
  const id = fresh("ryw-trim");
  await write(id, "# to absorb");
  assert.notEqual((await lookup(id)).pending, null, "a preview write keeps a copy");
  await h.flush("preview");
  // The commit's notification runs the compact worker, which calls covered after its run.
  assert.ok(await waitFor(async () => (await lookup(id)).pending === null, 15_000), "the copy is trimmed");
  const { res, text } = await readUntil(h.serves[1], md(id), "# to absorb", 2000);
  assert.equal(text, "# to absorb");
  assert.notEqual(res.headers.get("x-artifact-source"), "ledger", "the tables answer now");
  // A run with nothing new calls nothing.
  const report = await h.compact();
  assert.equal(report.ledger, undefined, JSON.stringify(report.ledger));
});

test("the compact worker's report says what covered trimmed", async (t) => {
  if (!h.serving) return t.skip("serving off: no compact worker");
  const id = fresh("ryw-report");
  await write(id, "# reported");
  // Commit without the notification, so the run below is the one that absorbs it.
  await h.events({ drop: 1 });
  await h.flush("preview");
  const report = await h.compact();
  if (report.rows_absorbed === 0) return; // a late notification's run absorbed it first
  assert.equal(report.ledger?.failed, 0, JSON.stringify(report));
  assert.ok(report.ledger.calls >= 1);
  assert.ok(report.ledger.trimmed >= 1, JSON.stringify(report.ledger));
  assert.equal((await lookup(id)).pending, null);
});

test("batch refs and signing see a preview write the tables do not hold yet", async () => {
  const id = fresh("ryw-batch");
  await write(id, "# batched");
  // Batch: the ref's line is the pending copy (the stand-in has not committed it).
  const res = await h.serves[1]("/$.content/batch", { method: "POST", body: JSON.stringify([`docs/guide/${id}.md`, "docs/guide/never-written.md"]) });
  assert.equal(res.status, 200);
  const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual([lines[0].status, lines[0].body], [200, "# batched"], JSON.stringify(lines[0]));
  assert.equal(lines[1].status, 404);
  assert.equal(lines.at(-1).end, true);
  // Signing needs the artifact to be readable now: it is, from the pending copy.
  const signed = await h.serves[1]("/$.content/sign", {
    method: "POST",
    headers: { authorization: `Bearer ${readToken("acme", "alice")}` },
    body: JSON.stringify({ path: md(id), expires_in: 60 }),
  });
  const body = await signed.json();
  assert.equal(signed.status, 200, JSON.stringify(body));
  const read = await h.serves[1](body.url);
  assert.equal(read.status, 200);
  assert.equal(await read.text(), "# batched");
  // With the ledger down at (the first) serve, batch answers from the tables alone: not there yet.
  await h.ledgerDown(true, "serve");
  const down = await h.serve("/$.content/batch", { method: "POST", body: JSON.stringify([`docs/guide/${id}.md`]) });
  const first = JSON.parse((await down.text()).split("\n")[0]);
  assert.equal(first.status, 404, JSON.stringify(first));
});

test("a tenant's pending_modes makes its build writes readable before the sink commits", async () => {
  const kv = await h.mf.getKVNamespace("ARTIFACT_STATE", "ingest");
  await kv.put("tenant:copier", JSON.stringify({ pending_modes: ["build"] }));
  const token = mint({ org: "copier", sub: "c", scopes: ["write:*"] });
  const id = fresh("ryw-build-copy");
  let r = await post(h, ndjson([rec(id, { markdown: "# build, kept", visibility: "public" })]), { mode: "build", token });
  assertSummary(r, 200, { accepted: 1, deduped: 0 });
  const { res, text } = await readUntil(h.serves[1], md(id), "# build, kept", 1000);
  assert.equal(text, "# build, kept");
  assert.equal(res.headers.get("x-artifact-source"), "ledger", "a pending copy of a build write");
  assert.notEqual((await lookup(id)).pending, null);
  // Another org's build write keeps none (preview only by default).
  const other = fresh("ryw-build-none");
  r = await post(h, ndjson([rec(other, { markdown: "# build", visibility: "public" })]), { mode: "build" });
  assertSummary(r, 200, { accepted: 1, deduped: 0 });
  assert.equal((await lookup(other)).pending, null);
});
