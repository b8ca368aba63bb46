// Validation of POST /$.artifacts bodies: line by line verdicts, framings (NDJSON, CRLF, JSON
// arrays), media types, and the exact shape of the records forwarded to the stream.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { mint } from "./support/token.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertSummary, assertNoTrap, contentHash, COLUMNS } from "./support/ingest.mjs";

let h;
before(async () => { h = await start(); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

test("all lines valid → 200 with the full summary body", async () => {
  const ids = [fresh("v"), fresh("v"), fresh("v")];
  const r = await post(h, ndjson(ids.map((id) => rec(id))));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.deepEqual(r.body, { mode: "build", accepted: 3, deduped: 0, deduped_lines: [], rejected: 0, rejected_lines: [] });
  assert.deepEqual(h.recorder.accepted("build").map((x) => x.id), ids);
});

test("mixed lines → 207 listing each rejected line with its field and reason; only valid lines sent", async () => {
  const [a, b] = [fresh("a"), fresh("b")];
  const lines = [
    rec(a), // 1
    "{oops", // 2
    rec(fresh("x"), { colour: "red" }), // 3
    rec(fresh("x"), { owner_org: "evil" }), // 4
    rec(fresh("x"), { ns: ".." }), // 5
    rec("", {}), // 6
    rec(fresh("x"), { ts: 5 }), // 7 (build mode)
    rec(b), // 8
    "[1]", // 9
    { ns: "docs", type: "guide", id: fresh("x") }, // 10: no content
    rec(fresh("x"), { visibility: "world" }), // 11
    rec(fresh("x"), { ns: "a/b" }), // 12
    rec(fresh("x"), { content_hash: "0".repeat(64) }), // 13
  ];
  const r = await post(h, ndjson(lines));
  assertSummary(r, 207, { mode: "build", accepted: 2, rejected: 11, deduped: 0, deduped_lines: [] });
  const [json, ...rest] = r.body.rejected_lines;
  assert.equal(json.line, 2);
  assert.equal(json.field, undefined, "an unparsable line names no field");
  assert.match(json.reason, /^invalid JSON/);
  assert.deepEqual(rest, [
    { line: 3, field: "colour", reason: "is not a field of the record" },
    { line: 4, field: "owner_org", reason: "is set by ingest and may not be sent" },
    { line: 5, field: "ns", reason: "must not be . or .." },
    { line: 6, field: "id", reason: "must not be empty" },
    { line: 7, field: "ts", reason: "is stamped by ingest; only bulk mode accepts it" },
    { line: 9, reason: "a record must be a JSON object" },
    { line: 10, reason: "a record needs at least one content field (or deleted: true)" },
    { line: 11, field: "visibility", reason: "must be public, unlisted, org or user" },
    { line: 12, field: "ns", reason: "may only contain letters, digits and - _ . @ +" },
    { line: 13, field: "content_hash", reason: "is set by ingest and may not be sent" },
  ]);
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [a, b]);
});

test("no valid line → 400 invalid-records with the rejected lines, nothing sent", async () => {
  const r = await post(h, ndjson([rec(fresh("x"), { owner_user: "mallory" }), rec("..")]));
  assertProblem(r, 400, "invalid-records", {
    title: "No record was valid",
    detail: "all 2 records were rejected",
    mode: "build",
    accepted: 0,
    rejected: 2,
    rejected_lines: [
      { line: 1, field: "owner_user", reason: "is set by ingest and may not be sent" },
      { line: 2, field: "id", reason: "must not be . or .." },
    ],
  });
  assert.equal(h.recorder.calls.length, 0);
});

test("an empty or blank-only body → 400 empty-body", async () => {
  for (const body of ["", "\n\n   \n\t\r\n"]) {
    const r = await post(h, body);
    assertProblem(r, 400, "empty-body", { title: "No records", accepted: 0, rejected: 0 });
  }
  assert.equal(h.recorder.calls.length, 0);
});

test("CRLF line ends and blank lines: blank lines are skipped but counted, CR never reaches a value", async () => {
  const [a, b] = [fresh("crlf"), fresh("crlf")];
  const body = `${JSON.stringify(rec(a))}\r\n\r\n   \r\n{bad\r\n${JSON.stringify(rec(b))}`; // no final newline
  const r = await post(h, body);
  assertSummary(r, 207, { accepted: 2, rejected: 1 });
  assert.equal(r.body.rejected_lines[0].line, 4);
  const got = h.recorder.accepted();
  assert.deepEqual(got.map((x) => x.id), [a, b]);
  assert.deepEqual(got.map((x) => x.markdown), [`# ${a}`, `# ${b}`]);
});

test("ts is rejected in build and preview modes but accepted in bulk (RFC 3339 or integer micros)", async () => {
  for (const mode of ["build", "preview"]) {
    const r = await post(h, ndjson([rec(fresh("ts"), { ts: "2020-01-01T00:00:00Z" })]), { mode });
    assertProblem(r, 400, "invalid-records", { rejected_lines: [{ line: 1, field: "ts", reason: "is stamped by ingest; only bulk mode accepts it" }] });
  }
  assert.equal(h.recorder.calls.length, 0);
  const [a, b] = [fresh("ts"), fresh("ts")];
  const r = await post(h, ndjson([rec(a, { ts: "2020-01-01T00:00:00Z" }), rec(b, { ts: 42 }), rec(fresh("ts"), { ts: "yesterday" })]), { mode: "bulk" });
  assertSummary(r, 207, { mode: "bulk", accepted: 2, rejected_lines: [{ line: 3, field: "ts", reason: "must be RFC 3339 or integer microseconds" }] });
  assert.deepEqual(h.recorder.accepted("bulk").map((x) => [x.id, x.ts]), [[a, 1_577_836_800_000_000], [b, 42]]);
});

// Regression (security issue 12, finding C): bulk accepted `ts: "9999-12-31…"`, which pinned the
// row as the newest version of its key for ever.
test("bulk ts more than 5 minutes ahead of ingest's clock is a per-line error; within the skew it is accepted", async () => {
  const nowUs = Date.now() * 1000;
  const reason = "is more than 5 minutes ahead of ingest's clock";
  const [ok, far, soon] = [fresh("ts"), fresh("ts"), fresh("ts")];
  const lines = [
    rec(ok, { ts: nowUs + 60_000_000 }), // 1 minute ahead: clock skew
    rec(far, { ts: "9999-12-31T23:59:59Z" }),
    rec(soon, { ts: nowUs + 600_000_000 }), // 10 minutes ahead
    rec(fresh("ts"), { ts: new Date(Date.now() + 3_600_000).toISOString() }),
  ];
  const r = await post(h, ndjson(lines), { mode: "bulk" });
  assertSummary(r, 207, {
    mode: "bulk",
    accepted: 1,
    rejected: 3,
    rejected_lines: [2, 3, 4].map((line) => ({ line, field: "ts", reason })),
  });
  assert.deepEqual(h.recorder.accepted("bulk").map((x) => [x.id, x.ts]), [[ok, nowUs + 60_000_000]]);
  // One line alone: the same problem shape as any other per-line validation error.
  const alone = await post(h, ndjson([rec(fresh("ts"), { ts: "9999-12-31T23:59:59Z" })]), { mode: "bulk" });
  assertProblem(alone, 400, "invalid-records", { rejected_lines: [{ line: 1, field: "ts", reason }] });
});

test("application/json array bodies: elements are numbered like lines", async () => {
  const [a, b] = [fresh("arr"), fresh("arr")];
  const r = await post(h, JSON.stringify([rec(a), 5, rec(b)]), { contentType: "application/json; charset=utf-8" });
  assertSummary(r, 207, { accepted: 2, rejected: 1, rejected_lines: [{ line: 2, reason: "a record must be a JSON object" }] });
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [a, b]);

  h.recorder.reset();
  const c = fresh("arr");
  const ok = await post(h, `  [\n${JSON.stringify(rec(c))}\n]\n`, { contentType: "application/json" });
  assertSummary(ok, 200, { accepted: 1, rejected: 0 });
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [c]);
});

test("application/json that is not an array → 400 malformed-body", async () => {
  const r = await post(h, JSON.stringify(rec(fresh("obj"))), { contentType: "application/json" });
  assertProblem(r, 400, "malformed-body", { detail: "body is not a JSON array", valid_before_stop: 0 });
  assert.equal(h.recorder.calls.length, 0);
});

test("application/ndjson and application/jsonl are NDJSON too", async () => {
  for (const ct of ["application/ndjson", "application/jsonl", "Application/X-NDJSON; charset=utf-8"]) {
    const id = fresh("ct");
    const r = await post(h, ndjson([rec(id)]), { contentType: ct });
    assertSummary(r, 200, { accepted: 1 });
    assert.equal(h.recorder.accepted().at(-1).id, id);
  }
});

test("Content-Type text/plain (or none) → 415 unsupported-media-type", async () => {
  for (const ct of ["text/plain", null]) {
    // A Buffer body, so fetch adds no text/plain of its own when ct is null.
    const r = await post(h, Buffer.from(ndjson([rec(fresh("tp"))])), { contentType: ct });
    assertProblem(r, 415, "unsupported-media-type", { title: "Unsupported Media Type", detail: "send application/x-ndjson or application/json" });
  }
  assert.equal(h.recorder.calls.length, 0);
});

test("Content-Encoding br → 415 unsupported-encoding", async () => {
  const r = await post(h, ndjson([rec(fresh("br"))]), { headers: { "content-encoding": "br" } });
  assertProblem(r, 415, "unsupported-encoding", { title: "Unsupported Media Type", detail: "Content-Encoding br is not supported; use gzip" });
  assert.equal(h.recorder.calls.length, 0);
});

test("forwarded records: every column, ts in integer micros, owner from the token, hash, size, JSON fields as JSON text", async () => {
  const id = fresh("shape");
  const mdast = { type: "root", children: [{ type: "heading", depth: 1, children: [{ type: "text", value: "Hé" }] }] };
  const client = { ns: "docs", type: "guide", id, markdown: "# Hé", mdast, visibility: "public", inputs: ["docs/guide/other"] };
  const t0 = Date.now();
  const r = await post(h, ndjson([client, rec(fresh("shape2"))]), { token: mint({ sub: "bob", org: "initech" }) });
  const t1 = Date.now();
  assertSummary(r, 200, { accepted: 2 });
  const [got, plain] = h.recorder.accepted("build");

  assert.deepEqual(Object.keys(got).sort(), [...COLUMNS].sort(), "every column present, nothing else");
  assert.deepEqual([got.ns, got.type, got.id], ["docs", "guide", id]);
  assert.ok(Number.isInteger(got.ts), `ts is an integer: ${got.ts}`);
  assert.ok(got.ts >= (t0 - 2000) * 1000 && got.ts <= (t1 + 2000) * 1000, `ts ${got.ts} is micros of now`);
  assert.equal(got.owner_org, "initech");
  assert.equal(got.owner_user, "bob");
  assert.equal(got.visibility, "public");
  assert.equal(typeof got.mdast, "string", "mdast travels as JSON text");
  assert.deepEqual(JSON.parse(got.mdast), mdast);
  assert.equal(got.markdown, "# Hé");
  for (const c of ["mdx", "html", "esm", "dts", "css", "hast", "estree", "frontmatter"]) assert.equal(got[c], null, c);
  assert.deepEqual(got.inputs, ["docs/guide/other"]);
  assert.match(got.content_hash, /^[0-9a-f]{64}$/);
  // Contract v2: the hash covers the metadata sent too (here `inputs`, as its JSON text).
  assert.equal(got.content_hash, contentHash({ markdown: got.markdown, mdast: got.mdast, inputs: JSON.stringify(got.inputs) }));
  assert.equal(got.size_bytes, Buffer.byteLength("# Hé") + Buffer.byteLength(got.mdast));
  assert.equal(got.deleted, false);

  assert.equal(plain.visibility, "org", "default visibility");
  assert.equal(plain.inputs, null);
  assert.equal(plain.mdast, null);
  assert.equal(plain.ts, got.ts, "one request, one stamp");
});

test("an empty-string content field is content; null is absent", async () => {
  const id = fresh("empty");
  const r = await post(h, ndjson([{ ns: "docs", type: "guide", id, css: "", html: null }]));
  assertSummary(r, 200, { accepted: 1 });
  const [got] = h.recorder.accepted();
  assert.equal(got.css, "");
  assert.equal(got.html, null);
  assert.equal(got.size_bytes, 0);
  assert.equal(got.content_hash, contentHash({ css: "" }));
});

test("no wasm trap during the validation spec", async () => {
  await assertNoTrap(h);
});
