// Serve itself (the built wasm worker, build/serve) in Miniflare over the benchmark tables:
// fully cold (a fresh workerd per lookup), warm isolate (cold answer cache, metadata and the
// isolate's immutable-read cache warm) and answer-cache hits (Cache API). R2 reads and bytes are
// what the worker reports in `Server-Timing`; wall time is measured here around `fetch`.
//
// With a serving table (`bench_tables compact` wrote `serving/<name>`), the same runs again with
// `SERVING_ROOT` set: the serving path's reads, bytes and worker time in workerd.
//
// Usage: node bench/serve/miniflare.mjs <native.json> <warehouse dir> <out.json> <roots,...> [ids] [cold restarts]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const [nativePath, warehouse, outPath, rootsArg, idsArg, coldArg] = process.argv.slice(2);
const IDS = Number(idsArg ?? 30);
const COLD = Number(coldArg ?? 5);
const native = JSON.parse(fs.readFileSync(nativePath, "utf8"));
const wanted = new Set(rootsArg.split(","));
const persist = path.join(path.dirname(warehouse), "miniflare");
// A private copy of the built worker, so a concurrent `make build` cannot swap it mid-run.
const serveDir = path.join(path.dirname(warehouse), "serve-build");
fs.rmSync(serveDir, { recursive: true, force: true });
fs.cpSync(path.join(repo, "build", "serve"), serveDir, { recursive: true });

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

const servingOf = (root) => `serving/${root.replace(/^bench\//, "")}`;

async function startServe(root, serving = "") {
  const dir = serveDir;
  const mf = new Miniflare({
    // Only R2 persists (the tables, loaded once); KV and the Cache API start empty every time.
    r2Persist: path.join(persist, "r2"),
    workers: [
      {
        name: "serve",
        modules: true,
        modulesRoot: dir,
        scriptPath: path.join(dir, "entry.mjs"),
        modulesRules: [
          { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
          { type: "CompiledWasm", include: ["**/*.wasm"] },
        ],
        compatibilityDate: "2026-04-01",
        bindings: {
          AUTH_SECRET: "bench",
          TABLE_ROOTS: root,
          LOCATION_PREFIX: native.location_prefix,
          METADATA_TTL_SECONDS: "3600",
          SERVING_ROOT: serving,
        },
        kvNamespaces: { ARTIFACT_STATE: "artifact-state" },
        r2Buckets: { WAREHOUSE: "bench-warehouse" },
      },
    ],
  });
  await mf.ready;
  const worker = await mf.getWorker("serve");
  return { mf, fetch: (p) => worker.fetch(new URL(p, "http://localhost").toString()) };
}

/** Loads the table's objects into the persisted R2 bucket once (stamped by the table's STAMP). */
async function load(root) {
  const serving = path.join(warehouse, servingOf(root), "metadata", "version-hint.text");
  // The serving table is rebuilt by every `bench_tables compact`: its pointer is part of the stamp.
  const stamp = fs.readFileSync(path.join(warehouse, root, "STAMP"), "utf8") + (fs.existsSync(serving) ? fs.statSync(serving).mtimeMs : "");
  const marker = path.join(persist, `${root.replaceAll("/", "_")}.loaded`);
  if (fs.existsSync(marker) && fs.readFileSync(marker, "utf8") === stamp) return;
  const { mf } = await startServe(root);
  const bucket = await mf.getR2Bucket("WAREHOUSE");
  const dirs = [path.join(warehouse, root), ...(fs.existsSync(serving) ? [path.join(warehouse, servingOf(root))] : [])];
  for (const file of dirs.flatMap(walk)) {
    const key = path.relative(warehouse, file);
    if (key.endsWith("STAMP")) continue;
    await bucket.put(key, new Uint8Array(fs.readFileSync(file)));
  }
  await mf.dispose();
  fs.mkdirSync(persist, { recursive: true });
  fs.writeFileSync(marker, stamp);
}

function timing(res) {
  const st = res.headers.get("server-timing") ?? "";
  const num = (name) => Number(new RegExp(`${name};desc="(\\d+)"`).exec(st)?.[1] ?? NaN);
  return { r2_reads: num("r2-reads"), r2_bytes: num("r2-bytes"), total_ms: Number(/total;dur=(\d+)/.exec(st)?.[1] ?? NaN), source: res.headers.get("x-artifact-source") };
}

async function get(serve, id, query = "") {
  const t0 = performance.now();
  const res = await serve.fetch(`/$.content/${native.ns}/${native.type}/${id}.md${query}`);
  const body = await res.text();
  const wall = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${id}: ${res.status} ${body.slice(0, 300)}`);
  return { ...timing(res), wall_ms: wall, body_bytes: Buffer.byteLength(body) };
}

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  return n === 0 ? null : n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
};
const summarize = (runs) => ({
  n: runs.length,
  r2_reads: median(runs.map((r) => r.r2_reads)),
  r2_bytes: median(runs.map((r) => r.r2_bytes)),
  wall_ms: median(runs.map((r) => r.wall_ms)),
  total_ms: median(runs.map((r) => r.total_ms)),
  sources: [...new Set(runs.map((r) => r.source))],
});

const out = { workerd: JSON.parse(fs.readFileSync(path.join(repo, "node_modules/workerd/package.json"), "utf8")).version, tables: [] };
for (const t of native.tables.filter((t) => wanted.has(t.root))) {
  const started = performance.now();
  await load(t.root);
  const ids = t.samples.slice(0, IDS).map((s) => s.id);
  const pass = async (serving) => {
    // Fully cold: a fresh workerd (empty isolate caches, empty answer cache) per lookup.
    const cold = [];
    for (const id of ids.slice(0, COLD)) {
      const serve = await startServe(t.root, serving);
      cold.push(await get(serve, id));
      await serve.mf.dispose();
    }
    // Warm isolate: one lookup of another id first (the answer cache is empty, so it reads the
    // tables), then each id once (an answer-cache miss), then again (an answer-cache hit).
    const serve = await startServe(t.root, serving);
    await get(serve, t.samples.at(-1).id);
    const warm = [];
    const hit = [];
    for (const id of ids) {
      warm.push(await get(serve, id));
      hit.push(await get(serve, id));
    }
    await serve.mf.dispose();
    return { cold: summarize(cold), warm_isolate: summarize(warm), cache_hit: summarize(hit), runs: { cold, warm, hit } };
  };
  const scan = await pass("");
  const hasServing = fs.existsSync(path.join(warehouse, servingOf(t.root), "metadata", "version-hint.text"));
  const serving = hasServing ? await pass(servingOf(t.root)) : null;
  out.tables.push({ root: t.root, rows: t.rows, files: t.files, ...scan, serving });
  console.error(`miniflare ${t.root}: ${ids.length} ids, ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
fs.writeFileSync(outPath, JSON.stringify(out, null, 1));
