// The ingest bench bodies: deterministic NDJSON of realistic records, written once to a file so
// the worker (in Miniflare) and the native peer (tools/src/bin/bench_ingest_native.rs) read the
// same bytes. Records look like what a docs build sends (see tests/support/ingest.mjs `rec` and
// docs/records.md): markdown of a few hundred bytes to ~20 KB with code, quotes, backslashes and
// non-ASCII text; html for some; a frontmatter object for most; an mdast tree for some; inputs.
import { createWriteStream, existsSync, statSync } from "node:fs";
import { once } from "node:events";

/** Bump when the generator changes, so cached bodies are rebuilt. */
export const BODY_VERSION = 1;

/** mulberry32: small, seedable, good enough for shaping test data (the specs use it too). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the artifact store keeps every build output of a docs site readable at the edge while ingest validates records " +
  "streams them to pipelines and serve reads parquet files through iceberg metadata with a cache in front " +
  "worker request response chunk table manifest snapshot schema field column value page footer row group " +
  "café naïve über straße 日本語 文書 ドキュメント привет мир 🚀 ✨"
).split(" ");
const NS = ["docs", "blog", "api", "guides"];
const TYPES = ["guide", "page", "reference", "component", "changelog"];

function words(r, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(r() * WORDS.length)]);
  return out.join(" ");
}

function markdown(r, targetBytes) {
  const parts = [`# ${words(r, 4)}\n`];
  let size = parts[0].length;
  while (size < targetBytes) {
    const k = r();
    let p;
    if (k < 0.6) p = `${words(r, 20 + Math.floor(r() * 60))}.\n\n`;
    else if (k < 0.75) p = `## ${words(r, 3)}\n\n`;
    else if (k < 0.9) p = "```js\nconst path = \"C:\\\\artifacts\\\\" + words(r, 1) + "\";\nconsole.log(`${path}`, { ok: true });\n```\n\n";
    else p = `- [${words(r, 2)}](/${NS[0]}/${TYPES[0]}/${words(r, 1)}) — "${words(r, 3)}"\n`;
    parts.push(p);
    size += p.length;
  }
  return parts.join("");
}

function mdast(r, depth = 0) {
  const children = [];
  const n = depth > 2 ? 0 : 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) children.push(mdast(r, depth + 1));
  const node = { type: depth === 0 ? "root" : ["paragraph", "heading", "text", "list"][Math.floor(r() * 4)] };
  if (children.length) node.children = children;
  else node.value = words(r, 6);
  node.position = { start: { line: depth + 1, column: 1, offset: depth * 10 }, end: { line: depth + 2, column: 8, offset: depth * 10 + 40 } };
  return node;
}

/** One record (an object) for index `i`. */
export function record(r, i) {
  // Log-uniform markdown size, 300 B to ~20 KB (mean ~4.5 KB).
  const mdBytes = Math.floor(300 * Math.exp(r() * Math.log(20_000 / 300)));
  const rec = {
    ns: NS[i % NS.length],
    type: TYPES[Math.floor(r() * TYPES.length)],
    id: `bench-${String(i).padStart(7, "0")}`,
    markdown: markdown(r, mdBytes),
  };
  if (r() < 0.3) rec.html = `<article><h1>${words(r, 4)}</h1><p class="lead">${words(r, 40)}</p></article>`;
  if (r() < 0.7) rec.frontmatter = { title: words(r, 5), tags: [words(r, 1), words(r, 1)], draft: r() < 0.1, order: Math.floor(r() * 100) };
  if (r() < 0.15) rec.mdast = mdast(r);
  if (r() < 0.5) {
    rec.inputs = [];
    for (let k = Math.floor(r() * 3); k >= 0; k--) rec.inputs.push(`${NS[k % NS.length]}/source/file-${Math.floor(r() * 1e6)}.md`);
  }
  if (r() < 0.2) rec.visibility = "public";
  return rec;
}

/**
 * Writes `path`: lines of records until the next one would pass `targetBytes`. Reuses an
 * existing file of the same name (the name carries the size and BODY_VERSION). Returns
 * { path, bytes, records }.
 */
export async function ensureBody(path, targetBytes) {
  const r = rng(0x5eed + targetBytes);
  if (existsSync(path)) {
    const bytes = statSync(path).size;
    if (bytes > targetBytes * 0.99 && bytes <= targetBytes) return { path, bytes, records: null };
  }
  const out = createWriteStream(path);
  let bytes = 0;
  let records = 0;
  let batch = [];
  let batchBytes = 0;
  for (;;) {
    const line = JSON.stringify(record(r, records)) + "\n";
    const n = Buffer.byteLength(line);
    if (bytes + n > targetBytes) break;
    batch.push(line);
    batchBytes += n;
    bytes += n;
    records += 1;
    if (batchBytes > 1 << 20) {
      if (!out.write(batch.join(""))) await once(out, "drain");
      batch = [];
      batchBytes = 0;
    }
  }
  out.end(batch.join(""));
  await once(out, "finish");
  return { path, bytes, records };
}
