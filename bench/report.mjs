// `make bench`, last step: assembles BENCHMARKS.md at the repo root from the machine, the
// commands, and the fragments each part wrote (bench/out/serve.md, ingest.md, size.md; a part
// that did not run is said to be "not run"), plus a short "where we lose" drawn from their JSON.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = (f) => path.join(root, "bench/out", f);
const PLOT = "bench/out/bytes-requests-vs-files.png";

const read = (f) => (existsSync(out(f)) ? readFileSync(out(f), "utf8") : null);
const readJson = (f) => {
  const t = read(f);
  try {
    return t ? JSON.parse(t) : null;
  } catch {
    return null;
  }
};
const run = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "not found";
  }
};
const pkg = (p) => {
  try {
    return JSON.parse(readFileSync(path.join(root, "node_modules", p, "package.json"), "utf8")).version;
  } catch {
    return "not installed";
  }
};
const fmt = (x, d = 1) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });

function machine() {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "unknown";
  const osRelease = existsSync("/etc/os-release") ? /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] : null;
  return [
    ["CPU", `${cpu}, ${os.cpus().length} logical cores (${os.arch()})`],
    ["memory", `${fmt(os.totalmem() / 2 ** 30)} GiB`],
    ["OS", `${osRelease ?? os.type()} (kernel ${os.release()})`],
    ["Node", process.version],
    ["rustc", run("rustc", ["--version"])],
    ["workerd", pkg("workerd")],
    ["Miniflare", pkg("miniflare")],
    ["wasm-bindgen", run("wasm-bindgen", ["--version"])],
    ["wasm-opt (npm binaryen)", run(path.join(root, "node_modules/.bin/wasm-opt"), ["--version"])],
    ["twiggy", run("twiggy", ["--version"])],
    ["commit", run("git", ["rev-parse", "--short", "HEAD"]) + (run("git", ["status", "--porcelain", "--untracked-files=no"]) ? " (with local changes)" : "")],
    ["date", new Date().toISOString().replace(/\.\d+Z$/, "Z")],
  ];
}

/** A fragment's relative image links point at bench/out/ from the repo root. */
function rebase(md) {
  return md.replace(/(!\[[^\]]*\]\()(?!https?:|\/|bench\/)([^)]+\))/g, "$1bench/out/$2");
}

function section(title, file, cmd) {
  const md = read(file);
  if (md) return rebase(md.trim());
  return `## ${title}\n\nNot run (\`bench/out/${file}\` is missing; \`${cmd}\` writes it).`;
}

/** The short, honest summary: built from the parts' JSON, so it follows the numbers. */
function whereWeLose(ingest, size, serve) {
  const L = [];
  if (serve) {
    const lose = serve.where_we_lose ?? serve.whereWeLose;
    // The first sentence of each of the Serve part's own points; the whole text is in its section.
    const first = (x) => /^(.+?[.!])\s+(?=[A-Z])/s.exec(x)?.[1] ?? x;
    if (Array.isArray(lose)) for (const x of lose) L.push(`- **Serve:** ${first(x)}`);
    else if (typeof lose === "string") L.push(`- **Serve:** ${first(lose)}`);
    else L.push("- **Serve:** see the ratios to hyparquet in the Serve section.");
    if (Array.isArray(lose) || typeof lose === "string") L.push("- (Serve's full reasons are in its section below.)");
  } else {
    L.push("- **Serve:** not run.");
  }
  if (ingest?.sizes?.length) {
    const big = ingest.sizes[ingest.sizes.length - 1];
    const mb = big.bytes / 1e6;
    const w = big.worker;
    L.push(
      `- **Ingest throughput:** ${fmt(mb / w.median_s)} MB/s (${fmt(big.records / w.median_s, 0)} records/s) on the ` +
        `${fmt(mb, 0)} MB body in Miniflare: ${fmt(big.ratio.intake)}× the time of the same intake code run natively ` +
        `(${fmt(mb / big.native.intake.median_s, 0)} MB/s), ${fmt(big.ratio.value)}× that of plain serde_json ` +
        `(${fmt(mb / big.native.value.median_s, 0)} MB/s). workerd was on a CPU for ${fmt(w.workerd_cpu_median_s, 1)} s of the ` +
        `${fmt(w.median_s, 1)} s (${fmt(big.ratio.cpu_intake)}× the native intake time, for every isolate: ingest, the ledger, KV, ` +
        "the double); the rest is waiting on the ledger's calls (two per shard per chunk), the double's hop to " +
        "Node (local only) and the body stream — and, on a busy machine, on a core.",
    );
    L.push(
      `- **Ingest memory** is not where we lose: peak wasm linear memory was ${fmt(w.memory_peak_max / 1e6)} MB for the ` +
        `${fmt(mb, 0)} MB body (${fmt(ingest.sizes[0].worker.memory_peak_max / 1e6)} MB for ${fmt(ingest.sizes[0].bytes / 1e6, 0)} MB): ` +
        "the body is streamed, never buffered whole.",
    );
  } else {
    L.push("- **Ingest:** not run.");
  }
  if (size?.workers?.length) {
    for (const w of size.workers) {
      const share = (100 * w.headroom) / w.gzip_budget;
      const top = w.twiggy?.crates?.slice(0, 3).map((c) => `${c.owner} ${fmt(c.bytes / 1024)} KiB`).join(", ");
      L.push(
        `- **${w.worker} size:** ${fmt(w.gzip / 1024)} KiB gzip of a ${fmt(w.gzip_budget / 1024, 0)} KiB budget ` +
          `(${fmt(w.headroom / 1024)} KiB, ${fmt(share)} % headroom${share < 5 ? ": any new dependency needs room made first" : ""}); ` +
          `largest contributors ${top}` +
          (w.twiggy?.data_segments?.some((d) => d.cjk_u16 > 0.5)
            ? ` (the largest data segments are CJK encoding tables, ${fmt(w.twiggy.data_segments.filter((d) => d.cjk_u16 > 0.5).reduce((a, d) => a + d.bytes, 0) / 1024)} KiB raw among the three largest — encoding_rs, which lol_html brings)`
            : "") +
          `. Start-up: workerd takes ${fmt(w.workerd.median_ms - size.workerd_baseline.median_ms, 0)} ms ` +
          `more to start with it than with a one-line JS worker; in Node compile is ${fmt(w.node.compile_ms)} ms lazy, ` +
          `${fmt(w.node_eager.compile_ms)} ms eager, instantiate ${fmt(w.node.instantiate_ms)} ms.`,
      );
    }
    const ing = size.workers.find((w) => w.worker === "ingest");
    const unused = ing?.twiggy?.worker_class_exports;
    if (unused) {
      L.push(
        `- **ingest carries exports it has no use for:** ${fmt(unused / 1024)} KiB raw of classes exported through ` +
          "`worker` and their shims — `ContainerStartupOptions`, `R2Range`, `MinifyConfig` (containers, R2, minify: " +
          "ingest uses none) and wasm-streams' `IntoUnderlying*` adapters (Rust → JS streams; ingest only reads JS " +
          "streams). wasm-bindgen keeps every export, so LTO cannot drop them; removing them is a change to how ingest " +
          "depends on `worker`, not made here (benchmarks do not change worker code).",
      );
    }
  } else {
    L.push("- **Size and start-up:** not run.");
  }
  L.push(
    "- **The machine:** numbers from a shared or small machine are noisy; the tables give medians and the JSON next to " +
      "each fragment (`bench/out/*.json`) keeps every run. Compare ratios from one run, not absolute numbers across machines.",
  );
  return L.join("\n");
}

function main() {
  const ingest = readJson("ingest.json");
  const size = readJson("size.json");
  const serve = readJson("serve.json");
  const L = [];
  L.push("# Benchmarks", "");
  L.push(
    "Generated by `make bench` (issue #8): serve lookups against hyparquet, ingest against native parsing, size and " +
      "start-up. Benchmarks, not tests: `make test` never runs them. Regenerate on a quiet machine; every number below " +
      "is a median over repeated runs unless it says otherwise.",
    "",
  );
  L.push("## Machine", "", "| | |", "| --- | --- |");
  for (const [k, v] of machine()) L.push(`| ${k} | ${v} |`);
  const loads = [["ingest", ingest], ["size", size], ["serve", serve]]
    .filter(([, j]) => Array.isArray(j?.loadavg_at_start))
    .map(([n, j]) => `${n} ${j.loadavg_at_start.map((x) => x.toFixed(2)).join(" / ")}`);
  if (loads.length) L.push(`| load average (1/5/15 min) when each part started | ${loads.join("; ")} |`);
  L.push("");
  L.push("## Commands", "");
  L.push("```sh");
  L.push("make bench          # = make build, then bench-serve, bench-compact, bench-ledger, bench-links, bench-ingest, bench-size, then node bench/report.mjs");
  L.push("make bench-serve    # bench/out/serve.{md,json} and " + PLOT);
  L.push("make bench-compact  # bench/out/compact.{md,json}  (BENCH_COMPACT_SIZES=5000,20000,40000; needs make build)");
  L.push("make bench-ledger   # bench/out/ledger.{md,json}   (BENCH_LEDGER_WRITES=30, BENCH_LEDGER_RECORDS=10000; needs make build)");
  L.push("make bench-links    # bench/out/links.{md,json}    (BENCH_LINKS_IDS=100; needs make build)");
  L.push("make bench-ingest   # bench/out/ingest.{md,json}   (BENCH_RUNS=5; needs make build)");
  L.push("make bench-size     # bench/out/size.{md,json}     (BENCH_SIZE_RUNS=11; needs make build; installs twiggy if missing)");
  L.push("node bench/report.mjs  # this file, from whatever fragments exist");
  L.push("```", "");
  L.push("## Where we lose", "", whereWeLose(ingest, size, serve), "");
  let serveMd = section("Serve", "serve.md", "make bench-serve");
  if (existsSync(path.join(root, PLOT)) && !serveMd.includes("bytes-requests-vs-files.png")) {
    serveMd += `\n\n![Bytes read and requests against the number of data files](${PLOT})`;
  }
  L.push(serveMd, "");
  L.push(section("Compactor", "compact.md", "make bench-compact"), "");
  L.push(section("The ledger", "ledger.md", "make bench-ledger"), "");
  L.push(section("Supersede and Link headers", "links.md", "make bench-links"), "");
  L.push(section("Soak", "soak.md", "make soak"), "");
  L.push(section("Ingest", "ingest.md", "make bench-ingest"), "");
  L.push(section("Size and start-up", "size.md", "make bench-size"), "");
  writeFileSync(path.join(root, "BENCHMARKS.md"), L.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n");
  console.error("wrote BENCHMARKS.md");
}

main();
