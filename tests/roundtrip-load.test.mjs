// The round trip under load, small enough for `make test` (the full 10,000 is `make soak`):
// 16 concurrent clients ingest across the three modes through ingest → the stand-in (committing
// on a poll while readers read) → serve; afterwards every artifact reads back exactly, updated
// ones at their newest version (bulk: by ts, also when the older ts arrived last), tombstones 404.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startRoundTrip, roundTrip, report } from "./support/roundtrip.mjs";

const COUNT = Number(process.env.ROUNDTRIP_COUNT ?? 600);
let h;
let stats;
before(async () => {
  h = await startRoundTrip();
  stats = await roundTrip(h, { count: COUNT, clients: 16, readers: 4 });
  for (const l of report(stats)) console.log(l);
});
after(() => h?.dispose());

test(`${COUNT} artifacts from 16 clients: every one reads back with exactly its newest content and content type`, () => {
  assert.deepEqual(stats.problems, []);
  assert.equal(stats.readBack.ok, COUNT, report(stats).join("\n"));
  assert.equal(stats.readBack.mismatched, 0);
  assert.equal(stats.readBack.missing, 0);
  // Every 7th artifact also carries css: read through single GETs of .md and .css too.
  assert.equal(stats.readBack.singles, Math.ceil(COUNT / 7));
  assert.equal(stats.readBack.singlesWrong, 0);
});

test("tombstoned artifacts read 404 after the final flush", () => {
  assert.ok(stats.tombstoned > 0);
  assert.equal(stats.readBack.tombstonesOk, stats.tombstoned);
});

test("every acknowledged record was committed exactly once (deduped resends not at all)", () => {
  assert.ok(stats.deduped > 0, "the plan resends some artifacts unchanged");
  assert.equal(stats.committed, stats.acknowledged - stats.deduped);
});

test("readers reading during the run saw only versions that were sent, or 404 before the commit", () => {
  assert.ok(stats.during.reads > 0, "readers ran concurrently");
  assert.equal(stats.during.wrong, 0);
  assert.equal(stats.during.errors, 0);
});

test("no 5xx and no unanswered request anywhere, and no wasm instance was reset", () => {
  assert.equal(stats.fiveXX, 0, JSON.stringify(stats.statuses));
  assert.equal(stats.transportErrors, 0);
  assert.deepEqual(stats.resets, { ingest: 0, serve: 0, standin: 0 });
});
