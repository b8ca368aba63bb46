// The compact worker (#16) on one Miniflare stack: the stand-in's commits announce their metadata
// objects on the queue (the R2 event notification double, R2_EVENTS), the compact worker consumes
// it and runs the compactor, and serve answers from the new serving version within seconds. The
// Cron Trigger catches up a lost notification; malformed and irrelevant messages are acked, never
// retried; /health, /run and the other routes; two compact workers racing on the same table still
// give every reader the newest committed write. Plus wrangler's dry run of wrangler/compact.toml.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readdir } from "node:fs/promises";
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { start, resets, servingDefault, SERVING_ROOT, COMPACT_QUEUE, AUTH_SECRET } from "./support/harness.mjs";
import { post, ndjson, fresh, PROBLEM_TYPE, PROBLEM_BASE } from "./support/ingest.mjs";
import { fetchContent, readToken, freePort } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

// Only explicit flushes commit, so the spec decides when commits (and their notifications) happen.
const standinVars = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" };
const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
const reader = () => readToken("acme", "alice");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** How long a notification may take to become a serving version (batch timeout 1 s + the run). */
const WITHIN_MS = 15_000;

async function waitFor(what, cond, ms = WITHIN_MS) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await cond();
    if (last) return last;
    await sleep(100);
  }
  assert.fail(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`);
}

/** One stack and the spec's bookkeeping of what every reader must see. */
function stack(options) {
  const s = { h: undefined, committed: new Map(), pending: new Map() };
  s.text = async (key) => {
    const o = await (await s.h.mf.getR2Bucket("WAREHOUSE", "standin")).get(key);
    return o ? await o.text() : null;
  };
  s.version = async (root = SERVING_ROOT) => Number((await s.text(`${root}/metadata/version-hint.text`)) ?? 0);
  s.write = async (mode, recs) => {
    const r = await post(s.h, ndjson(recs), { token: writer(), mode });
    assert.equal(r.status, 200, r.text);
    for (const x of recs) s.pending.set(`${x.ns}/${x.type}/${x.id}`, { mode, markdown: x.markdown });
  };
  s.flush = async (mode) => {
    const out = await s.h.flush(mode);
    for (const [k, v] of s.pending) if (v.mode === mode) s.committed.set(k, v.markdown), s.pending.delete(k);
    return out;
  };
  /** Every committed key answers its newest write; `from` the X-Artifact-Source each must have. */
  s.answers = async (what, { from, keys = [...s.committed.keys()] } = {}) => {
    const sources = new Map();
    for (const key of keys) {
      const r = await fetchContent(s.h, `/$.content/${key}.md?fresh=true`, { token: reader() });
      assert.equal(r.status, 200, `${what}: ${key}: ${r.text.slice(0, 200)}`);
      assert.equal(r.text, s.committed.get(key), `${what}: ${key}`);
      const source = r.headers.get("x-artifact-source");
      sources.set(key, source);
      if (from) assert.equal(source, from, `${what}: ${key} X-Artifact-Source (${r.headers.get("server-timing")})`);
    }
    return sources;
  };
  s.health = async (which = 0) => {
    const r = await s.h.compactWorkers[which]("/health");
    assert.equal(r.status, 200);
    return r.json();
  };
  before(async () => {
    const extra = typeof options === "function" ? await options(s) : options;
    s.h = await start({ standin: true, notify: true, standinVars, serveVars: { METADATA_TTL_SECONDS: "0" }, ...extra });
  });
  after(async () => {
    await s.h?.dispose();
  });
  return s;
}

const recs = (n, label, round) =>
  Array.from({ length: n }, (_, i) => ({ ns: "docs", type: "guide", id: `${label}-${i}`, markdown: `# ${label} ${i} round ${round}` }));

// Every spec here needs the serving table (the compact worker is its compactor).
const off = !servingDefault() && "SERVING=off: no serving table, no compact worker";

describe("compact worker", { skip: off }, () => {
  const s = stack({ compactWorkers: 2 });

  test("a commit's notifications reach the worker through the queue; serve answers from the new serving version within seconds", async () => {
    await s.h.events({ reset: 1 });
    const before = await s.version();
    const label = fresh("cw");
    await s.write("preview", recs(5, label, 0));
    const [out] = await s.flush("preview");
    assert.ok(out.committed > 0, JSON.stringify(out));
    assert.equal(out.compactor, undefined, "with R2_EVENTS bound the stand-in does not compact in-process");
    const started = Date.now();
    const v = await waitFor("a new serving version", async () => ((await s.version()) > before ? s.version() : null));
    console.log(`# notification → serving version ${v} in ${Date.now() - started} ms`);
    await s.answers("after the notification's run", { from: "serving" });
    // The double sent what R2 would: one PutObject per metadata object the commit wrote.
    const ev = await s.h.events();
    assert.equal(ev.enabled, true);
    const keys = ev.record.map((e) => e.key);
    assert.ok(keys.some((k) => /^artifacts\/preview\/metadata\/v\d+\.metadata\.json$/.test(k)), JSON.stringify(keys));
    assert.ok(keys.includes("artifacts/preview/metadata/version-hint.text"), JSON.stringify(keys));
    assert.ok(keys.every((k) => k.startsWith("artifacts/preview/metadata/")), "only metadata objects are announced");
    assert.equal(ev.failed, 0);
    const health = await s.health();
    assert.equal(health.status, "ok");
    assert.equal(health.ranges.length, 1);
    assert.equal(health.ranges[0].root, SERVING_ROOT);
    assert.equal(health.ranges[0].version, await s.version(), "the pointer's version");
    assert.equal(health.ranges[0].last.trigger, "notification", JSON.stringify(health));
    assert.ok(health.ranges[0].last.report.version >= v, JSON.stringify(health));
    assert.ok(health.messages.notifications >= 1, JSON.stringify(health.messages));
    assert.equal(health.messages.retried, 0, JSON.stringify(health.messages));
  });

  test("a lost notification is caught up by the cron tick", async () => {
    await s.h.events({ reset: 1, drop: 1000 });
    // Notifications of the test before may still be on their way (a batch waits up to 1 s).
    await sleep(1500);
    const before = await s.version();
    const label = fresh("lost");
    await s.write("build", recs(4, label, 1));
    await s.flush("build");
    const ev = await s.h.events();
    assert.ok(ev.dropped > 0 && ev.sent === 0, `every notification of the commit was lost: ${JSON.stringify({ ...ev, record: ev.record.length })}`);
    // Nothing reaches the worker: the serving table stays where it was (serve reads the new rows
    // from the tail meanwhile, with the same answers).
    await sleep(2500);
    assert.equal(await s.version(), before, "no run without a notification");
    const tail = await s.answers("before the tick", { keys: [...s.committed.keys()].filter((k) => k.includes(label)) });
    assert.ok([...tail.values()].every((src) => src === "tail"), JSON.stringify([...tail]));
    await s.h.scheduled();
    assert.ok((await s.version()) > before, "the cron tick ran the compactor");
    await s.answers("after the tick", { from: "serving" });
    const health = await s.health();
    assert.equal(health.ranges[0].last.trigger, "cron", JSON.stringify(health));
    assert.ok(health.messages.ticks >= 1);
    await s.h.events({ reset: 1 });
  });

  test("a delayed notification is absorbed when it arrives", async () => {
    await s.h.events({ reset: 1, delay: 2 });
    const before = await s.version();
    await s.write("preview", recs(2, fresh("late"), 0));
    const t0 = Date.now();
    await s.flush("preview");
    assert.ok((await s.h.events()).record.every((e) => e.delay_seconds === 2));
    await sleep(1000);
    assert.equal(await s.version(), before, "nothing before the delay");
    await waitFor("the delayed notifications' run", async () => (await s.version()) > before);
    assert.ok(Date.now() - t0 >= 2000, `absorbed after ${Date.now() - t0} ms, not before the 2 s delay`);
    await s.answers("after the delayed notification", { from: "serving" });
    await s.h.events({ reset: 1 });
  });

  test("a failed run's messages are retried by the queue (bounded); the cron tick catches up once it can run", async () => {
    const bucket = await s.h.mf.getR2Bucket("WAREHOUSE", "standin");
    const HINT = `${SERVING_ROOT}/metadata/version-hint.text`;
    await s.h.compactRun();
    const hint = await (await waitFor("a serving version", () => bucket.get(HINT))).text();
    const before = Number(hint);
    const { messages: m0 } = await s.health();
    // A serving pointer that is not a version: every run fails until it is put back.
    await bucket.put(HINT, "not a version");
    const label = fresh("retry");
    await s.write("bulk", recs(2, label, 0));
    await s.flush("bulk");
    const failed = await waitFor("a failed notification run, retried", async () => {
      const h = await s.health();
      return h.messages.retried > m0.retried && h.ranges[0].last.error ? h : null;
    });
    assert.equal(failed.ranges[0].last.trigger, "notification", JSON.stringify(failed.ranges));
    assert.match(failed.ranges[0].last.error, /version|pointer|corrupt/i);
    // The queue gives up after max_retries (5 in the harness, as in wrangler/compact.toml): the
    // retries stop while the pointer is still broken, at most 6 deliveries per message sent.
    let m1 = (await s.health()).messages;
    for (;;) {
      await sleep(1500);
      const next = (await s.health()).messages;
      if (next.retried === m1.retried) break;
      m1 = next;
    }
    const { sent } = await s.h.events();
    assert.ok(m1.retried - m0.retried <= sent * 6, JSON.stringify({ m0, m1, sent }));
    assert.equal(m1.retried - m0.retried, m1.notifications - m0.notifications, "every failed delivery was handed back");
    await bucket.put(HINT, hint);
    await s.h.scheduled();
    assert.ok((await s.version()) > before, "the next run after the repair committed");
    await s.answers("after the repair", { from: "serving" });
  });

  test("malformed and irrelevant messages are acked and counted, never retried", async () => {
    const before = await s.version();
    const { messages: m0 } = await s.health();
    const producer = await s.h.mf.getQueueProducer("COMPACT_QUEUE", "compact");
    const note = (key, action = "PutObject") => ({ account: "a", bucket: "artifacts-warehouse", object: { key, size: 1, eTag: "e" }, action, eventTime: new Date().toISOString() });
    await producer.sendBatch([
      { body: "not json", contentType: "text" },
      { body: { run: 99 }, contentType: "json" },
      { body: { hello: "world" }, contentType: "json" },
      { body: note(`${SERVING_ROOT}/metadata/v99.metadata.json`), contentType: "json" },
      { body: note("artifacts/preview/data/x.parquet"), contentType: "json" },
      { body: note("artifacts/preview/metadata/v1.metadata.json", "DeleteObject"), contentType: "json" },
    ]);
    const m = await waitFor("the batch was consumed", async () => {
      const { messages } = await s.health();
      return messages.malformed - m0.malformed >= 3 && messages.ignored - m0.ignored >= 3 ? messages : null;
    });
    // Retries would come back within the batch timeout; none do, and nothing ran.
    await sleep(2500);
    const { messages: m1 } = await s.health();
    assert.equal(m1.malformed - m0.malformed, 3, JSON.stringify({ m0, m1 }));
    assert.equal(m1.ignored - m0.ignored, 3, JSON.stringify({ m0, m1 }));
    assert.equal(m1.retried, m0.retried, JSON.stringify({ m0, m1 }));
    assert.equal(m1.notifications, m.notifications);
    assert.equal(await s.version(), before);
  });

  test("GET /health, POST /run; everything else is a 404 or a 405 with Allow, as problem+json", async () => {
    const cw = s.h.compactWorker;
    const health = await (await cw("/health")).json();
    assert.equal(health.worker, "compact");
    assert.equal(health.resets, 0);
    assert.deepEqual(health.sources, ["artifacts/preview", "artifacts/build", "artifacts/bulk"]);
    const run = await cw("/run", { method: "POST" });
    assert.equal(run.status, 200);
    const body = await run.json();
    assert.equal(body.ranges.length, 1);
    assert.equal(body.ranges[0].report.version, null, "nothing new: no version");
    assert.deepEqual(body.ranges[0].report.errors, []);
    const bad = await cw("/run?range=3", { method: "POST" });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get("content-type"), PROBLEM_TYPE);
    for (const [p, method, allow] of [["/health", "POST", "GET, HEAD"], ["/run", "GET", "POST"], ["/run", "PUT", "POST"]]) {
      const r = await cw(p, { method });
      assert.equal(r.status, 405, `${method} ${p}`);
      assert.equal(r.headers.get("allow"), allow);
      assert.equal(r.headers.get("content-type"), PROBLEM_TYPE);
      const problem = await r.json();
      assert.equal(problem.type, `${PROBLEM_BASE}method-not-allowed`);
      assert.equal(problem.allow, allow);
    }
    const missing = await cw("/nope");
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("content-type"), PROBLEM_TYPE);
    assert.equal((await missing.json()).type, `${PROBLEM_BASE}not-found`);
  });

  test("two compact workers racing on the same table: every answer is the newest committed write", async () => {
    const label = fresh("race");
    for (let round = 0; round < 4; round++) {
      const mode = ["preview", "build", "bulk"][round % 3];
      await s.write(mode, recs(6, label, round).filter((_, i) => (i + round) % 2 === 0 || round === 0));
      await s.flush(mode);
      // The consumer's run (the notifications) and three /runs on two workers, all at once.
      const reports = await Promise.all([s.h.compactRun("", 0), s.h.compactRun("", 1), s.h.compactRun("", 1), s.answers(`round ${round}, racing`)]);
      for (const r of reports.slice(0, 3)) {
        assert.equal(r.error, undefined, JSON.stringify(r));
        assert.deepEqual(r.errors, [], JSON.stringify(r));
      }
      // Once every run settled (the queue's too), the serving table holds every commit.
      await waitFor(`round ${round}: the serving table caught up`, async () => {
        const src = await s.answers(`round ${round}, settling`);
        return [...src.values()].every((x) => x === "serving");
      });
    }
    assert.equal(await resets(s.h.serve), 0);
    for (const w of s.h.compactWorkers) assert.equal((await (await w("/health")).json()).resets, 0);
  });
});

const SPLITS = "docs/guide/m";
const ROOTS = [`${SERVING_ROOT}/range-0`, `${SERVING_ROOT}/range-1`];
/** A commit of keys on both sides of the boundary; resolves once both range tables moved. */
async function commitBothRanges(s, mode) {
  const before = await Promise.all(ROOTS.map((r) => s.version(r)));
  const label = fresh("split");
  const rows = ["a", "b", "n", "z"].flatMap((p) => [0, 1].map((i) => ({ ns: "docs", type: "guide", id: `${p}-${label}-${i}`, markdown: `# ${p} ${i}` })));
  await s.write(mode, rows);
  await s.flush(mode);
  await waitFor("both range tables have a new version", async () => {
    const now = await Promise.all(ROOTS.map((r) => s.version(r)));
    return now.every((v, i) => v > before[i]) ? now : null;
  });
}

describe("compact worker, serving table split by key range", { skip: off }, () => {
  // Two run orders of one batch run at once in its invocation. (Miniflare's queue delivers one
  // batch at a time, so parallel invocations, which max_concurrency gives when deployed, cannot
  // be shown here: with the default of one run per invocation the second order waits its turn.)
  const s = stack({ compactVars: { SERVING_SPLITS: SPLITS, RANGE_RUNS_PER_INVOCATION: "2" }, serveVars: { METADATA_TTL_SECONDS: "0", SERVING_SPLITS: SPLITS } });
  const roots = ROOTS;

  test("a trigger sends one run order per range; the two ranges run in parallel and serve answers from both", async () => {
    const before = await Promise.all(roots.map((r) => s.version(r)));
    const { messages: m0 } = await s.health();
    const label = fresh("split");
    // Ids below and above the boundary: keys of both range tables.
    const rows = ["a", "b", "n", "z"].flatMap((p) => [0, 1].map((i) => ({ ns: "docs", type: "guide", id: `${p}-${label}-${i}`, markdown: `# ${p} ${i}` })));
    await s.write("preview", rows);
    await s.flush("preview");
    await waitFor("both range tables have a new version", async () => {
      const now = await Promise.all(roots.map((r) => s.version(r)));
      return now.every((v, i) => v > before[i]) ? now : null;
    });
    await s.answers("after the fan-out", { from: "serving" });
    const h = await s.health();
    assert.equal(h.ranges.length, 2);
    assert.deepEqual(h.ranges.map((r) => r.root), roots);
    assert.ok(h.messages.run_orders_sent - m0.run_orders_sent >= 2, JSON.stringify(h.messages));
    assert.ok(h.messages.run_orders - m0.run_orders >= 2, JSON.stringify(h.messages));
    const [r0, r1] = h.ranges.map((r) => r.last);
    for (const r of [r0, r1]) {
      assert.equal(r.trigger, "run-order", JSON.stringify(h.ranges));
      assert.deepEqual(r.report.errors, [], JSON.stringify(r));
    }
    // The two runs overlapped in time: the ranges ran in parallel, not one after the other.
    assert.ok(r0.at_ms <= r1.at_ms + r1.took_ms && r1.at_ms <= r0.at_ms + r0.took_ms, `runs overlap: ${JSON.stringify([r0, r1].map((r) => [r.at_ms, r.took_ms]))}`);
  });

  test("a cron tick fans out too; POST /run runs every range", async () => {
    const { messages: m0 } = await s.health();
    await s.h.scheduled();
    const { messages: m1 } = await s.health();
    assert.equal(m1.run_orders_sent - m0.run_orders_sent, 2, JSON.stringify({ m0, m1 }));
    const out = await s.h.compactRun();
    assert.equal(out.error, undefined, JSON.stringify(out));
    assert.deepEqual(out.ranges.map((r) => r.root), roots);
    const one = await s.h.compactRun("?range=1");
    assert.equal(one.errors?.length ?? 0, 0, JSON.stringify(one));
    assert.equal(await resets(s.h.serve), 0);
  });
});

describe("compact worker, split, one range run per invocation (the default)", { skip: off }, () => {
  const s = stack({ compactVars: { SERVING_SPLITS: SPLITS }, serveVars: { METADATA_TTL_SECONDS: "0", SERVING_SPLITS: SPLITS } });

  test("the run orders a batch cannot run are handed back to the queue as fresh orders, and every range runs", async () => {
    const { messages: m0 } = await s.health();
    await commitBothRanges(s, "build");
    await s.answers("after both ranges ran", { from: "serving" });
    const h = await s.health();
    // Two orders of the fan-out, then the one handed on; never a retry.
    assert.ok(h.messages.run_orders_sent - m0.run_orders_sent >= 3, JSON.stringify(h.messages));
    assert.equal(h.messages.retried, m0.retried, JSON.stringify(h.messages));
    for (const r of h.ranges) assert.equal(r.last.trigger, "run-order", JSON.stringify(h.ranges));
  });
});

// The deployed shape: the sources are the catalog's tables (`catalog:<table>`, as serve reads them),
// resolved with loadTable — here the stand-in's REST catalog, on a port of its own — before each
// run, and a notification counts when it is under the metadata directory loadTable names.
describe("compact worker, catalog sources", { skip: off }, () => {
  const catalogVars = (port) => ({
    TABLE_ROOTS: "",
    CATALOG_URL: `http://127.0.0.1:${port}`,
    CATALOG_WAREHOUSE: "artifacts-warehouse",
    CATALOG_NAMESPACE: "artifacts",
    TABLE_PREVIEW: "preview",
    TABLE_BUILD: "build",
    TABLE_BULK: "bulk",
  });
  // Both workers' outbound fetches reach the stand-in's catalog through Node: the request is
  // replayed on the stand-in's port.
  const relay = (port) => async (req) => {
    const url = new URL(req.url);
    return fetch(`http://127.0.0.1:${port}${url.pathname}${url.search}`, { method: req.method, headers: req.headers });
  };
  const s = stack(async () => {
    const port = await freePort();
    const vars = catalogVars(port);
    return {
      ports: { standin: port },
      serveVars: { METADATA_TTL_SECONDS: "0", ...vars },
      serveOutbound: relay(port),
      compactVars: vars,
      compactOutbound: relay(port),
    };
  });

  test("loadTable names each catalog table's metadata; a commit's notifications run the compactor and serve answers from the serving table", async () => {
    const health = await s.health();
    assert.deepEqual(health.sources, ["catalog:preview", "catalog:build", "catalog:bulk"]);
    const before = await s.version();
    const label = fresh("cat");
    await s.write("build", recs(3, label, 0));
    await s.flush("build");
    await waitFor("a new serving version", async () => (await s.version()) > before);
    const h = await s.health();
    assert.equal(h.ranges[0].last.trigger, "notification", JSON.stringify(h.ranges));
    assert.deepEqual(h.ranges[0].last.report.sources.map((x) => x.id), ["catalog:preview", "catalog:build", "catalog:bulk"]);
    assert.deepEqual(h.ranges[0].last.report.errors, []);
    await s.answers("catalog sources", { from: "serving" });
  });
});

// tools/dev.mjs as `make dev` runs it (from a temp copy, its harness import made absolute, so its
// state stays there; free ports, never 8787/8788): a record sent to ingest is committed by the
// stand-in's poll, its notifications reach the compact worker, and COMPACT_PORT's /health says so.
describe("make dev runs the compact worker on the stand-in's notifications", { timeout: 180_000, skip: off }, () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  let child, dir, log;
  const ports = {};
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "compact-dev-"));
    const script = readFileSync(path.join(root, "tools/dev.mjs"), "utf8");
    const harnessImport = `"../tests/support/harness.mjs"`;
    assert.ok(script.includes(harnessImport), "tools/dev.mjs imports the harness as this test expects");
    mkdirSync(path.join(dir, "tools"));
    writeFileSync(path.join(dir, "tools/dev.mjs"), script.replace(harnessImport, JSON.stringify(pathToFileURL(path.join(root, "tests/support/harness.mjs")).href)));
    for (const k of ["ingest", "serve", "compact"]) ports[k] = await freePort();
    log = path.join(dir, "dev.log");
    const out = openSync(log, "w");
    const env = { ...process.env, AUTH_SECRET, INGEST_PORT: String(ports.ingest), SERVE_PORT: String(ports.serve), COMPACT_PORT: String(ports.compact) };
    for (const k of ["TABLES", "WAREHOUSE_DIR", "WAREHOUSE_LOCATION", "STANDIN_PORT", "CRON_MS", "SERVING"]) delete env[k];
    child = spawn(process.execPath, [path.join(dir, "tools/dev.mjs")], { cwd: root, stdio: ["ignore", out, out], env });
    closeSync(out);
    await waitFor("tools/dev.mjs started", async () => {
      const text = readFileSync(log, "utf8");
      if (child.exitCode !== null) assert.fail(`tools/dev.mjs exited ${child.exitCode}:\n${text}`);
      return text.includes("Ctrl-C stops everything.");
    }, 120_000);
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((ok) => child.once("exit", ok));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a sent record is absorbed by the compact worker, not by the stand-in", async () => {
    assert.match(readFileSync(log, "utf8"), new RegExp(`compact http://127\\.0\\.0\\.1:${ports.compact}`));
    const health = async () => (await fetch(`http://127.0.0.1:${ports.compact}/health`)).json();
    const h0 = await health();
    assert.equal(h0.status, "ok");
    assert.ok(h0.messages.ticks >= 1, "the emulated cron ticked once at start");
    const id = fresh("dev");
    const res = await fetch(`http://127.0.0.1:${ports.ingest}/$.artifacts`, {
      method: "POST",
      headers: { authorization: `Bearer ${mint({ org: "acme", sub: "alice", scopes: ["write:*"] })}`, "content-type": "application/x-ndjson" },
      body: ndjson([{ ns: "docs", type: "guide", id, markdown: "# dev" }]),
    });
    assert.equal(res.status, 200, await res.text());
    const h1 = await waitFor("a notification run", async () => {
      const h = await health();
      return h.ranges[0].last?.trigger === "notification" && h.ranges[0].last.report?.rows_absorbed > 0 ? h : null;
    });
    assert.equal(h1.ranges[0].last.error, null);
    const read = await fetch(`http://127.0.0.1:${ports.serve}/$.content/docs/guide/${id}.md?fresh=true`, { headers: { authorization: `Bearer ${reader()}` } });
    assert.equal(read.status, 200);
    assert.equal(await read.text(), "# dev");
    assert.equal(read.headers.get("x-artifact-source"), "serving");
  });
});

test("wrangler deploy --dry-run accepts wrangler/compact.toml", async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), "dry-compact-"));
  const { stdout } = await promisify(execFile)("node_modules/.bin/wrangler", ["deploy", "--dry-run", "--outdir", out, "-c", "wrangler/compact.toml"], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    maxBuffer: 1 << 24,
  });
  assert.match(stdout, /--dry-run: exiting now/);
  for (const b of ["WAREHOUSE", "COMPACT_QUEUE", COMPACT_QUEUE, "SERVING_ROOT", "SERVING_SPLITS", "CATALOG_URL", "TABLE_ROOTS", "LOCATION_PREFIX"]) {
    assert.match(stdout, new RegExp(b), `${b} missing from the dry run`);
  }
  assert.ok((await readdir(out)).some((f) => f.endsWith(".wasm")), "no wasm in the bundle");
});
