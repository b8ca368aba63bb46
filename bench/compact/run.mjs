// `make bench-compact` (#16): the ingest rate one compact worker sustains within the Workers paid
// CPU default (30 s a run) and 128 MB. For each size N: a fresh Miniflare stack (the built ingest,
// stand-in and compact workers), N records (`BENCH_COMPACT_BYTES` of markdown each) ingested into
// the build table and committed, with nothing compacting on its own; then one timed
// `POST /run` of the compact worker absorbing all N (its row budget set to N) into an empty
// serving table, and its wasm memory high-water mark from /health. workerd exposes no CPU clock:
// the run's wall time inside workerd (local R2, one run at a time) bounds its CPU time from above.
// Writes bench/out/compact.{md,json}.
//
// BENCH_COMPACT_SIZES (5000,20000,40000), BENCH_COMPACT_BYTES (400).
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { start } from "../../tests/support/harness.mjs";
import { mint } from "../../tests/support/token.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const sizes = (process.env.BENCH_COMPACT_SIZES ?? "5000,20000,40000").split(",").map(Number);
const bytes = Number(process.env.BENCH_COMPACT_BYTES ?? 400);
const CPU_LIMIT_S = 30;
const MEMORY_LIMIT = 128 * 1024 * 1024;
const PER_REQUEST = 2000;

async function one(n) {
  const h = await start({
    standin: true,
    rateLimit: 1_000_000,
    // The stand-in does not compact (no SERVING_ROOT of its own) and sends no notifications: only
    // the timed run absorbs the commit.
    standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000", SERVING_ROOT: "" },
    compactVars: { COMPACT_MAX_ROWS: String(n), SERVING_FILE_ROWS: "10000" },
  });
  try {
    const token = mint({ org: "bench", sub: "b", scopes: ["write:*"] });
    const filler = "x".repeat(bytes);
    for (let i = 0; i < n; i += PER_REQUEST) {
      const lines = [];
      for (let j = i; j < Math.min(n, i + PER_REQUEST); j++) {
        lines.push(JSON.stringify({ ns: "bench", type: "page", id: `p${String(j).padStart(7, "0")}`, visibility: "public", markdown: `# ${j}\n${filler}` }));
      }
      const res = await h.ingest("/$.artifacts", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson", "x-artifact-mode": "build" },
        body: lines.join("\n") + "\n",
      });
      if (res.status !== 200) throw new Error(`ingest ${res.status}: ${(await res.text()).slice(0, 300)}`);
      await res.arrayBuffer();
    }
    await h.flush("build");
    const t0 = performance.now();
    const report = await h.compactRun();
    const ms = performance.now() - t0;
    if (report.error) throw new Error(`compact run: ${report.error}`);
    const health = await (await h.compactWorker("/health")).json();
    const absorbed = report.rows_absorbed ?? 0;
    return {
      rows: n,
      absorbed,
      run_ms: Math.round(ms),
      rows_per_s: Math.round(absorbed / (ms / 1000)),
      memory_bytes: health.memory_bytes ?? null,
      files_written: report.files_written,
      bytes_written: report.bytes_written,
      write_amplification: report.write_amplification,
    };
  } finally {
    await h.dispose();
  }
}

// `--report-only`: the tables again from the last bench/out/compact.json, without running.
const results = [];
if (process.argv.includes("--report-only")) {
  const { readFileSync } = await import("node:fs");
  results.push(...JSON.parse(readFileSync(path.join(root, "bench/out/compact.json"), "utf8")).results);
} else {
  for (const n of sizes) {
    const r = await one(n);
    console.error(`compact ${n} rows: ${r.run_ms} ms, ${r.rows_per_s} rows/s, memory ${(r.memory_bytes / 1048576).toFixed(1)} MiB`);
    results.push(r);
  }
}
// The sustained rate: rows a 30-s run absorbs at the measured pace, capped by the rows whose
// run fits in 128 MB: memory grows about linearly with the rows a run holds, over a fixed base
// (a least-squares line through the runs).
const best = results.reduce((a, b) => (b.rows_per_s > a.rows_per_s ? b : a), results[0]);
const xs = results.map((r) => r.rows);
const ys = results.map((r) => r.memory_bytes ?? 0);
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const [mx, my] = [mean(xs), mean(ys)];
const slope = xs.length > 1 ? xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0) : my / mx;
const base = my - slope * mx;
const perRowMem = slope;
const memRows = slope > 0 ? Math.floor((MEMORY_LIMIT - base) / slope) : null;
const cpuRows = best.rows_per_s * CPU_LIMIT_S;
const sustained = memRows === null ? cpuRows : Math.min(cpuRows, memRows);
const summary = { cpu_limit_s: CPU_LIMIT_S, memory_limit: MEMORY_LIMIT, rows_per_run_cpu: cpuRows, rows_per_run_memory: memRows, rows_per_run: sustained, rows_per_minute_one_run_a_minute: sustained, record_bytes: bytes };

const L = [];
L.push("## The compactor's rate (#16)", "");
L.push(
  `One compact worker run in workerd (Miniflare, local R2) absorbing N freshly committed records of ~${bytes} B of markdown each into an empty serving table (\`make bench-compact\`; nothing else compacting, one timed \`POST /run\` with its row budget at N). *Run ms* is wall time inside workerd — it bounds the run's CPU time from above (workerd has no CPU clock); *memory* is the wasm memory's high-water mark after the run.`,
  "",
);
L.push("| rows | run ms | rows/s | memory | files | bytes written | write amplification |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of results) {
  L.push(`| ${r.rows.toLocaleString("en")} | ${r.run_ms.toLocaleString("en")} | ${r.rows_per_s.toLocaleString("en")} | ${(r.memory_bytes / 1048576).toFixed(1)} MiB | ${r.files_written} | ${(r.bytes_written / 1048576).toFixed(1)} MiB | ${r.write_amplification?.toFixed(2) ?? "–"} |`);
}
L.push(
  "",
  `Within the paid CPU default (${CPU_LIMIT_S} s a run) one run would absorb about **${cpuRows.toLocaleString("en")} rows** at the best measured pace; memory binds first: a run holds every row it absorbs (${(perRowMem / 1024).toFixed(2)} KiB a row over a ${(base / 1048576).toFixed(1)} MiB base, fitted through the runs), so about **${memRows?.toLocaleString("en") ?? "?"} rows** fit in 128 MB (the JS heap left out: keep a margin). One compactor therefore sustains about **${sustained.toLocaleString("en")} records per run**; runs come at every sink commit's notification and at least once a minute (the cron), so with production's commit a minute per table that is the rate per minute per table it keeps up with. Beyond it, split the serving table by key range (\`SERVING_SPLITS\`): each range's run holds only its rows, so the memory bound grows with the ranges (every range still reads every source's new files: CPU per range does not shrink as much). The worker's default row budget (\`COMPACT_MAX_ROWS\`, 20,000) keeps a run well inside both; a source behind its budget goes on at the next run.`,
);
mkdirSync(path.join(root, "bench/out"), { recursive: true });
writeFileSync(path.join(root, "bench/out/compact.json"), JSON.stringify({ results, summary }, null, 2) + "\n");
writeFileSync(path.join(root, "bench/out/compact.md"), L.join("\n") + "\n");
console.error("wrote bench/out/compact.md and compact.json");
