// Helpers shared by the ingest specs: building bodies, posting them, and checking problem
// answers and the records the Pipelines double received.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { resets } from "./harness.mjs";
import { mint } from "./token.mjs";

export const PROBLEM_BASE = "https://artifacts.dev/problems/";
export const PROBLEM_TYPE = "application/problem+json";

/** Every column of the record contract (shared/src/record.rs COLUMNS), in order. */
export const COLUMNS = [
  "ns", "type", "id", "ts", "visibility", "owner_org", "owner_user",
  "markdown", "mdx", "html", "esm", "dts", "css", "mdast", "hast", "estree", "frontmatter",
  "inputs", "content_hash", "size_bytes", "deleted",
  // contract v2
  "supersedes", "tags", "expires_at",
];
const CONTENT = ["markdown", "mdx", "html", "esm", "dts", "css", "mdast", "hast", "estree", "frontmatter"];
const METADATA = ["inputs", "supersedes", "tags", "expires_at"];

let counter = 0;
/** A prefix unique to this process and call, so dedupe state never leaks between tests. */
export const fresh = (label = "t") => `${label}-${process.pid}-${Date.now().toString(36)}-${++counter}`;

/** A minimal valid client record in ns `docs`. */
export const rec = (id, extra = {}) => ({ ns: "docs", type: "guide", id, markdown: `# ${id}`, ...extra });

/** NDJSON text: objects are stringified, strings are taken as raw lines. */
export const ndjson = (lines) => lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n";

/**
 * POST /$.artifacts. `token: null` sends no Authorization; `mode` sets X-Artifact-Mode;
 * `idem` sets X-Idempotency-Key. Resolves to { status, headers, text, body (parsed JSON or undefined) }.
 */
export async function post(h, body, { token = mint(), mode, contentType = "application/x-ndjson", idem, headers = {}, init = {} } = {}) {
  const hdrs = { ...(contentType ? { "content-type": contentType } : {}), ...headers };
  if (token) hdrs.authorization = `Bearer ${token}`;
  if (mode !== undefined) hdrs["x-artifact-mode"] = mode;
  if (idem !== undefined) hdrs["x-idempotency-key"] = idem;
  const res = await h.ingest("/$.artifacts", { method: "POST", headers: hdrs, body, ...init });
  return read(res);
}

/** DELETE /$.artifacts/{path}. */
export async function del(h, path, { token = mint(), mode, headers = {} } = {}) {
  const hdrs = { ...headers };
  if (token) hdrs.authorization = `Bearer ${token}`;
  if (mode !== undefined) hdrs["x-artifact-mode"] = mode;
  return read(await h.ingest(`/$.artifacts/${path}`, { method: "DELETE", headers: hdrs }));
}

/** Any fetch Response as { status, headers, text, body (parsed JSON or undefined) }. */
export async function read(res) {
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

/** Asserts a problem+json answer with this status and slug; returns its body. */
export function assertProblem(r, status, slug, fields = {}) {
  assert.equal(r.status, status, `expected ${status} ${slug}, got ${r.status}: ${r.text}`);
  assert.equal(r.headers.get("content-type"), PROBLEM_TYPE);
  assert.ok(r.body, `problem body is JSON: ${r.text}`);
  assert.equal(r.body.type, PROBLEM_BASE + slug);
  assert.equal(r.body.status, status);
  assert.equal(typeof r.body.title, "string");
  assert.equal(typeof r.body.detail, "string");
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof RegExp) assert.match(String(r.body[k]), v, `problem field ${k}`);
    else assert.deepEqual(r.body[k], v, `problem field ${k}`);
  }
  return r.body;
}

/** Asserts a 200/207 JSON summary; `expected` is compared field by field. */
export function assertSummary(r, status, expected) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get("content-type"), /^application\/json/);
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(r.body[k], v, `summary field ${k}`);
  return r.body;
}

/** Asserts /$.health of the ingest worker reports no wasm reset (no trap during the spec). */
export async function assertNoTrap(h) {
  assert.equal(await resets(h.ingest), 0, "the ingest wasm instance trapped and was reset");
}

/** content_hash as shared/src/record.rs computes it: per present content field, then per present
 * metadata field (inputs, supersedes: JSON arrays; tags: canonical JSON; expires_at: decimal µs),
 * in column order, name, a 0 byte, u64 LE length, bytes. `content` maps field → stored text. */
export function contentHash(content) {
  const h = createHash("sha256");
  for (const name of [...CONTENT, ...METADATA]) {
    if (!(name in content)) continue;
    const value = Buffer.from(content[name]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(value.length));
    h.update(name).update(Buffer.from([0])).update(len).update(value);
  }
  return h.digest("hex");
}

/** Polls `cond` every 10 ms until it holds or `ms` pass. */
export async function until(cond, ms = 5000) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
