// `make bench-links` (#18): what supersede costs a read, measured on the built workers in
// Miniflare (the stand-in commits and compacts; the serving table's edge table holds the
// supersede edges; the ledger holds the successor stamps).
//
// 1. A cache miss (`?fresh=1`, so every read is one) of an artifact never superseded, of a
//    superseded one (its successor looked up: the edge tables, then the successor's row) and of a
//    successor (its `supersedes` read, then each predecessor's row): the object reads it asked for
//    (Server-Timing `fetches`, the isolate's cache of immutable reads included: the work, whether
//    or not R2 was reached) and time, medians over the ids, the three kinds interleaved so the
//    isolate's caches are as warm for each.
// 2. A listing page (`limit=100`) of a type where every tenth artifact is superseded against one
//    of a type with no supersede edges: R2 reads (Server-Timing `r2-reads`) cold (the first
//    request of a new stack: pointer, roots, index regions, pages all read) and warm (the same
//    request again). Status reads the edge tables a window at a time (two `_lookup` pages), not
//    per row.
// `BENCH_LINKS_IDS` (100) artifacts per type. Writes bench/out/links.{md,json}.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { start } from "../../tests/support/harness.mjs";
import { mint } from "../../tests/support/token.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const IDS = Number(process.env.BENCH_LINKS_IDS ?? 100);
const token = mint({ org: "bench", sub: "b", scopes: ["write:*", "read:*"] });
const auth = { authorization: `Bearer ${token}` };
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const pad = (i) => String(i).padStart(4, "0");

async function post(h, recs) {
  const res = await h.ingest("/$.artifacts", {
    method: "POST",
    headers: { ...auth, "content-type": "application/x-ndjson", "x-artifact-mode": "build" },
    body: recs.map((r) => JSON.stringify(r)).join("\n") + "\n",
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`ingest ${res.status}: ${text.slice(0, 300)}`);
}

/** R2 reads (Server-Timing) and wall ms of one GET; asserts a 200 and, when given, the Link count. */
async function measure(h, p, links) {
  const t0 = performance.now();
  const res = await h.serve(p, { headers: auth });
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
  const got = (res.headers.get("link") ?? "").split(", ").filter(Boolean).length;
  if (links !== undefined && got !== links) throw new Error(`${p}: ${got} links, want ${links}`);
  const timing = res.headers.get("server-timing") ?? "";
  const reads = Number(/r2-reads;desc="(\d+)"/.exec(timing)?.[1] ?? NaN);
  const fetches = Number(/fetches;desc="(\d+)/.exec(timing)?.[1] ?? NaN);
  return { reads, fetches, ms };
}

const rec = (type, id, extra = {}) => ({ ns: "bench", type, id, visibility: "public", markdown: `# ${id}\n\n${"text ".repeat(200)}`, ...extra });
const superseded = [];
for (let i = 0; i < IDS; i += 10) superseded.push(`p${pad(i)}`);

/** A new stack holding the bench's artifacts, committed and compacted. */
async function stack() {
  const h = await start({ standin: true, standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" } });
  const recs = [];
  for (let i = 0; i < IDS; i++) {
    recs.push(rec("page", `p${pad(i)}`));
    recs.push(rec("flat", `f${pad(i)}`));
  }
  // Every tenth page superseded by a successor of the same type.
  for (const id of superseded) recs.push(rec("page", `${id}-next`, { supersedes: [`bench/page/${id}`] }));
  await post(h, recs);
  await h.flush();
  return h;
}

/** A listing page's R2 reads in a new stack (cold), then again (warm). */
async function listing(type) {
  const h = await stack();
  try {
    const cold = await measure(h, `/$.content/bench/${type}/?limit=100`);
    const warm = await measure(h, `/$.content/bench/${type}/?limit=100`);
    return { cold: cold.reads, warm: warm.reads, warm_ms: Math.round(warm.ms * 10) / 10 };
  } finally {
    await h.dispose();
  }
}

async function main() {
  const h = await stack();
  try {
    const plain = [];
    for (let i = 1; i < IDS && plain.length < superseded.length; i += 10) plain.push(`p${pad(i)}`);
    const kinds = { plain: [], superseded: [], successor: [] };
    for (let j = 0; j < superseded.length; j++) {
      kinds.plain.push(await measure(h, `/$.content/bench/page/${plain[j]}.md?fresh=1`, 0));
      kinds.superseded.push(await measure(h, `/$.content/bench/page/${superseded[j]}.md?fresh=1`, 1));
      kinds.successor.push(await measure(h, `/$.content/bench/page/${superseded[j]}-next.md?fresh=1`, 1));
    }
    const misses = Object.fromEntries(
      Object.entries(kinds).map(([k, xs]) => [
        k,
        { fetches: median(xs.map((x) => x.fetches)), r2_reads: median(xs.map((x) => x.reads)), ms: Math.round(median(xs.map((x) => x.ms)) * 10) / 10, n: xs.length },
      ]),
    );
    await h.dispose();
    const lists = { flat: await listing("flat"), page: await listing("page") };
    const out = { ids: IDS, superseded: superseded.length, misses, listing: lists };
    mkdirSync(path.join(root, "bench/out"), { recursive: true });
    writeFileSync(path.join(root, "bench/out/links.json"), JSON.stringify(out, null, 2) + "\n");
    const L = [
      `${IDS} artifacts per type in the serving table (one stand-in commit, compacted), every tenth \`page\` superseded by a successor of the same type; reads through serve in Miniflare with \`?fresh=1\` (every read a miss; the isolate's caches warm), medians over ${superseded.length} ids of each kind, interleaved.`,
      "",
      "| a cache miss of | object reads asked for (isolate cache included) | of them R2 | ms | Link headers |",
      "| --- | --- | --- | --- | --- |",
      `| an artifact never superseded | ${misses.plain.fetches} | ${misses.plain.r2_reads} | ${misses.plain.ms} | 0 |`,
      `| a superseded artifact (edge tables, then the successor's row) | ${misses.superseded.fetches} | ${misses.superseded.r2_reads} | ${misses.superseded.ms} | 1 |`,
      `| a successor (its \`supersedes\`, then the predecessor's row) | ${misses.successor.fetches} | ${misses.successor.r2_reads} | ${misses.successor.ms} | 1 |`,
      "",
      "| a listing page of 100 | R2 reads cold | R2 reads warm | ms warm |",
      "| --- | --- | --- | --- |",
      `| a type with no supersede edges | ${lists.flat.cold} | ${lists.flat.warm} | ${lists.flat.warm_ms} |`,
      `| every tenth row superseded (status from the edge tables, a window at a time) | ${lists.page.cold} | ${lists.page.warm} | ${lists.page.warm_ms} |`,
    ];
    writeFileSync(path.join(root, "bench/out/links.md"), L.join("\n") + "\n");
    console.error(L.join("\n"));
  } finally {
    await h.dispose().catch(() => {});
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
