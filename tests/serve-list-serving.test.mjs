// Listing with prefix, delimiter and cursors (#16, docs/serve.md "Listing"): through serve with
// the serving table on (the stand-in compacts after each commit, so the listing is read by key
// range from it) and, on a stack of its own, with it off (`start({ serving: false })`, every
// table scanned) — the same answers. Common prefixes show only when they hold an id the caller
// may see; a cursor is sealed and bound to its listing (another listing's is a 400); an id as a
// cursor (older clients) still resumes after that id.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const standinVars = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" };
const serveVars = { METADATA_TTL_SECONDS: "0" };
const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
const who = { anonymous: undefined, alice: () => readToken("acme", "alice"), bob: () => readToken("acme", "bob") };

function timing(r) {
  const out = {};
  for (const part of (r.headers.get("server-timing") ?? "").split(/,\s*(?=[a-z0-9-]+(?:;|$))/)) {
    const m = /^([a-z0-9-]+)(?:;desc="([^"]*)")?/.exec(part.trim());
    if (m) out[m[1]] = m[2] ?? "";
  }
  return out;
}

for (const serving of [true, false]) {
  describe(`listing with the serving table ${serving ? "on" : "off"}`, () => {
    let h;
    const type = fresh("l").replaceAll("_", "-");
    before(async () => {
      h = await start({ standin: true, standinVars, serveVars, serving });
      const recs = [
        ["a/x", "public"], ["a/y", "user"], ["b/z/1", "org"], ["c", "public"], ["h/only", "user"],
        ["h/deep/1", "user"], ["u", "unlisted"], ["k01", "public"], ["k02", "public"], ["k03", "public"],
      ].map(([id, visibility]) => ({ ns: "docs", type, id, visibility, markdown: `# ${id}` }));
      const r = await post(h, ndjson(recs), { token: writer(), mode: "build" });
      assert.equal(r.status, 200, r.text);
      await h.flush("build");
    });
    after(async () => {
      await h?.dispose();
    });

    const list = (query, reader) => {
      const token = who[reader]?.();
      return fetchContent(h, `/$.content/docs/${type}/${query ? `?${query}` : ""}`, { token });
    };
    const ids = (r) => r.body.items.map((i) => i.id);

    test("prefix and delimiter: what each caller sees, prefixes only when they hold a visible id", async () => {
      const cases = [
        ["", "anonymous", ["a/x", "c", "k01", "k02", "k03"], []],
        ["delimiter=/", "anonymous", ["c", "k01", "k02", "k03"], ["a/"]],
        ["delimiter=/", "bob", ["c", "k01", "k02", "k03"], ["a/", "b/"]],
        ["delimiter=/", "alice", ["c", "k01", "k02", "k03"], ["a/", "b/", "h/"]],
        ["prefix=h/&delimiter=/", "alice", ["h/only"], ["h/deep/"]],
        ["prefix=h/&delimiter=/", "bob", [], []],
        ["prefix=h/", "anonymous", [], []],
        ["prefix=a/", "alice", ["a/x", "a/y"], []],
        ["prefix=k0", "anonymous", ["k01", "k02", "k03"], []],
      ];
      for (const [query, reader, items, prefixes] of cases) {
        const r = await list(query, reader);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual([ids(r), r.body.prefixes, r.body.cursor], [items, prefixes, null], `${query} as ${reader}`);
        assert.equal(timing(r).serving, serving ? "on" : "off", r.headers.get("server-timing"));
      }
      const r = await list("prefix=a/", "alice");
      assert.deepEqual(r.body.items.find((i) => i.id === "a/y").visibility, "user");
    });

    test("cursors page through items and prefixes, sealed and bound to their listing", async () => {
      const seen = [];
      let cursor = null;
      let pages = 0;
      do {
        const r = await list(`delimiter=/&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, "alice");
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.items.length + r.body.prefixes.length <= 2);
        seen.push(...r.body.prefixes, ...ids(r));
        cursor = r.body.cursor;
        if (cursor) {
          assert.match(cursor, /^~[A-Za-z0-9_-]+$/);
          assert.ok(!cursor.includes("k0"), "a cursor does not show its position");
        }
        pages += 1;
      } while (cursor && pages < 20);
      assert.deepEqual(seen.sort(), ["a/", "b/", "c", "h/", "k01", "k02", "k03"]);
      assert.equal(pages, 4);
      // Another listing's cursor (another prefix or delimiter), or a tampered one: 400.
      const first = (await list("limit=1", "anonymous")).body.cursor;
      assert.ok(first);
      for (const [query, c] of [["prefix=k", first], ["delimiter=/", first], ["", `${first.slice(0, -2)}AA`]]) {
        const r = await list(`${query}&limit=1&cursor=${encodeURIComponent(c)}`, "anonymous");
        assert.equal(r.status, 400, `${query}: ${r.text}`);
        assert.equal(r.body.type?.endsWith("bad-cursor") || r.body.type === "bad-cursor", true, r.text);
      }
      // The same listing takes it: the next id.
      assert.deepEqual(ids(await list(`limit=1&cursor=${encodeURIComponent(first)}`, "anonymous")), ["c"]);
      // An id as a cursor (older clients): after that id.
      assert.deepEqual(ids(await list("cursor=k01", "anonymous")), ["k02", "k03"]);
      assert.deepEqual(ids(await list("prefix=k&cursor=a", "anonymous")), ["k01", "k02", "k03"]);
    });

    test("a key committed after the cursor's position shows on a later page", async () => {
      const r1 = await list("prefix=k&limit=1", "anonymous");
      assert.deepEqual(ids(r1), ["k01"]);
      const more = [{ ns: "docs", type, id: "k015", visibility: "public", markdown: "# k015" }, { ns: "docs", type, id: "k00", visibility: "public", markdown: "# k00" }];
      const w = await post(h, ndjson(more), { token: writer(), mode: "build" });
      assert.equal(w.status, 200, w.text);
      await h.flush("build");
      const rest = [];
      let cursor = r1.body.cursor;
      while (cursor) {
        const r = await list(`prefix=k&limit=1&cursor=${encodeURIComponent(cursor)}`, "anonymous");
        assert.equal(r.status, 200, r.text);
        rest.push(...ids(r));
        cursor = r.body.cursor;
      }
      assert.deepEqual(rest, ["k015", "k02", "k03"], "k00 lies behind the cursor; nothing repeats");
    });

    test("bad prefix or delimiter is a 400", async () => {
      assert.equal((await list(`prefix=${"x".repeat(2000)}`)).status, 400);
      assert.equal((await list(`delimiter=${"/".repeat(17)}`)).status, 400);
    });
  });
}
