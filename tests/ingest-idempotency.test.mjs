// X-Idempotency-Key: per org; a replay returns the stored answer without sending again, another
// body under the same key is 422, the same key while the first request runs is 409.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { start } from "./support/harness.mjs";
import { mint } from "./support/token.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertSummary, assertNoTrap, until } from "./support/ingest.mjs";

let h;
before(async () => { h = await start({ ingestVars: { SEND_ATTEMPTS: "2", SEND_TIMEOUT_MS: "20000", MAX_ARTIFACTS_PER_REQUEST: "5" } }); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

test("same key, same body → the stored answer again, X-Idempotency-Replayed: true, nothing sent", async () => {
  const key = fresh("key");
  const body = ndjson([rec(fresh("i")), "{bad", rec(fresh("i"))]);
  const first = await post(h, body, { idem: key });
  assertSummary(first, 207, { accepted: 2, rejected: 1 });
  assert.equal(first.headers.get("x-idempotency-replayed"), null);
  const sent = h.recorder.calls.length;
  assert.equal(sent, 1);

  const second = await post(h, body, { idem: key });
  assert.equal(second.status, first.status);
  assert.equal(second.text, first.text, "byte-identical answer");
  assert.equal(second.headers.get("content-type"), first.headers.get("content-type"));
  assert.equal(second.headers.get("x-idempotency-replayed"), "true");
  assert.equal(h.recorder.calls.length, sent, "a replay sends nothing");
});

test("same key, different body → 422 idempotency-mismatch, nothing sent", async () => {
  const key = fresh("key");
  const first = await post(h, ndjson([rec(fresh("m"))]), { idem: key });
  assertSummary(first, 200, { accepted: 1 });
  h.recorder.reset();
  const r = await post(h, ndjson([rec(fresh("m"))]), { idem: key });
  assertProblem(r, 422, "idempotency-mismatch", { title: "Unprocessable Content", detail: "this X-Idempotency-Key was used with a different body" });
  assert.equal(r.headers.get("x-idempotency-replayed"), null);
  assert.equal(h.recorder.calls.length, 0);
});

test("the same key from another org is independent (processed, not replayed)", async () => {
  const key = fresh("key");
  const [a, b] = [fresh("o"), fresh("o")];
  const body = ndjson([rec(a, { markdown: `acme ${a}` })]);
  assertSummary(await post(h, body, { idem: key, token: mint({ org: "acme" }) }), 200, { accepted: 1 });
  const other = await post(h, ndjson([rec(b)]), { idem: key, token: mint({ org: "globex" }) });
  assertSummary(other, 200, { accepted: 1 });
  assert.equal(other.headers.get("x-idempotency-replayed"), null);
  assert.deepEqual(h.recorder.accepted().map((x) => [x.id, x.owner_org]), [[a, "acme"], [b, "globex"]]);
});

test("the same key while the first request is still sending → 409 idempotency-in-flight; then replays", async () => {
  const key = fresh("key");
  const body = ndjson([rec(fresh("slow"))]);
  h.recorder.failNext(1, "hang", { ms: 1500 });
  const first = post(h, body, { idem: key });
  await until(() => h.recorder.calls.length === 1);
  const r = await post(h, body, { idem: key });
  assertProblem(r, 409, "idempotency-in-flight", { title: "Conflict" });
  const done = await first;
  assertSummary(done, 200, { accepted: 1 });
  assert.equal(h.recorder.calls.length, 1, "the 409 sent nothing");
  const replay = await post(h, body, { idem: key });
  assert.equal(replay.headers.get("x-idempotency-replayed"), "true");
  assert.equal(replay.text, done.text);
});

test("a 503 answer is not stored: the same key and body are processed again", async () => {
  const key = fresh("key");
  const id = fresh("retry");
  const body = ndjson([rec(id)]);
  h.recorder.failNext(2, "503");
  assertProblem(await post(h, body, { idem: key }), 503, "pipeline-unavailable", { unsent_lines: [1] });
  h.recorder.reset();
  const again = await post(h, body, { idem: key });
  assertSummary(again, 200, { accepted: 1, deduped: 0 });
  assert.equal(again.headers.get("x-idempotency-replayed"), null);
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [id]);
});

test("an early stop (413) is not stored: the key can be used again, even with another body", async () => {
  const key = fresh("key");
  const six = ndjson(Array.from({ length: 6 }, () => rec(fresh("six"))));
  assertProblem(await post(h, six, { idem: key }), 413, "too-many-artifacts", { limit: 5 });
  const again = await post(h, six, { idem: key });
  assertProblem(again, 413, "too-many-artifacts");
  assert.equal(again.headers.get("x-idempotency-replayed"), null);
  const id = fresh("fits");
  const ok = await post(h, ndjson([rec(id)]), { idem: key });
  assertSummary(ok, 200, { accepted: 1 });
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [id]);
});

test("a 4xx answer is stored and replayed like a success", async () => {
  const key = fresh("key");
  const body = ndjson([rec("..")]);
  const first = await post(h, body, { idem: key });
  assertProblem(first, 400, "invalid-records");
  const second = await post(h, body, { idem: key });
  assert.equal(second.status, 400);
  assert.equal(second.headers.get("content-type"), "application/problem+json");
  assert.equal(second.headers.get("x-idempotency-replayed"), "true");
  assert.equal(second.text, first.text);
});

test("a gzip body replays when the same bytes are sent again", async () => {
  const key = fresh("key");
  const gz = gzipSync(ndjson([rec(fresh("gz"))]));
  assertSummary(await post(h, gz, { idem: key, headers: { "content-encoding": "gzip" } }), 200, { accepted: 1 });
  const again = await post(h, gz, { idem: key, headers: { "content-encoding": "gzip" } });
  assert.equal(again.headers.get("x-idempotency-replayed"), "true");
  assert.equal(h.recorder.calls.length, 1);
});

test("an over-long or non-ASCII key → 400 bad-idempotency-key", async () => {
  for (const key of ["k".repeat(257), "clé"]) {
    const r = await post(h, ndjson([rec(fresh("bad"))]), { idem: key });
    assertProblem(r, 400, "bad-idempotency-key");
  }
  assert.equal(h.recorder.calls.length, 0);
});

// Regression (security issue 12, finding A): the KV key was `idem:{org}:{key}`, so org "acme:x"
// with key "k" and org "acme" with key "x:k" shared one stored answer. Every pair below joins to
// the same text with plain `:` separators (with or without the sub).
test("org acme:x with key k and org acme with key x:k never share a stored answer", async () => {
  const k = fresh("sep");
  const pairs = [
    [{ org: "acme:x", sub: "alice", key: `k${k}` }, { org: "acme", sub: "alice", key: `x:k${k}` }],
    [{ org: "acme:x", sub: "alice", key: `j${k}` }, { org: "acme", sub: "x:alice", key: `j${k}` }],
    [{ org: "acme%3Ax", sub: "alice", key: `i${k}` }, { org: "acme:x", sub: "alice", key: `i${k}` }],
  ];
  for (const [first, second] of pairs) {
    h.recorder.reset();
    const body = ndjson([rec(fresh("sep"))]);
    assertSummary(await post(h, body, { idem: first.key, token: mint({ org: first.org, sub: first.sub }) }), 200, { accepted: 1 });
    const b = await post(h, body, { idem: second.key, token: mint({ org: second.org, sub: second.sub }) });
    assertSummary(b, 200, { accepted: 1 });
    assert.equal(b.headers.get("x-idempotency-replayed"), null, `${JSON.stringify(second)} was given the answer of ${JSON.stringify(first)}`);
    assert.deepEqual(h.recorder.accepted().map((x) => [x.owner_org, x.owner_user]), [[first.org, first.sub], [second.org, second.sub]]);
  }
});

// Decision (docs/ingest.md): a key belongs to one principal (org and sub). Another user of the
// org reusing it is processed as its own request: a replay would tell bob his records were
// stored when alice's were, under her ownership.
test("another user of the same org reusing a key is processed as its own request", async () => {
  const key = fresh("key");
  const body = ndjson([rec(fresh("sub"))]);
  assertSummary(await post(h, body, { idem: key, token: mint({ sub: "alice" }) }), 200, { accepted: 1 });
  const bob = await post(h, body, { idem: key, token: mint({ sub: "bob" }) });
  assertSummary(bob, 200, { accepted: 1, deduped: 0 });
  assert.equal(bob.headers.get("x-idempotency-replayed"), null);
  assert.deepEqual(h.recorder.accepted().map((x) => x.owner_user), ["alice", "bob"]);
});

// Regression (security issue 12, finding B): a `read:*` token of the same principal was given
// the stored `accepted` answer of a write it could never have made.
test("a replay goes only to a token that may write every namespace the request wrote; others get what they would without the key", async () => {
  const key = fresh("key");
  const [d, b] = [fresh("scope"), fresh("scope")];
  const body = ndjson([rec(d), { ns: "blog", type: "post", id: b, markdown: "b" }]);
  const first = await post(h, body, { idem: key, token: mint({ scopes: ["write:*"] }) });
  assertSummary(first, 200, { accepted: 2 });
  assert.equal(h.recorder.calls.length, 1);

  const readOnly = await post(h, body, { idem: key, token: mint({ scopes: ["read:*"] }) });
  assertProblem(readOnly, 403, "forbidden", { accepted: 0, rejected: 2 });
  assert.equal(readOnly.headers.get("x-idempotency-replayed"), null, "no stored answer for a token without write scope");
  assert.deepEqual(readOnly.body.rejected_lines.map((r) => [r.line, r.field]), [[1, "ns"], [2, "ns"]]);

  // write:docs only: the blog line is refused as it would be without the key, the docs line is
  // processed (and deduped: the same owner wrote the same content).
  const docsOnly = await post(h, body, { idem: key, token: mint({ scopes: ["write:docs"] }) });
  assertSummary(docsOnly, 207, { accepted: 1, deduped: 1, deduped_lines: [1], rejected: 1 });
  assert.equal(docsOnly.headers.get("x-idempotency-replayed"), null);
  assert.equal(h.recorder.calls.length, 1, "nothing sent again");

  // Tokens that may write both namespaces get the replay, and the stored answer is intact.
  for (const scopes of [["write:docs", "write:blog"], ["write:*"]]) {
    const again = await post(h, body, { idem: key, token: mint({ scopes }) });
    assert.equal(again.headers.get("x-idempotency-replayed"), "true", scopes.join(" "));
    assert.equal(again.text, first.text);
  }
});

test("no wasm trap during the idempotency spec", async () => {
  await assertNoTrap(h);
});
