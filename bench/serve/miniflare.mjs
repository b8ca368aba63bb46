// Serve itself (the built wasm worker, build/serve) in Miniflare over the benchmark tables:
// fully cold (a fresh workerd per lookup), warm isolate (cold answer cache, metadata and the
// isolate's immutable-read cache warm) and answer-cache hits (Cache API). R2 reads and bytes are
// what the worker reports in `Server-Timing`; wall time is measured here around `fetch`.
//
// With a serving table (`bench_tables compact` wrote `serving/<name>`), the same runs again with
// `SERVING_ROOT` set: the serving path's reads, bytes and worker time in workerd.
//
// With serving tables per page codec (`bench_tables compact --codecs` wrote
// `serving-<codec>/<name>`), a codec pass (#15: which codec decodes fastest in workerd): one
// workerd with one serve worker per codec (`SERVING_ROOT=serving-<codec>/<name>`, the Cache API
// off so every request is a lookup), each warmed by lookups of other ids (the warm-up id and up to
// BENCH_MF_CODEC_WARMUP, 20, sampled ids after the measured ones: V8 tiers the wasm up over the
// first lookups, which would otherwise weigh on whichever codec ran first), then every id once
// per codec, the codecs taking turns in an order that rotates per id so machine noise spreads
// over all of them. Reported per codec: the worker's `Server-Timing` `total;dur` (wall time inside
// workerd) and the wall time around `fetch`, medians (and means: `total;dur` is whole ms), R2
// reads and bytes, and the bytes of the live serving files.
//
// Usage: node bench/serve/miniflare.mjs <native.json> <warehouse dir> <out.json> <roots,...> [ids] [cold restarts] [--codecs-only]
// `--codecs-only`: only the codec pass (native.json may be `bench_tables measure --codecs-only`'s).
// BENCH_MF_DIR: where Miniflare's R2 persists and the worker is copied (default: beside the
// warehouse), so a second run can go on beside another.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const argv = process.argv.slice(2);
const codecsOnly = argv.includes("--codecs-only");
const [nativePath, warehouse, outPath, rootsArg, idsArg, coldArg] = argv.filter((a) => a !== "--codecs-only");
const IDS = Number(idsArg ?? 30);
const COLD = Number(coldArg ?? 5);
const native = JSON.parse(fs.readFileSync(nativePath, "utf8"));
const wanted = new Set(rootsArg.split(","));
const mfDir = process.env.BENCH_MF_DIR || path.dirname(warehouse);
const persist = path.join(mfDir, "miniflare");
// A private copy of the built worker, so a concurrent `make build` cannot swap it mid-run.
const serveDir = path.join(mfDir, "serve-build");
fs.rmSync(serveDir, { recursive: true, force: true });
fs.cpSync(path.join(repo, "build", "serve"), serveDir, { recursive: true });

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

const servingOf = (root) => `serving/${root.replace(/^bench\//, "")}`;

const serveWorker = (name, root, serving, extra = {}) => ({
  name,
  modules: true,
  modulesRoot: serveDir,
  scriptPath: path.join(serveDir, "entry.mjs"),
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
  ...extra,
});

async function startServe(root, serving = "") {
  const mf = new Miniflare({
    // Only R2 persists (the tables, loaded once); KV and the Cache API start empty every time.
    r2Persist: path.join(persist, "r2"),
    workers: [serveWorker("serve", root, serving)],
  });
  await mf.ready;
  const worker = await mf.getWorker("serve");
  return { mf, fetch: (p) => worker.fetch(new URL(p, "http://localhost").toString()) };
}

/** Serving tables per codec of `root`: `serving-<codec>/<name>` with a pointer, by codec name. */
function codecVariants(root) {
  const name = root.replace(/^bench\//, "");
  return fs
    .readdirSync(warehouse)
    .filter((d) => d.startsWith("serving-"))
    .map((d) => ({ codec: d.slice("serving-".length), root: `${d}/${name}` }))
    .filter((v) => fs.existsSync(path.join(warehouse, v.root, "metadata", "version-hint.text")))
    .sort((a, b) => (a.codec < b.codec ? -1 : 1));
}

/** The current root (sidecar) of a serving table on disk: its live files. */
function servingRootDoc(root) {
  const v = fs.readFileSync(path.join(warehouse, root, "metadata", "version-hint.text"), "utf8").trim();
  return JSON.parse(fs.readFileSync(path.join(warehouse, root, "metadata", `v${v}.serving.json`), "utf8"));
}

/**
 * Loads what the codec pass reads into the persisted R2 bucket, once per stamp: the source
 * table's metadata (its tail is empty: the serving roots name its current metadata) and each
 * variant's metadata and live data files (not the files earlier runs left behind).
 */
async function loadCodecs(root, variants) {
  const marker = (what) => path.join(persist, `${what.replaceAll("/", "_")}.loaded`);
  const sourceStamp = fs.readFileSync(path.join(warehouse, root, "STAMP"), "utf8");
  const todo = [];
  // The whole source table may already be there (`load`); its metadata alone otherwise.
  const whole = marker(root);
  const meta = marker(`${root}/metadata`);
  if (!(fs.existsSync(whole) && fs.readFileSync(whole, "utf8").startsWith(sourceStamp)) && !(fs.existsSync(meta) && fs.readFileSync(meta, "utf8") === sourceStamp))
    todo.push({ marker: meta, stamp: sourceStamp, keys: walk(path.join(warehouse, root, "metadata")).map((f) => path.relative(warehouse, f)) });
  for (const v of variants) {
    const stamp = sourceStamp + fs.statSync(path.join(warehouse, v.root, "metadata", "version-hint.text")).mtimeMs;
    const m = marker(v.root);
    if (fs.existsSync(m) && fs.readFileSync(m, "utf8") === stamp) continue;
    const live = servingRootDoc(v.root).files.map((f) => f.key);
    todo.push({ marker: m, stamp, keys: [...walk(path.join(warehouse, v.root, "metadata")).map((f) => path.relative(warehouse, f)), ...live] });
  }
  if (!todo.length) return;
  const { mf } = await startServe(root);
  const bucket = await mf.getR2Bucket("WAREHOUSE");
  for (const t of todo) {
    for (const key of t.keys) await bucket.put(key, new Uint8Array(fs.readFileSync(path.join(warehouse, key))));
    fs.mkdirSync(persist, { recursive: true });
    fs.writeFileSync(t.marker, t.stamp);
  }
  await mf.dispose();
}

/** The codec pass over `t` (see the top): one workerd, one serve worker per codec. */
async function codecPass(t, ids, warmIds) {
  const variants = codecVariants(t.root);
  if (!variants.length) return null;
  await loadCodecs(t.root, variants);
  const mf = new Miniflare({
    r2Persist: path.join(persist, "r2"),
    // The Cache API off: every request of an id is a lookup, whichever worker asked first.
    workers: variants.map((v) => serveWorker(`serve-${v.codec}`, t.root, v.root, { cache: false })),
  });
  await mf.ready;
  const serves = [];
  for (const v of variants) {
    const worker = await mf.getWorker(`serve-${v.codec}`);
    serves.push({ fetch: (p) => worker.fetch(new URL(p, "http://localhost").toString()) });
  }
  for (const id of warmIds) for (const s of serves) await get(s, id);
  const runs = variants.map(() => []);
  for (const [i, id] of ids.entries())
    for (let j = 0; j < variants.length; j++) {
      const v = (i + j) % variants.length;
      const r = await get(serves[v], id);
      if (r.source !== "serving") throw new Error(`${id} via ${variants[v].root}: answered from ${r.source}`);
      runs[v].push(r);
    }
  await mf.dispose();
  const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  return variants.map((v, k) => {
    // warm_ids: how many lookups each worker made before the measured ones.
    const live = servingRootDoc(v.root).files;
    const bodies = new Set(runs[k].map((r) => r.body_bytes));
    return {
      codec: v.codec,
      root: v.root,
      live_files: live.length,
      live_bytes: live.reduce((a, f) => a + f.size, 0),
      warm_ids: warmIds.length,
      ...summarize(runs[k]),
      total_ms_mean: mean(runs[k].map((r) => r.total_ms).filter(Number.isFinite)),
      wall_ms_mean: mean(runs[k].map((r) => r.wall_ms)),
      body_bytes: median(runs[k].map((r) => r.body_bytes)),
      distinct_body_sizes: bodies.size,
      runs: runs[k],
    };
  });
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
  return { id, ...timing(res), wall_ms: wall, body_bytes: Buffer.byteLength(body) };
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
  // `bench_tables measure --codecs-only` lists ids and the warm-up id; the full measure, samples.
  const allIds = t.ids ?? t.samples.map((s) => s.id);
  const ids = allIds.slice(0, IDS);
  const warmIds = [t.warm_id ?? allIds.at(-1), ...allIds.slice(IDS, IDS + Number(process.env.BENCH_MF_CODEC_WARMUP ?? 20))];
  if (codecsOnly) {
    const codecs = await codecPass(t, ids, warmIds);
    out.tables.push({ root: t.root, rows: t.rows, files: t.files, codecs });
    console.error(`miniflare ${t.root} codecs ${codecs?.map((c) => c.codec).join(",") ?? "none"}: ${ids.length} ids, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    continue;
  }
  await load(t.root);
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
  const codecs = await codecPass(t, ids, warmIds);
  out.tables.push({ root: t.root, rows: t.rows, files: t.files, ...scan, serving, codecs });
  console.error(`miniflare ${t.root}: ${ids.length} ids, ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
fs.writeFileSync(outPath, JSON.stringify(out, null, 1));
