// Cache windows per mode: rows of the stand-in's `artifacts/preview` table use
// FRESH_SECONDS_PREVIEW / STALE_SECONDS_PREVIEW, other modes the defaults.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { fetchContent } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

let h;
before(async () => {
  h = await start({
    standin: true,
    serveVars: { FRESH_SECONDS: "300", STALE_SECONDS: "60", FRESH_SECONDS_PREVIEW: "15", STALE_SECONDS_PREVIEW: "5", METADATA_TTL_SECONDS: "0" },
    standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" },
  });
});
after(() => h?.dispose());

test("public previews get the preview windows, builds the defaults", async () => {
  const token = mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
  const [p, b] = [fresh("prev"), fresh("bld")];
  for (const [id, mode] of [[p, "preview"], [b, "build"]]) {
    const r = await post(h, ndjson([{ ns: "docs", type: "guide", id, markdown: `# ${mode}`, visibility: "public" }]), { token, mode });
    assert.equal(r.status, 200, r.text);
    await h.flush(mode);
  }
  const preview = await fetchContent(h, `/$.content/docs/guide/${p}.md`);
  assert.equal(preview.text, "# preview");
  assert.equal(preview.headers.get("cache-control"), "public, max-age=15, stale-while-revalidate=5");
  const build = await fetchContent(h, `/$.content/docs/guide/${b}.md`);
  assert.equal(build.text, "# build");
  assert.equal(build.headers.get("cache-control"), "public, max-age=300, stale-while-revalidate=60");
});
