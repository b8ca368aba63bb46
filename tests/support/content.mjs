// Helpers for the serve specs: reading `/$.content/…` answers (bytes kept exact), tokens for a
// fixture row's owner, RFC 3339 `ts`, and the "refused looks exactly like missing" comparison.
import assert from "node:assert/strict";
import net from "node:net";
import { resets } from "./harness.mjs";
import { PROBLEM_BASE, PROBLEM_TYPE, assertProblem } from "./ingest.mjs";
import { mint } from "./token.mjs";

export { PROBLEM_BASE, PROBLEM_TYPE, assertProblem };

/** Record columns whose text is JSON (served as JSON values by `.json`). */
export const JSON_TEXT = ["mdast", "hast", "estree", "frontmatter"];

/** A read token for `org`/`sub`. */
export const readToken = (org, sub = "reader") => mint({ org, sub, scopes: ["read:*"] });

/** A read token for the owner of a fixture row. */
export const ownerToken = (row) => readToken(row.owner_org, row.owner_user);

/** µs since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function rfc3339(us) {
  const secs = Math.floor(us / 1_000_000);
  const frac = us - secs * 1_000_000;
  return `${new Date(secs * 1000).toISOString().slice(0, 19)}.${String(frac).padStart(6, "0")}Z`;
}

/** The path of an artifact representation; segments are used as given (already encoded). */
export const contentPath = (key, ext) => `/$.content/${key}.${ext}`;

/**
 * GET (or `method`) a serve path. `token` adds a bearer token. Resolves to
 * { status, headers, bytes (Buffer), text, body (parsed JSON or undefined) }.
 */
export async function fetchContent(h, p, { token, method = "GET", headers = {} } = {}) {
  const hdrs = { ...headers };
  if (token) hdrs.authorization = `Bearer ${token}`;
  const res = await h.serve(p, { method, headers: hdrs });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString("utf8");
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, text, body };
}

/** Asserts a 200 whose body is exactly `expected` (string, compared as UTF-8 bytes). */
export function assertBytes(r, expected, contentType) {
  assert.equal(r.status, 200, `expected 200, got ${r.status}: ${r.text}`);
  assert.ok(r.bytes.equals(Buffer.from(expected, "utf8")), `body bytes: got ${JSON.stringify(r.text)}, want ${JSON.stringify(expected)}`);
  if (contentType instanceof RegExp) assert.match(r.headers.get("content-type") ?? "", contentType);
  else if (contentType) assert.equal(r.headers.get("content-type"), contentType);
}

/** Asserts a 502 problem naming `key` in its `key` member and its detail. */
export function assertBadObject(r, key) {
  assert.equal(r.status, 502, `expected 502 naming ${key}, got ${r.status}: ${r.text}`);
  assert.equal(r.headers.get("content-type"), PROBLEM_TYPE);
  assert.ok(r.body, `problem body is JSON: ${r.text}`);
  assert.ok(r.body.type?.startsWith(PROBLEM_BASE), `problem type: ${r.body.type}`);
  assert.equal(r.body.status, 502);
  assert.equal(typeof r.body.title, "string");
  assert.equal(r.body.key, key, `problem key member: ${r.text}`);
  assert.ok(String(r.body.detail).includes(key), `detail names ${key}: ${r.body.detail}`);
}

const LEAKS = /visib|forbidden|permission|denied|unauthori|owner|private|tombstone|deleted/i;

/**
 * Asserts `refused` (answer for `refusedKey`) is exactly what a missing artifact answers:
 * `missing` is the answer for `missingKey` (same ns/type, an id that does not exist, same
 * extension); every occurrence of the missing key is replaced by the refused one and the bodies
 * must then be equal. Neither may hint at visibility or deletion.
 */
export function assertLooksMissing(refused, missing, refusedKey, missingKey) {
  assertProblem(missing, 404, "not-found");
  assertProblem(refused, 404, "not-found");
  const want = JSON.parse(missing.text.split(missingKey).join(refusedKey));
  assert.deepEqual(refused.body, want, `refused body ${refused.text} differs from missing body ${missing.text}`);
  assert.equal(refused.headers.get("cache-control"), missing.headers.get("cache-control"), "cache-control differs");
  assert.equal(refused.headers.has("etag"), missing.headers.has("etag"), "etag presence differs");
  assert.doesNotMatch(refused.text, LEAKS);
  assert.doesNotMatch(missing.text, LEAKS);
}

/** Asserts serve's wasm instance never trapped. */
export async function assertServeHealthy(h) {
  const res = await h.serve("/$.health");
  assert.equal(res.status, 200);
  assert.equal(await resets(h.serve), 0, "the serve wasm instance trapped and was reset");
}

/** A TCP port free right now (for `ports: { serve }`). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * A raw HTTP/1.1 GET of `p` exactly as written (no URL normalisation, unlike fetch): for paths
 * such as `/$.content/docs/%2e%2e/x.md`. Resolves to { status, headers (lower-cased), text, body }.
 */
export function rawGet(port, p) {
  return rawRequest(port, `GET ${p} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
}

/**
 * A raw HTTP/1.1 POST of `p` whose body is `pieces` (Buffers or strings), sent with the given
 * `contentLength` or chunked when it is null. The server may answer (a 413, say) and close before
 * the body is all sent — unlike fetch, that is an answer here, not an error.
 */
export function rawPost(port, p, pieces, { headers = {}, contentLength = null, paceMs = 0 } = {}) {
  const head = [`POST ${p} HTTP/1.1`, "Host: localhost", "Connection: close"];
  for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
  head.push(contentLength === null ? "Transfer-Encoding: chunked" : `Content-Length: ${contentLength}`);
  const frames = pieces.map((b) => (contentLength === null ? Buffer.concat([Buffer.from(`${Buffer.byteLength(b).toString(16)}\r\n`), Buffer.from(b), Buffer.from("\r\n")]) : Buffer.from(b)));
  if (contentLength === null) frames.push(Buffer.from("0\r\n\r\n"));
  return rawRequest(port, `${head.join("\r\n")}\r\n\r\n`, frames, paceMs);
}

/** `paceMs` > 0 waits that long after each frame: a server that stops reading part-way (a body
 * over its bound) then answers while nothing of ours is unread, so its close is not a reset that
 * could discard the answer before we read it. */
function rawRequest(port, head, frames = [], paceMs = 0) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect(port, "127.0.0.1", async () => {
      s.write(head);
      // As a client sending `Expect: 100-continue` would: give the server a moment to refuse by
      // the headers alone, so a reset caused by the unread body cannot swallow its answer.
      if (frames.length) await new Promise((r) => { s.once("data", r); setTimeout(r, 2_000); });
      for (const f of frames) {
        if (s.destroyed || chunks.length) break; // answered already: stop sending
        if (!s.write(f)) await new Promise((r) => s.once("drain", r).once("close", r));
        if (paceMs) await new Promise((r) => setTimeout(r, paceMs));
      }
    });
    s.setTimeout(30_000, () => s.destroy(new Error("raw request timed out")));
    s.on("data", (c) => chunks.push(c));
    // A reset after the answer arrived (the server stopped reading a body it refused) is fine.
    s.on("error", (e) => (chunks.length ? s.emit("end") : reject(e)));
    s.on("end", () => {
      if (s.answered) return;
      s.answered = true;
      const all = Buffer.concat(chunks).toString("utf8");
      const [head, ...rest] = all.split("\r\n\r\n");
      const [statusLine, ...lines] = head.split("\r\n");
      const map = new Map(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      let text = rest.join("\r\n\r\n");
      if (/chunked/i.test(map.get("transfer-encoding") ?? "")) {
        let out = "";
        let t = text;
        for (;;) {
          const nl = t.indexOf("\r\n");
          const n = parseInt(t.slice(0, nl), 16);
          if (!n) break;
          out += t.slice(nl + 2, nl + 2 + n);
          t = t.slice(nl + 2 + n + 2);
        }
        text = out;
      }
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers: { get: (k) => map.get(k.toLowerCase()) ?? null, has: (k) => map.has(k.toLowerCase()) }, text, body });
    });
  });
}
