// Lineage (#18, docs/serve.md "Lineage"): `GET /$.lineage/{ns}/{type}/{id}?direction=up|down&depth=N`
// over a small build graph published through ingest → the stand-in (which compacts after each
// commit, so the serving table's edge table holds the `down` edges). Nodes the caller may not read
// are left out with their edges; cycles end; the node cap truncates; bad queries are 400s;
// `status` says superseded when a live successor the caller may read lists the node.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const standinVars = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" };

describe("lineage", { skip: process.env.SERVING === "off" && "down edges come from the serving table" }, () => {
  let h;
  const ns = fresh("lin").replaceAll("_", "-");
  const r = (type, id) => `${ns}/${type}/${id}`;
  const alice = () => readToken("acme", "alice");
  before(async () => {
    h = await start({ standin: true, standinVars, serveVars: { METADATA_TTL_SECONDS: "0" } });
    const rec = (type, id, extra = {}) => ({ ns, type, id, visibility: "org", markdown: `# ${id}`, ...extra });
    const recs = [
      rec("src", "a"),
      rec("src", "b"),
      rec("src", "hidden", { visibility: "user" }),
      rec("lib", "x", { inputs: [r("src", "a"), r("src", "b")] }),
      rec("app", "y", { inputs: [r("lib", "x")] }),
      rec("app", "z", { inputs: [r("lib", "x"), r("src", "hidden"), r("src", "never-written")] }),
      rec("loop", "c1", { inputs: [r("loop", "c2")] }),
      rec("loop", "c2", { inputs: [r("loop", "c1")] }),
      rec("doc", "v1"),
      rec("doc", "v2", { supersedes: [r("doc", "v1")] }),
      ...Array.from({ length: 210 }, (_, i) => rec("many", `m${String(i).padStart(3, "0")}`)),
    ];
    const res = await post(h, ndjson(recs), { token: mint({ org: "acme", sub: "carol", scopes: ["write:*"] }), mode: "build" });
    assert.equal(res.status, 200, res.text);
    const fan = await post(h, ndjson([rec("app", "fan", { inputs: recs.filter((x) => x.type === "many").map((x) => r("many", x.id)) })]), {
      token: mint({ org: "acme", sub: "carol", scopes: ["write:*"] }),
      mode: "build",
    });
    assert.equal(fan.status, 200, fan.text);
    await h.flush();
    // The hidden input belongs to carol (visibility user): alice does not see it.
  });
  after(async () => {
    await h?.dispose();
  });

  const lineage = (ref, q = "", token = alice()) => fetchContent(h, `/$.lineage/${ref}${q ? `?${q}` : ""}`, { token });
  const shape = (body) => ({ nodes: body.nodes.map((n) => n.ref).sort(), edges: body.edges.map((e) => `${e.from}>${e.to}`).sort() });

  test("up: what an artifact was built from, to the depth asked", async () => {
    const one = await lineage(r("app", "y"));
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(shape(one.body), { nodes: [r("app", "y"), r("lib", "x")].sort(), edges: [`${r("lib", "x")}>${r("app", "y")}`] });
    assert.equal(one.body.nodes[0].ref, r("app", "y"), "the start first");
    assert.equal(one.body.truncated, false);
    assert.match(one.headers.get("cache-control") ?? "", /private/);
    const two = await lineage(r("app", "y"), "direction=up&depth=2");
    assert.deepEqual(shape(two.body), {
      nodes: [r("app", "y"), r("lib", "x"), r("src", "a"), r("src", "b")].sort(),
      edges: [`${r("lib", "x")}>${r("app", "y")}`, `${r("src", "a")}>${r("lib", "x")}`, `${r("src", "b")}>${r("lib", "x")}`].sort(),
    });
    for (const n of two.body.nodes) {
      assert.equal(n.visibility, "org");
      assert.equal(n.status, "active");
      assert.match(n.ts, /^\d{4}-\d\d-\d\dT/);
    }
  });

  test("down: what was built from it, through the edge table", async () => {
    const res = await lineage(r("src", "a"), "direction=down&depth=2");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(shape(res.body), {
      nodes: [r("src", "a"), r("lib", "x"), r("app", "y"), r("app", "z")].sort(),
      edges: [`${r("src", "a")}>${r("lib", "x")}`, `${r("lib", "x")}>${r("app", "y")}`, `${r("lib", "x")}>${r("app", "z")}`].sort(),
    });
  });

  test("nodes the caller may not read are left out with their edges; the owner sees them", async () => {
    const res = await lineage(r("app", "z"));
    assert.deepEqual(shape(res.body), { nodes: [r("app", "z"), r("lib", "x")].sort(), edges: [`${r("lib", "x")}>${r("app", "z")}`] });
    const carol = await lineage(r("app", "z"), "", readToken("acme", "carol"));
    assert.ok(carol.body.nodes.some((n) => n.ref === r("src", "hidden")), JSON.stringify(carol.body));
    // A start the caller may not read is the 404 of a missing one.
    const hidden = await lineage(r("src", "hidden"));
    assert.equal(hidden.status, 404);
    const missing = await lineage(r("src", "nothing"));
    assert.equal(missing.status, 404);
    assert.deepEqual(hidden.body, { ...missing.body, detail: hidden.body.detail });
    const anonymous = await lineage(r("app", "y"), "", null);
    assert.equal(anonymous.status, 404, "org artifacts are not anonymous callers'");
  });

  test("cycles end, the node cap truncates, supersede shows in status", async () => {
    const loop = await lineage(r("loop", "c1"), "depth=8");
    assert.deepEqual(shape(loop.body), { nodes: [r("loop", "c1"), r("loop", "c2")].sort(), edges: [`${r("loop", "c1")}>${r("loop", "c2")}`, `${r("loop", "c2")}>${r("loop", "c1")}`].sort() });
    const fan = await lineage(r("app", "fan"));
    assert.equal(fan.status, 200, fan.text);
    assert.equal(fan.body.truncated, true);
    assert.equal(fan.body.nodes.length, 200);
    const v1 = await lineage(r("doc", "v1"));
    assert.equal(v1.body.nodes[0].status, "superseded");
    const v2 = await lineage(r("doc", "v2"));
    assert.equal(v2.body.nodes[0].status, "active");
    // The listing says so too, and filters by it.
    const all = await fetchContent(h, `/$.content/${ns}/doc/`, { token: alice() });
    assert.deepEqual(all.body.items.map((i) => [i.id, i.status]), [["v1", "superseded"], ["v2", "active"]]);
    const superseded = await fetchContent(h, `/$.content/${ns}/doc/?status=superseded`, { token: alice() });
    assert.deepEqual(superseded.body.items.map((i) => i.id), ["v1"]);
    const active = await fetchContent(h, `/$.content/${ns}/doc/?status=active`, { token: alice() });
    assert.deepEqual(active.body.items.map((i) => i.id), ["v2"]);
  });

  test("bad queries are 400 bad-query; other methods 405", async () => {
    for (const [q, says] of [["depth=9", "depth"], ["depth=0", "depth"], ["direction=sideways", "sideways"], ["colour=red", "colour"]]) {
      const res = await lineage(r("app", "y"), q);
      assert.equal(res.status, 400, `${q}: ${res.text}`);
      assert.equal(res.body.type, "https://artifacts.dev/problems/bad-query");
      assert.ok(res.body.detail.includes(says), res.body.detail);
    }
    const version = await lineage(`${r("app", "y")}@2026-01-01T00:00:00Z`);
    assert.equal(version.status, 400);
    const post = await h.serve(`/$.lineage/${r("app", "y")}`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET");
  });
});
