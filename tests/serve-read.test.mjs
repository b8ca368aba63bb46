// Serve's read path over the pyiceberg fixture tables: every winner of expected.json as `.json`
// and `.md`, every representation, the newest-version rule, tombstones, visibility, tokens,
// ETag/304, HEAD, Server-Timing, percent-encoded namespaces and a renumbered schema.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWarehouse, expectedTable } from "./support/warehouse.mjs";
import {
  JSON_TEXT, readToken, ownerToken, rfc3339, contentPath, fetchContent as get, assertBytes,
  assertProblem, assertLooksMissing, assertServeHealthy,
} from "./support/content.mjs";
import { mint, tamper, claimsOf } from "./support/token.mjs";

const UNPARTITIONED = "artifacts/pyi_unpartitioned";
const PARTITIONED = "artifacts/pyi_partitioned";
const RENUMBERED = "artifacts/pyi_renumbered";
const COLUMNS = [
  "ns", "type", "id", "ts", "visibility", "owner_org", "owner_user",
  "markdown", "mdx", "html", "esm", "dts", "css", "mdast", "hast", "estree", "frontmatter",
  "inputs", "content_hash", "size_bytes", "deleted",
];
const MD = "text/markdown; charset=utf-8";
const HTML = "text/html; charset=utf-8";
const JS = "text/javascript; charset=utf-8";
const JSON_CT = /^application\/json(;|$)/;

/** A path segment as a client would encode it (`@` → `%40`, `+` kept). */
const enc = (key) => key.split("/").map((s) => encodeURIComponent(s)).join("/");

/** The `.json` representation expected for an expected.json row. */
function expectedJson(row, columns = COLUMNS) {
  const out = {};
  for (const c of columns) {
    const v = row[c] ?? null;
    if (c === "ts") out[c] = rfc3339(v);
    else if (JSON_TEXT.includes(c) && v !== null) out[c] = JSON.parse(v);
    else out[c] = v;
  }
  return out;
}

/** Checks every winner of `tableRoot` as `.json` and `.md`. */
function winnerTests(getH, tableRoot) {
  const winners = Object.entries(expectedTable(tableRoot).winners);
  for (const [key, { row }] of winners) {
    test(`${key}.json is the winning row, field by field`, async () => {
      const h = getH();
      const r = await get(h, contentPath(enc(key), "json"), { token: ownerToken(row) });
      if (row.deleted) {
        assertProblem(r, 404, "not-found");
        return;
      }
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get("content-type") ?? "", JSON_CT);
      assert.ok(r.body && typeof r.body === "object" && !Array.isArray(r.body), `one JSON object: ${r.text}`);
      const want = expectedJson(row);
      for (const c of COLUMNS) {
        assert.ok(c in r.body, `${key}.json has column ${c}: ${r.text}`);
        assert.deepEqual(r.body[c], want[c], `${key}.json column ${c}`);
      }
    });

    test(`${key}.md: the markdown bytes, or field-missing when null`, async () => {
      const h = getH();
      const r = await get(h, contentPath(enc(key), "md"), { token: ownerToken(row) });
      if (row.deleted) assertProblem(r, 404, "not-found");
      else if (row.markdown === null) assertProblem(r, 404, "field-missing", { detail: /markdown/ });
      else assertBytes(r, row.markdown, MD);
    });
  }
}

describe("unpartitioned table", () => {
  let h;
  const table = expectedTable(UNPARTITIONED);
  const winner = (key) => table.winners[key].row;
  const acme = () => readToken("acme", "alice");

  before(async () => { h = await startWarehouse(UNPARTITIONED); });
  after(() => h?.dispose());

  winnerTests(() => h, UNPARTITIONED);

  test("the newest version wins: greatest ts, then sequence number, then the later row", async () => {
    const t = acme();
    // ts beats a newer snapshot (S6 late write with an older ts) and the copy-on-write rewrite
    // that gave the S1 rows sequence number 5.
    assertBytes(await get(h, "/$.content/docs/guide/v1.2.3.html", { token: t }), "<p>v1.2.3</p>", HTML);
    assertBytes(await get(h, "/$.content/docs/guide/getting-started.md", { token: t }), "# Getting started v2", MD);
    assertBytes(await get(h, "/$.content/docs/tie/cross-snapshot.md", { token: t }), "second, higher sequence number", MD);
    assertBytes(await get(h, "/$.content/docs/tie/in-file.md", { token: t }), "later row", MD);
    // ids sharing a 16-character prefix (truncated bounds)
    assertBytes(await get(h, "/$.content/docs/guide/0123456789abcdef-beta.md", { token: t }), "beta", MD);
    assertBytes(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: t }), "gamma", MD);
  });

  test("a winning tombstone is a 404 identical to a missing artifact", async () => {
    const t = acme();
    for (const ext of ["md", "json", "html"]) {
      const refused = await get(h, `/$.content/docs/guide/0123456789abcdef-alpha.${ext}`, { token: t });
      const missing = await get(h, `/$.content/docs/guide/0123456789abcdef-omega.${ext}`, { token: t });
      assertLooksMissing(refused, missing, "docs/guide/0123456789abcdef-alpha", "docs/guide/0123456789abcdef-omega");
    }
  });

  test("rows removed by the copy-on-write delete are gone (DELETED entries skipped)", async () => {
    const t = acme();
    const missing = await get(h, "/$.content/docs/guide/never-was.md", { token: t });
    for (const id of ["gone-row", "gone-file"]) {
      const r = await get(h, `/$.content/docs/guide/${id}.md`, { token: t });
      assertLooksMissing(r, missing, `docs/guide/${id}`, "docs/guide/never-was");
    }
  });

  test("missing artifacts: unknown id, type and namespace are 404 not-found", async () => {
    for (const p of ["docs/guide/nope", "docs/nope/getting-started", "nope/guide/getting-started"]) {
      const r = await get(h, `/$.content/${p}.md`, { token: acme() });
      assertProblem(r, 404, "not-found", { detail: new RegExp(p.replaceAll(".", "\\.")) });
    }
  });

  test("every representation: content types and bytes", async () => {
    const about = winner("team@acme.dev/page/about");
    const t = ownerToken(about); // visibility user: team/bob
    const base = "/$.content/team@acme.dev/page/about";
    assertBytes(await get(h, `${base}.mdx`, { token: t }), about.mdx, "text/mdx; charset=utf-8");
    assertBytes(await get(h, `${base}.js`, { token: t }), about.esm, JS);
    assertBytes(await get(h, `${base}.mjs`, { token: t }), about.esm, JS);
    assertBytes(await get(h, `${base}.d.ts`, { token: t }), about.dts, "application/typescript; charset=utf-8");
    assertBytes(await get(h, `${base}.css`, { token: t }), about.css, "text/css; charset=utf-8");
    for (const c of ["hast", "estree"]) {
      const r = await get(h, `${base}.${c}.json`, { token: t });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get("content-type") ?? "", JSON_CT);
      assert.deepEqual(r.body, JSON.parse(about[c]), `${c}.json`);
    }
    for (const [ext, field] of [["md", "markdown"], ["html", "html"], ["mdast.json", "mdast"], ["frontmatter.json", "frontmatter"]]) {
      assertProblem(await get(h, `${base}.${ext}`, { token: t }), 404, "field-missing", { detail: new RegExp(field) });
    }

    const gs = winner("docs/guide/getting-started");
    const g = "/$.content/docs/guide/getting-started";
    for (const c of ["mdast", "frontmatter"]) {
      const r = await get(h, `${g}.${c}.json`, { token: acme() });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get("content-type") ?? "", JSON_CT);
      assert.deepEqual(r.body, JSON.parse(gs[c]), `${c}.json`);
    }
    for (const [ext, field] of [["hast.json", "hast"], ["estree.json", "estree"], ["css", "css"], ["d.ts", "dts"], ["js", "esm"], ["mdx", "mdx"]]) {
      assertProblem(await get(h, `${g}.${ext}`, { token: acme() }), 404, "field-missing", { detail: new RegExp(field) });
    }
  });

  test("unicode markdown is served byte for byte", async () => {
    const home = winner("team@acme.dev/page/home");
    const r = await get(h, "/$.content/team@acme.dev/page/home.md");
    assertBytes(r, home.markdown, MD);
    assertBytes(await get(h, "/$.content/team@acme.dev/page/home.html"), home.html, HTML);
  });

  test("empty string and null differ: empty → 200 with an empty body, null → field-missing", async () => {
    const t = acme();
    for (const ext of ["md", "html"]) {
      const r = await get(h, `/$.content/docs/guide/empty-vs-null.${ext}`, { token: t });
      assertBytes(r, "", ext === "md" ? MD : HTML);
      const len = r.headers.get("content-length");
      if (len !== null) assert.equal(len, "0");
      assert.ok(r.headers.get("etag"), "an empty body still has an ETag");
    }
    assertProblem(await get(h, "/$.content/docs/guide/empty-vs-null.mdx", { token: t }), 404, "field-missing", { detail: /mdx/ });
    const j = await get(h, "/$.content/docs/guide/empty-vs-null.json", { token: t });
    assert.equal(j.status, 200, j.text);
    assert.equal(j.body.markdown, "");
    assert.equal(j.body.html, "");
    assert.equal(j.body.mdx, null);
  });

  test("ids with dots: the longest known extension is split off", async () => {
    const t = acme();
    assertBytes(await get(h, "/$.content/docs/guide/v1.2.3.html", { token: t }), "<p>v1.2.3</p>", HTML);
    const j = await get(h, "/$.content/docs/guide/v1.2.3.json", { token: t });
    assert.equal(j.status, 200, j.text);
    assert.equal(j.body.id, "v1.2.3");
    assertProblem(await get(h, "/$.content/docs/guide/v1.2.3.md", { token: t }), 404, "field-missing", { detail: /markdown/ });
  });

  test("%40 in the namespace decodes to @ (and a literal @ works too)", async () => {
    const home = winner("team@acme.dev/page/home");
    assertBytes(await get(h, "/$.content/team%40acme.dev/page/home.md"), home.markdown, MD);
    assertBytes(await get(h, "/$.content/team@acme.dev/page/home.md"), home.markdown, MD);
    const j = await get(h, "/$.content/team%40acme.dev/page/home.json");
    assert.equal(j.status, 200, j.text);
    assert.equal(j.body.ns, "team@acme.dev");
  });

  describe("visibility", () => {
    const cases = [
      // [key, token (or null), readable]
      ["team@acme.dev/page/home", null, true], // public
      ["team@acme.dev/page/home", () => readToken("globex", "mallory"), true],
      ["docs/guide/getting-started", null, false], // org acme
      ["docs/guide/getting-started", () => readToken("acme", "alice"), true],
      ["docs/guide/getting-started", () => readToken("acme", "bob"), true],
      ["docs/guide/getting-started", () => readToken("globex", "alice"), false],
      ["docs/guide/getting-started", () => readToken("team", "bob"), false],
      ["team@acme.dev/page/about", null, false], // user team/bob
      ["team@acme.dev/page/about", () => readToken("team", "bob"), true],
      ["team@acme.dev/page/about", () => readToken("team", "alice"), false],
      ["team@acme.dev/page/about", () => readToken("acme", "bob"), false],
      ["team@acme.dev/page/about", () => readToken("acme", "alice"), false],
    ];
    for (const [key, tok, readable] of cases) {
      const who = tok ? `${claimsOf(tok()).sub}@${claimsOf(tok()).org}` : "anonymous";
      test(`${key} for ${who}: ${readable ? "200" : "404 exactly like a missing artifact"}`, async () => {
        const token = tok ? tok() : undefined;
        const [ns, type, id] = key.split("/");
        const missingKey = `${ns}/${type}/${id}-absent`;
        for (const ext of ["json", "mdx", "md"]) {
          const r = await get(h, `/$.content/${key}.${ext}`, { token });
          if (readable) {
            // readable: the value, or field-missing for a null column (never not-found)
            assert.ok(r.status === 200 || r.body?.type?.endsWith("/field-missing"), `${key}.${ext} readable for ${who}, got ${r.status}: ${r.text}`);
          } else {
            const missing = await get(h, `/$.content/${missingKey}.${ext}`, { token });
            assertLooksMissing(r, missing, key, missingKey);
          }
        }
      });
    }

    test("a refused read does not answer 304 to a matching If-None-Match", async () => {
      const ok = await get(h, "/$.content/docs/guide/getting-started.md", { token: acme() });
      assert.equal(ok.status, 200, ok.text);
      const etag = ok.headers.get("etag");
      for (const token of [undefined, readToken("globex", "alice")]) {
        const r = await get(h, "/$.content/docs/guide/getting-started.md", { token, headers: { "if-none-match": etag } });
        assertProblem(r, 404, "not-found");
      }
    });
  });

  describe("tokens", () => {
    const now = () => Math.floor(Date.now() / 1000);
    const bad = {
      "a tampered payload": () => tamper(readToken("acme", "alice"), { sub: "alice", org: "team", scopes: ["read:*"], exp: now() + 3600 }),
      "another secret": () => mint({ scopes: ["read:*"] }, { secret: "not-the-secret" }),
      "an expired token": () => mint({ scopes: ["read:*"], exp: now() - 60 }),
      "alg none": () => mint({ scopes: ["read:*"] }, { header: { alg: "none", typ: "JWT" }, signature: "" }),
      "not a JWS": () => "not-a-token",
    };
    for (const [what, tok] of Object.entries(bad)) {
      test(`${what} → 401 invalid-token, on public, org and missing artifacts alike`, async () => {
        for (const p of ["team@acme.dev/page/home.md", "docs/guide/getting-started.md", "docs/guide/nope.md"]) {
          assertProblem(await get(h, `/$.content/${p}`, { token: tok() }), 401, "invalid-token");
        }
      });
    }
  });

  test("ETag is strong and stable; If-None-Match with it → 304 without a body", async () => {
    const p = "/$.content/docs/guide/getting-started.md";
    const t = acme();
    const a = await get(h, p, { token: t });
    assert.equal(a.status, 200, a.text);
    const etag = a.headers.get("etag");
    assert.match(etag ?? "", /^"[^"]+"$/, `strong quoted ETag: ${etag}`);
    const b = await get(h, p, { token: t });
    assert.equal(b.headers.get("etag"), etag, "same bytes, same ETag");

    const nm = await get(h, p, { token: t, headers: { "if-none-match": etag } });
    assert.equal(nm.status, 304);
    assert.equal(nm.bytes.length, 0, "304 has no body");
    assert.equal(nm.headers.get("etag"), etag, "304 repeats the ETag");

    const listed = await get(h, p, { token: t, headers: { "if-none-match": `"nope", ${etag}` } });
    assert.equal(listed.status, 304, "an If-None-Match list containing the ETag");

    const other = await get(h, p, { token: t, headers: { "if-none-match": '"something-else"' } });
    assertBytes(other, "# Getting started v2", MD);

    const json = await get(h, "/$.content/docs/guide/getting-started.json", { token: t });
    assert.equal(json.status, 200, json.text);
    assert.match(json.headers.get("etag") ?? "", /^"[^"]+"$/);
    assert.notEqual(json.headers.get("etag"), etag, "another representation, another strong ETag");
    const mdast = await get(h, "/$.content/docs/guide/getting-started.mdast.json", { token: t });
    assert.notEqual(mdast.headers.get("etag"), etag);
    assert.notEqual(mdast.headers.get("etag"), json.headers.get("etag"));
  });

  test("Server-Timing reports R2 reads and bytes; Cache-Control is present (private for org/user rows)", async () => {
    for (const [p, token] of [["team@acme.dev/page/home.md", undefined], ["docs/guide/getting-started.json", acme()]]) {
      const r = await get(h, `/$.content/${p}`, { token });
      assert.equal(r.status, 200, r.text);
      const st = r.headers.get("server-timing") ?? "";
      assert.match(st, /r2-reads/, `Server-Timing: ${st}`);
      assert.match(st, /r2-bytes/, `Server-Timing: ${st}`);
      assert.ok(r.headers.get("cache-control"), "Cache-Control present");
    }
    // org/user content must never be stored by a shared cache
    for (const [p, token] of [["docs/guide/getting-started.md", acme()], ["team@acme.dev/page/about.mdx", readToken("team", "bob")]]) {
      const r = await get(h, `/$.content/${p}`, { token });
      assert.equal(r.status, 200, r.text);
      const cc = r.headers.get("cache-control") ?? "";
      assert.doesNotMatch(cc, /public|s-maxage/, `${p}: Cache-Control ${cc}`);
      assert.match(cc, /private|no-store/, `${p}: Cache-Control ${cc}`);
    }
  });

  test("HEAD: same status and headers as GET, empty body", async () => {
    const t = acme();
    for (const [p, status] of [
      ["docs/guide/getting-started.md", 200],
      ["team@acme.dev/page/home.md", 200],
      ["docs/guide/getting-started.json", 200],
      ["docs/guide/empty-vs-null.md", 200],
      ["docs/guide/nope.md", 404],
      ["docs/guide/v1.2.3.md", 404],
    ]) {
      const g = await get(h, `/$.content/${p}`, { token: t });
      const hd = await get(h, `/$.content/${p}`, { token: t, method: "HEAD" });
      assert.equal(g.status, status, `${p}: ${g.text}`);
      assert.equal(hd.status, status, `HEAD ${p}`);
      assert.equal(hd.bytes.length, 0, `HEAD ${p} has no body`);
      for (const name of ["content-type", "etag", "cache-control"]) {
        assert.equal(hd.headers.get(name), g.headers.get(name), `HEAD ${p}: ${name}`);
      }
      assert.equal(hd.headers.has("server-timing"), g.headers.has("server-timing"), `HEAD ${p}: server-timing`);
    }
    const nm = await get(h, "/$.content/docs/guide/getting-started.md", { token: t });
    const hd304 = await get(h, "/$.content/docs/guide/getting-started.md", { token: t, method: "HEAD", headers: { "if-none-match": nm.headers.get("etag") } });
    assert.equal(hd304.status, 304);
  });

  test("serve never trapped (resets 0)", async () => { await assertServeHealthy(h); });
});

describe("partitioned table (identity on ns)", () => {
  let h;
  const table = expectedTable(PARTITIONED);
  before(async () => { h = await startWarehouse(PARTITIONED); });
  after(() => h?.dispose());

  winnerTests(() => h, PARTITIONED);

  test("%40 and a literal @ reach the ns=team%40acme.dev partition", async () => {
    const row = table.winners["team@acme.dev/page/home"].row;
    for (const ns of ["team%40acme.dev", "team@acme.dev"]) {
      assertBytes(await get(h, `/$.content/${ns}/page/home.md`, { token: ownerToken(row) }), row.markdown, MD);
    }
    assert.equal(row.markdown, "home v2, same ts, higher sequence number");
  });

  test("x+y: a literal + and %2B both name the ns=x%2By partition (+ is not a space)", async () => {
    const row = table.winners["x+y/note/plus"].row;
    for (const ns of ["x+y", "x%2By", "x%2by"]) {
      assertBytes(await get(h, `/$.content/${ns}/note/plus.md`, { token: ownerToken(row) }), row.markdown, MD);
    }
    const r = await get(h, "/$.content/x%20y/note/plus.md", { token: ownerToken(row) });
    assert.equal(r.status, 400, `a space is not a valid ns: ${r.status} ${r.text}`);
  });

  test("a.b/note/x.y.z: dots in ns and id", async () => {
    const row = table.winners["a.b/note/x.y.z"].row;
    assertBytes(await get(h, "/$.content/a.b/note/x.y.z.md", { token: ownerToken(row) }), row.markdown, MD);
  });

  test("serve never trapped (resets 0)", async () => { await assertServeHealthy(h); });
});

describe("renumbered schema (columns by name, not field id)", () => {
  let h;
  const table = expectedTable(RENUMBERED);
  // The table has no visibility/owner columns: they read as null. The token is sent anyway so the
  // test does not depend on how a null visibility is treated beyond "the row is readable".
  const t = () => readToken("acme", "alice");
  before(async () => { h = await startWarehouse(RENUMBERED); });
  after(() => h?.dispose());

  test("markdown is found by name (field id 14, not 8) and the newest row wins", async () => {
    assertBytes(await get(h, "/$.content/docs/guide/renumbered.md", { token: t() }), table.winners["docs/guide/renumbered"].row.markdown, MD);
  });

  test("a null markdown is field-missing", async () => {
    assertProblem(await get(h, "/$.content/docs/guide/other.md", { token: t() }), 404, "field-missing", { detail: /markdown/ });
  });

  test("a column the table lacks reads as null → field-missing naming it", async () => {
    for (const [ext, field] of [["html", "html"], ["mdx", "mdx"], ["js", "esm"], ["css", "css"], ["d.ts", "dts"], ["hast.json", "hast"], ["frontmatter.json", "frontmatter"]]) {
      assertProblem(await get(h, `/$.content/docs/guide/renumbered.${ext}`, { token: t() }), 404, "field-missing", { detail: new RegExp(field) });
    }
  });

  test(".json: columns by name, lacking columns null, the extra column ignored", async () => {
    const row = table.winners["docs/guide/renumbered"].row;
    const r = await get(h, "/$.content/docs/guide/renumbered.json", { token: t() });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.ns, "docs");
    assert.equal(r.body.type, "guide");
    assert.equal(r.body.id, "renumbered");
    assert.equal(r.body.ts, rfc3339(row.ts));
    assert.equal(r.body.markdown, "v2");
    assert.ok(!("extra_col" in r.body), `extra_col is not a record column: ${r.text}`);
    for (const c of ["html", "mdx", "esm", "mdast", "inputs"]) assert.equal(r.body[c] ?? null, null, `${c} reads as null`);
  });

  test("missing ids are still 404 not-found", async () => {
    assertProblem(await get(h, "/$.content/docs/guide/nope.md", { token: t() }), 404, "not-found");
  });

  test("serve never trapped (resets 0)", async () => { await assertServeHealthy(h); });
});
