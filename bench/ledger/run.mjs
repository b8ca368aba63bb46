// `make bench-ledger` (#17): what the ledger buys and costs, measured on the built workers in
// Miniflare (real workerd, the real ledger Durable Objects on SQLite, KV under production's
// one-write-per-second limit).
//
// 1. Read-your-writes: time from a write's 200 to the first read that answers its exact body,
//    per mode (`BENCH_LEDGER_WRITES` writes each, one at a time, a new id each; the reader polls
//    every 20 ms with an ordinary GET, as a client would). Preview answers from the ledger's
//    pending copy; build and bulk only once the stand-in commits (its rolls here: build 2 s,
//    bulk 4 s — production's sink rolls at 60 s at least, so there a build write is readable
//    after ≥ 60 s and a preview one as here).
// 2. Operations per million records: a `BENCH_LEDGER_RECORDS`-record body (1 KB records, build
//    and preview) through ingest, counting ledger calls, rows written and KV operations
//    (`h.ops()`), scaled to a million records and priced with Cloudflare's published prices (KV
//    writes $5/M, KV reads $0.50/M, Durable Object requests $0.15/M, rows written $1/M), next to
//    what the design before the ledger did per record (one KV write, two KV reads).
// Writes bench/out/ledger.{md,json}.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { start } from "../../tests/support/harness.mjs";
import { mint } from "../../tests/support/token.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const WRITES = Number(process.env.BENCH_LEDGER_WRITES ?? 30);
const RECORDS = Number(process.env.BENCH_LEDGER_RECORDS ?? 10_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const token = mint({ org: "bench", sub: "b", scopes: ["write:*", "read:*"] });
const auth = { authorization: `Bearer ${token}` };

async function post(h, lines, mode) {
  const res = await h.ingest("/$.artifacts", {
    method: "POST",
    headers: { ...auth, "content-type": "application/x-ndjson", "x-artifact-mode": mode },
    body: lines.join("\n") + "\n",
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`ingest ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function readYourWrites() {
  const h = await start({
    standin: true,
    flushEveryMs: 100,
    standinVars: { ROLL_MS_PREVIEW: "1000", ROLL_MS_BUILD: "2000", ROLL_MS_BULK: "4000" },
    serveVars: { METADATA_TTL_SECONDS: "0" },
  });
  const out = {};
  try {
    for (const mode of ["preview", "build", "bulk"]) {
      const ms = [];
      for (let i = 0; i < WRITES; i++) {
        const id = `ryw-${mode}-${process.pid}-${i}`;
        const body = `# ${id} ${Math.random()}`;
        const rec = { ns: "bench", type: "page", id, visibility: "public", markdown: body };
        if (mode === "bulk") rec.ts = Date.now() * 1000;
        await post(h, [JSON.stringify(rec)], mode);
        const t0 = performance.now();
        for (let n = 0; n < 1500; n++) {
          const res = await h.serve(`/$.content/bench/page/${id}.md`, { headers: auth });
          const text = await res.text();
          if (res.status === 200 && text === body) break;
          await sleep(20);
        }
        ms.push(performance.now() - t0);
      }
      out[mode] = { writes: WRITES, p50_ms: Math.round(pct(ms, 0.5)), p99_ms: Math.round(pct(ms, 0.99)), max_ms: Math.round(Math.max(...ms)) };
      console.error(`read-your-writes ${mode}: p50 ${out[mode].p50_ms} ms, p99 ${out[mode].p99_ms} ms`);
    }
  } finally {
    await h.dispose();
  }
  return out;
}

async function operations() {
  const h = await start({ rateLimit: 1_000_000 });
  const out = {};
  try {
    const filler = "x".repeat(900);
    for (const mode of ["build", "preview"]) {
      await h.resetOps();
      const lines = [];
      for (let i = 0; i < RECORDS; i++) {
        lines.push(JSON.stringify({ ns: "bench", type: "page", id: `ops-${mode}-${i}`, visibility: "public", markdown: `# ${i}\n${filler}` }));
      }
      const t0 = performance.now();
      const r = await post(h, lines, mode);
      const secs = (performance.now() - t0) / 1000;
      await sleep(1500); // the alarms' KV writes, if any are due
      const ops = await h.ops();
      const calls = Object.values(ops.ledger.calls).reduce((a, b) => a + b, 0);
      const per = (n) => (n * 1_000_000) / RECORDS;
      const cost = {
        kv_writes: (per(ops.kv.put) * 5) / 1e6,
        kv_reads: (per(ops.kv.get) * 0.5) / 1e6,
        do_requests: (per(calls) * 0.15) / 1e6,
        do_rows: (per(ops.ledger.rows_written) * 1) / 1e6,
      };
      out[mode] = {
        records: RECORDS,
        accepted: r.accepted,
        seconds: Number(secs.toFixed(2)),
        ledger_calls: ops.ledger.calls,
        rows_written: ops.ledger.rows_written,
        kv: { get: ops.kv.get, put: ops.kv.put, refused: ops.kv.refused },
        per_million: { ledger_calls: per(calls), rows_written: per(ops.ledger.rows_written), kv_puts: per(ops.kv.put), kv_gets: per(ops.kv.get) },
        cost_per_million: { ...cost, total: Object.values(cost).reduce((a, b) => a + b, 0) },
      };
      console.error(`ops ${mode}: ${calls} ledger calls, ${ops.ledger.rows_written} rows, KV ${ops.kv.get} gets / ${ops.kv.put} puts`);
    }
  } finally {
    await h.dispose();
  }
  return out;
}

const ryw = await readYourWrites();
const ops = await operations();
// The design before the ledger, per record: one KV write (state) and two KV reads (dedupe before
// send(), the newest state after it), from ingest's code at the previous snapshot.
const before = { kv_writes: 5, kv_reads: 2 * 0.5, total: 6 };

const L = [];
L.push("## The ledger (#17)", "");
L.push(
  "Measured with `make bench-ledger` on the built workers in Miniflare (the real ledger Durable Objects on SQLite; KV under production's one-write-per-second limit).",
  "",
  "### Read-your-writes: from a write's 200 to the first read of its exact body",
  "",
  `One write at a time, a new id each (${WRITES} per mode); the reader polls every 20 ms with an ordinary GET. Preview answers from the ledger's pending copy; build and bulk wait for the stand-in's commit (its rolls here: 2 s and 4 s; production's sink rolls at 60 s at least, so there build and bulk take ≥ 60 s and preview what it takes here).`,
  "",
  "| mode | p50 ms | p99 ms | max ms |",
  "| --- | ---: | ---: | ---: |",
);
for (const [m, r] of Object.entries(ryw)) L.push(`| ${m} | ${r.p50_ms.toLocaleString("en")} | ${r.p99_ms.toLocaleString("en")} | ${r.max_ms.toLocaleString("en")} |`);
L.push(
  "",
  "### Operations and cost per million records",
  "",
  `A ${RECORDS.toLocaleString("en")}-record body of ~1 KB records through ingest (1 MB chunks, 16 shards), counted (\`h.ops()\`) and scaled to a million records; priced at KV writes $5/M, KV reads $0.50/M, Durable Object requests $0.15/M, rows written $1/M (Durable Object duration and the Pipelines GB, the same records in both designs, left out). *Before* is the design before the ledger: one KV write and two KV reads per record.`,
  "",
  "| mode | ledger calls / M | rows written / M | KV puts / M | KV gets / M | $ KV | $ DO requests | $ DO rows | **$ / M records** |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
);
for (const [m, r] of Object.entries(ops)) {
  const p = r.per_million;
  const c = r.cost_per_million;
  L.push(`| ${m} | ${Math.round(p.ledger_calls).toLocaleString("en")} | ${Math.round(p.rows_written).toLocaleString("en")} | ${Math.round(p.kv_puts).toLocaleString("en")} | ${Math.round(p.kv_gets).toLocaleString("en")} | ${(c.kv_writes + c.kv_reads).toFixed(2)} | ${c.do_requests.toFixed(3)} | ${c.do_rows.toFixed(2)} | **${c.total.toFixed(2)}** |`);
}
L.push(`| before the ledger | 0 | 0 | 1,000,000 | 2,000,000 | ${before.total.toFixed(2)} | 0 | 0 | **${before.total.toFixed(2)}** |`);
L.push(
  "",
  "Rows written are the ledger's per-key state (one per changed key) plus, in preview, the pending copy (and one more when the compact worker's `covered` trims it, not counted here); the KV generation writes come later from the alarms, only for keys a reader looked up since their last KV write (none here: nothing was read), so a read-heavy key adds up to one KV write and one row per write. Design and rules: docs/design/ledger.md.",
);
mkdirSync(path.join(root, "bench/out"), { recursive: true });
writeFileSync(path.join(root, "bench/out/ledger.json"), JSON.stringify({ read_your_writes: ryw, operations: ops, before }, null, 2) + "\n");
writeFileSync(path.join(root, "bench/out/ledger.md"), L.join("\n") + "\n");
console.error("wrote bench/out/ledger.md and ledger.json");
