// A TABLES table written by another tool that deletes (#16): pyi_unpartitioned ends in a delete
// snapshot. Part 1 stopped at it (an error for that source, serve falling back); now POST /compact
// rebuilds with its deletes applied (docs/design/serving-table.md, "Following the sink's
// maintenance"), every source has its watermark and no error, and its winners (the pyiceberg
// fixture's expected answers) are served from the serving table. (A source it cannot read —
// corrupt manifest, missing file — is an error for it alone: compactor/tests/compactor.rs.)
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, SERVING_ROOT, STANDIN_ROOTS, STANDIN_LOCATION } from "./support/harness.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { upload, expectedTable, LOCATION_PREFIX } from "./support/warehouse.mjs";

const reader = () => readToken("acme", "alice");

describe("serving table over TABLES", { skip: (process.env.SERVING ?? "").toLowerCase() === "off" && "SERVING=off" }, () => {
  const TABLES = ["artifacts/pyi_partitioned", "artifacts/pyi_unpartitioned"];
  let h;
  before(async () => {
    h = await start({
      standin: true,
      serveVars: { METADATA_TTL_SECONDS: "0", TABLE_ROOTS: [STANDIN_ROOTS, ...TABLES].join(","), LOCATION_PREFIX: `${STANDIN_LOCATION},${LOCATION_PREFIX}` },
    });
    await upload(h, ...TABLES);
  });
  after(async () => {
    await h?.dispose();
  });

  test("POST /compact rebuilds past the delete snapshot; every winner is served from the serving table", async () => {
    const report = await h.compact();
    assert.equal(report.error, undefined, JSON.stringify(report));
    assert.deepEqual(report.errors, [], JSON.stringify(report));
    assert.equal(report.rebuilt, true, JSON.stringify(report));
    const byId = Object.fromEntries(report.sources.map((s) => [s.id, s]));
    assert.deepEqual(report.sources.map((s) => s.id), [...STANDIN_ROOTS.split(","), ...TABLES]);
    for (const t of TABLES) {
      assert.equal(byId[t].error, null, JSON.stringify(report));
      assert.ok(byId[t].rows > 0 && byId[t].watermark !== null, JSON.stringify(report));
    }
    // Keys in one table only (the other's winners may differ across tables).
    const winners = TABLES.map((t) => expectedTable(t).winners);
    const only = (i) => Object.entries(winners[i]).filter(([k]) => !(k in winners[1 - i]));
    let served = 0;
    for (const [key, w] of [...only(0), ...only(1)]) {
      const row = w.row;
      if (row.deleted || row.markdown == null || row.owner_org !== "acme") continue;
      const r = await fetchContent(h, `/$.content/${key}.md?fresh=true`, { token: reader() });
      assert.equal(r.status, 200, `${key}: ${r.text.slice(0, 200)}`);
      assert.equal(r.text, row.markdown, key);
      assert.equal(r.headers.get("x-artifact-source"), "serving", `${key} (${r.headers.get("server-timing")})`);
      served++;
    }
    assert.ok(served >= 3, `served ${served}`);
    const health = await (await h.serve("/$.health")).json();
    assert.equal(health.serving?.status, "on", JSON.stringify(health));
    // Nothing new: the next tick commits nothing.
    const again = await h.compact();
    assert.equal(again.version, null, JSON.stringify(again));
    const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
    const n = (await (await r2.get(`${SERVING_ROOT}/metadata/version-hint.text`)).text()).trim();
    const root = JSON.parse(await (await r2.get(`${SERVING_ROOT}/metadata/v${n}.serving.json`)).text());
    assert.equal(root.sources.find((s) => s.id === "artifacts/pyi_unpartitioned").error, null);
  });
});
