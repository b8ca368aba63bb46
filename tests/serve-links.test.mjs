// Status and Link headers (#18, docs/serve.md "Supersede: status and Link"): a superseded
// artifact's answers carry `Link: <…>; rel="successor-version"`, its successor's
// `rel="predecessor-version"`, and `.json` says `status` — only for artifacts every reader of the
// cached answer may read (a public answer names public artifacts only). A successor published
// after the predecessor was read and cached shows on the predecessor's next read (its cached
// answers were purged by the ledger's successor stamp).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const standinVars = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" };

describe("status and Link headers", { skip: process.env.SERVING === "off" && "successors come from the serving table's edges" }, () => {
  let h;
  const ns = fresh("lnk").replaceAll("_", "-");
  const r = (type, id) => `${ns}/${type}/${id}`;
  const writer = () => mint({ org: "acme", sub: "carol", scopes: ["write:*"] });
  const alice = () => readToken("acme", "alice");
  const rec = (type, id, extra = {}) => ({ ns, type, id, visibility: "public", markdown: `# ${id}`, ...extra });
  const publish = async (recs) => {
    const res = await post(h, ndjson(recs), { token: writer(), mode: "build" });
    assert.equal(res.status, 200, res.text);
    await h.flush();
  };
  const read = (ref, ext = "md", { token, method, headers } = {}) => fetchContent(h, `/$.content/${ref}.${ext}`, { token, method, headers });
  const links = (res) => (res.headers.get("link") ?? "").split(", ").filter(Boolean).sort();
  const succ = (ref, ext = "md") => `</$.content/${ref}.${ext}>; rel="successor-version"`;
  const pred = (ref, ext = "md") => `</$.content/${ref}.${ext}>; rel="predecessor-version"`;

  before(async () => {
    h = await start({ standin: true, standinVars, serveVars: { METADATA_TTL_SECONDS: "0" } });
    await publish([
      rec("doc", "v1"),
      rec("doc", "v2", { supersedes: [r("doc", "v1")] }),
      // Successors not every reader of a public answer may read.
      rec("doc", "p1"),
      rec("doc", "p2", { visibility: "org", supersedes: [r("doc", "p1")] }),
      rec("doc", "u1"),
      rec("doc", "u2", { visibility: "unlisted", supersedes: [r("doc", "u1")] }),
      rec("doc", "h1"),
      rec("doc", "h2", { visibility: "user", supersedes: [r("doc", "h1")] }),
      // Org artifacts: the org's answer names the org's successor.
      rec("org", "q1", { visibility: "org" }),
      rec("org", "q2", { visibility: "org", supersedes: [r("org", "q1"), `${ns}/org/never-written`] }),
    ]);
  });
  after(async () => {
    await h?.dispose();
  });

  test("a public predecessor and its public successor link each other; .json says status", async () => {
    const v1 = await read(r("doc", "v1"));
    assert.equal(v1.status, 200, v1.text);
    assert.deepEqual(links(v1), [succ(r("doc", "v2"))]);
    const v2 = await read(r("doc", "v2"));
    assert.deepEqual(links(v2), [pred(r("doc", "v1"))]);
    const j1 = await read(r("doc", "v1"), "json");
    assert.equal(j1.body.status, "superseded");
    assert.deepEqual(links(j1), [succ(r("doc", "v2"), "json")]);
    assert.match(j1.headers.get("etag"), /-s\.json"$/, "the superseded record has an ETag of its own");
    const j2 = await read(r("doc", "v2"), "json");
    assert.equal(j2.body.status, "active");
    assert.deepEqual(j2.body.supersedes, [r("doc", "v1")]);
    // The cached answer, HEAD and a 304 carry them too.
    const again = await read(r("doc", "v1"));
    assert.equal(again.headers.get("x-artifact-source"), "cache");
    assert.deepEqual(links(again), [succ(r("doc", "v2"))]);
    const head = await read(r("doc", "v1"), "md", { method: "HEAD" });
    assert.deepEqual(links(head), [succ(r("doc", "v2"))]);
    const notModified = await read(r("doc", "v1"), "md", { headers: { "if-none-match": v1.headers.get("etag") } });
    assert.equal(notModified.status, 304);
    assert.deepEqual(links(notModified), [succ(r("doc", "v2"))]);
  });

  test("a public answer names no successor that only some may read", async () => {
    for (const id of ["p1", "u1", "h1"]) {
      for (const [ext, token] of [["json", undefined], ["md", undefined], ["md", alice()], ["md", readToken("acme", "carol")]]) {
        const res = await read(r("doc", id), ext, { token });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(links(res), [], `${id}.${ext}: ${res.headers.get("link")}`);
        if (ext === "json") assert.equal(res.body.status, "active", id);
      }
    }
    // The `.json` that shows owners is the org's answer (stored under its scope): it names the
    // org's org and unlisted successors in the namespace, never one user's.
    const orgs = { p1: [succ(r("doc", "p2"), "json")], u1: [succ(r("doc", "u2"), "json")], h1: [] };
    for (const [id, want] of Object.entries(orgs)) {
      for (const token of [alice(), readToken("acme", "carol")]) {
        const res = await read(r("doc", id), "json", { token });
        assert.deepEqual(links(res), want, `${id}: ${res.headers.get("link")}`);
        assert.equal(res.body.status, want.length ? "superseded" : "active", id);
      }
    }
    // The org successor names its public predecessor to the org (every reader of it may read that).
    const p2 = await read(r("doc", "p2"), "md", { token: alice() });
    assert.deepEqual(links(p2), [pred(r("doc", "p1"))]);
  });

  test("an org answer names the org's successor; other orgs see nothing", async () => {
    const q1 = await read(r("org", "q1"), "md", { token: alice() });
    assert.equal(q1.status, 200, q1.text);
    assert.deepEqual(links(q1), [succ(r("org", "q2"))]);
    const q2 = await read(r("org", "q2"), "md", { token: alice() });
    assert.deepEqual(links(q2), [pred(r("org", "q1"))], "the ref never written is left out");
    assert.equal((await read(r("org", "q1"), "md", { token: readToken("other", "mallory") })).status, 404);
  });

  test("a successor published later shows on the predecessor's next read (its cached answer is purged)", async () => {
    await publish([rec("late", "a1")]);
    const first = await read(r("late", "a1"));
    assert.deepEqual(links(first), []);
    assert.equal((await read(r("late", "a1"))).headers.get("x-artifact-source"), "cache", "cached before the successor");
    await publish([rec("late", "a2", { supersedes: [r("late", "a1")] })]);
    let seen;
    for (let i = 0; i < 40; i++) {
      seen = await read(r("late", "a1"));
      if (links(seen).length) break;
      await new Promise((ok) => setTimeout(ok, 250));
    }
    assert.deepEqual(links(seen), [succ(r("late", "a2"))], "within 10 s of the successor's confirm");
    assert.equal((await read(r("late", "a1"), "json")).body.status, "superseded");
  });

  test("superseding another namespace's artifact needs write scope there: a per-line error, the rest written", async () => {
    const narrow = mint({ org: "acme", sub: "carol", scopes: [`write:${ns}`] });
    const body = ndjson([rec("x", "ok", { supersedes: [r("doc", "v1")] }), rec("x", "bad", { supersedes: ["elsewhere/doc/v1"] })]);
    const res = await post(h, body, { token: narrow, mode: "build" });
    assert.equal(res.body.accepted, 1, res.text);
    assert.deepEqual(res.body.rejected_lines, [
      { line: 2, field: "supersedes", reason: "supersedes an artifact of namespace elsewhere, for which the token has no write scope" },
    ]);
    const wide = await post(h, ndjson([rec("x", "bad", { supersedes: ["elsewhere/doc/v1"] })]), { token: mint({ org: "acme", sub: "carol", scopes: [`write:${ns}`, "write:elsewhere"] }), mode: "build" });
    assert.equal(wide.body.accepted, 1, wide.text);
  });
});
