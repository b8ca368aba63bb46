// Bearer tokens on POST /$.artifacts: who may write at all, and which namespaces.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { mint, tamper, claimsOf } from "./support/token.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertSummary, assertNoTrap } from "./support/ingest.mjs";

let h;
before(async () => { h = await start(); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

const body = () => ndjson([rec(fresh("auth"))]);
const nowSecs = () => Math.floor(Date.now() / 1000);

function assertInvalidToken(r, detail) {
  assertProblem(r, 401, "invalid-token", { title: "Unauthorized", detail });
  const challenge = r.headers.get("www-authenticate");
  assert.ok(challenge, "a 401 carries WWW-Authenticate");
  assert.match(challenge, /^Bearer realm="artifacts", error="invalid_token"/);
  assert.equal(h.recorder.calls.length, 0, "nothing may be sent for a refused token");
}

test("no Authorization header → 401 unauthorized with a Bearer challenge, nothing sent", async () => {
  const r = await post(h, body(), { token: null });
  assertProblem(r, 401, "unauthorized", { title: "Unauthorized", detail: "an Authorization: Bearer token is required" });
  assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer realm="artifacts"/);
  assert.equal(h.recorder.calls.length, 0);
});

test("a non-Bearer scheme counts as missing → 401 unauthorized", async () => {
  const r = await post(h, body(), { token: null, headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` } });
  assertProblem(r, 401, "unauthorized");
  assert.ok(r.headers.get("www-authenticate"));
  assert.equal(h.recorder.calls.length, 0);
});

test("an expired token → 401 invalid-token", async () => {
  const r = await post(h, body(), { token: mint({ exp: nowSecs() - 5 }) });
  assertInvalidToken(r, "The token has expired.");
});

test("a token whose payload was tampered with (org changed) → 401 invalid-token (bad signature)", async () => {
  const good = mint();
  const r = await post(h, body(), { token: tamper(good, { ...claimsOf(good), org: "globex" }) });
  assertInvalidToken(r, "The token's signature is not valid.");
});

test("a token whose scopes were widened after signing → 401 invalid-token", async () => {
  const good = mint({ scopes: ["write:docs"] });
  const r = await post(h, body(), { token: tamper(good, { ...claimsOf(good), scopes: ["write:*"] }) });
  assertInvalidToken(r, "The token's signature is not valid.");
});

test("a token signed with another secret → 401 invalid-token", async () => {
  const r = await post(h, body(), { token: mint({}, { secret: "not-the-server-secret" }) });
  assertInvalidToken(r, "The token's signature is not valid.");
});

test('alg "none" with an empty signature → 401 invalid-token (unsupported algorithm)', async () => {
  const r = await post(h, body(), { token: mint({}, { header: { alg: "none", typ: "JWT" }, signature: "" }) });
  assertInvalidToken(r, "The token's algorithm is not supported; only HS256 is accepted.");
});

test('alg "HS512" correctly signed with the server secret → 401 invalid-token (no alg confusion)', async () => {
  const r = await post(h, body(), { token: mint({}, { header: { alg: "HS512", typ: "JWT" }, hmac: "sha512" }) });
  assertInvalidToken(r, "The token's algorithm is not supported; only HS256 is accepted.");
});

test('alg "hs256" (wrong case) → 401 invalid-token', async () => {
  const r = await post(h, body(), { token: mint({}, { header: { alg: "hs256", typ: "JWT" } }) });
  assertInvalidToken(r, "The token's algorithm is not supported; only HS256 is accepted.");
});

test("a garbage token → 401 invalid-token (malformed)", async () => {
  const r = await post(h, body(), { token: "not.a-token" });
  assertInvalidToken(r, /well-formed compact JWT/);
});

test("a token without org → 401 invalid-token (missing claim)", async () => {
  const r = await post(h, body(), { token: mint({ org: undefined }) });
  assertInvalidToken(r, /lacks a required claim/);
});

test("write:docs may write ns docs: 200 and the record reaches the build stream", async () => {
  const id = fresh("scoped");
  const r = await post(h, ndjson([rec(id)]), { token: mint({ scopes: ["write:docs"] }) });
  assertSummary(r, 200, { accepted: 1, rejected: 0, rejected_lines: [] });
  assert.deepEqual(h.recorder.accepted("build").map((x) => [x.ns, x.id]), [["docs", id]]);
});

test("write:docs may not write ns blog or docs2: those lines are rejected with field ns (207)", async () => {
  const ok = fresh("ok");
  const r = await post(h, ndjson([rec(ok), { ...rec(fresh("b")), ns: "blog" }, { ...rec(fresh("c")), ns: "docs2" }]), {
    token: mint({ scopes: ["write:docs"] }),
  });
  assertSummary(r, 207, {
    accepted: 1,
    rejected: 2,
    rejected_lines: [
      { line: 2, field: "ns", reason: "the token has no write scope for namespace blog" },
      { line: 3, field: "ns", reason: "the token has no write scope for namespace docs2" },
    ],
  });
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [ok]);
});

test("no line within the token's scopes → 403 forbidden listing the lines, nothing sent", async () => {
  const r = await post(h, ndjson([{ ...rec(fresh("b")), ns: "blog" }, { ...rec(fresh("c")), ns: "blog" }]), {
    token: mint({ scopes: ["write:docs", "read:*"] }),
  });
  assertProblem(r, 403, "forbidden", {
    title: "Forbidden",
    accepted: 0,
    rejected: 2,
    rejected_lines: [
      { line: 1, field: "ns", reason: "the token has no write scope for namespace blog" },
      { line: 2, field: "ns", reason: "the token has no write scope for namespace blog" },
    ],
  });
  assert.equal(h.recorder.calls.length, 0);
});

test("a read-only token cannot write (403)", async () => {
  const r = await post(h, body(), { token: mint({ scopes: ["read:*"] }) });
  assertProblem(r, 403, "forbidden", { rejected: 1 });
  assert.equal(h.recorder.calls.length, 0);
});

test("no wasm trap during the auth spec", async () => {
  await assertNoTrap(h);
});
