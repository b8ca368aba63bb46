// A source the compactor cannot follow (#15): pyi_unpartitioned ends in a delete snapshot, which
// part 1 does not absorb. POST /compact sets that source's error and keeps its watermark, absorbs
// the others, and serve still answers right (from the tables, saying why in Server-Timing and
// /$.health).
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

  test("POST /compact absorbs them; a source it cannot follow is an error for it alone; answers stay right", async () => {
    const report = await h.compact();
    assert.equal(report.error, undefined, JSON.stringify(report));
    const byId = Object.fromEntries(report.sources.map((s) => [s.id, s]));
    assert.deepEqual(report.sources.map((s) => s.id), [...STANDIN_ROOTS.split(","), ...TABLES]);
    assert.equal(byId["artifacts/pyi_partitioned"].error, null, JSON.stringify(report));
    assert.ok(byId["artifacts/pyi_partitioned"].rows > 0, JSON.stringify(report));
    assert.match(byId["artifacts/pyi_unpartitioned"].error ?? "", /is a delete/, JSON.stringify(report));
    assert.ok(byId["artifacts/pyi_unpartitioned"].rows > 0, "the appends before it are absorbed");
    // Keys in one table only (the other's winners may differ across tables).
    const winners = TABLES.map((t) => expectedTable(t).winners);
    const only = (i) => Object.entries(winners[i]).filter(([k]) => !(k in winners[1 - i]));
    for (const [key, w] of [...only(0), ...only(1)]) {
      const row = w.row;
      if (row.deleted || row.markdown == null || row.owner_org !== "acme") continue;
      const r = await fetchContent(h, `/$.content/${key}.md?fresh=true`, { token: reader() });
      assert.equal(r.status, 200, `${key}: ${r.text.slice(0, 200)}`);
      assert.equal(r.text, row.markdown, key);
      // A non-append after a source's watermark makes serve answer from the tables (the design's
      // fallback), saying why: the answer is the same either way.
      assert.equal(r.headers.get("x-artifact-source"), "tail", key);
      assert.match(r.headers.get("server-timing") ?? "", /fallback[^"]*pyi_unpartitioned/, key);
    }
    const health = await (await h.serve("/$.health")).json();
    assert.equal(health.serving?.status, "fallback", JSON.stringify(health));
    assert.match(health.serving?.reason ?? "", /pyi_unpartitioned/, JSON.stringify(health));
    // Nothing new: the next tick commits nothing, and the error stays in the root.
    const again = await h.compact();
    assert.equal(again.version, null, JSON.stringify(again));
    const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
    const n = (await (await r2.get(`${SERVING_ROOT}/metadata/version-hint.text`)).text()).trim();
    const root = JSON.parse(await (await r2.get(`${SERVING_ROOT}/metadata/v${n}.serving.json`)).text());
    assert.match(root.sources.find((s) => s.id === "artifacts/pyi_unpartitioned").error, /is a delete/);
  });
});
