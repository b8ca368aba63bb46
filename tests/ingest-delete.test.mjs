// DELETE /$.artifacts/{ns}/{type}/{id}: a tombstone record through the same path as writes.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { mint } from "./support/token.mjs";
import { del, read, fresh, assertProblem, assertNoTrap, contentHash, COLUMNS } from "./support/ingest.mjs";

let h;
before(async () => { h = await start(); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

test("DELETE /$.artifacts/docs/guide/intro → 200 and a tombstone with deleted=true and no content", async () => {
  const t0 = Date.now();
  const r = await del(h, "docs/guide/intro", { token: mint({ sub: "carol", org: "acme" }) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.deepEqual(r.body, { mode: "build", deleted: "docs/guide/intro", deduped: false });
  const [t] = h.recorder.accepted("build");
  assert.equal(h.recorder.accepted().length, 1);
  assert.deepEqual(Object.keys(t).sort(), [...COLUMNS].sort());
  assert.deepEqual([t.ns, t.type, t.id, t.deleted], ["docs", "guide", "intro", true]);
  for (const c of ["markdown", "mdx", "html", "esm", "dts", "css", "mdast", "hast", "estree", "frontmatter", "inputs"]) {
    assert.equal(t[c], null, `${c} is null on a tombstone`);
  }
  assert.equal(t.size_bytes, 0);
  assert.equal(t.content_hash, contentHash({}));
  assert.equal(t.owner_org, "acme");
  assert.equal(t.owner_user, "carol");
  assert.ok(Number.isInteger(t.ts) && t.ts >= (t0 - 2000) * 1000, `ts ${t.ts}`);
});

test("deleting the same artifact again is deduped (nothing sent)", async () => {
  const id = fresh("twice");
  assert.equal((await del(h, `docs/guide/${id}`)).status, 200);
  h.recorder.reset();
  const r = await del(h, `docs/guide/${id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.deduped, true);
  assert.equal(h.recorder.calls.length, 0);
});

test("a percent-encoded ns (team%40x) decodes to team@x", async () => {
  const id = fresh("enc");
  const r = await del(h, `team%40x/guide/${id}`, { token: mint({ scopes: ["write:team@x"] }) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.deleted, `team@x/guide/${id}`);
  assert.deepEqual(h.recorder.accepted().map((x) => [x.ns, x.id, x.deleted]), [["team@x", id, true]]);
});

test("X-Artifact-Mode routes the tombstone (preview)", async () => {
  const r = await del(h, `docs/guide/${fresh("pv")}`, { mode: "preview" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.mode, "preview");
  assert.equal(h.recorder.accepted("preview").length, 1);
  assert.equal(h.recorder.accepted("build").length, 0);
});

test("without a write scope for the ns → 403 forbidden, nothing sent", async () => {
  const r = await del(h, `blog/post/${fresh("x")}`, { token: mint({ scopes: ["write:docs"] }) });
  assertProblem(r, 403, "forbidden", { detail: "the token has no write scope for namespace blog" });
  assert.equal(h.recorder.calls.length, 0);
});

test("without a token → 401 with WWW-Authenticate", async () => {
  const r = await del(h, "docs/guide/intro", { token: null });
  assertProblem(r, 401, "unauthorized");
  assert.ok(r.headers.get("www-authenticate"));
  assert.equal(h.recorder.calls.length, 0);
});

test("an invalid segment → 400 invalid-path naming the field; a malformed escape → 400 bad-path", async () => {
  assertProblem(await del(h, "a%20b/guide/intro"), 400, "invalid-path", { field: "ns" });
  assertProblem(await del(h, "docs/guide/%zz"), 400, "bad-path");
  assertProblem(await del(h, "docs/guide/a%2Fb"), 400, "bad-path");
  assert.equal(h.recorder.calls.length, 0);
});

test("the stream never confirming the tombstone → 503 pipeline-unavailable with Retry-After", async () => {
  h.recorder.failNext(100, "503");
  const r = await del(h, `docs/guide/${fresh("down")}`);
  assertProblem(r, 503, "pipeline-unavailable", { title: "Tombstone not accepted", last_error: /503/ });
  assert.ok(r.headers.get("retry-after"));
  assert.deepEqual(h.recorder.accepted(), []);
});

test("other methods on an artifact path → 405 naming DELETE; POST /$.artifacts only takes POST", async () => {
  const g = await read(await h.ingest("/$.artifacts/docs/guide/intro", { method: "GET", headers: { authorization: `Bearer ${mint()}` } }));
  assertProblem(g, 405, "method-not-allowed", { allow: "DELETE" });
  const p = await read(await h.ingest("/$.artifacts", { method: "PUT", body: "x" }));
  assertProblem(p, 405, "method-not-allowed", { allow: "POST" });
});

test("a 405 carries an Allow header (RFC 9110 §15.5.6)", async () => {
  const g = await h.ingest("/$.artifacts/docs/guide/intro", { method: "GET" });
  await g.text();
  assert.equal(g.status, 405);
  assert.equal(g.headers.get("allow"), "DELETE");
  const p = await h.ingest("/$.artifacts", { method: "GET" });
  await p.text();
  assert.equal(p.status, 405);
  assert.equal(p.headers.get("allow"), "POST");
});

test("no wasm trap during the delete spec", async () => {
  await assertNoTrap(h);
});
