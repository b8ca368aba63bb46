// Record contract v2 end to end (ingest → stand-in → serve): nested ids, `supersedes`, `tags`,
// `expires_at`; every route that names an artifact follows nested ids (GET, @version, .json,
// DELETE, batch refs, signed URLs, `inputs`/`supersedes` refs, HTML links, listing); malformed v2
// fields are per-line errors; a v1 record (none of the new fields) still round-trips.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, del, ndjson, fresh, assertProblem, assertSummary, contentHash } from "./support/ingest.mjs";
import { fetchContent, freePort, rawGet } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const token = () => mint({ org: "acme", sub: "alice", scopes: ["write:*", "read:*"] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let h;
before(async () => {
  const port = await freePort();
  h = await start({ standin: true, ports: { serve: port }, serveVars: { METADATA_TTL_SECONDS: "0" }, standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" } });
  h.servePort = port;
});
after(() => h?.dispose());

const get = (p, t = token()) => fetchContent(h, p, { token: t });
async function commit(records) {
  const r = await post(h, ndjson(records), { token: token() });
  assertSummary(r, 200, { accepted: records.length });
  await h.flush("build");
}

describe("nested ids", () => {
  const ns = `v2-${fresh("ns")}`.slice(0, 60);
  before(async () => {
    await commit([
      { ns, type: "guide", id: "install/linux", visibility: "public", markdown: "# Linux", html: '<a href="mac.md">mac</a> <a href="../intro.md">intro</a>' },
      { ns, type: "guide", id: "install/mac", visibility: "public", markdown: "# Mac" },
      { ns, type: "guide", id: "a/b", visibility: "public", markdown: "slash" },
      { ns, type: "guide", id: "a.b", visibility: "public", markdown: "dot" },
      { ns, type: "guide", id: "intro", visibility: "public", markdown: "# Intro" },
    ]);
  });

  test("GET reads everything after {ns}/{type}/ up to the extension as the id", async () => {
    const r = await get(`/$.content/${ns}/guide/install/linux.md`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, "# Linux");
    assert.equal(r.headers.get("cache-tag"), `art:${ns}/guide/install/linux`);
    assert.equal((await get(`/$.content/${ns}/guide/install/mac.md`)).text, "# Mac");
  });

  test("a/b.md and a.b.md are different artifacts", async () => {
    assert.equal((await get(`/$.content/${ns}/guide/a/b.md`)).text, "slash");
    assert.equal((await get(`/$.content/${ns}/guide/a.b.md`)).text, "dot");
    // The same answers from the cache (keys differ too).
    await sleep(100);
    const [slash, dot] = [await get(`/$.content/${ns}/guide/a/b.md`), await get(`/$.content/${ns}/guide/a.b.md`)];
    assert.equal(slash.headers.get("x-artifact-source"), "cache");
    assert.deepEqual([slash.text, dot.text], ["slash", "dot"]);
  });

  test("@version follows the whole nested id", async () => {
    const now = new Date(Date.now() + 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const r = await get(`/$.content/${ns}/guide/install/linux@${now}.md`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, "# Linux");
  });

  // `.` and `..` segments never reach the route: URL parsing (the client's and the runtime's
  // alike, even for a raw `%2e%2e`) resolves them first, so `install/../intro.md` *is* intro.md.
  test("dot segments are resolved by URL parsing before routing", async () => {
    const r = await rawGet(h.servePort, `/$.content/${ns}/guide/install/../intro.md`);
    assert.equal(r.status, 200);
    assert.equal(r.text, "# Intro");
  });

  test("empty segments and encoded slashes are 400 bad-path", async () => {
    for (const p of ["install//linux.md", "install%2Flinux.md", "install/linux/.md"]) {
      const r = await get(`/$.content/${ns}/guide/${p}`);
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.ok(r.body.type.endsWith("bad-path"), p);
    }
  });

  test("HTML links resolve from the nested id's folder", async () => {
    const r = await get(`/$.content/${ns}/guide/install/linux.html`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, new RegExp(`href="/\\$\\.content/${ns}/guide/install/mac\\.md"`));
    assert.match(r.text, new RegExp(`href="/\\$\\.content/${ns}/guide/intro\\.md"`));
  });

  test("batch refs, signed URLs and the listing take nested ids", async () => {
    const res = await h.serve("/$.content/batch", { method: "POST", body: JSON.stringify([`${ns}/guide/install/linux.md`, `${ns}/guide/a/b.md`, `${ns}/guide/a.b.md`]) });
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l)).filter((l) => !l.end);
    assert.deepEqual(lines.map((l) => l.body), ["# Linux", "slash", "dot"]);
    const s = await h.serve("/$.content/sign", { method: "POST", headers: { authorization: `Bearer ${token()}` }, body: JSON.stringify({ path: `/$.content/${ns}/guide/install/mac.md` }) });
    assert.equal(s.status, 200);
    const { url } = await s.json();
    const signed = await fetchContent(h, `${url}&download=1`);
    assert.equal(signed.text, "# Mac");
    assert.equal(signed.headers.get("content-disposition"), 'attachment; filename="mac.md"', "a file name is the last segment");
    const list = await get(`/$.content/${ns}/guide/`);
    assert.deepEqual(list.body.items.map((i) => i.id), ["a.b", "a/b", "install/linux", "install/mac", "intro"]);
  });

  test("DELETE takes a nested id and tombstones exactly that artifact", async () => {
    const r = await del(h, `${ns}/guide/install/mac`, { token: token() });
    assert.equal(r.status, 200, r.text);
    await h.flush("build");
    assertProblem(await get(`/$.content/${ns}/guide/install/mac.md?fresh=1`), 404, "not-found");
    assert.equal((await get(`/$.content/${ns}/guide/install/linux.md?fresh=1`)).text, "# Linux");
  });

  test("DELETE of a malformed nested id is 400, nothing sent", async () => {
    for (const p of [`${ns}/guide//linux`, `${ns}/guide/install//linux`, `${ns}/guide/install/`]) {
      const r = await del(h, p, { token: token() });
      assert.equal(r.status, 400, `${p}: ${r.text}`);
    }
  });
});

describe("supersedes, tags, expires_at", () => {
  const ns = `v2-${fresh("meta")}`.slice(0, 60);

  test("are accepted, stored, and read back by .json", async () => {
    const rec = {
      ns, type: "guide", id: "install/linux", visibility: "public", markdown: "# v2",
      inputs: [`${ns}/src/install/linux`], supersedes: [`${ns}/guide/install-linux`],
      tags: { team: "docs", "release:train": "2027.1" }, expires_at: "2030-01-01T00:00:00Z",
    };
    await commit([rec]);
    const r = await get(`/$.content/${ns}/guide/install/linux.json`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.supersedes, rec.supersedes);
    assert.deepEqual(r.body.inputs, rec.inputs);
    assert.deepEqual(r.body.tags, { "release:train": "2027.1", team: "docs" });
    assert.equal(r.body.expires_at, "2030-01-01T00:00:00.000000Z");
    // content_hash covers the metadata (canonical tags, lists as JSON, expires_at in µs).
    assert.equal(r.body.content_hash, contentHash({
      markdown: "# v2",
      inputs: JSON.stringify(rec.inputs),
      supersedes: JSON.stringify(rec.supersedes),
      tags: '{"release:train":"2027.1","team":"docs"}',
      expires_at: "1893456000000000",
    }));
  });

  test("a change to the metadata alone is a new version (never deduped)", async () => {
    const base = { ns, type: "guide", id: "tagged", visibility: "public", markdown: "same" };
    await commit([{ ...base, tags: { stage: "draft" } }]);
    const again = await post(h, ndjson([{ ...base, tags: { stage: "final" } }]), { token: token() });
    assertSummary(again, 200, { accepted: 1, deduped: 0 });
    await h.flush("build");
    assert.deepEqual((await get(`/$.content/${ns}/guide/tagged.json?fresh=1`)).body.tags, { stage: "final" });
    const same = await post(h, ndjson([{ ...base, tags: { stage: "final" } }]), { token: token() });
    assertSummary(same, 200, { accepted: 1, deduped: 1 });
  });

  test("malformed v2 fields are per-line errors naming the field; the good lines are written", async () => {
    const good = { ns, type: "guide", id: "good", markdown: "ok" };
    const lines = [
      good,
      { ...good, id: "a//b" },
      { ...good, id: "x", supersedes: ["only/two"] },
      { ...good, id: "x", supersedes: "ns/type/id" },
      { ...good, id: "x", tags: ["a"] },
      { ...good, id: "x", tags: { "bad key": "v" } },
      { ...good, id: "x", tags: { k: 1 } },
      { ...good, id: "x", expires_at: "2001-01-01T00:00:00Z" },
      { ...good, id: "x", expires_at: "tomorrow" },
      { ...good, id: "x", inputs: ["a/b/c/../d"] },
    ];
    const r = await post(h, ndjson(lines), { token: token() });
    assert.equal(r.status, 207, r.text);
    assert.equal(r.body.accepted, 1);
    assert.deepEqual(r.body.rejected_lines.map((l) => [l.line, l.field]), [
      [2, "id"], [3, "supersedes"], [4, "supersedes"], [5, "tags"], [6, "tags"], [7, "tags"], [8, "expires_at"], [9, "expires_at"], [10, "inputs"],
    ]);
  });

  test("a v1 record (no new fields) still round-trips; the new members are null", async () => {
    await commit([{ ns, type: "guide", id: "old-client", visibility: "public", markdown: "# v1" }]);
    const r = await get(`/$.content/${ns}/guide/old-client.json`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.content_hash, contentHash({ markdown: "# v1" }), "hashed as in contract v1");
    for (const k of ["supersedes", "tags", "expires_at", "inputs"]) assert.equal(r.body[k], null, k);
  });
});
