// Read scopes (issue 14): `org`/`user` reads need `read:<ns>` or `read:*` in the token, and
// `write:<ns>` implies read of that namespace; public and unlisted need nothing. A refused read is
// the 404 of a missing artifact, from the table and from the cache alike; listings and batches
// apply it per item; signing needs read scope for the namespace (a signed URL is judged by its
// signer's org and sub, its scopes are not in the URL).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWarehouse, expectedTable } from "./support/warehouse.mjs";
import { fetchContent } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const ROOT = "artifacts/pyi_unpartitioned";
const table = expectedTable(ROOT);
const live = ([, w]) => !w.row.deleted && w.row.markdown;
// Org content of `docs`, owned by acme/alice.
const [orgKey, orgW] = Object.entries(table.winners).find((e) => e[1].row.visibility === "org" && e[0].startsWith("docs/") && live(e));
const [ns, ty] = orgKey.split("/");
// Public content (in another namespace) and its owner's org.
const [pubKey, pubW] = Object.entries(table.winners).find((e) => e[1].row.visibility === "public" && live(e));
const pubNs = pubKey.split("/")[0];
const { owner_org: org, owner_user: user } = orgW.row;

const token = (...scopes) => mint({ org, sub: user, scopes });
const other = () => token("read:other-ns");
const get = (p, t) => fetchContent(h, p, { token: t });

let h;
before(async () => { h = await startWarehouse(ROOT); });
after(() => h?.dispose());

test("a token with read:other-ns gets the 404 of a missing artifact for org content of ns", async () => {
  const r = await get(`/$.content/${orgKey}.md`, other());
  const missing = await get(`/$.content/${ns}/${ty}/never-there.md`, other());
  assert.equal(r.status, 404);
  assert.equal(r.body.type, missing.body.type);
  assert.equal(r.body.detail, `no artifact ${orgKey}`);
  for (const t of [token("write:other-ns"), mint({ org, sub: user, scopes: [] })]) {
    assert.equal((await get(`/$.content/${orgKey}.md`, t)).status, 404);
  }
});

test("read:ns, read:* and write:ns read it", async () => {
  for (const t of [token(`read:${ns}`), token("read:*"), token(`write:${ns}`), token("read:other-ns", `write:${ns}`)]) {
    const r = await get(`/$.content/${orgKey}.md`, t);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.text, orgW.row.markdown);
  }
});

test("a cached org answer is not served to a token without read scope", async () => {
  const path = `/$.content/${orgKey}.json`;
  for (let i = 0; i < 2; i++) assert.equal((await get(path, token("read:*"))).status, 200);
  const cached = await get(path, token("read:*"));
  assert.equal(cached.headers.get("x-artifact-source"), "cache");
  assert.equal((await get(path, other())).status, 404);
});

test("public content needs nothing, and shows no owners without read scope", async () => {
  const p = `/$.content/${pubKey}.json`;
  const owners = mint({ org: pubW.row.owner_org, sub: "someone", scopes: ["read:*"] });
  const noScope = mint({ org: pubW.row.owner_org, sub: "someone", scopes: ["read:other-ns"] });
  const withScope = await get(p, owners);
  assert.equal(withScope.status, 200);
  assert.equal(withScope.body.owner_org, pubW.row.owner_org);
  const without = await get(p, noScope);
  assert.equal(without.status, 200);
  assert.equal(without.body.owner_org, undefined, "owners are shown only to readers of the namespace in the owner's org");
  assert.equal((await get(`/$.content/${pubKey}.md`, noScope)).text, pubW.row.markdown);
  assert.ok(pubNs);
});

test("listings and batches apply it per item", async () => {
  const listing = async (t) => (await get(`/$.content/${ns}/${ty}/?limit=1000`, t)).body.items.map((i) => i.id);
  const id = orgKey.split("/").slice(2).join("/");
  assert.ok((await listing(token("read:*"))).includes(id));
  assert.ok((await listing(token(`write:${ns}`))).includes(id));
  assert.ok(!(await listing(other())).includes(id));
  const res = await h.serve("/$.content/batch", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${other()}` },
    body: JSON.stringify([`${orgKey}.md`, `${pubKey}.md`]),
  });
  const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.slice(0, 2).map((l) => l.status), [404, 200]);
});

test("signing needs read scope for the namespace", async () => {
  const sign = async (t, path) => {
    const res = await h.serve("/$.content/sign", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t}` },
      body: JSON.stringify({ path, expires_in: 600 }),
    });
    return { status: res.status, body: await res.json() };
  };
  const refused = await sign(other(), `/$.content/${orgKey}.md`);
  assert.equal(refused.status, 403);
  assert.match(refused.body.detail, /no read scope for namespace/);
  // Public content too: the URL would outlive a change of visibility.
  assert.equal((await sign(mint({ org: pubW.row.owner_org, sub: "x", scopes: ["read:other-ns"] }), `/$.content/${pubKey}.md`)).status, 403);
  const ok = await sign(token(`read:${ns}`), `/$.content/${orgKey}.md`);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const r = await fetchContent(h, ok.body.url);
  assert.equal(r.status, 200);
  assert.equal(r.text, orgW.row.markdown);
});

// Review finding: when an outsider's read cached the public `.json` (owners hidden) first, a
// caller of the owner's org was served that entry and never saw the owners.
test("the owners' org gets the .json with owners even when an anonymous read cached it first", async () => {
  const fresh = await startWarehouse(ROOT);
  try {
    const p = `/$.content/${pubKey}.json`;
    const anon = await fetchContent(fresh, p);
    assert.equal(anon.status, 200);
    assert.equal(anon.body.owner_org, undefined);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetchContent(fresh, p)).headers.get("x-artifact-source"), "cache", "the owner-less entry is cached");
    const inOrg = mint({ org: pubW.row.owner_org, sub: "someone", scopes: ["read:*"] });
    const r = await fetchContent(fresh, p, { token: inOrg });
    assert.equal(r.status, 200);
    assert.equal(r.body.owner_org, pubW.row.owner_org);
    assert.equal(r.body.owner_user, pubW.row.owner_user);
    assert.match(r.headers.get("cache-control"), /^private/);
    // And anonymous callers still get the owner-less entry.
    assert.equal((await fetchContent(fresh, p)).body.owner_org, undefined);
  } finally {
    await fresh.dispose();
  }
});
