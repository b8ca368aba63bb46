// The peer: hyparquet (npm, pinned in package.json) finding a row by id and reading its one
// content column, over the same Parquet files and with the same byte accounting as our native
// lookup (bench_tables measure).
//
// Usage: node bench/serve/hyparquet.mjs <native.json> <warehouse dir> <out.json> [ids per table] [reps]
//
// For each sampled id, hyparquet gets exactly the data files our locator opened for that id
// (after manifest pruning by id bounds), in manifest order, each as an AsyncBuffer that knows
// the file size (as hyparquet's docs recommend) and counts every slice() as one ranged read.
// Per file: parquetMetadataAsync (its default 512 KiB suffix read), then parquetReadObjects with
// `filter: {id: {$eq: id}}` and `columns: ["id"]` (row groups skipped by statistics; the row
// index kept), then, for the winning row only, parquetReadObjects of `markdown` for that single
// row. Two modes, like ours: cold (nothing cached) and warm metadata (each file's parsed
// footer kept from an earlier lookup, so only data pages are read). Where our serving path ran,
// the same lookup also runs on the serving-table file(s) it opened (`serving`).
import fs from "node:fs";
import path from "node:path";
import { parquetMetadataAsync, parquetReadObjects, rowIndex } from "hyparquet";
import { compressors } from "hyparquet-compressors";

const [nativePath, warehouse, outPath, idsArg, repsArg] = process.argv.slice(2);
const IDS = Number(idsArg ?? 30);
const REPS = Number(repsArg ?? 3);
// Spend at most this long per table (the 1,000-file tables read ~512 MB per cold lookup).
const TABLE_BUDGET_MS = Number(process.env.HYPARQUET_TABLE_BUDGET_MS ?? 90_000);

const native = JSON.parse(fs.readFileSync(nativePath, "utf8"));

/** Thread-ish CPU (process user+system, µs); reads are synchronous, so no thread pool work. */
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

class Counter {
  constructor() {
    this.reads = 0;
    this.bytes = 0;
    this.ioCpu = 0;
    this.ioWall = 0;
  }
}

/** An AsyncBuffer over one file that counts its ranged reads. */
function countingBuffer(file, size, counter) {
  return {
    byteLength: size,
    async slice(start, end) {
      const c0 = cpu();
      const w0 = performance.now();
      const stop = end === undefined ? size : Math.min(end, size);
      const len = Math.max(0, stop - start);
      const buf = Buffer.allocUnsafe(len);
      const fd = fs.openSync(file, "r");
      try {
        let off = 0;
        while (off < len) off += fs.readSync(fd, buf, off, len - off, start + off);
      } finally {
        fs.closeSync(fd);
      }
      counter.reads += 1;
      counter.bytes += len;
      counter.ioCpu += cpu() - c0;
      counter.ioWall += performance.now() - w0;
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + len);
    },
  };
}

/** One lookup; `metaCache` (key → parsed metadata) is used and filled when given. */
async function lookup(files, id, metaCache) {
  const counter = new Counter();
  const c0 = cpu();
  const w0 = performance.now();
  let winner = null;
  for (const f of files) {
    const file = countingBuffer(path.join(warehouse, f.key), f.size, counter);
    let metadata = metaCache?.get(f.key);
    if (!metadata) {
      metadata = await parquetMetadataAsync(file);
      metaCache?.set(f.key, metadata);
    }
    const rows = await parquetReadObjects({
      file,
      metadata,
      columns: ["id"],
      filter: { id: { $eq: id } },
      includeRowIndex: true,
      compressors,
    });
    // Later files and rows are newer (ids are unique here, but neither reader knows that).
    for (const r of rows) winner = { file, metadata, row: r[rowIndex] };
  }
  let markdownBytes = 0;
  if (winner) {
    const [row] = await parquetReadObjects({
      file: winner.file,
      metadata: winner.metadata,
      columns: ["markdown"],
      rowStart: winner.row,
      rowEnd: winner.row + 1,
      compressors,
    });
    markdownBytes = Buffer.byteLength(row?.markdown ?? "");
  }
  const wall = performance.now() - w0;
  const cpuUs = cpu() - c0 - counter.ioCpu;
  return { reads: counter.reads, bytes: counter.bytes, cpu_us: cpuUs, wall_us: wall * 1000, io_wall_us: counter.ioWall * 1000, markdown_bytes: markdownBytes, found: !!winner };
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const n = v.length;
  return n === 0 ? 0 : n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
};

function summary(runs) {
  return {
    r2_reads: runs[0].reads,
    r2_bytes: runs[0].bytes,
    cpu_us: median(runs.map((r) => r.cpu_us)),
    wall_us: median(runs.map((r) => r.wall_us)),
    io_wall_us: median(runs.map((r) => r.io_wall_us)),
    cpu_us_runs: runs.map((r) => Math.round(r.cpu_us)),
  };
}

const out = { peer: "hyparquet", version: JSON.parse(fs.readFileSync(new URL("../../node_modules/hyparquet/package.json", import.meta.url))).version, tables: [] };
for (const t of native.tables) {
  const started = performance.now();
  const samples = [];
  // Warm the metadata cache with a lookup of the first sample's files (every id of a table
  // opens nearly the same files).
  const metaCache = new Map();
  for (const s of t.samples.slice(0, IDS)) {
    if (performance.now() - started > TABLE_BUDGET_MS && samples.length >= 3) break;
    const cold = [];
    const warm = [];
    for (let i = 0; i < REPS; i++) {
      cold.push(await lookup(s.files, s.id, null));
      if (i === 0) await lookup(s.files, s.id, metaCache); // fills the cache for the files of this id
      warm.push(await lookup(s.files, s.id, metaCache));
      if (performance.now() - started > TABLE_BUDGET_MS) break;
    }
    if (!cold[0].found || cold[0].markdown_bytes !== s.markdown_bytes) {
      throw new Error(`${t.root} ${s.id}: hyparquet found ${cold[0].found} with ${cold[0].markdown_bytes} bytes, ours ${s.markdown_bytes}`);
    }
    // The same lookup on the serving-table file(s) our serving path opened for this id.
    let serving = null;
    if (s.serving?.files?.length) {
      const sc = [];
      const sw = [];
      const servingCache = new Map();
      for (let i = 0; i < REPS; i++) {
        sc.push(await lookup(s.serving.files, s.id, null));
        if (i === 0) await lookup(s.serving.files, s.id, servingCache);
        sw.push(await lookup(s.serving.files, s.id, servingCache));
      }
      if (!sc[0].found || sc[0].markdown_bytes !== s.markdown_bytes) {
        throw new Error(`${t.root} ${s.id} (serving): hyparquet found ${sc[0].found} with ${sc[0].markdown_bytes} bytes, ours ${s.markdown_bytes}`);
      }
      serving = { files: s.serving.files.length, cold: summary(sc), warm_metadata: summary(sw) };
    }
    samples.push({ id: s.id, files: s.files.length, cold: summary(cold), warm_metadata: summary(warm), serving });
  }
  out.tables.push({ root: t.root, rows: t.rows, files: t.files, samples });
  console.error(`hyparquet ${t.root}: ${samples.length} ids, ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
fs.writeFileSync(outPath, JSON.stringify(out, null, 1));
