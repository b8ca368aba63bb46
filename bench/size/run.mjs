// `make bench-size`: each final worker wasm against size-budget.toml (the `size` tool's own table),
// its instantiate time in Node and its start-up in workerd (Miniflare), and what its bytes are
// spent on (twiggy on a copy that keeps the name section). Writes bench/out/size.{json,md}.
//
// Usage: node bench/size/run.mjs [--runs 11]   (after `make build`; twiggy on PATH)
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE } from "../../tests/support/harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// Everything is measured on one copy of build/<worker>, taken first, so a rebuild while this runs
// cannot mix two builds into one table.
const SNAP = "build/bench/snapshot";
// Every worker size-budget.toml budgets (the size tool checks them all, the snapshot must hold them all).
const WORKERS = ["ingest", "serve", "compact", "ledger"];
const TOP = 12;

const argv = process.argv.slice(2);
const RUNS = argv[0] === "--runs" ? Number(argv[1]) : 11;

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const kib = (n) => (n / 1024).toLocaleString("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const ms = (x) => x.toLocaleString("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const sh = (cmd, args) => execFileSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 });

/** The `size` tool's table (the gate `make build` runs), parsed; `failed` when a worker is over. */
function budgetTable() {
  const r = spawnSync("cargo", ["run", "-q", "--bin", "size", "--", SNAP], { cwd: root, encoding: "utf8" });
  const rows = [];
  for (const line of r.stdout.split("\n").slice(1)) {
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(-?\d+)$/.exec(line.trim());
    if (m) rows.push({ worker: m[1], raw: +m[2], gzip: +m[3], gzip_budget: +m[4], headroom: +m[5] });
  }
  if (rows.length === 0) throw new Error(`size tool printed no rows: ${r.stdout}${r.stderr}`);
  return { table: r.stdout.trimEnd(), rows, failed: r.status !== 0, errors: r.stderr.trim() };
}

/** size-budget.toml's raw ceilings (the size tool prints only the gzip one). */
function rawBudgets() {
  const out = {};
  let cur;
  for (const line of readFileSync(path.join(root, "size-budget.toml"), "utf8").split("\n")) {
    const sec = /^\[(\w+)\]/.exec(line);
    if (sec) cur = sec[1];
    const raw = /^max_raw\s*=\s*(\d+)/.exec(line);
    if (raw && cur) out[cur] = Number(raw[1]);
  }
  return out;
}

/** The glue with its wasm import replaced by a global, so plain Node can evaluate it. */
function glueCopy(w) {
  const dir = path.join(root, "build/bench/glue", w);
  rmSync(dir, { recursive: true, force: true });
  cpSync(path.join(root, SNAP, w), dir, { recursive: true });
  const file = path.join(dir, "index.js");
  const src = readFileSync(file, "utf8");
  const out = src.replace(/^import (\w+) from "\.\/index_bg\.wasm";$/m, "const $1 = globalThis.__benchWasmModule;");
  if (out === src) throw new Error(`${file}: no wasm import to replace`);
  writeFileSync(file, out);
  return dir;
}

function instantiateRuns(w, flags) {
  const dir = glueCopy(w);
  const wasm = path.join(root, SNAP, w, "index_bg.wasm");
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const out = sh(process.execPath, [...flags, path.join(root, "bench/size/instantiate.mjs"), dir, wasm]);
    runs.push(JSON.parse(out.trim().split("\n").pop()));
  }
  return {
    compile_ms: median(runs.map((r) => r.compile_ms)),
    instantiate_ms: median(runs.map((r) => r.instantiate_ms)),
    runs,
  };
}

/** One Miniflare with one worker: constructor to the first `/$.health` answer (workerd spawn included). */
async function startOnce(config) {
  const t0 = performance.now();
  const mf = new Miniflare({ workers: [config] });
  try {
    await mf.ready;
    const res = await mf.dispatchFetch("http://localhost/$.health");
    await res.text();
    return performance.now() - t0;
  } finally {
    await mf.dispose();
  }
}

/** workerd start-up per config, in interleaved rounds so load on the machine hits each alike. */
async function workerdStarts(configs, rounds) {
  const runs = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
  for (let i = 0; i < rounds; i++) for (const [k, c] of Object.entries(configs)) runs[k].push(await startOnce(c));
  return Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, { median_ms: median(xs), runs_ms: xs }]));
}

/** The largest data segments of a module (active or passive), with a sample of their strings. */
function dataSegments(file, count = 3) {
  const b = readFileSync(file);
  let p = 8;
  const leb = () => {
    let r = 0;
    let shift = 0;
    let x;
    do {
      x = b[p++];
      r += (x & 0x7f) * 2 ** shift;
      shift += 7;
    } while (x & 0x80);
    return r;
  };
  const skipExpr = () => {
    while (b[p] !== 0x0b) p++; // i32.const N end: the offsets our modules use
    p++;
  };
  const segs = [];
  while (p < b.length) {
    const id = b[p++];
    const len = leb();
    const end = p + len;
    if (id === 11) {
      for (let i = 0, n = leb(); i < n; i++) {
        const flags = leb();
        if (flags === 0) skipExpr();
        else if (flags === 2) (leb(), skipExpr());
        const size = leb();
        segs.push({ index: i, bytes: size, data: b.subarray(p, p + size) });
        p += size;
      }
    }
    p = end;
  }
  return segs
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, count)
    .map(({ index, bytes, data }) => {
      const text = data.toString("latin1");
      const printable = [...text].filter((c) => c >= " " && c <= "~").length / Math.max(1, text.length);
      const strings = (text.match(/[A-Za-z][ -~]{15,}/g) ?? []).slice(0, 3).map((x) => x.slice(0, 60));
      // Share of little-endian u16 values that are CJK ideographs (U+4E00–U+9FFF), and of those in
      // U+8000–U+9FFF, whose high byte ASCII text never has: together they mark an encoding table.
      let cjk = 0;
      let high = 0;
      for (let k = 1; k < data.length; k += 2) {
        if (data[k] >= 0x4e && data[k] <= 0x9f) cjk++;
        if (data[k] >= 0x80 && data[k] <= 0x9f) high++;
      }
      const pairs = Math.max(1, data.length >> 1);
      const table = cjk / pairs > 0.5 && high / pairs > 0.15;
      return { index, bytes, printable: Number(printable.toFixed(2)), cjk_u16: table ? Number((cjk / pairs).toFixed(2)) : 0, strings };
    });
}

function rustWorker(w) {
  const dir = path.join(root, SNAP, w);
  return {
    name: w,
    modules: true,
    modulesRoot: dir,
    scriptPath: path.join(dir, "entry.mjs"),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { AUTH_SECRET: "bench" },
    kvNamespaces: { ARTIFACT_STATE: "artifact-state" },
    ...(w === "serve" || w === "compact" ? { r2Buckets: { WAREHOUSE: "warehouse" } } : {}),
    // The ledger hosts its Durable Object class (SQLite-backed).
    ...(w === "ledger" ? { durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } } } : {}),
  };
}

/** Which crate (or kind of section) a twiggy item belongs to. */
function owner(name) {
  if (/^"[a-z ]+" subsection$/.test(name)) return "(name section, absent from the final module)";
  if (name.startsWith("data segment")) return "data segments (.rodata: strings, tables)";
  if (/^__wbg|^__wbindgen|^__externref|shim$|^intounderlying|^export |^import /.test(name)) return "wasm-bindgen exports, imports and shims";
  if (!name.includes("::")) return "other (types, tables, custom sections, unnamed code)";
  let n = name.replace(/^(<|&|mut |dyn |impl )+/g, "");
  if (/^(\[|\(|char|str|u8|u16|u32|u64|usize|i32|i64|f32|f64|bool)\b/.test(n)) return "core";
  n = n.split(/::|\[|<| /)[0];
  if (n === "serde_core" || n === "serde_derive") return "serde";
  if (n === "__rustc") return "std";
  return n;
}

function twiggy(w) {
  const out = path.join(root, "build/bench/names", w);
  sh("bench/size/names.sh", [w, out]);
  const file = path.join(out, "names.wasm");
  const items = JSON.parse(sh("twiggy", ["top", "-n", "1000000", "--format", "json", file]));
  const total = statSync(file).size;
  const names = items.filter((x) => owner(x.name).startsWith("(name section")).reduce((a, x) => a + x.shallow_size, 0);
  const byOwner = new Map();
  for (const x of items) byOwner.set(owner(x.name), (byOwner.get(owner(x.name)) ?? 0) + x.shallow_size);
  const crates = [...byOwner.entries()]
    .filter(([k]) => !k.startsWith("(name section"))
    .sort((a, b) => b[1] - a[1])
    .map(([owner, bytes]) => ({ owner, bytes }));
  const top = items
    .filter((x) => !owner(x.name).startsWith("(name section"))
    .slice(0, TOP)
    .map((x) => ({ name: x.name, bytes: x.shallow_size }));
  // Classes the `worker` crate exports through wasm-bindgen whether or not the worker uses them.
  const unused = items.filter((x) => /containerstartupoptions|r2range|minifyconfig|intounderlying/i.test(x.name));
  const workerExports = unused.reduce((a, x) => a + x.shallow_size, 0);
  return { file: path.relative(root, file), total, names, data_segments: dataSegments(file), worker_class_exports: workerExports, stripped: statSync(path.join(out, "stripped.wasm")).size, crates, top };
}

const short = (name) => {
  const n = name.replace(/\[[0-9a-f]{16}\]/g, "").replace(/::h[0-9a-f]{16}$/, "");
  return (n.length > 110 ? n.slice(0, 107) + "…" : n).replace(/\|/g, "\\|");
};

function markdown(r) {
  const L = ["## Size and start-up", ""];
  L.push(
    "Final modules (`build/<worker>/index_bg.wasm`, after wasm-bindgen and `wasm-opt -Oz`) against `size-budget.toml`, " +
      "as the `size` tool measures them (gzip -9; `make size`, the gate `make build` ends with):",
    "",
  );
  L.push("| worker | raw | raw budget | gzip | gzip budget | gzip headroom |", "| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const w of r.workers) {
    L.push(
      `| ${w.worker} | ${w.raw.toLocaleString("en-US")} B (${kib(w.raw)} KiB) | ${kib(w.raw_budget)} KiB | ` +
        `${w.gzip.toLocaleString("en-US")} B (${kib(w.gzip)} KiB) | ${kib(w.gzip_budget)} KiB | ${kib(w.headroom)} KiB (${((100 * w.headroom) / w.gzip_budget).toFixed(1)} %) |`,
    );
  }
  if (r.size_failed) L.push("", `**Over budget:** ${r.size_errors}`);
  L.push("");
  L.push(
    `Start-up, medians of ${r.runs} runs. **Node** ${r.versions.node} (V8 ${r.versions.v8}), a fresh process per run: ` +
      "`WebAssembly.compile` of the final module, then evaluating the wasm-bindgen glue `build/<worker>/index.js` " +
      "(whose top level runs `new WebAssembly.Instance` and `__wbindgen_start`). V8's default compiles lazily " +
      "(functions on first call), so the eager column (`--no-wasm-lazy-compilation`: Liftoff for every function up " +
      "front) is the upper bound for compile. **workerd**: Miniflare " +
      `${r.versions.miniflare} with that one worker, from \`new Miniflare\` to the first \`/$.health\` answer ` +
      `(workerd process start included; medians of ${r.workerd_runs} rounds, the three configurations interleaved), and the same for a one-line JS worker; ` +
      "the difference is what the module adds.",
    "",
  );
  L.push(
    "| worker | compile (lazy) | instantiate + glue | compile (eager) | instantiate + glue (eager) | workerd start | minus empty JS worker |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const w of r.workers) {
    L.push(
      `| ${w.worker} | ${ms(w.node.compile_ms)} ms | ${ms(w.node.instantiate_ms)} ms | ${ms(w.node_eager.compile_ms)} ms | ` +
        `${ms(w.node_eager.instantiate_ms)} ms | ${ms(w.workerd.median_ms)} ms | ${ms(w.workerd.median_ms - r.workerd_baseline.median_ms)} ms |`,
    );
  }
  L.push(`| (one-line JS worker) | | | | | ${ms(r.workerd_baseline.median_ms)} ms | 0 |`, "");
  L.push(
    `Where the bytes go: \`twiggy top\` (twiggy ${r.versions.twiggy}) on \`build/bench/names/<worker>/names.wasm\`, made by ` +
      "`bench/size/names.sh`: the same cargo output through the same wasm-bindgen and `wasm-opt -Oz` steps as " +
      "`tools/package-worker.sh`, with `-g` so the name section survives (the final module has none). Stripping " +
      "the names from that copy gives back the final module's size to within the bytes shown. Items are grouped by " +
      "the crate of their symbol (for `<T as Trait>::f`, the crate of `T`); inlining moves code into its caller, " +
      "so a crate's row is what is attributed to its symbols, not everything it caused.",
    "",
  );
  for (const w of r.workers) {
    const t = w.twiggy;
    L.push(
      `**${w.worker}**: ${t.total.toLocaleString("en-US")} B with names, ${t.names.toLocaleString("en-US")} B of them the name section; ` +
        `stripped ${t.stripped.toLocaleString("en-US")} B vs final ${w.raw.toLocaleString("en-US")} B (${t.stripped - w.raw >= 0 ? "+" : ""}${t.stripped - w.raw} B).`,
      "",
    );
    L.push("| by crate / kind | bytes | share |", "| --- | ---: | ---: |");
    const code = t.total - t.names;
    for (const c of t.crates.slice(0, TOP)) L.push(`| ${c.owner} | ${c.bytes.toLocaleString("en-US")} | ${((100 * c.bytes) / code).toFixed(1)} % |`);
    const rest = t.crates.slice(TOP).reduce((a, c) => a + c.bytes, 0);
    if (rest) L.push(`| (${t.crates.length - TOP} more) | ${rest.toLocaleString("en-US")} | ${((100 * rest) / code).toFixed(1)} % |`);
    L.push("");
    if (t.data_segments?.length) {
      const seg = (d) =>
        `segment ${d.index} ${d.bytes.toLocaleString("en-US")} B (${Math.round(100 * d.printable)} % printable` +
        (d.cjk_u16 > 0.5
          ? `, ${Math.round(100 * d.cjk_u16)} % of its u16s CJK ideographs: an encoding table)`
          : d.strings.length ? `; e.g. ${d.strings.map((x) => `\`${x.replace(/`/g, "'")}\``).join(", ")})` : ": a binary table)");
      L.push(`Largest data segments: ${t.data_segments.map(seg).join("; ")}.`, "");
    }
    L.push("| largest items | bytes |", "| --- | ---: |");
    for (const x of t.top) L.push(`| \`${short(x.name)}\` | ${x.bytes.toLocaleString("en-US")} |`);
    L.push("");
  }
  return L.join("\n");
}

/** Copies build/<worker> once it is complete and holds still (another build may be writing it). */
async function snapshot() {
  const files = ["entry.mjs", "index.js", "index_bg.wasm"];
  const same = (a, b) => files.every((f) => readFileSync(path.join(a, f)).equals(readFileSync(path.join(b, f))));
  for (const w of WORKERS) {
    const src = path.join(root, "build", w);
    const dst = path.join(root, SNAP, w);
    for (let attempt = 0; ; attempt++) {
      rmSync(dst, { recursive: true, force: true });
      try {
        cpSync(src, dst, { recursive: true });
        await new Promise((r) => setTimeout(r, 2000));
        if (same(src, dst)) break;
      } catch {}
      if (attempt >= 30) throw new Error(`build/${w} is missing or keeps changing: run \`make build\` and nothing else at the same time`);
    }
  }
}

async function main() {
  mkdirSync(path.join(root, "bench/out"), { recursive: true });
  await snapshot();
  const budget = budgetTable();
  const raw = rawBudgets();
  const pkg = (p) => JSON.parse(readFileSync(path.join(root, "node_modules", p, "package.json"), "utf8")).version;
  const r = {
    date: new Date().toISOString(),
    loadavg_at_start: (await import("node:os")).loadavg(),
    runs: RUNS,
    workerd_runs: Math.max(3, Math.ceil(RUNS / 2)),
    versions: {
      node: process.version,
      v8: process.versions.v8,
      miniflare: pkg("miniflare"),
      workerd: pkg("workerd"),
      twiggy: sh("twiggy", ["--version"]).trim().split(/\s+/).pop(),
    },
    size_table: budget.table,
    size_failed: budget.failed,
    size_errors: budget.errors,
    workers: [],
  };
  const starts = await workerdStarts(
    {
      empty: {
        name: "empty",
        modules: true,
        script: "export default { fetch() { return new Response('ok'); } };",
        compatibilityDate: COMPATIBILITY_DATE,
      },
      ...Object.fromEntries(WORKERS.map((w) => [w, rustWorker(w)])),
    },
    r.workerd_runs,
  );
  r.workerd_baseline = starts.empty;
  for (const w of WORKERS) {
    const row = budget.rows.find((x) => x.worker === w);
    const bytes = readFileSync(path.join(root, SNAP, w, "index_bg.wasm"));
    console.error(`size: ${w}`);
    r.workers.push({
      ...row,
      raw_budget: raw[w],
      gzip_node: gzipSync(bytes, { level: 9 }).length,
      node: instantiateRuns(w, []),
      node_eager: instantiateRuns(w, ["--no-wasm-lazy-compilation"]),
      workerd: starts[w],
      twiggy: twiggy(w),
    });
  }
  writeFileSync(path.join(root, "bench/out/size.json"), JSON.stringify(r, null, 2) + "\n");
  writeFileSync(path.join(root, "bench/out/size.md"), markdown(r));
  console.error("wrote bench/out/size.md and bench/out/size.json");
}

await main();
