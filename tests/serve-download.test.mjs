// Downloads (#18, docs/serve.md "Answers"): every answer carries `Repr-Digest: sha-256=:…:` (RFC
// 9530) of the bytes actually served — the rewritten HTML, the `.json` record — the same on a
// cache miss, a cache hit, a HEAD and a 304; `?download=1` on any read adds
// `Content-Disposition: attachment; filename="…"` (RFC 6266) named after the id's last segment.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { start } from "./support/harness.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const standinVars = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" };
const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
const digest = (bytes) => `sha-256=:${createHash("sha256").update(bytes).digest("base64")}:`;

describe("downloads and representation digests", () => {
  let h;
  before(async () => {
    h = await start({ standin: true, standinVars });
  });
  after(async () => {
    await h?.dispose();
  });

  const id = fresh("dl");
  const nested = `${fresh("dir")}/guide.v2@x+y`;
  before(async () => {
    const recs = [
      { ns: "docs", type: "guide", id, visibility: "public", markdown: "# héllo ✓", html: '<p><a href="other">x</a><script>alert(1)</script></p>' },
      { ns: "docs", type: "guide", id: nested, markdown: "# nested", visibility: "org" },
    ];
    const r = await post(h, ndjson(recs), { token: writer(), mode: "build" });
    assert.equal(r.status, 200, r.text);
    await h.flush("build");
  });

  test("Repr-Digest is the SHA-256 of the bytes served, for every representation, miss and hit", async () => {
    for (const ext of ["md", "html", "json"]) {
      const path = `/$.content/docs/guide/${id}.${ext}`;
      const miss = await fetchContent(h, path);
      assert.equal(miss.status, 200, miss.text);
      assert.equal(miss.headers.get("repr-digest"), digest(miss.bytes), `${ext}: ${miss.text}`);
      if (ext === "html") assert.doesNotMatch(miss.text, /<script/, "the digest is of the rewritten page");
      const hit = await fetchContent(h, path);
      assert.equal(hit.headers.get("x-artifact-source"), "cache", ext);
      assert.equal(hit.headers.get("repr-digest"), digest(hit.bytes), `${ext} from the cache`);
      assert.ok(hit.bytes.equals(miss.bytes));
      const head = await fetchContent(h, path, { method: "HEAD" });
      assert.equal(head.bytes.length, 0);
      assert.equal(head.headers.get("repr-digest"), digest(miss.bytes), `${ext} HEAD describes the body it would send`);
      const etag = miss.headers.get("etag");
      const notModified = await fetchContent(h, path, { headers: { "if-none-match": etag } });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get("repr-digest"), digest(miss.bytes));
    }
    // A private answer (org), its owner's `.json` variant included.
    const own = await fetchContent(h, `/$.content/docs/guide/${nested}.json`, { token: readToken("acme", "bob") });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.headers.get("repr-digest"), digest(own.bytes));
  });

  test("?download=1 on any read names the file after the id's last segment", async () => {
    const plain = await fetchContent(h, `/$.content/docs/guide/${id}.md`);
    assert.equal(plain.headers.get("content-disposition"), null, "not without ?download");
    const r = await fetchContent(h, `/$.content/docs/guide/${id}.md?download=1`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get("content-disposition"), `attachment; filename="${id}.md"`);
    assert.equal(r.headers.get("repr-digest"), digest(r.bytes));
    const n = await fetchContent(h, `/$.content/docs/guide/${nested}.json?download=true`, { token: readToken("acme", "bob") });
    assert.equal(n.status, 200, n.text);
    assert.equal(n.headers.get("content-disposition"), `attachment; filename="guide.v2@x+y.json"`);
    // A missing artifact is a 404 problem, not an attachment.
    const missing = await fetchContent(h, `/$.content/docs/guide/${fresh("none")}.md?download=1`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("content-disposition"), null);
  });
});
