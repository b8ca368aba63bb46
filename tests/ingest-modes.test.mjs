// X-Artifact-Mode picks the Pipelines stream: preview, build (also when absent) or bulk.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, rec, ndjson, fresh, assertProblem, assertSummary, assertNoTrap } from "./support/ingest.mjs";

let h;
before(async () => { h = await start(); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

const STREAMS = ["preview", "build", "bulk"];

for (const [header, stream] of [["preview", "preview"], ["build", "build"], ["bulk", "bulk"], [undefined, "build"], ["", "build"]]) {
  test(`X-Artifact-Mode ${header === undefined ? "absent" : JSON.stringify(header)} → the ${stream} stream only`, async () => {
    const ids = [fresh(stream), fresh(stream)];
    const r = await post(h, ndjson(ids.map((id) => rec(id))), { mode: header });
    assertSummary(r, 200, { mode: stream, accepted: 2 });
    assert.deepEqual(h.recorder.accepted(stream).map((x) => x.id), ids);
    for (const other of STREAMS.filter((s) => s !== stream)) {
      assert.deepEqual(h.recorder.accepted(other), [], `nothing on ${other}`);
    }
    assert.deepEqual(h.recorder.calls.map((c) => c.stream), [stream]);
  });
}

for (const bad of ["stream", "BULK", "Preview", "build,bulk"]) {
  test(`X-Artifact-Mode ${JSON.stringify(bad)} → 400 unknown-mode, nothing sent`, async () => {
    const r = await post(h, ndjson([rec(fresh("m"))]), { mode: bad });
    assertProblem(r, 400, "unknown-mode", { title: "Unknown mode", detail: "X-Artifact-Mode must be preview, build or bulk" });
    assert.equal(h.recorder.calls.length, 0);
  });
}

test("no wasm trap during the modes spec", async () => {
  await assertNoTrap(h);
});
