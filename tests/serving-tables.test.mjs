// The serving table over tables written by other tools (#15; make dev's TABLES): the stand-in's
// commits never touch them, so POST /compact (make dev's 2 s timer) absorbs them, and their
// winners (the pyiceberg fixtures' expected answers) are served from the serving table.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, STANDIN_ROOTS, STANDIN_LOCATION } from "./support/harness.mjs";
import { fetchContent, readToken } from "./support/content.mjs";
import { upload, expectedTable, LOCATION_PREFIX } from "./support/warehouse.mjs";

const reader = () => readToken("acme", "alice");

describe("serving table over append-only TABLES", { skip: (process.env.SERVING ?? "").toLowerCase() === "off" && "SERVING=off" }, () => {
  const TABLES = ["artifacts/pyi_partitioned", "artifacts/pyi_renumbered"];
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

  test("their winners are served from the serving table after POST /compact", async () => {
    const report = await h.compact();
    assert.deepEqual(report.errors, [], JSON.stringify(report));
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
  });
});
