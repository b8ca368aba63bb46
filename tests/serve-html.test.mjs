// HTML responses go through lol_html: public HTML of an org listed in TRUSTED_ORGS keeps its
// scripts and gets a permissive CSP; everything else (non-public HTML, and every org's public HTML
// by default) is sanitized and gets a CSP that runs nothing. (The rewriter's bypass cases are unit tests in serve-worker/src/html.rs.)
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWarehouse, expectedTable } from "./support/warehouse.mjs";
import { fetchContent, ownerToken } from "./support/content.mjs";

const ROOT = "artifacts/pyi_unpartitioned";
const table = expectedTable(ROOT);
const pub = table.winners["team@acme.dev/page/home"].row;
const org = table.winners["docs/guide/v1.2.3"].row;

describe("trusted tenant", () => {
  let h;
  before(async () => { h = await startWarehouse(ROOT, { serveVars: { TRUSTED_ORGS: "team" } }); });
  after(() => h?.dispose());

  test("public HTML: unchanged text, trusted CSP", async () => {
    const r = await fetchContent(h, "/$.content/team%40acme.dev/page/home.html");
    assert.equal(r.status, 200);
    assert.equal(r.text, pub.html);
    assert.match(r.headers.get("content-security-policy"), /script-src 'self' https:/);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  });

  test("org HTML: sanitized CSP, private", async () => {
    const r = await fetchContent(h, "/$.content/docs/guide/v1.2.3.html", { token: ownerToken(org) });
    assert.equal(r.status, 200);
    assert.equal(r.text, org.html);
    assert.match(r.headers.get("content-security-policy"), /default-src 'none'/);
    assert.match(r.headers.get("cache-control"), /^private/);
  });

  test("non-HTML answers carry no CSP", async () => {
    const r = await fetchContent(h, "/$.content/team%40acme.dev/page/home.md");
    assert.equal(r.headers.get("content-security-policy"), null);
  });
});

describe("tenants not listed in TRUSTED_ORGS (the default)", () => {
  let h;
  before(async () => { h = await startWarehouse(ROOT, { serveVars: { TRUSTED_ORGS: "someone-else" } }); });
  after(() => h?.dispose());

  // Regression (security issue 8): with UNTRUSTED_ORGS = "" every tenant's public HTML ran inline
  // script on the one origin all tenants share; sanitising is now the default.
  test("public HTML of an org that is not trusted is sanitized", async () => {
    const r = await fetchContent(h, "/$.content/team%40acme.dev/page/home.html");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-security-policy"), /default-src 'none'/);
  });
});
