// `make bench-ingest`: throughput of the ingest worker in Miniflare (real workerd, the Pipelines
// double of tests/support/harness.mjs accepting every send) for 10 MB and 100 MB NDJSON bodies,
// against native parsing of the same bytes (tools/src/bin/bench_ingest_native.rs), plus the
// worker's peak wasm memory. Writes bench/out/ingest.json and bench/out/ingest.md.
//
// Usage: node bench/ingest/run.mjs --native BIN [--native-z BIN] [--runs 5] [--sizes 10,100]
// Each worker run gets a fresh Miniflare (empty KV, so nothing is deduped; a fresh wasm instance,
// so `memory_bytes` after the run is that run's peak: linear memory never shrinks).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { start } from "../../tests/support/harness.mjs";
import { mint } from "../../tests/support/token.mjs";
import { ensureBody, BODY_VERSION } from "./body.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PIECE = 1024 * 1024;

function args() {
  const a = { runs: 5, sizes: [10, 100], native: null, nativeZ: null };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === "--runs") (a.runs = Number(v)), i++;
    else if (argv[i] === "--sizes") (a.sizes = v.split(",").map(Number)), i++;
    else if (argv[i] === "--native") (a.native = v), i++;
    else if (argv[i] === "--native-z") (a.nativeZ = v), i++;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!a.native) throw new Error("--native BIN is required (make bench-ingest builds it)");
  return a;
}

export const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Linux: resident set of the workerd processes this process started (as the streaming spec). */
function workerdRss() {
  let rss = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      if (ppid !== process.pid || !/^Name:\s+workerd/m.test(status)) continue;
      rss += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
    } catch {}
  }
  return rss;
}

/** Linux: CPU seconds (user + system) used so far by the workerd processes this process started. */
function workerdCpu() {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      if (ppid !== process.pid || !/^Name:\s+workerd/m.test(status)) continue;
      // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return ticks / CLK_TCK;
}
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

async function health(h) {
  const body = await (await h.ingest("/$.health")).json();
  return body;
}

/** The body as a stream of PIECE-byte pieces from memory (cut mid-line, as a network would). */
function stream(buf) {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= buf.length) return c.close();
      c.enqueue(new Uint8Array(buf.buffer, buf.byteOffset + off, Math.min(PIECE, buf.length - off)));
      off += PIECE;
    },
  });
}

async function post(h, body, token) {
  const res = await h.ingest("/$.artifacts", {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${token}` },
    body,
    duplex: "half",
  });
  const text = await res.text();
  return { status: res.status, text };
}

async function workerRun(buf, records) {
  const h = await start();
  try {
    let sent = 0;
    let calls = 0;
    // Count and drop what the double receives, so Node does not hold 100 MB of records.
    h.recorder.onSend = (_stream, recs) => {
      sent += recs.length;
      calls += 1;
      h.recorder.calls = [];
    };
    const token = mint();
    // Warm-up: one small request, so the timed one does not pay first-call compilation.
    const warm = await post(h, '{"ns":"docs","type":"guide","id":"warm-up","markdown":"# warm"}\n', token);
    if (warm.status !== 200) throw new Error(`warm-up answered ${warm.status}: ${warm.text}`);
    sent = 0;
    calls = 0;
    const before = await health(h);
    let rssPeak = workerdRss();
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, workerdRss())), 100);
    const cpu0 = workerdCpu();
    const node0 = process.cpuUsage();
    const t0 = performance.now();
    let r;
    try {
      r = await post(h, stream(buf), token);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - t0) / 1000;
    const workerdCpuS = workerdCpu() - cpu0;
    const nodeCpu = process.cpuUsage(node0);
    const nodeCpuS = (nodeCpu.user + nodeCpu.system) / 1e6;
    const body = JSON.parse(r.text);
    if (r.status !== 200 || body.accepted !== records || sent !== records) {
      throw new Error(`expected 200 with ${records} accepted and sent, got ${r.status} (sent ${sent}): ${r.text.slice(0, 500)}`);
    }
    const after = await health(h);
    if (after.resets !== 0) throw new Error("the ingest wasm instance trapped during the run");
    return { seconds, sends: calls, memory_before: before.memory_bytes, memory_peak: after.memory_bytes, workerd_rss_peak: rssPeak, workerd_cpu_s: workerdCpuS, node_cpu_s: nodeCpuS };
  } finally {
    await h.dispose();
  }
}

function native(bin, files, runs) {
  const out = execFileSync(bin, [...files, "--runs", String(runs)], { encoding: "utf8", maxBuffer: 1 << 24 });
  return out.trim().split("\n").map((l) => JSON.parse(l));
}

const mb = (bytes) => bytes / 1e6;
const fmt = (x, d = 1) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });

function markdown(res) {
  const L = [];
  L.push("## Ingest", "");
  L.push(
    `Bodies: deterministic NDJSON from \`bench/ingest/body.mjs\` (v${BODY_VERSION}): records as a docs build sends them — ` +
      "markdown from 300 B to ~20 KB (log-uniform) with code blocks, quotes, backslashes and non-ASCII text; html on 30 %, " +
      "a frontmatter object on 70 %, an mdast tree on 15 %, inputs on 50 %, `visibility` on 20 %. The same file is " +
      "streamed to the worker in 1 MiB pieces (cut mid-line) and read by the native peer. MB = 10⁶ bytes.",
    "",
  );
  L.push(
    `Worker: \`POST /$.artifacts\` into Miniflare ${res.versions.miniflare} (workerd), default limits, a fresh Miniflare per ` +
      "run (an empty ledger: nothing deduped), one small warm-up request first; wall time from the first byte sent to the " +
      "answer read. Includes everything the worker does per record: token, split, parse, validate, sha256, " +
      "re-serialise, 1 MB chunks, per chunk one ledger `check` and one `confirm` per shard (#17: the real ledger " +
      "Durable Objects on SQLite, 16 shards; no KV write per record), `send()` to the Pipelines " +
      "double (which hands each batch to the Node process). Before the ledger (one KV write per record) the 100 MB body " +
      "ran at 0.9 MB/s on this machine. " +
      `Medians of ${res.runs} runs.`,
    "",
  );
  L.push("| body | records | median s | MB/s | records/s | wasm memory before → peak | workerd CPU s | Node CPU s | workerd RSS peak (all isolates) |");
  L.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const s of res.sizes) {
    const w = s.worker;
    L.push(
      `| ${fmt(mb(s.bytes))} MB | ${s.records.toLocaleString("en-US")} | ${fmt(w.median_s, 2)} | ${fmt(mb(s.bytes) / w.median_s)} | ` +
        `${fmt(s.records / w.median_s, 0)} | ${fmt(mb(w.memory_before_median))} → ${fmt(mb(w.memory_peak_max))} MB | ` +
        `${fmt(w.workerd_cpu_median_s, 2)} | ${fmt(w.node_cpu_median_s, 2)} | ${fmt(mb(w.workerd_rss_peak_median), 0)} MB |`,
    );
  }
  L.push("");
  L.push(
    "wasm memory: the ingest instance's linear memory from `/$.health` after the warm-up and after the run (it never " +
      "shrinks, so the second is the run's peak; the column shows the largest peak over the runs). CPU: user + system " +
      "seconds during the timed request, of every workerd process Miniflare started (ingest, the ledger, the double, KV) and of the " +
      "Node process (the body stream and the double's recorder); on a machine with 2 cores the sum can exceed the wall time.",
    "",
  );
  L.push(
    "Native peer, same bytes, same machine (`tools/src/bin/bench_ingest_native.rs`, release profile with LTO; " +
      "`opt-level=3` unless marked z = the workers' `opt-level=\"z\"`). " +
      "`Value`: `serde_json::from_slice::<serde_json::Value>` per line. `Record`: that plus `shared::record::Record::from_client` " +
      "(the record struct: contract checks, stamp, content sha256). `Intake`: `shared::intake::Intake` fed 1 MiB pieces — " +
      "the worker's own CPU path (split, parse, validate, scope, re-serialise, pack 1 MB chunks) without I/O. " +
      `Medians of ${res.runs} runs, each run just before one worker run.`,
    "",
  );
  const levels = [["value", "Value"], ["record", "Record"], ["intake", "Intake"]];
  const profiles = res.sizes[0].native_z ? [["native", ""], ["native_z", " (z)"]] : [["native", ""]];
  const head = ["body"];
  for (const [, pl] of profiles) for (const [, ll] of levels) head.push(`${ll}${pl} MB/s`);
  L.push(`| ${head.join(" | ")} |`, `| ${head.map((_, i) => (i ? "---:" : "---")).join(" | ")} |`);
  for (const s of res.sizes) {
    const row = [`${fmt(mb(s.bytes))} MB`];
    for (const [pk] of profiles) for (const [lk] of levels) row.push(fmt(mb(s.bytes) / s[pk][lk].median_s, 0));
    L.push(`| ${row.join(" | ")} |`);
  }
  L.push("");
  L.push(
    "Ratio: the worker's wall time over the native time on the same body (how many times slower the worker is), each " +
      "worker run paired with a native run taken just before it; the median of the per-run ratios. The last column " +
      "divides workerd's CPU seconds instead (every workerd isolate, so an upper bound for " +
      "ingest's own CPU, but less disturbed by other load on the machine than wall time).",
    "",
  );
  const rh = ["body", ...levels.map(([, l]) => `÷ ${l}`), ...(res.sizes[0].native_z ? ["÷ Intake (z)"] : []), "workerd CPU ÷ Intake"];
  L.push(`| ${rh.join(" | ")} |`, `| ${rh.map((_, i) => (i ? "---:" : "---")).join(" | ")} |`);
  for (const s of res.sizes) {
    const row = [`${fmt(mb(s.bytes))} MB`, ...levels.map(([lk]) => `${fmt(s.ratio[lk])}×`)];
    if (s.native_z) row.push(`${fmt(s.ratio.intake_z)}×`);
    row.push(`${fmt(s.ratio.cpu_intake)}×`);
    L.push(`| ${row.join(" | ")} |`);
  }
  L.push("");
  L.push(
    "The ratio to `Intake` is the cost of running as a worker (wasm instead of native code, plus KV, `send()` and the " +
      "body stream); the ratio to `Value` also counts the work ingest does beyond parsing. The double forwards each " +
      "batch to Node (JSON over a service binding), a cost production's Pipelines binding does not put on the worker's CPU.",
    "",
  );
  return L.join("\n");
}

async function main() {
  const a = args();
  const dir = path.join(root, "build/bench");
  const outDir = path.join(root, "bench/out");
  mkdirSync(dir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const bodies = [];
  for (const size of a.sizes) {
    const file = path.join(dir, `ingest-${size}MB-v${BODY_VERSION}.ndjson`);
    await ensureBody(file, size * 1_000_000);
    const buf = readFileSync(file);
    let records = 0;
    for (const b of buf) if (b === 10) records += 1;
    bodies.push({ size, file, buf, records });
  }
  const pkg = (p) => JSON.parse(readFileSync(path.join(root, "node_modules", p, "package.json"), "utf8")).version;
  const res = { date: new Date().toISOString(),
    loadavg_at_start: (await import("node:os")).loadavg(), runs: a.runs, versions: { miniflare: pkg("miniflare"), workerd: pkg("workerd") }, sizes: [] };

  const LEVELS = ["value", "record", "intake"];
  const summarise = (runs) => Object.fromEntries(LEVELS.map((k) => [k, { runs_s: runs.map((r) => r[k][0]), median_s: median(runs.map((r) => r[k][0])) }]));

  for (const b of bodies) {
    // Each worker run is paired with a native run just before it, so a ratio compares two
    // measurements taken under the same load; the table reports the median of those ratios.
    const runs = [];
    const nat = [];
    const natZ = [];
    for (let k = 0; k < a.runs; k++) {
      const [n] = native(a.native, [b.file], 1);
      if (n.records !== b.records) throw new Error(`native counted ${n.records} records, the body has ${b.records}`);
      nat.push(n);
      if (a.nativeZ) natZ.push(native(a.nativeZ, [b.file], 1)[0]);
      const r = await workerRun(b.buf, b.records);
      console.error(
        `ingest ${b.size} MB run ${k + 1}/${a.runs}: ${r.seconds.toFixed(2)} s (native intake ${n.intake[0].toFixed(3)} s), ` +
          `wasm memory ${mb(r.memory_peak).toFixed(1)} MB`,
      );
      runs.push(r);
    }
    const w = {
      runs,
      median_s: median(runs.map((r) => r.seconds)),
      memory_before_median: median(runs.map((r) => r.memory_before)),
      memory_peak_max: Math.max(...runs.map((r) => r.memory_peak)),
      memory_peak_median: median(runs.map((r) => r.memory_peak)),
      workerd_rss_peak_median: median(runs.map((r) => r.workerd_rss_peak)),
      workerd_cpu_median_s: median(runs.map((r) => r.workerd_cpu_s)),
      node_cpu_median_s: median(runs.map((r) => r.node_cpu_s)),
    };
    const s = { bytes: b.buf.length, records: b.records, file: path.relative(root, b.file), worker: w, native: summarise(nat) };
    if (natZ.length) s.native_z = summarise(natZ);
    const paired = (f) => median(runs.map((r, k) => f(r, k)));
    s.ratio = Object.fromEntries(LEVELS.map((l) => [l, paired((r, k) => r.seconds / nat[k][l][0])]));
    if (natZ.length) s.ratio.intake_z = paired((r, k) => r.seconds / natZ[k].intake[0]);
    // CPU rather than wall: less sensitive to a shared machine, but it counts every workerd
    // isolate (the double and KV too), so it is an upper bound on the ingest isolate's share.
    s.ratio.cpu_intake = paired((r, k) => r.workerd_cpu_s / nat[k].intake[0]);
    res.sizes.push(s);
  }
  writeFileSync(path.join(outDir, "ingest.json"), JSON.stringify(res, null, 2) + "\n");
  writeFileSync(path.join(outDir, "ingest.md"), markdown(res));
  console.error(`wrote bench/out/ingest.md and bench/out/ingest.json`);
}

await main();
