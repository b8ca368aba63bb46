// Dedupe: a record whose content, visibility and tombstone flag match what ingest last
// confirmed for the same ns/type/id is not sent again.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, del, rec, ndjson, fresh, assertSummary, assertNoTrap } from "./support/ingest.mjs";

let h;
before(async () => { h = await start(); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

test("the same record in a second request is reported in deduped_lines and sent only once", async () => {
  const [a, b] = [fresh("d"), fresh("d")];
  assertSummary(await post(h, ndjson([rec(a)])), 200, { accepted: 1, deduped: 0, deduped_lines: [] });
  const r = await post(h, ndjson([rec(b), rec(a)]));
  assertSummary(r, 200, { accepted: 2, deduped: 1, deduped_lines: [2], rejected: 0 });
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [a, b], "a once, b once");
});

test("a request made only of duplicates sends nothing and still answers 200", async () => {
  const a = fresh("d");
  await post(h, ndjson([rec(a)]));
  h.recorder.reset();
  const r = await post(h, ndjson([rec(a)]));
  assertSummary(r, 200, { accepted: 1, deduped: 1, deduped_lines: [1] });
  assert.equal(h.recorder.calls.length, 0);
});

test("changing only the visibility is not deduped", async () => {
  const a = fresh("vis");
  await post(h, ndjson([rec(a)]));
  const r = await post(h, ndjson([rec(a, { visibility: "public" })]));
  assertSummary(r, 200, { accepted: 1, deduped: 0, deduped_lines: [] });
  assert.deepEqual(h.recorder.accepted().map((x) => [x.id, x.visibility]), [[a, "org"], [a, "public"]]);
  assert.equal(h.recorder.accepted()[0].content_hash, h.recorder.accepted()[1].content_hash, "same content");
});

test("changed content is not deduped; the same content under another id is not deduped", async () => {
  const a = fresh("c");
  await post(h, ndjson([rec(a)]));
  const r = await post(h, ndjson([rec(a, { markdown: "# changed" }), rec(fresh("c"), { markdown: `# ${a}` })]));
  assertSummary(r, 200, { accepted: 2, deduped: 0 });
  assert.equal(h.recorder.accepted().length, 3);
});

test("a record equal to the one before its tombstone is sent again (deleted is part of the key)", async () => {
  const a = fresh("tomb");
  await post(h, ndjson([rec(a)]));
  const d = await del(h, `docs/guide/${a}`);
  assert.equal(d.status, 200, d.text);
  const r = await post(h, ndjson([rec(a)]));
  assertSummary(r, 200, { accepted: 1, deduped: 0 });
  assert.deepEqual(h.recorder.accepted().map((x) => [x.id, x.deleted]), [[a, false], [a, true], [a, false]]);
});

test("a record that was never confirmed (failed send) is not deduped on resend", async () => {
  const a = fresh("fail");
  h.recorder.failNext(100, "reject");
  const failed = await post(h, ndjson([rec(a)]));
  assert.equal(failed.status, 503);
  h.recorder.reset();
  const r = await post(h, ndjson([rec(a)]));
  assertSummary(r, 200, { accepted: 1, deduped: 0 });
  assert.deepEqual(h.recorder.accepted().map((x) => x.id), [a]);
});

test("no wasm trap during the dedupe spec", async () => {
  await assertNoTrap(h);
});
