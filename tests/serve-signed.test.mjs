// Signed URLs: POST /$.content/sign (authenticated) returns a URL that serves one artifact
// without a token until it expires; tampering or expiry → 403; ?download=1 → attachment.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWarehouse, expectedTable } from "./support/warehouse.mjs";
import { fetchContent, ownerToken, readToken } from "./support/content.mjs";

const ROOT = "artifacts/pyi_unpartitioned";
const table = expectedTable(ROOT);
const [key, w] = Object.entries(table.winners).find(([, w]) => w.row.visibility === "org" && !w.row.deleted && w.row.markdown);
const path = `/$.content/${key}.md`;
let h;
before(async () => { h = await startWarehouse(ROOT); });
after(() => h?.dispose());

async function sign(token, body) {
  const res = await h.serve("/$.content/sign", {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

test("the owner signs; anyone with the URL reads that artifact, privately", async () => {
  const s = await sign(ownerToken(w.row), { path, expires_in: 600 });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  assert.match(s.body.url, /^\/\$\.content\/.+\.md\?exp=\d+&by_org=[^&]+&by_sub=[^&]+&kid=[0-9a-f]{16}&sig=[0-9a-f]{64}$/);
  assert.equal((await fetchContent(h, path)).status, 404, "without the signature it stays hidden");
  const r = await fetchContent(h, s.body.url);
  assert.equal(r.status, 200);
  assert.equal(r.text, w.row.markdown);
  assert.match(r.headers.get("cache-control"), /^(private|no-store)/);
  const d = await fetchContent(h, `${s.body.url}&download=1`);
  assert.equal(d.headers.get("content-disposition"), `attachment; filename="${key.split("/")[2]}.md"`);
});

test("tampered signature, expiry or path → 403 bad-signature", async () => {
  const { body } = await sign(ownerToken(w.row), { path, expires_in: 600 });
  const u = new URL(body.url, "http://x");
  const sig = u.searchParams.get("sig");
  const exp = Number(u.searchParams.get("exp"));
  const flip = (sig[0] === "a" ? "b" : "a") + sig.slice(1);
  const others = Object.keys(table.winners).filter((k) => k !== key);
  const q = (over = {}) => {
    const p = new URLSearchParams(u.search);
    for (const [name, v] of Object.entries(over)) (v === null ? p.delete(name) : p.set(name, String(v)));
    return p.toString();
  };
  for (const bad of [
    `${path}?${q({ sig: flip })}`,
    `${path}?${q({ exp: exp + 1 })}`,
    `/$.content/${others[0]}.md?${q()}`,
    `${path}?${q({ sig: null })}`,
    `${path}?${q({ exp: null })}`,
    `${path}?${q({ by_sub: "someone-else" })}`,
    `${path}?exp=${exp}&sig=${sig}`,
  ]) {
    const r = await fetchContent(h, bad);
    assert.equal(r.status, 403, bad);
    assert.equal(r.body.type.endsWith("bad-signature"), true, bad);
  }
});

test("an expired signed URL → 403", async () => {
  const { body } = await sign(ownerToken(w.row), { path, expires_in: 1 });
  await new Promise((r) => setTimeout(r, 2_100));
  const r = await fetchContent(h, body.url);
  assert.equal(r.status, 403);
  assert.match(r.body.detail, /expired/);
});

test("signing needs a token, and only what the caller may read can be signed", async () => {
  assert.equal((await sign(undefined, { path })).status, 401);
  const other = await sign(readToken("globex", "mallory"), { path });
  assert.equal(other.status, 404);
  assert.equal((await sign(ownerToken(w.row), { path: "/elsewhere/x.md" })).status, 400);
  assert.equal((await sign(ownerToken(w.row), { path: `${path}?exp=1` })).status, 400);
});

test("serve never trapped", async () => {
  assert.equal((await (await h.serve("/$.health")).json()).resets, 0);
});
