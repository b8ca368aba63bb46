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

const modulesRules = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];

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
 */
export async function start({ ingestVars = {}, serveVars = {}, persistRoot, ports, rateLimit = 1000, authSecret = AUTH_SECRET, serveOutbound } = {}) {
  const recorder = new PipelineRecorder();
  // Outbound fetches of the ingest worker (the zone purge API) land here and are recorded.
  const outbound = { calls: [], status: 200 };
  const socket = (name) =>
    ports?.[name] ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: ports[name] }] } : {};
  const mf = new Miniflare({
    ...(persistRoot ? { defaultPersistRoot: persistRoot, kvPersist: true, r2Persist: true, cachePersist: true } : {}),
    workers: [
      rustWorker("ingest", {
        ...socket("ingest"),
        bindings: { AUTH_SECRET: authSecret, RATE_LIMIT_PER_MINUTE: String(rateLimit), SEND_BASE_DELAY_MS: "20", ...ingestVars },
        kvNamespaces: { ARTIFACT_STATE: "artifact-state" },
        serviceBindings: pipelineBindings,
        ratelimits: { RATE_LIMITER: { simple: { limit: rateLimit, period: 60 } } },
        outboundService: async (req) => {
          outbound.calls.push({ url: req.url, method: req.method, headers: Object.fromEntries(req.headers), body: await req.text() });
          return Response.json({ success: outbound.status < 300 }, { status: outbound.status });
        },
      }),
      rustWorker("serve", {
        ...socket("serve"),
        bindings: { AUTH_SECRET: authSecret, ...serveVars },
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
    ],
  });
  await mf.ready;
  const ingestWorker = await mf.getWorker("ingest");
  const serveWorker = await mf.getWorker("serve");
  const probeWorker = await mf.getWorker("pipeline-probe");
  const call = (w) => (p, init) => w.fetch(new URL(p, "http://localhost").toString(), init);
  return {
    mf,
    recorder,
    outbound,
    ingest: call(ingestWorker),
    serve: call(serveWorker),
    probe: call(probeWorker),
    dispose: () => mf.dispose(),
  };
}

/** Asserts the wasm instance of `fetcher` was never reset (no trap happened). */
export async function resets(fetcher) {
  const res = await fetcher("/$.health");
  return (await res.json()).resets;
}
