// `make soak`: the full round trip under load (tests/support/roundtrip.mjs). 16 concurrent clients
// ingest 10,000 artifacts across the three modes through ingest → the local stand-in (committing
// on a poll while readers read) → serve; then every artifact must read back exactly, updated ones
// at their newest version. Prints the counts; exits 1 on any loss, wrong read, 5xx or wasm reset.
//
// SOAK_COUNT (10000), SOAK_CLIENTS (16), SOAK_READERS (8), SOAK_BATCH (25 records a request),
// SOAK_ROLL_{PREVIEW,BUILD,BULK}_MS (the stand-in's roll intervals), SOAK_MAINTAIN_MS (2000: the
// period of the catalog's compact / expire and two racing compact workers; 0: none).
//
// It runs the way production will (#16): the serving table split in two by key range, sink
// commits reaching the compact worker through the R2 event notification double, a second compact
// worker racing it, and the catalog's own compaction and snapshot expiration, while readers read.
// The tail's length (source snapshots after the serving watermarks) seen by table reads is
// printed: BENCHMARKS.md's steady-state tail.
import os from "node:os";
import { startRoundTrip, roundTrip, report } from "../tests/support/roundtrip.mjs";

const n = (name, d) => Number(process.env[name] ?? d);
const opts = {
  count: n("SOAK_COUNT", 10_000),
  clients: n("SOAK_CLIENTS", 16),
  readers: n("SOAK_READERS", 8),
  batch: n("SOAK_BATCH", 25),
  maintainEveryMs: n("SOAK_MAINTAIN_MS", 2000),
  log: (l) => console.log(l),
};
console.log(`soak: ${opts.count} artifacts, ${opts.clients} clients, ${opts.readers} readers, ${opts.batch} records a request`);
// Rolls a quarter of production's (5 s / 30 s / 120 s would leave the bulk table nearly untouched
// during a 10-minute run); commits still land while readers read.
const h = await startRoundTrip({
  flushEveryMs: 500,
  scaleOut: true,
  rolls: { preview: n("SOAK_ROLL_PREVIEW_MS", 1250), build: n("SOAK_ROLL_BUILD_MS", 7500), bulk: n("SOAK_ROLL_BULK_MS", 30_000) },
});
let stats;
try {
  stats = await roundTrip(h, opts);
} finally {
  await h.dispose();
}
for (const l of report(stats)) console.log(l);
// BENCHMARKS.md's soak section (bench/report.mjs puts bench/out/soak.md in it).
{
  const s = stats;
  const md = [
    "## Soak (`make soak`)",
    "",
    `${s.artifacts.toLocaleString("en")} artifacts (+${s.tombstoned} tombstoned) from ${opts.clients} clients in ${opts.batch}-record requests while ${opts.readers} readers read, through ingest → the stand-in (rolls: preview ${n("SOAK_ROLL_PREVIEW_MS", 1250)} ms, build ${n("SOAK_ROLL_BUILD_MS", 7500)} ms, bulk ${n("SOAK_ROLL_BULK_MS", 30_000)} ms) → serve, the serving table split in two by key range, kept by the compact worker from the stand-in's event notifications, a second compact worker racing it and the catalog's compact / expire every ${opts.maintainEveryMs} ms (${JSON.stringify(s.maintenance)}).`,
    "",
    "| | |",
    "| --- | ---: |",
    `| acknowledged / committed rows | ${s.acknowledged.toLocaleString("en")} / ${s.committed.toLocaleString("en")} (expected ${s.expectedRows.toLocaleString("en")}) |`,
    `| read back exactly | ${s.readBack.ok.toLocaleString("en")} of ${s.artifacts.toLocaleString("en")}; tombstones 404: ${s.readBack.tombstonesOk} of ${s.tombstoned} |`,
    `| reads during the run (wrong) | ${s.during.reads} (${s.during.wrong}) |`,
    `| **the tail** (source snapshots after the serving watermarks, per table read during the run): p50 / p99 / max | ${s.during.tail.p50 ?? "–"} / ${s.during.tail.p99 ?? "–"} / ${s.during.tail.max ?? "–"} (${s.during.tail.reads} table reads) |`,
    `| read latency during the run, ms: p50 / p99 / max | ${s.during.ms.p50} / ${s.during.ms.p99} / ${s.during.ms.max} |`,
    `| seconds: ingest / read back / total | ${s.seconds.ingest} / ${s.seconds.readBack} / ${s.seconds.total} |`,
    `| load average (1 / 5 / 15 min) at the end, ${os.cpus().length} CPUs | ${os.loadavg().map((l) => l.toFixed(1)).join(" / ")} |`,
    "",
  ].join("\n");
  const { mkdirSync, writeFileSync } = await import("node:fs");
  mkdirSync(new URL("../bench/out/", import.meta.url), { recursive: true });
  writeFileSync(new URL("../bench/out/soak.md", import.meta.url), md);
}
const s = stats;
console.log("");
console.log(`sent          ${s.sent}`);
console.log(`acknowledged  ${s.acknowledged} (of which deduped ${s.deduped})`);
console.log(`committed     ${s.committed} rows (expected ${s.expectedRows})`);
console.log(`read back ok  ${s.readBack.ok} of ${s.artifacts} (+ ${s.readBack.tombstonesOk} of ${s.tombstoned} tombstones 404)`);
console.log(`mismatched    ${s.readBack.mismatched + s.readBack.tombstonesWrong}`);
console.log(`missing       ${s.readBack.missing}`);
console.log(`unanswered    ${s.transportErrors} requests (connection closed twice; ${s.resent} answered when resent)`);
const failed =
  s.lost > 0 || s.readBack.ok !== s.artifacts || s.during.wrong > 0 || s.fiveXX > 0 || s.problems.length > 0 ||
  Object.values(s.resets).some((r) => r !== 0);
console.log(failed ? "soak: FAILED" : "soak: ok, nothing lost");
process.exit(failed ? 1 : 0);
