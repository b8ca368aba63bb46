// The one Miniflare setup every spec imports: both built workers (real workerd), Miniflare's R2,
// KV and Cache, and the observable Pipelines double in place of Miniflare's discarding binding.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";
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

const modulesRules = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];

// With `faults`, ingest and serve run under a test entry that wraps their R2/KV bindings
// (tests/support/fault-wrap.mjs, controlled through `/__faults`); modules resolve from the root.
const faultEntry = (name) => ({ modulesRoot: root, scriptPath: path.join(root, `tests/support/fault-${name}.mjs`) });

function rustWorker(name, extra) {
  const dir = path.join(root, "build", name);
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
 */
export async function start({ ingestVars = {}, serveVars = {}, persistRoot, ports, rateLimit = 1000, authSecret = AUTH_SECRET, serveOutbound, standin = false, standinVars = {}, flushEveryMs, faults = false, serving = servingDefault(), compactEveryMs } = {}) {
  const recorder = new PipelineRecorder();
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
  const socket = (name) =>
    ports?.[name] ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: ports[name] }] } : {};
  const mf = new Miniflare({
    ...(persistRoot ? { defaultPersistRoot: persistRoot, kvPersist: true, r2Persist: true, cachePersist: true } : {}),
    workers: [
      rustWorker("ingest", {
        ...socket("ingest"),
        ...(faults ? faultEntry("ingest") : {}),
        bindings: { AUTH_SECRET: authSecret, RATE_LIMIT_PER_MINUTE: String(rateLimit), SEND_BASE_DELAY_MS: "20", ...ingestVars },
        kvNamespaces: { ARTIFACT_STATE: "artifact-state" },
        serviceBindings: standin ? standinBindings : pipelineBindings,
        ratelimits: { RATE_LIMITER: { simple: { limit: rateLimit, period: 60 } } },
        outboundService: async (req) => {
          outbound.calls.push({ url: req.url, method: req.method, headers: Object.fromEntries(req.headers), body: await req.text() });
          return Response.json({ success: outbound.status < 300 }, { status: outbound.status });
        },
      }),
      rustWorker("serve", {
        ...socket("serve"),
        ...(faults ? faultEntry("serve") : {}),
        bindings: serveBindings,
        // Outbound fetches of serve (the Iceberg REST catalog) go to a Node double when given.
        ...(serveOutbound ? { outboundService: serveOutbound } : {}),
        kvNamespaces: { ARTIFACT_STATE: "artifact-state" },
        r2Buckets: { WAREHOUSE: "warehouse" },
      }),
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
        ? [rustWorker("standin", { ...socket("standin"), bindings: { WAREHOUSE_LOCATION: STANDIN_LOCATION, ...compactVars, ...standinVars }, r2Buckets: { WAREHOUSE: "warehouse" } })]
        : []),
    ],
  });
  // A Miniflare that fails while starting is disposed, so its workerd does not keep the test
  // process alive until the runner's timeout.
  let ingestWorker, serveWorker, probeWorker, standinFetch;
  const call = (w) => (p, init) => w.fetch(new URL(p, "http://localhost").toString(), init);
  try {
    await mf.ready;
    ingestWorker = await mf.getWorker("ingest");
    serveWorker = await mf.getWorker("serve");
    probeWorker = await mf.getWorker("pipeline-probe");
    standinFetch = standin ? call(await mf.getWorker("standin")) : undefined;
    // The first fetch through a worker proxy resolves synchronously on the Node thread; doing it
    // here, before any test puts load on the workers, keeps it from stalling a loaded run.
    for (const w of [ingestWorker, serveWorker]) await (await call(w)("/$.health")).arrayBuffer();
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
    const res = await standinFetch("/compact", { method: "POST" });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`stand-in compact answered ${res.status}: ${body}`);
    return JSON.parse(body);
  };
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
    probe: call(probeWorker),
    standin: standinFetch,
    flush,
    compact,
    serving,
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
