// Finding tables through the Iceberg REST catalog (R2 Data Catalog in production): serve asks
// loadTable for each mode table and reads the metadata file it names. The catalog here is a Node
// double that records requests; the tables are the pyiceberg fixtures in Miniflare's R2.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { EXPECTED, LOCATION_PREFIX, upload } from "./support/warehouse.mjs";
import { start } from "./support/harness.mjs";
import { ownerToken } from "./support/content.mjs";

const table = EXPECTED.tables["artifacts.pyi_partitioned"];
const home = table.winners["team@acme.dev/page/home"].row;
// `?fresh=true` bypasses the Cache API: every call here must reach the catalog.
const read = () => h.serve("/$.content/team%40acme.dev/page/home.md?fresh=true", { headers: { authorization: `Bearer ${ownerToken(home)}` } });
const calls = [];
let answer = () => Response.json({ "metadata-location": table.metadata_location, metadata: {} });
let h;

before(async () => {
  h = await start({
    serveVars: {
      TABLE_ROOTS: "",
      LOCATION_PREFIX,
      CATALOG_URL: "https://catalog.test/api/",
      CATALOG_WAREHOUSE: "acct_wh",
      CATALOG_NAMESPACE: "artifacts",
      TABLE_PREVIEW: "",
      TABLE_BUILD: "pyi_partitioned",
      TABLE_BULK: "",
      CATALOG_TOKEN: "catalog-secret",
      METADATA_TTL_SECONDS: "0",
    },
    serveOutbound: async (req) => {
      calls.push({ url: req.url, auth: req.headers.get("authorization") });
      return answer();
    },
  });
  await upload(h, "artifacts/pyi_partitioned");
});
after(() => h?.dispose());

test("loadTable names the current metadata; serve reads the artifact through it", async () => {
  const r = await read();
  assert.equal(r.status, 200, `${await r.clone().text()} calls=${JSON.stringify(calls)}`);
  assert.equal(await r.text(), home.markdown);
  const call = calls.at(-1);
  assert.equal(call.url, "https://catalog.test/api/v1/acct_wh/namespaces/artifacts/tables/pyi_partitioned");
  assert.equal(call.auth, "Bearer catalog-secret");
});

test("a catalog error is a 502 naming the catalog URL, and serve recovers when it does", async () => {
  answer = () => new Response("down", { status: 503 });
  const r = await read();
  assert.equal(r.status, 502);
  const body = await r.json();
  assert.match(body.key, /catalog\.test.*tables\/pyi_partitioned/);
  assert.match(body.detail, /503/);
  answer = () => Response.json({ "metadata-location": table.metadata_location });
  assert.equal((await read()).status, 200);
});

test("a metadata location outside LOCATION_PREFIX is a 502 naming it", async () => {
  answer = () => Response.json({ "metadata-location": "s3://other-bucket/t/metadata/00001.metadata.json" });
  const r = await read();
  assert.equal(r.status, 502);
  assert.match((await r.json()).detail, /s3:\/\/other-bucket/);
  answer = () => Response.json({ "metadata-location": table.metadata_location });
});

test("serve never trapped", async () => {
  assert.equal((await (await h.serve("/$.health")).json()).resets, 0);
});
