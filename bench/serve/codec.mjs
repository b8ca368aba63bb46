// The serving table's page codec (#15, `make bench-codec`): the "Page codec" table of the serving
// section of bench/out/serve.md, from the codec runs' results beside native.json
// (`codec-compact.json`: `bench_tables compact --codecs`; `codec-native.json`: `bench_tables
// measure --codecs-only`; `codec-miniflare.json`: `bench/serve/miniflare.mjs --codecs-only`).
// Without those, the codec blocks `make bench-serve`'s own native.json and miniflare.json carry
// when codec variants were there. `report.mjs` imports `codecSection`; run alone it prints the
// table.
//
// Usage: node bench/serve/codec.mjs [data dir, bench/.data]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const readJson = (p) => (fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, "utf8")) : null);
const f1 = (x) => (x == null ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
const f2 = (x) => (x == null ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const n0 = (x) => (x == null ? "–" : Math.round(x).toLocaleString("en-US"));
const mb = (x) => (x == null ? "–" : x >= 1e6 ? `${f1(x / 1e6)} MB` : `${f1(x / 1e3)} kB`);
const rowsLabel = (r) => (r >= 1e6 ? `${r / 1e6}M` : `${r / 1e3}k`);
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  return n === 0 ? null : n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
};

/**
 * Paired per id (the codecs ran back to back on each id): the median of `runs`' wall time minus
 * `base`'s, and on how many ids `base` was faster, slower.
 */
function paired(runs, base) {
  if (!runs || !base || runs === base) return null;
  const pairs = runs.map((r, i) => [r, base[i]]).filter(([r, b]) => b && r.id === b.id);
  const diff = pairs.map(([r, b]) => r.wall_ms - b.wall_ms);
  return { ids: pairs.length, wall_ms_diff: median(diff), base_faster: diff.filter((x) => x > 0).length, base_slower: diff.filter((x) => x < 0).length };
}

/** Per table and codec: workerd (warm worker), native and bytes; null when no codec run is there. */
export function codecResults(dataDir) {
  const withCodecs = (doc) => (doc?.tables?.some((t) => t.codecs) ? doc : null);
  const nat = withCodecs(readJson(path.join(dataDir, "codec-native.json"))) ?? withCodecs(readJson(path.join(dataDir, "native.json")));
  const mf = withCodecs(readJson(path.join(dataDir, "codec-miniflare.json"))) ?? withCodecs(readJson(path.join(dataDir, "miniflare.json")));
  const compact = readJson(path.join(dataDir, "codec-compact.json"));
  if (!nat && !mf) return null;
  const roots = [...new Set([...(nat?.tables ?? []), ...(mf?.tables ?? [])].filter((t) => t.codecs).map((t) => t.root))];
  const tables = roots.map((root) => {
    const n = nat?.tables.find((t) => t.root === root);
    const m = mf?.tables.find((t) => t.root === root);
    const k = compact?.tables.find((t) => t.table === root);
    const names = [...new Set([...(n?.codecs?.codecs ?? []).map((c) => c.codec), ...(m?.codecs ?? []).map((c) => c.codec)])].sort();
    const defaultCodec = n?.codecs?.default_codec ?? compact?.default_codec;
    const baseRuns = m?.codecs?.find((c) => c.codec === defaultCodec)?.runs;
    const codecs = names.map((codec) => {
      const nc = n?.codecs?.codecs.find((c) => c.codec === codec);
      const mc = m?.codecs?.find((c) => c.codec === codec);
      const kc = k?.codecs?.find((c) => c.codec === codec);
      return {
        codec,
        live_bytes: nc?.live_bytes ?? mc?.live_bytes ?? kc?.live_bytes ?? null,
        live_files: nc?.live_files ?? mc?.live_files ?? kc?.live_files ?? null,
        compact_cpu_s: kc?.cpu_s ?? null,
        workerd: mc
          ? {
              ids: mc.n,
              warm_ids: mc.warm_ids,
              worker_ms: mc.total_ms,
              worker_ms_mean: mc.total_ms_mean,
              wall_ms: mc.wall_ms,
              wall_ms_mean: mc.wall_ms_mean,
              r2_reads: mc.r2_reads,
              r2_bytes: mc.r2_bytes,
              against_default: paired(mc.runs, baseRuns),
            }
          : null,
        native: nc ? { ids: nc.ids, cold: nc.cold, warm_isolate: nc.warm_isolate } : null,
      };
    });
    return { root, rows: n?.rows ?? m?.rows, files: n?.files ?? m?.files, codecs };
  });
  // Ranked by the mean over tables of each table's mean warm worker ms (`total;dur` is whole
  // ms, so its mean resolves what its median cannot), then the wall median.
  const names = [...new Set(tables.flatMap((t) => t.codecs.map((c) => c.codec)))];
  const over = (codec, f) => mean(tables.map((t) => f(t.codecs.find((c) => c.codec === codec))).filter((x) => x != null));
  const rank = names
    .map((codec) => ({
      codec,
      worker_ms_mean: over(codec, (c) => c?.workerd?.worker_ms_mean),
      worker_ms_median: over(codec, (c) => c?.workerd?.worker_ms),
      wall_ms: over(codec, (c) => c?.workerd?.wall_ms),
      native_warm_cpu_us: over(codec, (c) => c?.native?.warm_isolate.cpu_us),
      live_bytes: tables.reduce((a, t) => a + (t.codecs.find((c) => c.codec === codec)?.live_bytes ?? 0), 0),
    }))
    .sort((a, b) => (a.worker_ms_mean ?? Infinity) - (b.worker_ms_mean ?? Infinity) || (a.wall_ms ?? Infinity) - (b.wall_ms ?? Infinity));
  return { default_codec: nat?.tables.find((t) => t.codecs)?.codecs.default_codec ?? compact?.default_codec ?? null, workerd: mf?.workerd ?? null, tables, rank };
}

/** The "Page codec" subsection (markdown lines), or [] without codec results. */
export function codecSection(dataDir) {
  const r = codecResults(dataDir);
  if (!r || !r.tables.length) return [];
  const L = [];
  const ids = r.tables.flatMap((t) => t.codecs.map((c) => c.workerd?.ids)).filter((x) => x != null);
  L.push("#### Page codec", "");
  L.push(
    `\`make bench-codec\`: the same source tables compacted once per page codec (\`bench_tables compact --codecs\`, \`serving-<codec>/<name>\`; everything but the codec equal). *workerd*: the built serve worker in Miniflare (workerd ${r.workerd ?? ""}), one worker per codec in one workerd with the Cache API off, each warmed by ${r.tables[0]?.codecs[0]?.workerd?.warm_ids ?? "?"} lookups of other ids, then ${ids.length ? Math.min(...ids) : "?"} ids once per codec, the codecs taking turns in an order that rotates per id; *worker ms* is \`Server-Timing\` \`total;dur\` (wall time inside workerd, whole ms: median / mean), *wall ms* is measured in Node around \`fetch\`. *Native*: serve's answer code over the warehouse directory (opt-level "z"), CPU per lookup, warm isolate (cold in brackets). *R2 bytes per lookup*: what a warm lookup read from R2 in workerd (\`Server-Timing\` \`r2-bytes\`: the \`_lookup\` and \`markdown\` pages; the index regions are in the isolate cache after the warm-up). *Live files*: the serving table's data files after compaction.`,
    "",
  );
  L.push(
    `| rows | files | codec | workerd warm: worker ms (median / mean) | wall ms (median) | wall ms − ${r.default_codec ?? "default"}'s, same id (median; ids where ${r.default_codec ?? "default"} was faster / slower) | native CPU µs warm (cold) | R2 bytes per lookup | live serving files |`,
    "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const t of r.tables)
    for (const c of t.codecs) {
      const w = c.workerd;
      const nw = c.native?.warm_isolate;
      L.push(
        `| ${rowsLabel(t.rows)} | ${n0(t.files)} | ${c.codec}${c.codec === r.default_codec ? " (default)" : ""} | ${w ? `${f1(w.worker_ms)} / ${f2(w.worker_ms_mean)}` : "–"} | ${f1(w?.wall_ms)} | ${w?.against_default ? `${w.against_default.wall_ms_diff >= 0 ? "+" : ""}${f2(w.against_default.wall_ms_diff)} (${w.against_default.base_faster} / ${w.against_default.base_slower})` : "–"} | ${n0(nw?.cpu_us)} (${n0(c.native?.cold.cpu_us)}) | ${mb(w?.r2_bytes)} | ${mb(c.live_bytes)} (${n0(c.live_files)}) |`,
      );
    }
  L.push("");
  const best = r.rank[0];
  const chosen = r.rank.find((x) => x.codec === r.default_codec);
  const others = r.rank.filter((x) => x !== chosen);
  const vs = (x) => `${x.codec} ${f2(x.worker_ms_mean)} ms, ${n0(x.native_warm_cpu_us)} µs, ${mb(x.live_bytes)}`;
  if (chosen)
    L.push(
      `The compactor writes **${chosen.codec}** (\`compactor::Config::new\`): ${chosen === best ? "the fastest" : `not the fastest (${best.codec} was, in this run)`} warm worker time in workerd, ${f2(chosen.worker_ms_mean)} ms mean over these tables, native ${n0(chosen.native_warm_cpu_us)} µs per lookup, ${mb(chosen.live_bytes)} of serving files, against ${others.map(vs).join("; ")}.`,
      "",
    );
  return L;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? "bench/.data";
  const lines = codecSection(dir);
  if (!lines.length) {
    console.error(`no codec results in ${dir} (make bench-codec)`);
    process.exit(1);
  }
  console.log(lines.join("\n"));
}
