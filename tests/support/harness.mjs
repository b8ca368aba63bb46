// The one Miniflare setup every spec imports: both built workers (real workerd), Miniflare's R2,
// KV and Cache, and the observable Pipelines double in place of Miniflare's discarding binding.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { writeFileSync } from "node:fs";
import { PipelineRecorder } from "./recorder.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const AUTH_SECRET = "test-secret-not-for-production";
export const COMPATIBILITY_DATE = "2026-04-01";

const pipelineBindings = {
  PIPELINE_PREVIEW: { name: "pipeline-double", entrypoint: "Preview" },
  PIPELINE_BUILD: { name: "pipeline-double", entrypoint: "Build" },
  PIPELINE_BULK: { name: "pipeline-double", entrypoint: "Bulk" },
};

// With `standin: true` ingest's streams go to the local Pipelines → R2 Data Catalog stand-in.
const standinBindings = {
  PIPELINE_PREVIEW: { name: "standin", entrypoint: "Preview" },
  PIPELINE_BUILD: { name: "standin", entrypoint: "Build" },
  PIPELINE_BULK: { name: "standin", entrypoint: "Bulk" },
};
export const STANDIN_ROOTS = "artifacts/preview,artifacts/build,artifacts/bulk";
export const STANDIN_LOCATION = "s3://artifacts-warehouse/";
// The serving table (#15): on unless `start({ serving: false })` or env SERVING=off. Serve reads
// it at SERVING_ROOT; the stand-in's compactor writes it after each commit.
export const SERVING_ROOT = "serving/artifacts";
export const servingDefault = () => (process.env.SERVING ?? "").trim().toLowerCase() !== "off";
// The compact worker's queue (#16): R2 event notifications of the sources' metadata (from the
// stand-in's double, R2_EVENTS) and the worker's own run orders (COMPACT_QUEUE).
export const COMPACT_QUEUE = "artifacts-compact";
export const CRON = "* * * * *";

const modulesRules = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];

// Ingest and serve run under a test entry (tests/support/kv-<name>.mjs) that puts their KV under
// production's one-write-per-second limit (tests/support/kv-wrap.mjs, kv-limit.mjs), has the
// ledger switch (`/__ledger`) and, with `faults`, the fault injector (fault-wrap.mjs, controlled
// through `/__faults`); modules resolve from the root.
// `ARTIFACTS_BUILD=<dir>` (a copy of build/) runs the workers from that directory instead, so a
// run is not disturbed by builds into build/; the test entries are then written next to it.
const buildRoot = process.env.ARTIFACTS_BUILD ? path.resolve(process.env.ARTIFACTS_BUILD) : path.join(root, "build");
const testEntry = (name) => {
  if (buildRoot === path.join(root, "build")) return { modulesRoot: root, scriptPath: path.join(root, `tests/support/kv-${name}.mjs`) };
  const file = path.join(buildRoot, `kv-${name}.mjs`);
  const rel = (p) => JSON.stringify(path.relative(buildRoot, p).split(path.sep).join("/").replace(/^(?!\.)/, "./"));
  writeFileSync(
    file,
    [
      `import worker from ${rel(path.join(buildRoot, name, "entry.mjs"))};`,
      `import { withFaults } from ${rel(path.join(root, "tests/support/fault-wrap.mjs"))};`,
      `import { withKv } from ${rel(path.join(root, "tests/support/kv-wrap.mjs"))};`,
      "export default withKv(worker, withFaults(worker));",
    ].join("\n"),
  );
  return { modulesRoot: "/", scriptPath: file };
};

// The ledger (#17, docs/design/ledger.md): the built ledger worker hosts the Durable Object class
// `Ledger` (SQLite) and consumes the outbox; ingest, serve and the compact workers bind it by
// scriptName, as wrangler's `script_name = "artifact-ledger"` does in production.
export const LEDGER_OUTBOX = "artifacts-ledger-outbox";
export const LEDGER_OUTBOX_DLQ = "artifacts-ledger-outbox-dlq";
const ledgerBinding = { durableObjects: { LEDGER: { className: "Ledger", scriptName: "ledger", useSQLite: true } } };

function rustWorker(name, extra) {
  const dir = path.join(buildRoot, name);
  return {
    name,
    modules: true,
    modulesRoot: dir,
    scriptPath: path.join(dir, "entry.mjs"),
    modulesRules,
    compatibilityDate: COMPATIBILITY_DATE,
    ...extra,
  };
}

/**
 * Starts Miniflare. `vars` override the ingest worker's vars; returns { mf, recorder, ingest,
 * serve, dispose } where ingest/serve are fetch functions for paths.
 *
 * `standin: true` adds the stand-in worker (`standinVars` are its vars) sharing serve's bucket,
 * binds ingest's PIPELINE_* to it and points serve at its tables; then `h.standin` fetches it and
 * `h.flush(mode?)` commits (all modes without `mode`); every table exists (empty) from the start. `flushEveryMs` (with `standin`) polls
 * `POST /flush?due=1` on that period, as `make dev` may (commits only modes past their roll).
 * `faults: true` wraps ingest's and serve's storage bindings in the fault injector (see
 * tests/support/fault-wrap.mjs; `POST /__faults` on either worker arms it).
 * `ports` ({ ingest, serve, standin }, each optional) also serves that worker on 127.0.0.1:<port>.
 * `serving` (default on; env SERVING=off turns it off): serve gets `SERVING_ROOT` and the
 * stand-in runs the compactor after each commit over serve's tables (`TABLE_ROOTS`,
 * `LOCATION_PREFIX`); `h.compact()` runs it now (`POST /compact`), `compactEveryMs` on a period.
 * With `standin` and serving on, the compact worker (#16; `compactVars` add to its vars) is in the
 * same Miniflare too, consuming the queue COMPACT_QUEUE (`h.compactWorker` fetches it,
 * `h.scheduled()` fires its Cron Trigger); `compactWorkers: n` adds n - 1 more (`compact-2`, …,
 * `h.compactWorkers`: same script and bucket, no consumer) to race it; `compactOutbound` takes its
 * outbound fetches (the catalog's loadTable) as `serveOutbound` does serve's. `notify: true` binds the
 * stand-in's R2 event notification double (`R2_EVENTS` → the queue): its commits reach the
 * compact worker within seconds, its in-process runs are off, and `h.compact()` posts the compact
 * worker's `/run` (answering the one range's report unsplit, as `/compact` does; `h.events()` is
 * the double's record, `h.events({ drop: n })` loses the next n notifications).
 *
 * The ledger (#17): the worker `ledger` hosts `Ledger` (`ledgerVars` add to its vars,
 * LEDGER_SHARDS = `ledgerShards`, default 16, given to every worker), bound as LEDGER to ingest,
 * serve and the compact workers; its outbox queue (LEDGER_OUTBOX, dead letters to
 * LEDGER_OUTBOX_DLQ) has ingest as producer and the ledger worker as consumer. Every worker's
 * ARTIFACT_STATE — ingest's and serve's through their test entry, the ledger's alarm puts — is
 * under production's limit: a second put of a key within 1,000 ms rejects with
 * `KV PUT failed: 429 Too Many Requests` (`kvLimit: false`: counted, never refused).
 * `h.ops()` → {kv: {get, put, delete, refused, keys: {key: {get, put, delete, refused}}},
 * ledger: {calls: {call: n}, rows_written, kv_puts, kv_put_failures, shards: {i: stats}}}, counts
 * since the start or the last `h.resetOps()`; `h.ledger(shard, call, body?)` makes one ledger
 * call (GET without a body) → {status, json}; `h.ledgerDown(true|false, worker = "ingest",
 * { only: "<call>", times: n })` makes ingest's (or serve's) ledger unreachable (only that call,
 * only the next n calls) or back (tests/support/kv-wrap.mjs); `h.kvTouch(key)` as if the key
 * had just been written by someone else; `h.hint(key)` is ingest's colo hint of the key in
 * `caches.default` (`{g, h}`) or null.
 */
export async function start({ ledgerShards = 16, ledgerVars = {}, kvLimit = true, ingestVars = {}, serveVars = {}, persistRoot, ports, rateLimit = 1000, authSecret = AUTH_SECRET, serveOutbound, standin = false, standinVars = {}, flushEveryMs, faults = false, serving = servingDefault(), compactEveryMs, notify = false, compactVars: compactExtra = {}, compactWorkers = 1, compactOutbound, publishEvents = false, serves = 1 } = {}) {
  const recorder = new PipelineRecorder();
  // Events on publish (#18): `publishEvents: true` binds ingest's ARTIFACT_EVENTS to a real queue
  // whose consumer (tests/support/events-consumer.mjs) hands every message body to
  // `h.published`; `"full"` binds it to a double whose sendBatch always fails (a full queue).
  const published = [];
  const eventsBinding =
    publishEvents === "full"
      ? { serviceBindings: { ARTIFACT_EVENTS: { name: "events-consumer", entrypoint: "FullQueue" } } }
      : publishEvents
        ? { queueProducers: { ARTIFACT_EVENTS: "artifact-events" } }
        : {};
  // Outbound fetches of the ingest worker (the zone purge API) land here and are recorded.
  const outbound = { calls: [], status: 200 };
  const serveBindings = {
    AUTH_SECRET: authSecret,
    ...(standin ? { TABLE_ROOTS: STANDIN_ROOTS, LOCATION_PREFIX: STANDIN_LOCATION } : {}),
    ...(serving ? { SERVING_ROOT } : {}),
    ...serveVars,
  };
  // The compactor's sources are serve's tables, in serve's order (the root's `sources` must equal them).
  const compactVars = serving
    ? { SERVING_ROOT: serveBindings.SERVING_ROOT || SERVING_ROOT, TABLE_ROOTS: serveBindings.TABLE_ROOTS ?? STANDIN_ROOTS, LOCATION_PREFIX: serveBindings.LOCATION_PREFIX ?? STANDIN_LOCATION }
    : {};
  const withCompact = standin && serving;
  const kvLimitBinding = { name: "kv-limit", entrypoint: "KvLimit" };
  const compactNames = withCompact ? Array.from({ length: Math.max(1, compactWorkers) }, (_, i) => (i === 0 ? "compact" : `compact-${i + 1}`)) : [];
  const compactWorker = (name, i) =>
    rustWorker("compact", {
      name,
      ...socket(name),
      // The ledger (#17): covered after each run that committed.
      ...ledgerBinding,
      bindings: { WAREHOUSE_LOCATION: STANDIN_LOCATION, LEDGER_SHARDS: String(ledgerShards), ...compactVars, ...compactExtra },
      r2Buckets: { WAREHOUSE: "warehouse" },
      // Its outbound fetches (the REST catalog's loadTable) go to a Node double when given.
      ...(compactOutbound ? { outboundService: compactOutbound } : {}),
      queueProducers: { COMPACT_QUEUE: COMPACT_QUEUE },
      // One consumer per queue: the first compact worker; the others only race it through /run.
      ...(i === 0 ? { queueConsumers: { [COMPACT_QUEUE]: { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 5 } } } : {}),
    });
  const socket = (name) =>
    ports?.[name] ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: ports[name] }] } : {};
  const mf = new Miniflare({
    ...(persistRoot ? { defaultPersistRoot: persistRoot, kvPersist: true, r2Persist: true, cachePersist: true } : {}),
    workers: [
      rustWorker("ingest", {
        ...socket("ingest"),
        ...testEntry("ingest"),
        ...ledgerBinding,
        bindings: { AUTH_SECRET: authSecret, RATE_LIMIT_PER_MINUTE: String(rateLimit), SEND_BASE_DELAY_MS: "20", LEDGER_SHARDS: String(ledgerShards), ...(faults ? { TEST_FAULTS: "1" } : {}), ...ingestVars },
        kvNamespaces: { ARTIFACT_STATE: "artifact-state" },
        ...eventsBinding,
        queueProducers: { ...eventsBinding.queueProducers, LEDGER_OUTBOX },
        serviceBindings: { ...(standin ? standinBindings : pipelineBindings), ...eventsBinding.serviceBindings, KV_LIMIT: kvLimitBinding },
        ratelimits: { RATE_LIMITER: { simple: { limit: rateLimit, period: 60 } } },
        outboundService: async (req) => {
          outbound.calls.push({ url: req.url, method: req.method, headers: Object.fromEntries(req.headers), body: await req.text() });
          return Response.json({ success: outbound.status < 300 }, { status: outbound.status });
        },
      }),
      rustWorker("serve", {
        ...socket("serve"),
        ...testEntry("serve"),
        ...ledgerBinding,
        bindings: { LEDGER_SHARDS: String(ledgerShards), ...(faults ? { TEST_FAULTS: "1" } : {}), ...serveBindings },
        serviceBindings: { KV_LIMIT: kvLimitBinding },
        // Outbound fetches of serve (the Iceberg REST catalog) go to a Node double when given.
        ...(serveOutbound ? { outboundService: serveOutbound } : {}),
        kvNamespaces: { ARTIFACT_STATE: "artifact-state" },
        r2Buckets: { WAREHOUSE: "warehouse" },
      }),
      // `serves: n` (#17 read-your-writes): n - 1 more serve workers (`serve-2`, …; `h.serves[i]`)
      // with the same script, bucket, KV and ledger, sharing no isolate with `serve`.
      ...Array.from({ length: Math.max(0, serves - 1) }, (_, i) =>
        rustWorker("serve", {
          name: `serve-${i + 2}`,
          ...testEntry("serve"),
          ...ledgerBinding,
          bindings: { LEDGER_SHARDS: String(ledgerShards), ...serveBindings },
          serviceBindings: { KV_LIMIT: kvLimitBinding },
          kvNamespaces: { ARTIFACT_STATE: "artifact-state" },
          r2Buckets: { WAREHOUSE: "warehouse" },
        }),
      ),
      {
        name: "ledger",
        modules: true,
        modulesRoot: path.join(buildRoot, "ledger"),
        scriptPath: path.join(buildRoot, "ledger", "entry.mjs"),
        modulesRules,
        compatibilityDate: COMPATIBILITY_DATE,
        durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } },
        serviceBindings: { ARTIFACT_STATE: { name: "kv-limit", entrypoint: "LedgerKv" } },
        queueConsumers: { [LEDGER_OUTBOX]: { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 10, retryDelay: 0, deadLetterQueue: LEDGER_OUTBOX_DLQ } },
        bindings: { LEDGER_SHARDS: String(ledgerShards), ...ledgerVars },
      },
      {
        name: "kv-limit",
        modules: true,
        scriptPath: path.join(root, "tests/support/kv-limit.mjs"),
        compatibilityDate: COMPATIBILITY_DATE,
        kvNamespaces: { KV: "artifact-state" },
        ...ledgerBinding,
        bindings: kvLimit ? {} : { KV_LIMIT_OFF: "1" },
      },
      {
        name: "pipeline-probe",
        modules: true,
        scriptPath: path.join(root, "tests/support/pipeline-probe.mjs"),
        compatibilityDate: COMPATIBILITY_DATE,
        serviceBindings: pipelineBindings,
      },
      {
        name: "pipeline-double",
        modules: true,
        scriptPath: path.join(root, "tests/support/pipeline-double.mjs"),
        compatibilityDate: COMPATIBILITY_DATE,
        serviceBindings: { RECORDER: (req) => recorder.handle(req) },
      },
      ...(standin
        ? [
            rustWorker("standin", {
              ...socket("standin"),
              bindings: { WAREHOUSE_LOCATION: STANDIN_LOCATION, ...compactVars, ...standinVars },
              r2Buckets: { WAREHOUSE: "warehouse" },
              ...(withCompact && notify ? { queueProducers: { R2_EVENTS: COMPACT_QUEUE } } : {}),
            }),
          ]
        : []),
      ...compactNames.map(compactWorker),
      ...(publishEvents
        ? [
            {
              name: "events-consumer",
              modules: true,
              scriptPath: path.join(root, "tests/support/events-consumer.mjs"),
              compatibilityDate: COMPATIBILITY_DATE,
              serviceBindings: {
                RECORDER: async (req) => {
                  published.push(...JSON.parse(await req.text()));
                  return new Response("ok");
                },
              },
              queueConsumers: { "artifact-events": { maxBatchSize: 100, maxBatchTimeout: 1 } },
            },
          ]
        : []),
    ],
  });
  // A Miniflare that fails while starting is disposed, so its workerd does not keep the test
  // process alive until the runner's timeout.
  let ingestWorker, serveWorker, probeWorker, standinFetch, limitFetch;
  const compactFetches = [];
  const call = (w) => (p, init) => w.fetch(new URL(p, "http://localhost").toString(), init);
  try {
    await mf.ready;
    ingestWorker = await mf.getWorker("ingest");
    serveWorker = await mf.getWorker("serve");
    probeWorker = await mf.getWorker("pipeline-probe");
    limitFetch = call(await mf.getWorker("kv-limit"));
    standinFetch = standin ? call(await mf.getWorker("standin")) : undefined;
    for (const name of compactNames) compactFetches.push(call(await mf.getWorker(name)));
    // The first fetch through a worker proxy resolves synchronously on the Node thread; doing it
    // here, before any test puts load on the workers, keeps it from stalling a loaded run.
    for (const w of [ingestWorker, serveWorker]) await (await call(w)("/$.health")).arrayBuffer();
    await (await limitFetch("/ops/reset", { method: "POST" })).arrayBuffer();
    for (const f of compactFetches) await (await f("/health")).arrayBuffer();
    if (standin) {
      // Every table exists from the start (an empty v1), so serve can read any mode at once.
      const res = await standinFetch("/init", { method: "POST" });
      if (res.status !== 200) throw new Error(`stand-in init answered ${res.status}: ${await res.text()}`);
    }
  } catch (e) {
    await mf.dispose().catch(() => {});
    throw e;
  }
  const flush = async (mode) => {
    const res = await standinFetch(mode ? `/flush?mode=${mode}` : "/flush", { method: "POST" });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`stand-in flush answered ${res.status}: ${body}`);
    return JSON.parse(body);
  };
  const compact = async () => {
    if (withCompact && notify) return compactRun();
    const res = await standinFetch("/compact", { method: "POST" });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`stand-in compact answered ${res.status}: ${body}`);
    return JSON.parse(body);
  };
  // POST /run on a compact worker (`which`: its index): unsplit, the one range's report (or
  // {error}), as the stand-in's /compact answers; split, the whole answer ({ranges}).
  const compactRun = async (query = "", which = 0) => {
    const res = await compactFetches[which](`/run${query}`, { method: "POST" });
    const body = await res.text();
    if (res.status !== 200 && res.status !== 500) throw new Error(`compact worker /run answered ${res.status}: ${body}`);
    const out = JSON.parse(body);
    if (out.ranges?.length === 1) return out.ranges[0].report ?? { error: out.ranges[0].error };
    return res.status === 200 ? out : { error: out.detail, ranges: out.ranges };
  };
  const scheduled = async (which = 0) => (await mf.getWorker(compactNames[which])).scheduled({ cron: CRON });
  const events = async (set) => {
    const q = set ? "?" + new URLSearchParams(Object.entries(set).map(([k, v]) => [k, String(v)])) : "";
    const res = await standinFetch(`/events${q}`, { method: set ? "POST" : "GET" });
    if (res.status !== 200) throw new Error(`stand-in /events answered ${res.status}: ${await res.text()}`);
    return res.json();
  };
  // Operation counts (see start's doc): the KV counts are reset in the limit worker, the ledger's
  // counters (per object since it started) are read against a baseline.
  let ledgerBase = {};
  const ledgerStats = async () => (await (await limitFetch(`/ops?shards=${ledgerShards}`)).json());
  const ops = async () => {
    const now = await ledgerStats();
    const ledger = { calls: {}, rows_written: 0, kv_puts: 0, kv_put_failures: 0, shards: {} };
    for (const [i, s] of Object.entries(now.ledger)) {
      const b = ledgerBase[i] ?? { calls: {}, rows_written: 0, kv_puts: 0, kv_put_failures: 0 };
      const d = { calls: {}, rows_written: s.rows_written - b.rows_written, kv_puts: s.kv_puts - b.kv_puts, kv_put_failures: s.kv_put_failures - b.kv_put_failures };
      for (const [c, n] of Object.entries(s.calls)) {
        const x = n - (b.calls[c] ?? 0);
        if (x > 0) {
          d.calls[c] = x;
          ledger.calls[c] = (ledger.calls[c] ?? 0) + x;
        }
      }
      ledger.rows_written += d.rows_written;
      ledger.kv_puts += d.kv_puts;
      ledger.kv_put_failures += d.kv_put_failures;
      ledger.shards[i] = d;
    }
    return { kv: now.kv, ledger };
  };
  const resetOps = async () => {
    await (await limitFetch("/ops/reset", { method: "POST" })).arrayBuffer();
    ledgerBase = (await ledgerStats()).ledger;
  };
  const ledger = async (shard, name, body) => {
    const init = body === undefined ? { method: "GET" } : { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) };
    const r = await limitFetch(`/ledger/${shard}/${name}`, init);
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, json, text };
  };
  const ledgerDown = async (down, worker = "ingest", { only, times } = {}) => {
    const w = worker === "serve" ? serveWorker : ingestWorker;
    return (await call(w)("/__ledger", { method: "POST", body: JSON.stringify({ down, only, times }) })).json();
  };
  const hint = async (key) => {
    const r = await limitFetch(`/hint?key=${encodeURIComponent(key)}`);
    const text = await r.text();
    return r.status === 200 ? JSON.parse(text) : null;
  };
  const kvTouch = async (key) => (await limitFetch(`/touch?key=${encodeURIComponent(key)}`, { method: "POST" })).text();
  let compactor;
  if (standin && serving && compactEveryMs) {
    let busy = false;
    compactor = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const report = await compact();
        if (report?.error) console.error("compactor failed:", report.error);
      } catch (e) {
        console.error("compactor failed", e);
      } finally {
        busy = false;
      }
    }, compactEveryMs);
  }
  let poller;
  if (standin && flushEveryMs) {
    let busy = false;
    poller = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        await (await standinFetch("/flush?due=1", { method: "POST" })).arrayBuffer();
      } catch (e) {
        console.error("stand-in flush failed", e);
      } finally {
        busy = false;
      }
    }, flushEveryMs);
  }
  return {
    mf,
    recorder,
    outbound,
    ingest: call(ingestWorker),
    serve: call(serveWorker),
    serves: [call(serveWorker), ...Array.from({ length: Math.max(0, serves - 1) }, (_, i) => async (p, init) => call(await mf.getWorker(`serve-${i + 2}`))(p, init))],
    probe: call(probeWorker),
    standin: standinFetch,
    flush,
    compact,
    compactRun,
    published,
    compactWorker: compactFetches[0],
    compactWorkers: compactFetches,
    scheduled,
    events,
    serving,
    ledgerShards,
    ops,
    resetOps,
    ledger,
    ledgerDown,
    kvTouch,
    hint,
    dispose: () => {
      if (poller) clearInterval(poller);
      if (compactor) clearInterval(compactor);
      return mf.dispose();
    },
  };
}

/** Asserts the wasm instance of `fetcher` was never reset (no trap happened). */
export async function resets(fetcher) {
  const res = await fetcher("/$.health");
  return (await res.json()).resets;
}
