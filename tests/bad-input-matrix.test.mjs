// The bad-input matrix: every malformed, hostile or corrupt input both workers must refuse, as one
// table. Each row names the request, the expected status and the problem+json `type` and key
// members (line numbers, fields, object keys). Many rows repeat cases of the per-feature specs on
// purpose: this is the one place that lists them all.
//
// Three kinds of rows:
// - `ingest`: POST/DELETE against the ingest worker; nothing may reach the Pipelines double.
// - `serve`: requests against serve over an intact fixture table (paths, tokens, signed URLs).
// - `table`: a fixture table with one object corrupted in R2 before any read, each in its own
//   Miniflare (isolate caches must not hide the corruption); the answer is a 502 naming the key.
// Every Miniflare ends by asserting zero wasm resets for both workers.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { gzipSync } from "node:zlib";
import { resets, AUTH_SECRET } from "./support/harness.mjs";
import { mint, tamper, claimsOf, signedQuery } from "./support/token.mjs";
import { post, del, read, rec, ndjson, fresh, PROBLEM_BASE, PROBLEM_TYPE } from "./support/ingest.mjs";
import { startWarehouse, fixtureBytes, fixtureKeys, overwrite, remove, garbage, LOCATION_PREFIX } from "./support/warehouse.mjs";
import { readToken, fetchContent as get, freePort, rawGet, rawPost } from "./support/content.mjs";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// Ingest settings for the matrix: small chunks make "a record over the size limit" cheap to build.
const CHUNK = 4096;
const MAX_RECORD = CHUNK - 1024; // settings.rs: a record must fit a chunk with room for stamps
const MAX_INFLATED = 1_000_000;
const INGEST_VARS = { CHUNK_BYTES: String(CHUNK), MAX_INFLATED_BYTES: String(MAX_INFLATED) };

const T = "artifacts/pyi_unpartitioned";
const U = `${T}/metadata`;
const KEYS = {
  metadata: `${U}/00005-a54897e8-c779-48b1-93cd-b86041068f6a.metadata.json`,
  manifestList: `${U}/snap-1311625791730053213-0-455c3fb2-012c-42d2-bfe0-d7e5b3556ce4.avro`,
  manifest: `${U}/455c3fb2-012c-42d2-bfe0-d7e5b3556ce4-m0.avro`,
  dataFile: `${T}/data/00000-0-455c3fb2-012c-42d2-bfe0-d7e5b3556ce4.parquet`,
};
const GAMMA = "/$.content/docs/guide/0123456789abcdef-gamma.md"; // lives in KEYS.dataFile
const HOME = "/$.content/team@acme.dev/page/home.md"; // public
const acme = () => readToken("acme", "alice");
const nowSecs = () => Math.floor(Date.now() / 1000);

/** A ReadableStream of the given pieces (Buffers), one enqueue each: a chunked request body. */
function pieces(...parts) {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i >= parts.length) return c.close();
      c.enqueue(new Uint8Array(parts[i++]));
    },
  });
}

/** A signed-URL query for `p` expiring at `exp`, signed for acme/alice (shared/src/signed.rs). */
const signQuery = (p, exp, secret = AUTH_SECRET) => signedQuery(p, exp, { secret });

/** `bytes` with the unsigned varint at `at` replaced by the largest value of the same length. */
function maxVarint(bytes, at) {
  const out = Buffer.from(bytes);
  let i = at;
  while (out[i] & 0x80) out[i++] = 0xff;
  out[i] = 0x7f;
  return out;
}

/** The first Parquet page header (right after the leading `PAR1`): offsets of its size varints. */
function firstPageSizes(bytes) {
  // Thrift compact: field 1 (type, i32) 0x15 varint, field 2 (uncompressed_page_size) 0x15
  // varint, field 3 (compressed_page_size) 0x15 varint.
  assert.equal(bytes.toString("latin1", 0, 4), "PAR1");
  let i = 4;
  const field = () => {
    assert.equal(bytes[i], 0x15, `page header field at ${i}`);
    const at = i + 1;
    i = at;
    while (bytes[i] & 0x80) i++;
    i++;
    return at;
  };
  field(); // type
  return { uncompressed: field(), compressed: field() };
}

/** `bytes` with the zigzag varint at `at` replaced by the largest even (positive) value of the
 * same length: a count or size that lies without shifting any other byte. */
function maxZigzag(bytes, at) {
  const out = maxVarint(bytes, at);
  out[at] &= 0xfe;
  return out;
}

/** Offsets of the first Avro block's record count and byte size (right after the header's sync
 * marker, which is also the file's last 16 bytes). */
function firstAvroBlock(bytes) {
  const at = bytes.indexOf(bytes.subarray(bytes.length - 16)) + 16;
  let i = at;
  while (bytes[i] & 0x80) i++;
  return { count: at, size: i + 1 };
}

// ─── the table ───────────────────────────────────────────────────────────────────────────────

const CASES = [];
const row = (on, name, spec) => CASES.push({ on, name, ...spec });
const ingest = (name, spec) => row("ingest", name, spec);
const serve = (name, spec) => row("serve", name, spec);
const table = (name, spec) => row("table", name, spec);
const rejected = (line, field, reason) => ({ line, ...(field ? { field } : {}), reason });

// Ingest: bodies, one bad record each (a body whose every line is bad is a 400 invalid-records).
ingest("malformed JSON line", {
  req: (h) => post(h, "{oops\n"), status: 400, type: "invalid-records",
  fields: { accepted: 0, rejected: 1 }, lines: [[1, undefined, /^invalid JSON/]],
});
ingest("a JSON object cut short", {
  req: (h) => post(h, '{"ns":"docs","type":"guide","id":"x"\n'), status: 400, type: "invalid-records", lines: [[1, undefined, /^invalid JSON/]],
});
ingest("a NUL byte inside a line", {
  req: (h) => post(h, Buffer.from('{"ns":"docs",\u0000"type":"guide"}\n')), status: 400, type: "invalid-records", lines: [[1, undefined, /^invalid JSON/]],
});
ingest("JSON nested 1,000 deep (recursion limit, no stack overflow)", {
  req: (h) => post(h, ndjson([`{"ns":"docs","type":"guide","id":"deep","mdast":${"[".repeat(1_000)}${"]".repeat(1_000)}}`])),
  status: 400, type: "invalid-records", lines: [[1, undefined, /^invalid JSON/]],
});
ingest("a UTF-8 byte-order mark before the first record", {
  req: (h) => post(h, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ndjson([rec("bom")]))])), status: 400, type: "invalid-records",
  lines: [[1, undefined, /^invalid JSON/]],
});
ingest("a line split inside a UTF-8 sequence across body chunks (reassembled: the field name survives)", {
  req: (h) => {
    const line = Buffer.from(JSON.stringify(rec("split", { "colouré": 1 })) + "\n");
    const cut = line.indexOf(Buffer.from("é")) + 1; // between the two bytes of é
    return post(h, pieces(line.subarray(0, cut), line.subarray(cut)), { init: { duplex: "half" } });
  },
  status: 400, type: "invalid-records", lines: [[1, "colouré", "is not a field of the record"]],
});
ingest("invalid UTF-8 in a line", {
  req: (h) => post(h, Buffer.concat([Buffer.from('{"ns":"docs","type":"guide","id":"x","markdown":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')])),
  status: 400, type: "invalid-records", lines: [[1, undefined, "line is not valid UTF-8"]],
});
ingest("an overlong UTF-8 encoding of / (C0 AF)", {
  req: (h) => post(h, Buffer.concat([Buffer.from('{"ns":"docs","type":"guide","id":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from('b","css":""}\n')])),
  status: 400, type: "invalid-records", lines: [[1, undefined, "line is not valid UTF-8"]],
});
ingest(`a line longer than the record limit (${MAX_RECORD} bytes)`, {
  req: (h) => post(h, ndjson([rec(fresh("long"), { markdown: "y".repeat(MAX_RECORD + 10) })])), status: 400, type: "invalid-records",
  lines: [[1, undefined, "line is longer than the limit"]],
});
ingest("a record that fits the line limit but outgrows a send chunk once stamped (JSON-text escaping)", {
  // mdast travels as JSON text: every `\"` in the line becomes `\\\"` in the chunk.
  req: (h) => post(h, ndjson([{ ns: "docs", type: "guide", id: fresh("grow"), mdast: ['"'.repeat(Math.floor((MAX_RECORD - 120) / 2))] }])),
  status: 400, type: "invalid-records", lines: [[1, undefined, "record is larger than a send chunk"]],
});
ingest("an unknown field", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { colour: "red" })])), status: 400, type: "invalid-records", lines: [[1, "colour", "is not a field of the record"]],
});
ingest("owner_org sent by the client", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { owner_org: "evil" })])), status: 400, type: "invalid-records", lines: [[1, "owner_org", "is set by ingest and may not be sent"]],
});
ingest("content_hash sent by the client", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { content_hash: "0".repeat(64) })])), status: 400, type: "invalid-records",
  lines: [[1, "content_hash", "is set by ingest and may not be sent"]],
});
ingest("path-traversal ns ..", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { ns: ".." })])), status: 400, type: "invalid-records", lines: [[1, "ns", "must not be . or .."]],
});
ingest("ns with a slash (docs/../x)", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { ns: "docs/../x" })])), status: 400, type: "invalid-records",
  lines: [[1, "ns", "may only contain letters, digits and - _ . @ +"]],
});
ingest("an empty id", {
  req: (h) => post(h, ndjson([rec("")])), status: 400, type: "invalid-records", lines: [[1, "id", "must not be empty"]],
});
ingest("an id with CR LF (header injection)", {
  req: (h) => post(h, ndjson([rec("a\r\nSet-Cookie: x=1")])), status: 400, type: "invalid-records", lines: [[1, "id", /./]],
});
ingest("a record that is not an object", {
  req: (h) => post(h, "[1]\n"), status: 400, type: "invalid-records", lines: [[1, undefined, "a record must be a JSON object"]],
});
ingest("a record without content", {
  req: (h) => post(h, ndjson([{ ns: "docs", type: "guide", id: fresh("x") }])), status: 400, type: "invalid-records",
  lines: [[1, undefined, "a record needs at least one content field (or deleted: true)"]],
});
ingest("an unknown visibility", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { visibility: "world" })])), status: 400, type: "invalid-records",
  lines: [[1, "visibility", "must be public, unlisted, org or user"]],
});
ingest("ts sent in build mode", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { ts: 5 })])), status: 400, type: "invalid-records",
  lines: [[1, "ts", "is stamped by ingest; only bulk mode accepts it"]],
});
ingest("a ts that is not a time (bulk mode)", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { ts: "yesterday" })]), { mode: "bulk" }), status: 400, type: "invalid-records", fields: { mode: "bulk" },
  lines: [[1, "ts", "must be RFC 3339 or integer microseconds"]],
});
ingest("a float ts out of range (bulk mode)", {
  req: (h) => post(h, `{"ns":"docs","type":"guide","id":"f","css":"","ts":1e300}\n`, { mode: "bulk" }), status: 400, type: "invalid-records",
  lines: [[1, "ts", "must be integer microseconds"]],
});
ingest("a JSON array element longer than the record limit", {
  req: (h) => post(h, JSON.stringify([rec(fresh("arr"), { markdown: "q".repeat(MAX_RECORD + 10) })]), { contentType: "application/json" }),
  status: 400, type: "invalid-records", lines: [[1, undefined, "array element is longer than the limit"]],
});
ingest("a duplicated key whose last value is a traversal ns", {
  req: (h) => post(h, `{"ns":"docs","type":"guide","id":"dup","css":"","ns":".."}\n`), status: 400, type: "invalid-records",
  lines: [[1, "ns", "must not be . or .."]],
});
ingest("an inputs entry that climbs out (../x/y)", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { inputs: ["../x/y"] })])), status: 400, type: "invalid-records", lines: [[1, "inputs", /./]],
});
ingest("deleted that is not a boolean", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { deleted: "yes" })])), status: 400, type: "invalid-records", lines: [[1, "deleted", "must be a boolean"]],
});
ingest("a content field that is not a string", {
  req: (h) => post(h, ndjson([rec(fresh("x"), { markdown: 5 })])), status: 400, type: "invalid-records", lines: [[1, "markdown", "must be a string"]],
});
ingest("a JSON array body cut short", {
  req: (h) => post(h, `[${JSON.stringify(rec(fresh("arr")))}, {"ns":`, { contentType: "application/json" }), status: 400, type: "malformed-body",
  fields: { valid_before_stop: 1 },
});
ingest("application/json that is not an array", {
  req: (h) => post(h, JSON.stringify(rec(fresh("obj"))), { contentType: "application/json" }), status: 400, type: "malformed-body",
  fields: { detail: "body is not a JSON array", valid_before_stop: 0 },
});
ingest("an empty body", { req: (h) => post(h, ""), status: 400, type: "empty-body", fields: { accepted: 0, rejected: 0 } });
ingest("Content-Type text/plain", {
  req: (h) => post(h, Buffer.from(ndjson([rec(fresh("tp"))])), { contentType: "text/plain" }), status: 415, type: "unsupported-media-type",
  fields: { detail: "send application/x-ndjson or application/json" },
});
ingest("no Content-Type", {
  req: (h) => post(h, Buffer.from(ndjson([rec(fresh("tp"))])), { contentType: null }), status: 415, type: "unsupported-media-type",
});
ingest("Content-Encoding br", {
  req: (h) => post(h, ndjson([rec(fresh("br"))]), { headers: { "content-encoding": "br" } }), status: 415, type: "unsupported-encoding",
  fields: { detail: "Content-Encoding br is not supported; use gzip" },
});
ingest("a gzip bomb (50 MB of newlines in ~50 KB)", {
  req: (h) => post(h, gzipSync(Buffer.alloc(50 * 1024 * 1024, "\n"), { level: 9 }), { headers: { "content-encoding": "gzip" } }),
  status: 413, type: "body-too-large", fields: { limit: MAX_INFLATED, detail: `the inflated body is larger than ${MAX_INFLATED} bytes` },
});
ingest("a truncated gzip body", {
  req: (h) => {
    const full = gzipSync(ndjson(Array.from({ length: 20 }, () => rec(fresh("trunc")))));
    return post(h, full.subarray(0, full.length - 8), { headers: { "content-encoding": "gzip" } });
  },
  // Chunks filled before the cut are valid records and stay sent (docs/ingest.md).
  status: 400, type: "bad-gzip", fields: { detail: "the gzip body is invalid or truncated" }, mayForward: /^trunc-/,
});
ingest("a body labelled gzip that is not gzip", {
  req: (h) => post(h, ndjson([rec(fresh("plain"))]), { headers: { "content-encoding": "gzip" } }), status: 400, type: "bad-gzip",
});
ingest("an unknown X-Artifact-Mode", {
  req: (h) => post(h, ndjson([rec(fresh("m"))]), { mode: "staging" }), status: 400, type: "unknown-mode",
});
ingest("an idempotency key with a non-ASCII character", {
  req: (h) => post(h, ndjson([rec(fresh("k"))]), { headers: { "x-idempotency-key": "caf\u00e9" } }), status: 400, type: "bad-idempotency-key",
});
ingest("an idempotency key over 256 bytes", {
  req: (h) => post(h, ndjson([rec(fresh("k"))]), { idem: "k".repeat(257) }), status: 400, type: "bad-idempotency-key",
});
{
  const key = fresh("idem");
  const first = ndjson([rec(fresh("idem-a"))]);
  ingest("the same idempotency key, same org, another body", {
    setup: async (h) => assert.equal((await post(h, first, { idem: key })).status, 200),
    req: (h) => post(h, ndjson([rec(fresh("idem-b"))]), { idem: key }), status: 422, type: "idempotency-mismatch",
  });
  ingest("the same idempotency key from another org is not a replay (its own bad body is judged)", {
    setup: async (h) => assert.equal((await post(h, first, { idem: key })).status, 200), // replay or first: acme's answer is stored
    req: (h) => post(h, ndjson([rec("")]), { idem: key, token: mint({ org: "globex" }) }), status: 400, type: "invalid-records",
    lines: [[1, "id", "must not be empty"]], absent: ["x-idempotency-replayed"],
  });
}
ingest("no token", {
  req: (h) => post(h, ndjson([rec(fresh("a"))]), { token: null }), status: 401, type: "unauthorized",
  fields: { detail: "an Authorization: Bearer token is required" }, headers: { "www-authenticate": /^Bearer/ },
});
ingest("an expired token", {
  req: (h) => post(h, ndjson([rec(fresh("a"))]), { token: mint({ exp: nowSecs() - 5 }) }), status: 401, type: "invalid-token",
  fields: { detail: "The token has expired." }, headers: { "www-authenticate": /error="invalid_token"/ },
});
ingest("a tampered token (org changed after signing)", {
  req: (h) => {
    const good = mint();
    return post(h, ndjson([rec(fresh("a"))]), { token: tamper(good, { ...claimsOf(good), org: "globex" }) });
  },
  status: 401, type: "invalid-token", fields: { detail: "The token's signature is not valid." },
});
ingest('alg "none" with an empty signature', {
  req: (h) => post(h, ndjson([rec(fresh("a"))]), { token: mint({}, { header: { alg: "none", typ: "JWT" }, signature: "" }) }),
  status: 401, type: "invalid-token", fields: { detail: "The token's algorithm is not supported; only HS256 is accepted." },
});
ingest('alg "RS256" header, HMAC-signed with the secret (key confusion)', {
  req: (h) => post(h, ndjson([rec(fresh("a"))]), { token: mint({}, { header: { alg: "RS256", typ: "JWT" } }) }),
  status: 401, type: "invalid-token", fields: { detail: "The token's algorithm is not supported; only HS256 is accepted." },
});
ingest("a token signed with another secret", {
  req: (h) => post(h, ndjson([rec(fresh("a"))]), { token: mint({}, { secret: "not-the-secret" }) }), status: 401, type: "invalid-token",
  fields: { detail: "The token's signature is not valid." },
});
ingest("a token not valid yet (nbf in the future)", {
  req: (h) => post(h, ndjson([rec(fresh("a"))]), { token: mint({ nbf: nowSecs() + 3600 }) }), status: 401, type: "invalid-token",
  fields: { detail: "The token is not valid yet (its nbf is in the future)." },
});
ingest("a token over 4096 bytes", {
  req: (h) => post(h, ndjson([rec(fresh("a"))]), { token: mint({ sub: "x".repeat(5000) }) }), status: 401, type: "invalid-token",
  fields: { detail: "The token is longer than the 4096 bytes accepted." },
});
ingest("a token without write scope for the ns", {
  req: (h) => post(h, ndjson([rec(fresh("a"))]), { token: mint({ scopes: ["write:blog"] }) }), status: 403, type: "forbidden",
  lines: [[1, "ns", "the token has no write scope for namespace docs"]],
});
ingest("more records than the tenant's max_artifacts_per_request", {
  req: (h) => post(h, ndjson([rec(fresh("t")), rec(fresh("t")), rec(fresh("t"))]), { token: mint({ org: "tiny" }) }), status: 413, type: "too-many-artifacts",
  fields: { limit: 2, valid_before_stop: 2 },
});
ingest("a body over the tenant's max_body_bytes", {
  req: (h) => post(h, ndjson([rec(fresh("t"), { markdown: "z".repeat(600) })]), { token: mint({ org: "tiny" }) }), status: 413, type: "body-too-large",
  fields: { limit: 512 },
});
ingest("DELETE with an invalid ns segment", {
  req: (h) => del(h, "a%20b/guide/intro"), status: 400, type: "invalid-path", fields: { field: "ns" },
});
ingest("DELETE with malformed percent-encoding", { req: (h) => del(h, "docs/guide/%zz"), status: 400, type: "bad-path" });
ingest("DELETE with an encoded slash in the id", { req: (h) => del(h, "docs/guide/a%2Fb"), status: 400, type: "bad-path" });
ingest("GET on the ingest route", {
  req: async (h) => read(await h.ingest("/$.artifacts", { headers: { authorization: `Bearer ${mint()}` } })), status: 405, type: "method-not-allowed",
  fields: { allow: "POST" },
});

// Serve: paths, tokens and signed URLs against an intact table.
for (const [what, p] of [
  ["malformed percent-encoding in the id", "/$.content/docs/guide/x%zz.md"],
  ["malformed percent-encoding in the ns", "/$.content/d%zzocs/guide/x.md"],
  ["a truncated escape", "/$.content/docs/guide/x%4.md"],
  ["an escape that is not UTF-8", "/$.content/docs/guide/x%FF.md"],
  ["an overlong UTF-8 escape (%C0%AF)", "/$.content/docs/guide/a%C0%AFb.md"],
  ["an encoded slash in the ns", "/$.content/docs%2Fguide/x/y.md"],
  ["an empty id", "/$.content/docs/guide/.md"],
  ["an empty type", "/$.content/docs//x.md"],
  ["an encoded NUL in the id", "/$.content/docs/guide/a%00b.md"],
  ["an encoded CR LF in the id", "/$.content/docs/guide/a%0d%0aSet-Cookie:x.md"],
  ["an empty segment in a nested id", "/$.content/a/b/c//d.md"],
  ["a bad @version date", "/$.content/docs/guide/getting-started@2026-13-01T00:00:00Z.md"],
  ["an @version snapshot id out of range", "/$.content/docs/guide/getting-started@99999999999999999999.md"],
]) {
  serve(what, { req: (h) => get(h, p, { token: acme() }), status: 400, type: "bad-path" });
}
serve("traversal sent raw (%2e%2e, not normalised by the client)", {
  req: (h) => rawGet(h.servePort, "/$.content/docs/%2e%2e/x.md"), status: 400, type: "bad-path",
});
serve("a listing with malformed percent-encoding", { req: (h) => get(h, "/$.content/d%zz/guide/"), status: 400, type: "bad-path" });
for (const p of ["/$.content/docs/guide/getting-started.txt", "/$.content/docs/guide/getting-started.MD", "/$.content/docs/guide/getting-started.d.tsx"]) {
  serve(`an unknown extension (${p.split(".").slice(1).join(".")})`, { req: (h) => get(h, p, { token: acme() }), status: 404, type: "unknown-extension" });
}
serve("an expired read token", {
  req: (h) => get(h, HOME, { token: mint({ org: "acme", scopes: ["read:*"], exp: nowSecs() - 5 }) }), status: 401, type: "invalid-token",
  fields: { detail: "The token has expired." },
});
serve("a tampered read token", {
  req: (h) => {
    const good = acme();
    return get(h, HOME, { token: tamper(good, { ...claimsOf(good), org: "globex" }) });
  },
  status: 401, type: "invalid-token", fields: { detail: "The token's signature is not valid." },
});
serve('a read token with alg "none"', {
  req: (h) => get(h, HOME, { token: mint({ scopes: ["read:*"] }, { header: { alg: "none" }, signature: "" }) }), status: 401, type: "invalid-token",
  fields: { detail: "The token's algorithm is not supported; only HS256 is accepted." },
});
serve('a read token with an "RS256" header', {
  req: (h) => get(h, HOME, { token: mint({ scopes: ["read:*"] }, { header: { alg: "RS256", typ: "JWT" } }) }), status: 401, type: "invalid-token",
  fields: { detail: "The token's algorithm is not supported; only HS256 is accepted." },
});
serve("a Basic Authorization header", {
  req: (h) => h.serve(HOME, { headers: { authorization: "Basic YTpi" } }).then(read), status: 401, type: "invalid-token",
});
serve("a signed URL whose signature was tampered with", {
  req: (h) => {
    const q = signQuery(HOME, nowSecs() + 600).replace(/sig=(.)/, (_, c) => `sig=${c === "0" ? "1" : "0"}`);
    return get(h, `${HOME}?${q}`);
  },
  status: 403, type: "bad-signature", fields: { detail: "the signed URL's signature does not match" },
});
serve("a signed URL for another path", {
  req: (h) => get(h, `${GAMMA}?${signQuery(HOME, nowSecs() + 600)}`), status: 403, type: "bad-signature",
});
serve("an expired signed URL", {
  req: (h) => get(h, `${HOME}?${signQuery(HOME, nowSecs() - 5)}`), status: 403, type: "bad-signature", fields: { detail: "the signed URL has expired" },
});
serve("a signed URL with a non-hex signature", {
  req: (h) => get(h, `${HOME}?exp=${nowSecs() + 600}&sig=zz`), status: 403, type: "bad-signature",
  fields: { detail: "a signed URL needs exp (unix seconds), by_org, by_sub and sig (hex)" },
});
serve("a signed URL whose exp overflows u64", {
  req: (h) => get(h, `${HOME}?exp=99999999999999999999999&sig=00`), status: 403, type: "bad-signature",
  fields: { detail: "a signed URL needs exp (unix seconds), by_org, by_sub and sig (hex)" },
});
serve("an id of 5,000 characters", {
  req: (h) => get(h, `/$.content/docs/guide/${"a".repeat(5000)}.md`, { token: acme() }), status: 400, type: "bad-path",
});
serve("a listing with a traversal type (%2e%2e sent raw)", {
  req: (h) => rawGet(h.servePort, "/$.content/docs/%2e%2e/"), status: 400, type: "bad-path",
});
serve("a sign request that is not JSON", {
  req: async (h) => read(await h.serve("/$.content/sign", { method: "POST", headers: { authorization: `Bearer ${acme()}` }, body: "{nope" })),
  status: 400, type: "bad-sign-request",
});
serve("a batch body that is not a JSON list", {
  req: async (h) => read(await h.serve("/$.content/batch", { method: "POST", body: '{"refs": 1}' })), status: 400, type: "bad-batch",
});
serve("a batch of 101 refs", {
  req: async (h) => read(await h.serve("/$.content/batch", { method: "POST", body: JSON.stringify(Array(101).fill("docs/guide/a.md")) })),
  status: 400, type: "bad-batch", fields: { detail: "a batch holds at most 100 refs" },
});
serve("DELETE on a content path", {
  req: async (h) => read(await h.serve(HOME, { method: "DELETE" })), status: 405, type: "method-not-allowed", fields: { allow: "GET, HEAD" },
});

// Serve over a corrupted table: one object broken in R2 before any read → 502 naming its key.
const dataBytes = () => fixtureBytes(KEYS.dataFile);
table("corrupt metadata JSON (garbage)", {
  corrupt: (h) => overwrite(h, KEYS.metadata, garbage(fixtureBytes(KEYS.metadata).length, 17)), path: HOME, key: KEYS.metadata,
});
table("metadata JSON cut in half", {
  corrupt: (h) => overwrite(h, KEYS.metadata, fixtureBytes(KEYS.metadata).subarray(0, 2000)), path: HOME, key: KEYS.metadata,
});
table("metadata with an unsupported format-version (fixtures/iceberg/invalid)", {
  corrupt: (h) => overwrite(h, KEYS.metadata, readFileSync(path.join(root, "tests/fixtures/iceberg/invalid/UnsupportedVersion.json"))), path: HOME, key: KEYS.metadata,
});
table("metadata without schemas (fixtures/iceberg/invalid)", {
  corrupt: (h) => overwrite(h, KEYS.metadata, readFileSync(path.join(root, "tests/fixtures/iceberg/invalid/MissingSchemas.json"))), path: HOME, key: KEYS.metadata,
});
table("metadata whose current snapshot does not exist (fixtures/iceberg/invalid)", {
  corrupt: (h) => overwrite(h, KEYS.metadata, readFileSync(path.join(root, "tests/fixtures/iceberg/invalid/CurrentSnapshotMissing.json"))), path: HOME, key: KEYS.metadata,
});
table("metadata whose manifest list lies outside the warehouse", {
  corrupt: (h) => {
    const text = fixtureBytes(KEYS.metadata).toString("utf8");
    const list = LOCATION_PREFIX + KEYS.manifestList;
    assert.ok(text.includes(list));
    return overwrite(h, KEYS.metadata, text.split(list).join("s3://elsewhere/" + KEYS.manifestList));
  },
  path: HOME, status: 502, type: "bad-upstream-object", fields: { location: `s3://elsewhere/${KEYS.manifestList}` },
});
table("a version hint naming a metadata file that does not exist", {
  corrupt: (h) => overwrite(h, `${U}/version-hint.text`, "99"), path: HOME, key: `${U}/v99.metadata.json`,
});
table("a missing manifest list", { corrupt: (h) => remove(h, KEYS.manifestList), path: HOME, key: KEYS.manifestList });
table("a truncated manifest list (cut inside its Avro block)", {
  corrupt: (h) => { const b = fixtureBytes(KEYS.manifestList); return overwrite(h, KEYS.manifestList, b.subarray(0, b.length - 40)); },
  path: HOME, key: KEYS.manifestList,
});
table("a manifest list pointing at a missing manifest", { corrupt: (h) => remove(h, KEYS.manifest), path: HOME, key: KEYS.manifest });
table("a truncated Avro block in a manifest", {
  corrupt: (h) => { const b = fixtureBytes(KEYS.manifest); return overwrite(h, KEYS.manifest, b.subarray(0, b.length - 40)); },
  path: HOME, key: KEYS.manifest,
});
table("an Avro block in a manifest whose record count lies", {
  corrupt: (h) => { const b = fixtureBytes(KEYS.manifest); return overwrite(h, KEYS.manifest, maxZigzag(b, firstAvroBlock(b).count)); },
  path: HOME, key: KEYS.manifest,
});
table("an Avro block in a manifest whose byte size lies (past the end of the file)", {
  corrupt: (h) => { const b = fixtureBytes(KEYS.manifest); return overwrite(h, KEYS.manifest, maxZigzag(b, firstAvroBlock(b).size)); },
  path: HOME, key: KEYS.manifest,
});
table("an Avro block in a manifest list whose record count lies", {
  corrupt: (h) => { const b = fixtureBytes(KEYS.manifestList); return overwrite(h, KEYS.manifestList, maxZigzag(b, firstAvroBlock(b).count)); },
  path: HOME, key: KEYS.manifestList,
});
table("a manifest whose sync marker was altered", {
  corrupt: (h) => { const b = Buffer.from(fixtureBytes(KEYS.manifest)); b[b.length - 1] ^= 0xff; return overwrite(h, KEYS.manifest, b); },
  path: HOME, key: KEYS.manifest,
});
table("a manifest pointing at a missing data file", { corrupt: (h) => remove(h, KEYS.dataFile), path: GAMMA, key: KEYS.dataFile });
table("a Parquet file with a corrupt footer (footer bytes garbage, magic kept)", {
  corrupt: (h) => {
    const b = Buffer.from(dataBytes());
    const len = b.readUInt32LE(b.length - 8);
    garbage(len, 29).copy(b, b.length - 8 - len);
    return overwrite(h, KEYS.dataFile, b);
  },
  path: GAMMA, key: KEYS.dataFile,
});
table("a Parquet footer length larger than the file", {
  corrupt: (h) => { const b = Buffer.from(dataBytes()); b.writeUInt32LE(0x7fffffff, b.length - 8); return overwrite(h, KEYS.dataFile, b); },
  path: GAMMA, key: KEYS.dataFile,
});
table("a Parquet file without its trailing magic", {
  corrupt: (h) => { const b = Buffer.from(dataBytes()); b.write("JUNK", b.length - 4, "latin1"); return overwrite(h, KEYS.dataFile, b); },
  path: GAMMA, key: KEYS.dataFile,
});
table("a Parquet page whose uncompressed size lies (claims the largest value its varint holds)", {
  corrupt: (h) => { const b = dataBytes(); return overwrite(h, KEYS.dataFile, maxVarint(b, firstPageSizes(b).uncompressed)); },
  path: GAMMA, key: KEYS.dataFile,
});
table("a Parquet page whose compressed size lies", {
  corrupt: (h) => { const b = dataBytes(); return overwrite(h, KEYS.dataFile, maxVarint(b, firstPageSizes(b).compressed)); },
  path: GAMMA, key: KEYS.dataFile,
});
table("a Parquet file shorter than the manifest's file_size_in_bytes", {
  corrupt: (h) => overwrite(h, KEYS.dataFile, dataBytes().subarray(0, 64)), path: GAMMA, key: KEYS.dataFile,
});

table("metadata larger than serve reads whole (32 MiB): refused before it is read", {
  corrupt: (h) => overwrite(h, KEYS.metadata, Buffer.alloc(32 * 1024 * 1024 + 1, 0x20)), path: HOME, key: KEYS.metadata,
  fields: { detail: /more than the 33554432 a whole read takes/ },
});

// ─── running it ──────────────────────────────────────────────────────────────────────────────

/** The `title` each problem type carries (a row's `fields.title` may still say otherwise). */
const TITLES = {
  "invalid-records": "No record was valid",
  "empty-body": "No records",
  "malformed-body": "Malformed body",
  "unsupported-media-type": "Unsupported Media Type",
  "unsupported-encoding": "Unsupported Media Type",
  "body-too-large": "Payload Too Large",
  "too-many-artifacts": "Too many artifacts",
  "bad-gzip": "Bad Request",
  "unknown-mode": "Unknown mode",
  "bad-idempotency-key": "Bad idempotency key",
  "idempotency-mismatch": "Unprocessable Content",
  unauthorized: "Unauthorized",
  "invalid-token": "Unauthorized",
  forbidden: "Forbidden",
  "invalid-path": "Bad Request",
  "bad-path": "Bad Request",
  "method-not-allowed": "Method Not Allowed",
  "unknown-extension": "Not Found",
  "bad-signature": "Forbidden",
  "bad-sign-request": "Bad Request",
  "bad-batch": "Bad Request",
  "bad-upstream-object": "Bad Gateway",
};

/** Asserts a problem+json answer as the row expects. */
function check(c, r) {
  const status = c.status ?? 502;
  const type = c.type ?? "bad-upstream-object";
  // MATRIX_VERBOSE=1 prints every answer (to review the wording of each detail).
  if (process.env.MATRIX_VERBOSE) console.log(`[${c.on}] ${c.name}\n    ${r.status} ${r.text.slice(0, 600)}`);
  assert.equal(r.status, status, `expected ${status} ${type}, got ${r.status}: ${r.text}`);
  assert.equal(r.headers.get("content-type"), PROBLEM_TYPE, `content type (${r.text})`);
  assert.ok(r.body, `problem body is JSON: ${r.text}`);
  assert.equal(r.body.type, PROBLEM_BASE + type);
  assert.equal(r.body.status, status);
  assert.equal(r.body.title, TITLES[type], `title of ${type}`);
  assert.equal(typeof r.body.detail, "string");
  // No internal text: no Rust panics, JS stack frames or wasm-bindgen plumbing.
  assert.doesNotMatch(r.text, /panicked|RuntimeError|unreachable|\bat .*\.(js|mjs):\d+|wasm-function|__wbg/);
  for (const [k, v] of Object.entries(c.fields ?? {})) {
    if (v instanceof RegExp) assert.match(String(r.body[k]), v, `problem member ${k}`);
    else assert.deepEqual(r.body[k], v, `problem member ${k}`);
  }
  if (c.key) {
    assert.equal(r.body.key, c.key, `problem names the key: ${r.text}`);
    assert.ok(String(r.body.detail).includes(c.key), `detail names ${c.key}: ${r.body.detail}`);
  }
  if (c.lines) {
    const listed = r.body.rejected_lines;
    assert.ok(Array.isArray(listed), `rejected_lines: ${r.text}`);
    assert.equal(listed.length, c.lines.length, `rejected_lines: ${r.text}`);
    c.lines.forEach(([line, field, reason], i) => {
      assert.equal(listed[i].line, line, "line number");
      assert.equal(listed[i].field, field, "field");
      if (reason instanceof RegExp) assert.match(listed[i].reason, reason);
      else assert.equal(listed[i].reason, reason);
    });
  }
  for (const [k, v] of Object.entries(c.headers ?? {})) assert.match(r.headers.get(k) ?? "", v, `header ${k}`);
  for (const k of c.absent ?? []) assert.equal(r.headers.get(k), null, `header ${k} absent`);
}

async function assertNoResets(h) {
  assert.equal(await resets(h.ingest), 0, "the ingest wasm instance trapped and was reset");
  assert.equal(await resets(h.serve), 0, "the serve wasm instance trapped and was reset");
}

test("the matrix has at least 40 cases across both workers", () => {
  const by = (on) => CASES.filter((c) => c.on === on).length;
  assert.ok(CASES.length >= 40, `${CASES.length} cases`);
  assert.ok(by("ingest") >= 20 && by("serve") + by("table") >= 20, `ingest ${by("ingest")}, serve ${by("serve")}, table ${by("table")}`);
  assert.equal(new Set(CASES.map((c) => `${c.on} ${c.name}`)).size, CASES.length, "case names are unique");
});

describe("bad-input matrix: ingest and serve requests", () => {
  let h;
  before(async () => {
    const port = await freePort();
    h = await startWarehouse(T, { ingestVars: INGEST_VARS, ports: { serve: port } });
    h.servePort = port;
    const kv = await h.mf.getKVNamespace("ARTIFACT_STATE", "ingest");
    await kv.put("tenant:tiny", JSON.stringify({ max_artifacts_per_request: 2, max_body_bytes: 512 }));
  });
  after(() => h?.dispose());

  // Every row also asserts that neither worker's wasm memory grew by more than 16 MiB since the
  // matrix started (wasm memory never shrinks, so a growth per row would hide behind an earlier,
  // heavier row: the bound is on the high-water mark).
  const memories = async () => Promise.all([h.ingest, h.serve].map(async (w) => (await (await w("/$.health")).json()).memory_bytes));
  let baseline;
  for (const c of CASES.filter((c) => c.on !== "table")) {
    test(`[${c.on}] ${c.name} → ${c.status} ${c.type}`, async () => {
      if (c.setup) await c.setup(h);
      h.recorder.reset();
      baseline ??= await memories();
      const r = await c.req(h);
      check(c, r);
      const after = await memories();
      ["ingest", "serve"].forEach((w, i) => assert.ok(after[i] - baseline[i] <= 16 * 1024 * 1024, `${w} memory is ${after[i] - baseline[i]} bytes over the matrix's start`));
      if (c.on === "ingest") {
        const forwarded = h.recorder.calls.flatMap((call) => call.records ?? []);
        if (c.mayForward) for (const x of forwarded) assert.match(x.id, c.mayForward, "only valid records read before the stop");
        else assert.equal(h.recorder.calls.length, 0, "nothing was forwarded to the stream");
      }
    });
  }

  test("zero wasm resets in either worker", async () => {
    await assertNoResets(h);
  });
});

describe("bad-input matrix: corrupt tables (each in its own Miniflare)", () => {
  for (const c of CASES.filter((c) => c.on === "table")) {
    test(`[table] ${c.name} → ${c.status ?? 502} ${c.type ?? "bad-upstream-object"}${c.key ? ` naming ${c.key.split("/").pop()}` : ""}`, async () => {
      const h = await startWarehouse(T);
      try {
        await c.corrupt(h);
        const r = await get(h, c.path, { token: acme() });
        check(c, r);
        // Not cached as a success: the same read fails the same way.
        check(c, await get(h, c.path, { token: acme() }));
        await assertNoResets(h);
      } finally {
        await h.dispose();
      }
    });
  }
});

test("every table row breaks a key the fixture really has", () => {
  const all = new Set(fixtureKeys(T));
  for (const k of Object.values(KEYS)) assert.ok(all.has(k), k);
});

// ─── hostile requests: memory ────────────────────────────────────────────────────────────────
// No hostile request may grow a worker's wasm memory by more than 16 MiB (production isolates
// have 128 MB and wasm memory never shrinks). `/$.health`'s memory_bytes before and after each.
// One end-to-end stack (ingest → stand-in → serve) holding large public artifacts.

const MEMORY_GROWTH = 16 * 1024 * 1024;
const BIG = 990_000; // bytes of one large artifact (under MAX_RECORD_BYTES' 1 MiB)

describe("hostile requests: bounded memory (security issues 1 and 2)", () => {
  let s;
  const big = Array.from({ length: 6 }, (_, i) => `mem-${fresh("big")}-${i}`);
  const links = `mem-${fresh("links")}`;
  const memory = async () => (await (await s.serve("/$.health")).json()).memory_bytes;
  // Measured against serve's memory before the first hostile request: wasm memory never shrinks,
  // so each case must keep the high-water mark within 16 MiB of that baseline.
  let baseline;
  const hostile = async (name, send, expect) => {
    baseline ??= await memory();
    const r = await send();
    await expect(r);
    const grew = (await memory()) - baseline;
    assert.ok(grew <= MEMORY_GROWTH, `${name}: serve memory is ${grew} bytes over the baseline`);
  };
  const batch = (body, headers = {}) => s.serve("/$.content/batch", { method: "POST", headers: { "content-type": "application/json", ...headers }, body, duplex: "half" });

  before(async () => {
    const { start } = await import("./support/harness.mjs");
    const port = await freePort();
    s = await start({ standin: true, ports: { serve: port }, standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" } });
    s.servePort = port;
    const token = mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
    for (const id of big) {
      const r = await post(s, ndjson([{ ns: "docs", type: "guide", id, visibility: "public", markdown: `${id} ${"a".repeat(BIG)}` }]), { token });
      assert.equal(r.status, 200, r.text);
    }
    // 985 KB of short links: link rewriting used to turn it into 4.5 MB.
    const html = "<br src=a href=a data=a cite=a>".repeat(Math.floor(985_000 / 31));
    assert.equal((await post(s, ndjson([{ ns: "docs", type: "guide", id: links, visibility: "public", html }]), { token })).status, 200);
    await s.flush("build");
  });
  after(() => s?.dispose());

  test("a 15 MB batch body of [[],[],…] is refused by its Content-Length before it is read (413)", async () => {
    const body = `[${"[],".repeat(5_000_000)}[]]`;
    await hostile("15 MB batch", () => rawPost(s.servePort, "/$.content/batch", [body], { contentLength: body.length }), (r) => {
      assert.equal(r.status, 413, r.text);
      assert.equal(r.body.type, PROBLEM_BASE + "body-too-large");
    });
  });

  test("the same body streamed without a Content-Length is cut at the bound (413)", async () => {
    // 15 MB offered in 8 KiB pieces, paced: the client stops sending once the answer arrives, which
    // must be right after the 128 KiB bound (the server stops reading there).
    const chunk = "[],".repeat(8 * 1024 / 3);
    const pieces = ["[", ...Array(1_900).fill(chunk), "[]]"];
    await hostile("streamed batch", () => rawPost(s.servePort, "/$.content/batch", pieces, { paceMs: 5 }), (r) => {
      assert.equal(r.status, 413, r.text);
      assert.equal(r.body.type, PROBLEM_BASE + "body-too-large");
    });
  });

  test("a batch body under the byte bound but with 30,000 elements stops at the 101st (400)", async () => {
    await hostile("many elements", () => batch(`[${"[],".repeat(30_000)}[]]`).then(read), (r) => {
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.detail, "a batch holds at most 100 refs");
    });
  });

  test("a 15 MB sign body is refused (413)", async () => {
    const token = mint({ org: "acme", sub: "alice", scopes: ["read:*"] });
    const body = JSON.stringify({ path: "/$.content/docs/guide/x.md", pad: "x".repeat(15_000_000) });
    const send = () => rawPost(s.servePort, "/$.content/sign", [body], { headers: { authorization: `Bearer ${token}` }, contentLength: Buffer.byteLength(body) });
    await hostile("15 MB sign", send, (r) => {
      assert.equal(r.status, 413, r.text);
      assert.equal(r.body.type, PROBLEM_BASE + "body-too-large");
    });
  });

  test("100 refs to large public artifacts: the answer stops at its byte cap, later refs get a 413 line each", async () => {
    const refs = Array.from({ length: 100 }, (_, i) => `docs/guide/${big[i % big.length]}.${Math.floor(i / big.length) % 2 ? "md" : "json"}`);
    await hostile("amplified batch", () => batch(JSON.stringify(refs)), async (r) => {
      assert.equal(r.status, 200);
      const text = await r.text();
      assert.ok(text.length <= 4 * 1024 * 1024 + 64 * 1024, `answer of ${text.length} bytes`);
      const lines = text.trim().split("\n").map((l) => JSON.parse(l));
      const end = lines.pop();
      assert.equal(end.end, true, "the answer is complete");
      assert.equal(lines.length, 12, "one line per distinct ref (6 artifacts × 2 representations)");
      assert.deepEqual(lines.flatMap((l) => l.positions).sort((a, b) => a - b), refs.map((_, i) => i), "every position answered once");
      const served = lines.filter((l) => l.status === 200);
      const capped = lines.filter((l) => l.status === 413);
      assert.ok(served.length >= 3 && capped.length >= 1, `${served.length} served, ${capped.length} capped`);
      for (const l of capped) assert.equal(l.problem.type, PROBLEM_BASE + "batch-answer-too-large");
      // From the first ref that did not fit, nothing more is read: every later line is a 413.
      const first = lines.findIndex((l) => l.status === 413);
      assert.ok(lines.slice(first).every((l) => l.status === 413), "no ref is read after the cap");
      for (const l of served.filter((l) => l.ref.endsWith(".md"))) assert.ok(l.body.startsWith(l.ref.split("/")[2].replace(/\.md$/, "")));
    });
  });

  test("HTML whose link rewriting would more than double it is refused, not grown (500 html-rewrite-failed)", async () => {
    await hostile("link-rewrite growth", () => get(s, `/$.content/docs/guide/${links}.html`), (r) => {
      assert.equal(r.status, 500, r.text.slice(0, 300));
      assert.equal(r.body.type, PROBLEM_BASE + "html-rewrite-failed");
      assert.match(r.body.detail, /larger than/);
    });
  });

  test("zero wasm resets", async () => {
    await assertNoResets(s);
  });
});
