// `make bench-serve`, last step: bench/out/serve.json (raw numbers and medians) and
// bench/out/serve.md (the Serve fragment of BENCHMARKS.md) from the three result files.
//
// The serving section's "Page codec" table comes from `make bench-codec`'s codec-*.json beside
// native.json when they are there (bench/serve/codec.mjs).
//
// Usage: node bench/serve/report.mjs <native.json> <hyparquet.json> <miniflare.json> <outdir> [pyarrow.json] [compact.json]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { codecResults, codecSection } from "./codec.mjs";

const [nativePath, hypPath, mfPath, outDir, paPath, compactPath] = process.argv.slice(2);
const readJson = (p) => (p && fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, "utf8")) : null);
const native = readJson(nativePath);
const hyp = readJson(hypPath);
const mf = readJson(mfPath);
const pa = readJson(paPath);
const compacted = readJson(compactPath);
if (!native) throw new Error(`no native results at ${nativePath}`);

const FREE_CPU_MS = 10;
const FREE_SUBREQUESTS = 50;

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  return n === 0 ? null : n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
};
const med = (samples, mode, k) => median(samples.map((s) => s[mode]?.[k]));
const ratio = (a, b) => (a != null && b ? a / b : null);

const n0 = (x) => (x == null ? "–" : Math.round(x).toLocaleString("en-US"));
const f1 = (x) => (x == null ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
const f2 = (x) => (x == null ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const mb = (x) => (x == null ? "–" : x >= 1e6 ? `${f1(x / 1e6)} MB` : `${f1(x / 1e3)} kB`);
const rx = (x) => (x == null ? "–" : `${x >= 10 ? f1(x) : f2(x)}×`);
const ms = (us) => (us == null ? null : us / 1000);
const rowsLabel = (r) => (r >= 1e6 ? `${r / 1e6}M` : `${r / 1e3}k`);
const tableLabel = (t) => `${rowsLabel(t.rows)}${t.sorted ? " sorted" : ""}`;

function ours(t) {
  const s = t.samples;
  const mode = (m) => ({
    r2_reads: med(s, m, "r2_reads"),
    r2_bytes: med(s, m, "r2_bytes"),
    data_reads: med(s, m, "data_reads"),
    locator_reads: med(s, m, "locator_reads"),
    data_bytes: med(s, m, "data_bytes"),
    files_considered: med(s, m, "files_considered"),
    files_pruned: med(s, m, "files_pruned"),
    cpu_ms: ms(med(s, m, "cpu_us")),
    wall_ms: ms(med(s, m, "wall_us")),
  });
  return { ids: s.length, cold: mode("cold"), warm_metadata: mode("warm_metadata"), warm_isolate: mode("warm_isolate") };
}

/** The serving path (#15) where the table has a serving table: ours, and hyparquet on the same serving file. */
function servingOf(t) {
  const s = t.samples.filter((x) => x.serving);
  if (!s.length) return null;
  const mode = (m) => ({
    r2_reads: median(s.map((x) => x.serving[m]?.r2_reads)),
    r2_bytes: median(s.map((x) => x.serving[m]?.r2_bytes)),
    data_reads: median(s.map((x) => x.serving[m]?.data_reads)),
    data_bytes: median(s.map((x) => x.serving[m]?.data_bytes)),
    max_reads: Math.max(...s.map((x) => x.serving[m]?.r2_reads ?? 0)),
    min_reads: Math.min(...s.map((x) => x.serving[m]?.r2_reads ?? Infinity)),
    cpu_ms: ms(median(s.map((x) => x.serving[m]?.cpu_us))),
    max_cpu_ms: ms(Math.max(...s.map((x) => x.serving[m]?.cpu_us ?? 0))),
  });
  const h = hyp?.tables.find((x) => x.root === t.root);
  const pairs = (h?.samples ?? []).filter((hs) => hs.serving).map((hs) => [s.find((x) => x.id === hs.id)?.serving, hs.serving]).filter(([o]) => o);
  const r = (fo, fp) => median(pairs.map(([o, p]) => ratio(fo(o), fp(p))));
  return {
    ids: s.length,
    cold: mode("cold"),
    warm_isolate: mode("warm_isolate"),
    hyparquet: pairs.length
      ? {
          ids: pairs.length,
          cold_bytes: median(pairs.map(([, p]) => p.cold.r2_bytes)),
          warm_bytes: median(pairs.map(([, p]) => p.warm_metadata.r2_bytes)),
          // The same lookup on the same file: our reads of that file against hyparquet's.
          cold_bytes_ratio: r((o) => o.cold.data_bytes, (p) => p.cold.r2_bytes),
          warm_bytes_ratio: r((o) => o.warm_isolate.data_bytes, (p) => p.warm_metadata.r2_bytes),
        }
      : null,
    compact: compacted?.tables.find((x) => x.table === t.root)?.compact ?? null,
  };
}

function peer(t) {
  const h = hyp?.tables.find((x) => x.root === t.root);
  if (!h || !h.samples.length) return null;
  const s = h.samples;
  const mode = (m) => ({ r2_reads: med(s, m, "r2_reads"), r2_bytes: med(s, m, "r2_bytes"), cpu_ms: ms(med(s, m, "cpu_us")), wall_ms: ms(med(s, m, "wall_us")) });
  return { ids: s.length, cold: mode("cold"), warm_metadata: mode("warm_metadata") };
}

/** Ratios per id (ours / hyparquet on the same id and files), then the median. */
function ratios(t, mode) {
  const h = hyp?.tables.find((x) => x.root === t.root);
  if (!h) return null;
  const pairs = h.samples.map((hs) => [t.samples.find((s) => s.id === hs.id)?.[mode], hs[mode]]).filter(([o, p]) => o && p);
  const r = (fo, fp) => median(pairs.map(([o, p]) => ratio(fo(o), fp(p))));
  return {
    reads: r((o) => o.r2_reads, (p) => p.r2_reads),
    bytes: r((o) => o.r2_bytes, (p) => p.r2_bytes),
    data_reads: r((o) => o.data_reads, (p) => p.r2_reads),
    data_bytes: r((o) => o.data_bytes, (p) => p.r2_bytes),
    cpu: r((o) => o.cpu_us, (p) => p.cpu_us),
  };
}

/** pyarrow (cold only) and ours ÷ pyarrow per id. */
function pyarrowOf(t) {
  const p = pa?.tables.find((x) => x.root === t.root);
  if (!p || !p.samples.length) return null;
  const pairs = p.samples.map((ps) => [t.samples.find((s) => s.id === ps.id)?.cold, ps.cold]).filter(([o]) => o);
  const r = (k) => median(pairs.map(([o, q]) => ratio(o[k], q[k])));
  return {
    ids: p.samples.length,
    cold: { r2_reads: med(p.samples, "cold", "r2_reads"), r2_bytes: med(p.samples, "cold", "r2_bytes"), cpu_ms: ms(med(p.samples, "cold", "cpu_us")), wall_ms: ms(med(p.samples, "cold", "wall_us")) },
    ratios: { reads: r("r2_reads"), bytes: r("r2_bytes"), cpu: r("cpu_us") },
  };
}

const growth = {};
const tables = native.tables.map((t) => {
  const o = ours(t);
  const m = mf?.tables.find((x) => x.root === t.root) ?? null;
  const fits = (x) => x.r2_reads <= FREE_SUBREQUESTS && x.cpu_ms <= FREE_CPU_MS;
  return {
    root: t.root,
    rows: t.rows,
    files: t.files,
    sorted: !!t.sorted,
    table_bytes: t.table_bytes,
    objects: t.objects,
    warm_cache_bytes: t.warm_cache_bytes,
    ours: o,
    serving: servingOf(t),
    listing: t.listing ?? null,
    hyparquet: peer(t),
    ratios: { cold: ratios(t, "cold"), warm_metadata: ratios(t, "warm_metadata") },
    pyarrow: pyarrowOf(t),
    miniflare: m && { cold: m.cold, warm_isolate: m.warm_isolate, cache_hit: m.cache_hit },
    free_plan: {
      cold: { subrequests: o.cold.r2_reads <= FREE_SUBREQUESTS, cpu: o.cold.cpu_ms <= FREE_CPU_MS, fits: fits(o.cold) },
      warm_isolate: { subrequests: o.warm_isolate.r2_reads <= FREE_SUBREQUESTS, cpu: o.warm_isolate.cpu_ms <= FREE_CPU_MS, fits: fits(o.warm_isolate) },
    },
  };
});

// The grid (ids in random order); the sorted tables are reported on their own.
const grid = tables.filter((t) => !t.sorted);
const sortedTables = tables.filter((t) => t.sorted);
const byRows = [...new Set(grid.map((t) => t.rows))].sort((a, b) => a - b);
const fileCounts = [...new Set(grid.map((t) => t.files))].sort((a, b) => a - b);
const cell = (rows, files) => grid.find((t) => t.rows === rows && t.files === files);

// The free-plan limit point: the first table (fewest files, then rows) where a lookup stops fitting.
function limitPoint(mode) {
  const out = {};
  for (const rows of byRows) {
    const sub = fileCounts.find((f) => cell(rows, f) && !cell(rows, f).free_plan[mode].subrequests) ?? null;
    const cpu = fileCounts.find((f) => cell(rows, f) && !cell(rows, f).free_plan[mode].cpu) ?? null;
    out[rows] = { subrequests_exceeded_at_files: sub, cpu_exceeded_at_files: cpu };
  }
  return out;
}
// Per-row CPU cost: our lookup decodes the locating columns of every row of every row group it
// cannot prune, so CPU follows the rows scanned.
const perRow = median(grid.map((t) => (t.ours.warm_isolate.cpu_ms * 1000) / t.rows));
const rowsIn10ms = perRow ? Math.round((FREE_CPU_MS * 1000) / perRow) : null;
// Per-file CPU: same rows, 10 → 1,000 files (parsing each cached manifest and footer again).
const perFileMs = (() => {
  const rows = byRows[0];
  const lo = cell(rows, fileCounts[0]);
  const hi = cell(rows, fileCounts.at(-1));
  return lo && hi && hi !== lo ? (hi.ours.warm_isolate.cpu_ms - lo.ours.warm_isolate.cpu_ms) / (hi.files - lo.files) : null;
})();

// ---------------------------------------------------------------------------------------------
// Where we lose: drawn from the numbers.
// Where a lookup passes the subrequest budget, per row count: interpolated between the two
// measured file counts around it (reads grow about linearly with files within a row count).
const limitFiles = (mode, interpolate = true) =>
  byRows.map((rows) => {
    const cells = fileCounts.map((f) => cell(rows, f)).filter(Boolean);
    const i = cells.findIndex((t) => t.ours[mode].r2_reads > FREE_SUBREQUESTS);
    if (i < 0) return { rows, files_at_limit: null, note: `fits up to ${n0(cells.at(-1)?.files)} files` };
    if (i === 0) return { rows, files_at_limit: cells[0].files, note: `already at ${n0(cells[0].files)} files (${n0(cells[0].ours[mode].r2_reads)} reads)` };
    const [lo, hi] = [cells[i - 1], cells[i]];
    if (!interpolate)
      return { rows, files_at_limit: hi.files, note: `fits at ${n0(lo.files)} files (${n0(lo.ours[mode].r2_reads)} read${lo.ours[mode].r2_reads === 1 ? "" : "s"}), not at ${n0(hi.files)} (${n0(hi.ours[mode].r2_reads)} reads)` };
    const x = lo.files + ((FREE_SUBREQUESTS - lo.ours[mode].r2_reads) / (hi.ours[mode].r2_reads - lo.ours[mode].r2_reads)) * (hi.files - lo.files);
    return { rows, files_at_limit: x, note: `at ≈ ${n0(x)} files` };
  });
growth.cold = limitFiles("cold");
growth.warm_metadata = limitFiles("warm_metadata");
// The isolate cache is a cliff (it fits or it is cleared), not a slope: no interpolation.
growth.warm_isolate = limitFiles("warm_isolate", false);

const lose = [];
const win = [];
{
  const range = (xs) => (xs.length ? `${rx(Math.min(...xs))}–${rx(Math.max(...xs))}` : "–");
  const argmax = (ts, f) => ts.reduce((a, t) => (f(t) > f(a) ? t : a), ts[0]);
  const name = (t) => `${tableLabel(t)} × ${n0(t.files)} files`;
  const withPeer = tables.filter((t) => t.ratios.cold?.reads != null);
  const gridPeer = withPeer.filter((t) => !t.sorted);
  const sortedPeer = withPeer.filter((t) => t.sorted);
  if (withPeer.length) {
    lose.push(
      `Requests: a fully cold lookup makes ${range(gridPeer.map((t) => t.ratios.cold.reads))} hyparquet's requests with ids in random order${sortedPeer.length ? ` and ${range(sortedPeer.map((t) => t.ratios.cold.reads))} with ids sorted (hyparquet opens the one file; we read every manifest)` : ""}; data files only: ${range(withPeer.map((t) => t.ratios.cold.data_reads))}. We also read the version hint, the metadata, the manifest list and one manifest per commit (hyparquet is handed the file list), and per data file its footer and, per candidate row group, the locating columns in two merged ranges (the columns before and after the content columns), where hyparquet reads the footer and the id column. With metadata warm we still make ${range(withPeer.map((t) => t.ratios.warm_metadata?.reads).filter((x) => x != null))} its requests.`,
    );
    const wb = argmax(withPeer, (t) => t.ratios.warm_metadata?.bytes ?? 0);
    lose.push(
      `Bytes with metadata warm: ${range(withPeer.map((t) => t.ratios.warm_metadata?.bytes).filter((x) => x != null))} hyparquet's (worst: ${name(wb)}, ${mb(wb.ours.warm_metadata.r2_bytes)} against ${mb(wb.hyparquet.warm_metadata.r2_bytes)}). The locator reads the id column of every candidate row group (as hyparquet does), then, only in the row group that holds the id, the nine other columns it needs to order versions and authorise (ns, type, ts, deleted, visibility, owner_org, owner_user, content_hash, size_bytes; the random 64-hex content_hash is most of their bytes). What remains above hyparquet with metadata warm is mostly manifests: serve keeps Avro manifests in its isolate cache, but on tables with many small files the manifests and footers are a larger share than the data read. When a file's content chunks are smaller than the 64 KiB merge gap, the locating ranges of the hit row group merge across them, so the content columns are read too (fewer requests, more bytes).`,
    );
    const cpuG = gridPeer.map((t) => t.ratios.warm_metadata?.cpu).filter((x) => x != null);
    const cpuS = sortedPeer.map((t) => t.ratios.warm_metadata?.cpu).filter((x) => x != null);
    lose.push(
      `CPU: ours (native, the workers' opt-level "z"; wasm is slower still) against hyparquet in Node (V8 JIT): ${range(cpuG)} with ids in random order${cpuS.length ? `, ${range(cpuS)} with ids sorted` : ""} (metadata warm). Most of ours is pure-Rust zstd (ruzstd) decoding the id column of every candidate row group, as hyparquet does (the page index does not help there: with ids in random order every page's id range spans the table, and a 10,000-row group's locating chunks are under the 1 MiB from which the locator reads page by page), plus the content chunk (whole below 1 MiB, else the one page that holds the row), and, on tables with many commits, re-parsing every cached Avro manifest on each lookup (the isolate cache keeps bytes, not parsed manifests: ${sortedTables.length ? `${f1(sortedTables.at(-1).ours.warm_metadata.cpu_ms)} ms for ${n0(sortedTables.at(-1).files)} manifests and one small file` : "see the sorted tables"}).`,
    );
  }
  const spill = grid.filter((t) => t.ours.warm_isolate.r2_reads > 10);
  if (spill.length)
    lose.push(
      `The isolate cache: on ${spill.map(name).join(", ")} the locating ranges of all files do not fit serve's 32 MiB immutable cache (it is cleared when full), so a warm isolate still makes ${spill.map((t) => n0(t.ours.warm_isolate.r2_reads)).join(" / ")} reads per lookup.`,
    );
  lose.push(
    `Free plan: no table fits 10 ms of CPU per lookup. With ids spread at random over the files (as independent writers produce them), bounds prune (almost) nothing and CPU follows the rows scanned, about ${f2(perRow)} µs per row natively (≈ ${n0(rowsIn10ms)} rows in 10 ms, before the wasm slowdown). Even with ids sorted (one candidate file) decoding the locating columns of its one 10,000-row group, and parsing every cached manifest, keep it above 10 ms. On a cold isolate, subrequests pass 50 ${growth.cold.map((x) => `${x.note} with ${rowsLabel(x.rows)} rows`).join(", ")}.`,
  );
  const coldWin = withPeer.filter((t) => t.ratios.cold.bytes < 1);
  if (coldWin.length)
    win.push(
      `Cold bytes on ${coldWin.map(name).join(", ")}: ${range(coldWin.map((t) => t.ratios.cold.bytes))} hyparquet's, because its metadata read takes the last 512 KiB of each file where our footer guess is 64 KiB, and because for a content chunk over 1 MiB we read only the page that holds the row (through the offset index) where hyparquet reads the whole chunk.`,
    );
  const hot = grid.filter((t) => t.ours.warm_isolate.r2_reads <= 10);
  if (hot.length)
    win.push(
      `A warm isolate: where the locating ranges fit serve's 32 MiB cache (${hot.map(name).join(", ")}) a lookup is ${hot.map((t) => n0(t.ours.warm_isolate.r2_reads)).join(" / ")} R2 read(s), the content chunk only; hyparquet keeps no data pages between lookups.`,
    );
  const paT = grid.filter((t) => t.pyarrow?.ratios.bytes != null);
  const paS = sortedTables.filter((t) => t.pyarrow?.ratios.bytes != null);
  if (paT.length)
    win.push(
      `Against pyarrow's own filter (\`read_table(filters=…)\`, which reads the content chunk of every row group it cannot skip), ids in random order, cold: ${range(paT.map((t) => t.pyarrow.ratios.bytes))} its bytes, ${range(paT.map((t) => t.pyarrow.ratios.reads))} its requests, CPU ${range(paT.map((t) => t.pyarrow.ratios.cpu))}.${paS.length ? ` With ids sorted pyarrow wins too (bytes ${range(paS.map((t) => t.pyarrow.ratios.bytes))}, CPU ${range(paS.map((t) => t.pyarrow.ratios.cpu))} ours ÷ its).` : ""}`,
    );
  win.push("An answer-cache hit (Cache API) reads nothing from R2 at all; see the Miniflare table.");
  const st = tables.filter((t) => t.serving);
  if (st.length) {
    const span = (f) => {
      const xs = st.map(f).filter((x) => x != null);
      return xs.length ? (Math.min(...xs) === Math.max(...xs) ? n0(xs[0]) : `${n0(Math.min(...xs))}–${n0(Math.max(...xs))}`) : "–";
    };
    const hb = st.map((t) => t.serving.hyparquet?.cold_bytes_ratio).filter((x) => x != null);
    win.unshift(
      `The serving table (#15) makes the lookup's cost flat: ${span((t) => t.serving.cold.max_reads)} R2 reads cold and ${span((t) => t.serving.warm_isolate.max_reads)} with the isolate warm (worst id) on every table from 20k rows × 10 files to 1M rows × 10,000 files, where the scan makes ${span((t) => t.ours.cold.r2_reads)} cold; ${f2(Math.max(...st.map((t) => t.serving.cold.cpu_ms)))} ms CPU at most (median per table, native), and ${hb.length ? range(hb) : "–"} the bytes hyparquet reads for the same lookup on the same serving file.`,
    );
    const cs = st.filter((t) => t.serving.compact);
    if (cs.length)
      lose.push(
        `The serving table's price: the compactor wrote ${range(cs.map((t) => t.serving.compact.write_amplification))} the source's data bytes to build it from scratch (the source is zstd, the serving files snappy — chosen for decode speed — and each row keeps its winner fields twice: in its \`_lookup\` cell and in their own columns), and it is ${range(cs.map((t) => t.serving.compact.serving_bytes / t.serving.compact.source_bytes))} the source table's size on disk; ${n0(Math.min(...cs.map((t) => t.serving.compact.rows_per_cpu_s)))}–${n0(Math.max(...cs.map((t) => t.serving.compact.rows_per_cpu_s)))} rows per CPU second natively.`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
const L = [];
L.push("## Serve", "");
L.push(
  `Tables: \`tools/src/bin/bench_tables.rs generate\` (${native.generator}) writes them with the stand-in's own writers — \`iceberg_writer::write_parquet\` (zstd, row groups of 10,000 rows, column statistics) and \`iceberg_writer::manifest\` (snappy Avro) — as unpartitioned Iceberg v2 tables the way the stand-in (and Pipelines) commits: one commit per data file, each adding one manifest, the manifest list carrying all of them; only the current snapshot's manifest list and metadata file are written (the metadata still lists every snapshot). Rows are one \`ns\`/\`type\`, unique ids \`page-NNNNNNN\`, \`markdown\` values ${native.values} (seeded; the text compresses about 2× with zstd), a random 64-hex \`content_hash\`; ids arrive in random order, so each file's id bounds span nearly the whole table and manifests prune nothing (the realistic worst case for an unsorted Pipelines table). For contrast, three more 200k-row tables hold the same rows with ids sorted across files, as a compaction sorted by id would leave them (bounds then prune every file but one). Data: \`bench/.data/\` (gitignored), reused while each table's STAMP matches.`,
  "",
);
L.push(
  `Our lookup: the serve worker's \`.md\` path — version hint → metadata (parsed) → \`shared::locate::locate\` → \`read_value("markdown")\` — run natively (\`bench_tables measure\`, built with the release profile's settings: the workers' opt-level "z", LTO) over a counting object store that applies serve's caching exactly (\`serve-worker/src/store.rs\`: per-request memo, the 32 MiB per-isolate cache of Avro objects and Parquet ranges ≤ 1 MiB kept after a successful request; metadata pointer and parsed metadata per isolate). **R2 reads/bytes** are reads that reach the store. **CPU** is the thread's CPU time (\`CLOCK_THREAD_CPUTIME_ID\`) around the lookup minus the same clock around each store read (file I/O), i.e. the Rust lookup itself, native — wasm in workerd is typically slower. **Wall** is local-disk wall time, not R2 latency. Modes: *cold* = empty isolate; *warm metadata* = the isolate after one lookup of another id, keeping only metadata, manifests and footers; *warm isolate* = that isolate as serve really keeps it (also the ≤ 1 MiB locating-column ranges). Each id is looked up ${native.reps}× per mode (medians), then the median over ids is shown (up to ${native.samples_max} seeded ids per table, fewer where the ${native.budget_secs_per_table} s per-table budget ran out).`,
  "",
);
if (hyp)
  L.push(
    `Peer: **hyparquet ${hyp.version}** (+ hyparquet-compressors for zstd) in Node ${process.version}, same run, same files, same accounting (\`bench/serve/hyparquet.mjs\`): for each id it gets exactly the data files our locator opened for that id (after manifest pruning; here that is every file whose bounds admit the id), each as an AsyncBuffer with the file size that counts every \`slice()\` as one request; per file \`parquetMetadataAsync\` (its default 512 KiB suffix read), then \`parquetReadObjects({columns: ["id"], filter: {id: {$eq}}, includeRowIndex})\` (row groups skipped by statistics), then the winning row's \`markdown\` only (\`rowStart\`/\`rowEnd\`). Its *warm metadata* mode keeps the parsed footers. hyparquet is handed the file list: it reads no Iceberg metadata, so the ratios also show data-file-only requests and bytes (ours minus metadata, list and manifests). CPU: \`process.cpuUsage()\` minus the synchronous reads. Ratios are ours ÷ hyparquet per id, median over ids (< 1: we read less).`,
    "",
  );

L.push("### Tables", "");
L.push("| rows | data files | objects | bytes on disk | ids measured (ours / hyparquet) |", "| ---: | ---: | ---: | ---: | --- |");
for (const t of tables) L.push(`| ${n0(t.rows)}${t.sorted ? " (ids sorted)" : ""} | ${n0(t.files)} | ${n0(t.objects)} | ${mb(t.table_bytes)} | ${t.ours.ids} / ${t.hyparquet?.ids ?? "–"} |`);
L.push("");

{
  const st = tables.filter((t) => t.serving);
  if (st.length) {
    L.push("### The serving table (#15): lookups after the compactor has run", "");
    L.push(
      `\`bench_tables compact\` builds each table's serving table with the compactor (\`compactor::run\` over the directory until every snapshot is absorbed, then one \`FULL\` run: every key in one L1 file, L0 empty; design: docs/design/serving-table.md). The lookup is serve's own answer code (\`shared::answer::Reads::answer\` for \`.md\`) over the same counting store with serve's caching: the serving pointer and root, the source table's pointer (its tail is empty: the root names its current metadata), the file's index region, one \`_lookup\` page, one \`markdown\` page. *Warm isolate*: after one lookup of another id and the prefetch of the root's index regions that lookup starts (serve runs it in \`ctx.waitUntil\` the first time an isolate uses a root; at most 8 MiB). Every answer is checked to come from the serving table with the same bytes as the scan. Targets: warm ≤ 2 reads, cold ≤ 8, flat across sizes; CPU ≤ 2 ms; bytes ≤ 0.5× hyparquet's on the same serving file (hyparquet as above, handed the serving file our lookup opened).`,
      "",
    );
    L.push(
      "| rows | files | cold: R2 reads (min–max) | bytes | CPU ms (max) | warm isolate: reads (min–max) | bytes | CPU ms (max) | same file, hyparquet bytes cold / warm | ours ÷ hyparquet (that file) cold / warm |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const t of st) {
      const { cold: c, warm_isolate: w, hyparquet: h } = t.serving;
      L.push(
        `| ${tableLabel(t)} | ${n0(t.files)} | ${n0(c.r2_reads)} (${n0(c.min_reads)}–${n0(c.max_reads)}) | ${mb(c.r2_bytes)} | ${f2(c.cpu_ms)} (${f2(c.max_cpu_ms)}) | ${n0(w.r2_reads)} (${n0(w.min_reads)}–${n0(w.max_reads)}) | ${mb(w.r2_bytes)} | ${f2(w.cpu_ms)} (${f2(w.max_cpu_ms)}) | ${h ? `${mb(h.cold_bytes)} / ${mb(h.warm_bytes)}` : "–"} | ${h ? `${rx(h.cold_bytes_ratio)} / ${rx(h.warm_bytes_ratio)}` : "–"} |`,
      );
    }
    L.push("");
    const cs = st.filter((t) => t.serving.compact);
    if (cs.length) {
      L.push("#### The compactor building them (native, one process, from scratch)", "");
      L.push(
        "| rows | files | runs | CPU s | rows per CPU s | bytes written | write amplification (written ÷ source data bytes) | serving table ÷ source table (bytes on disk) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      );
      for (const t of cs) {
        const k = t.serving.compact;
        L.push(`| ${tableLabel(t)} | ${n0(t.files)} | ${k.runs} | ${f1(k.cpu_s)} | ${n0(k.rows_per_cpu_s)} | ${mb(k.bytes_written)} | ${f2(k.write_amplification)} | ${f2(k.serving_bytes / k.source_bytes)} |`);
      }
      L.push("");
    }
  }
  L.push(...codecSection(path.dirname(nativePath)));
}

{
  const lt = tables.filter((t) => t.listing?.serving || t.listing?.scan);
  if (lt.length) {
    L.push("### Listing (#16): one page of 100 ids", "");
    L.push(
      "serve's first listing page of the bench type (`shared::answer::Reads::listing`, `limit` 100, anonymous): from the serving table by key range (pointer, root, the source's pointer, the file's index region, the `_lookup` pages of the range; at most `8 + limit / 16` pages) and by scanning the table (every data file's locating columns; measured up to 200k rows × 1,000 files). *Warm* is the same page again in the same isolate. Design: docs/design/serving-table.md, Listing.",
      "",
      "| rows | files | serving cold: R2 reads | bytes | CPU ms | warm: reads | CPU ms | scan cold: R2 reads | bytes | CPU ms | warm: reads | CPU ms |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    const part = (x) => (x ? [n0(x.cold.r2_reads), mb(x.cold.r2_bytes), f2(ms(x.cold.cpu_us)), n0(x.warm_isolate.r2_reads), f2(ms(x.warm_isolate.cpu_us))] : ["–", "–", "–", "–", "–"]);
    for (const t of lt) L.push(`| ${tableLabel(t)} | ${n0(t.files)} | ${[...part(t.listing.serving), ...part(t.listing.scan)].join(" | ")} |`);
    L.push("");
  }
}

L.push("### Our lookup (native, medians)", "");
L.push(
  "| rows | files | cold: R2 reads | bytes | CPU ms | wall ms | warm metadata: reads | bytes | CPU ms | warm isolate: reads | bytes | CPU ms |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
);
for (const t of tables) {
  const { cold: c, warm_metadata: w, warm_isolate: i } = t.ours;
  L.push(`| ${tableLabel(t)} | ${n0(t.files)} | ${n0(c.r2_reads)} | ${mb(c.r2_bytes)} | ${f1(c.cpu_ms)} | ${f1(c.wall_ms)} | ${n0(w.r2_reads)} | ${mb(w.r2_bytes)} | ${f1(w.cpu_ms)} | ${n0(i.r2_reads)} | ${mb(i.r2_bytes)} | ${f1(i.cpu_ms)} |`);
}
L.push("");

if (hyp) {
  L.push("### Against hyparquet (ours ÷ hyparquet, medians)", "");
  L.push(
    "| rows | files | cold: hyparquet reads | bytes | CPU ms | **reads ratio** | **bytes ratio** | data-file reads / bytes ratio | warm metadata: hyparquet reads | bytes | CPU ms | **reads ratio** | **bytes ratio** | CPU ratio |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const t of tables) {
    const h = t.hyparquet;
    const c = t.ratios.cold;
    const w = t.ratios.warm_metadata;
    if (!h) {
      L.push(`| ${tableLabel(t)} | ${n0(t.files)} | not run | | | | | | | | | | | |`);
      continue;
    }
    L.push(
      `| ${tableLabel(t)} | ${n0(t.files)} | ${n0(h.cold.r2_reads)} | ${mb(h.cold.r2_bytes)} | ${f1(h.cold.cpu_ms)} | ${rx(c?.reads)} | ${rx(c?.bytes)} | ${rx(c?.data_reads)} / ${rx(c?.data_bytes)} | ${n0(h.warm_metadata.r2_reads)} | ${mb(h.warm_metadata.r2_bytes)} | ${f1(h.warm_metadata.cpu_ms)} | ${rx(w?.reads)} | ${rx(w?.bytes)} | ${rx(w?.cpu)} |`,
    );
  }
  L.push("");
}

if (pa) {
  L.push("### Second peer: pyarrow (fully cold, medians)", "");
  L.push(
    `\`bench/serve/pyarrow_peer.py\`: **pyarrow ${pa.version}** (Python, in \`bench/.venv\`), same files per id as hyparquet, each through a file wrapper that counts every \`read()\` as one request; per file \`pq.read_table(f, columns=["id", "markdown"], filters=[("id", "==", id)], use_threads=False)\` — pyarrow's own filter: footer, row groups skipped by statistics, then the id and markdown chunks of the rest. CPU: process CPU time minus the wrapper's reads.`,
    "",
  );
  L.push("| rows | files | pyarrow reads | bytes | CPU ms | ours ÷ pyarrow: reads | bytes | CPU |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const t of tables) {
    const p = t.pyarrow;
    if (!p) continue;
    L.push(`| ${tableLabel(t)} | ${n0(t.files)} | ${n0(p.cold.r2_reads)} | ${mb(p.cold.r2_bytes)} | ${f1(p.cold.cpu_ms)} | ${rx(p.ratios.reads)} | ${rx(p.ratios.bytes)} | ${rx(p.ratios.cpu)} |`);
  }
  L.push("");
}

if (mf?.tables?.length) {
  L.push("### Serve in Miniflare (the built wasm worker, medians)", "");
  L.push(
    `\`bench/serve/miniflare.mjs\`: \`GET /$.content/docs/page/{id}.md\` against \`build/serve\` in Miniflare (workerd ${mf.workerd ?? ""}), the table in Miniflare's R2, \`METADATA_TTL_SECONDS=3600\`. Reads and bytes are the worker's own \`Server-Timing\` (\`r2-reads\`/\`r2-bytes\` count the locator's fetches, including those answered by the isolate cache, and leave out the version hint and metadata reads — so they differ from the native store counts above). Wall time is measured in Node around \`fetch\` (local R2, no network). *Fully cold*: a fresh workerd per lookup (${mf.tables[0]?.cold?.n ?? "?"} per table), so the wall time includes the isolate's start-up. *Warm isolate*: after one lookup of another id, each id once (an answer-cache miss). *Cache hit*: the same URL again (Cache API, \`X-Artifact-Source: cache\`). Only the ${[...new Set(mf.tables.map((t) => rowsLabel(t.rows)))].join(" and ")}-row tables (loading the larger ones into Miniflare's R2 takes too long for this run).`,
    "",
  );
  L.push(
    "| rows | files | fully cold: Server-Timing reads (native locator fetches) | bytes | wall ms | warm isolate: reads | bytes | wall ms | cache hit: wall ms | hit source |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  );
  for (const m of mf.tables) {
    const t = native.tables.find((x) => x.root === m.root);
    // The same ids as the Miniflare cold runs (the first n of the native sample).
    const nat = t ? median(t.samples.slice(0, m.cold.n).map((x) => x.cold.locator_reads)) : null;
    L.push(
      `| ${rowsLabel(m.rows)} | ${n0(m.files)} | ${n0(m.cold.r2_reads)} (${n0(nat)}) | ${mb(m.cold.r2_bytes)} | ${f1(m.cold.wall_ms)} | ${n0(m.warm_isolate.r2_reads)} | ${mb(m.warm_isolate.r2_bytes)} | ${f1(m.warm_isolate.wall_ms)} | ${f2(m.cache_hit.wall_ms)} | ${m.cache_hit.sources.join(", ")} |`,
    );
  }
  L.push("");
  const ms2 = mf.tables.filter((m) => m.serving);
  if (ms2.length) {
    L.push(
      "With the serving table (`SERVING_ROOT` set; here `r2-reads`/`r2-bytes` are the reads that reached R2, pointers and root included). *Worker ms* is the worker's own `Server-Timing` `total` (wall time inside workerd, local R2).",
      "",
      "| rows | files | fully cold: reads | bytes | worker ms | wall ms | warm isolate: reads | bytes | worker ms | wall ms | source |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    );
    for (const m of ms2) {
      const { cold: c, warm_isolate: w } = m.serving;
      L.push(`| ${rowsLabel(m.rows)} | ${n0(m.files)} | ${n0(c.r2_reads)} | ${mb(c.r2_bytes)} | ${f1(c.total_ms)} | ${f1(c.wall_ms)} | ${n0(w.r2_reads)} | ${mb(w.r2_bytes)} | ${f1(w.total_ms)} | ${f1(w.wall_ms)} | ${w.sources.join(", ")} |`);
    }
    L.push("");
  }
}

L.push("### Cost growth against data files", "");
L.push(
  `Same rows, more commits (10 → 100 → 1,000 data files; ours, fully cold and warm isolate; hyparquet cold). A lookup fits Cloudflare's free plan when it makes at most ${FREE_SUBREQUESTS} subrequests (counted here as R2 reads; serve also makes one KV read and the Cache API calls) and uses at most ${FREE_CPU_MS} ms CPU (native CPU here; wasm is slower).`,
  "",
);
L.push(
  "| rows | files | cold reads | cold bytes | cold CPU ms | warm-isolate reads | warm-isolate CPU ms | hyparquet cold reads | hyparquet cold bytes | hyparquet cold CPU ms | fits free plan (cold / warm) |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
);
const yes = (fp) => (fp.fits ? "yes" : `no (${[!fp.subrequests && "subrequests", !fp.cpu && "CPU"].filter(Boolean).join(", ")})`);
for (const rows of byRows)
  for (const files of fileCounts) {
    const t = cell(rows, files);
    if (!t) continue;
    L.push(
      `| ${rowsLabel(rows)} | ${n0(files)} | ${n0(t.ours.cold.r2_reads)} | ${mb(t.ours.cold.r2_bytes)} | ${f1(t.ours.cold.cpu_ms)} | ${n0(t.ours.warm_isolate.r2_reads)} | ${f1(t.ours.warm_isolate.cpu_ms)} | ${n0(t.hyparquet?.cold.r2_reads)} | ${mb(t.hyparquet?.cold.r2_bytes)} | ${f1(t.hyparquet?.cold.cpu_ms)} | ${yes(t.free_plan.cold)} / ${yes(t.free_plan.warm_isolate)} |`,
    );
  }
for (const t of sortedTables)
  L.push(
    `| ${tableLabel(t)} | ${n0(t.files)} | ${n0(t.ours.cold.r2_reads)} | ${mb(t.ours.cold.r2_bytes)} | ${f1(t.ours.cold.cpu_ms)} | ${n0(t.ours.warm_isolate.r2_reads)} | ${f1(t.ours.warm_isolate.cpu_ms)} | ${n0(t.hyparquet?.cold.r2_reads)} | ${mb(t.hyparquet?.cold.r2_bytes)} | ${f1(t.hyparquet?.cold.cpu_ms)} | ${yes(t.free_plan.cold)} / ${yes(t.free_plan.warm_isolate)} |`,
  );
L.push("");
{
  const at = (xs) => xs.map((x) => `${x.note} with ${rowsLabel(x.rows)} rows`).join("; ");
  L.push(
    `Where it stops fitting. **Subrequests:** a cold lookup reads the version hint, the metadata, the manifest list and the content chunk, and then per data file one manifest (one per commit) and the footer, and per candidate row group one or two locating ranges (one when the content chunk between them is under the 64 KiB merge gap; page reads through the page index only once a row group's locating chunks pass 1 MiB together, which 10,000-row groups here do not) — about 4 + 2 × files + (1–2) × row groups; with ids in random order nearly every file and row group is a candidate (only the 20-row files of the 20k × 1,000 table are narrow enough for their bounds to prune some, more for ids near the ends of the range; \`files_considered\` per id is in serve.json). So it passes ${FREE_SUBREQUESTS}: ${at(growth.cold)}. With metadata warm (manifests and footers cached) only the row-group reads remain: ${at(growth.warm_metadata)}. With the whole isolate warm a lookup is a single read for as long as the locating ranges fit serve's 32 MiB isolate cache: ${at(growth.warm_isolate)}. **CPU:** already above ${FREE_CPU_MS} ms at 20k rows: with unsorted ids every row group must be decoded, about ${f2(perRow)} µs per row natively (median over tables, warm isolate), plus about ${f2(perFileMs)} ms per data file (its cached manifest and footer are parsed again on every lookup; ${rowsLabel(byRows[0])} rows: ${fileCounts.map((f) => `${f1(cell(byRows[0], f)?.ours.warm_isolate.cpu_ms)} ms at ${n0(f)} files`).join(", ")}), so about ${n0(rowsIn10ms)} scanned rows, or far fewer files, is the CPU limit.${sortedTables.length ? ` **Sorted ids** (${sortedTables.map((t) => `${n0(t.files)} files`).join(", ")}, 200k rows): bounds prune every data file but the one holding the id (${sortedTables.map((t) => `${n0(t.ours.cold.files_considered)} considered, ${n0(t.ours.cold.files_pruned)} pruned`).join("; ")}), so CPU drops to ${sortedTables.map((t) => `${f1(t.ours.warm_isolate.cpu_ms)} ms`).join(" / ")} with the isolate warm, but a cold lookup still reads one manifest per commit (${sortedTables.map((t) => n0(t.ours.cold.r2_reads)).join(" / ")} reads): manifests, not data files, are what grows with commits.` : ""}`,
    "",
  );
}
L.push("![Bytes read and requests per lookup against the number of data files, ours and hyparquet](bytes-requests-vs-files.png)", "");
L.push("### Where we lose", "");
for (const x of lose) L.push(`- ${x}`);
L.push("", "### Where we win", "");
for (const x of win) L.push(`- ${x}`);
L.push("");

const doc = {
  loadavg_at_start: native.loadavg_at_start ?? os.loadavg(),
  generator: native.generator,
  values: native.values,
  layout: "unpartitioned, one commit (data file + manifest) per file, ids in random order, row groups of 10,000 rows, zstd Parquet, snappy Avro",
  ours_method: "native shared::locate over a counting store with serve's caching (release profile, opt-level z)",
  cpu_clock: native.cpu_clock,
  growth_reads_per_file: growth,
  cpu_ms_per_file: perFileMs,
  free_plan: { cpu_ms: FREE_CPU_MS, subrequests: FREE_SUBREQUESTS, limit_point_cold: limitPoint("cold"), limit_point_warm_isolate: limitPoint("warm_isolate"), cpu_us_per_row: perRow, rows_in_10ms: rowsIn10ms },
  hyparquet_version: hyp?.version ?? null,
  pyarrow_version: pa?.version ?? null,
  tables,
  page_codec: codecResults(path.dirname(nativePath)),
  where_we_lose: lose,
  raw: {
    native: native.tables.map((t) => ({ ...t, samples: t.samples.map(({ files, ...s }) => ({ ...s, files: files.length })) })),
    hyparquet: hyp,
    pyarrow: pa,
    miniflare: mf && { ...mf, tables: mf.tables.map(({ runs, ...t }) => ({ ...t, runs })) },
  },
};
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, "serve.json"), JSON.stringify(doc, null, 1));
fs.writeFileSync(path.join(outDir, "serve.md"), L.join("\n"));
console.error(`wrote ${path.join(outDir, "serve.md")} and serve.json`);
