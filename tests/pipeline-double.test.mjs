// The Pipelines double is itself a test component: it must record and fail on demand, or every
// ingest assertion built on it means nothing.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";

let h;
before(async () => { h = await start(); });
after(() => h?.dispose());
beforeEach(() => h.recorder.reset());

const send = async (stream, records) => {
  const res = await h.probe(`/send?stream=${stream}`, { method: "POST", body: JSON.stringify(records) });
  return res.json();
};

test("send() records the records per stream", async () => {
  assert.deepEqual(await send("build", [{ id: "a" }, { id: "b" }]), { ok: true });
  assert.deepEqual(await send("preview", [{ id: "c" }]), { ok: true });
  assert.deepEqual(h.recorder.accepted("build"), [{ id: "a" }, { id: "b" }]);
  assert.deepEqual(h.recorder.accepted("preview"), [{ id: "c" }]);
  assert.deepEqual(h.recorder.accepted("bulk"), []);
  assert.equal(h.recorder.calls.length, 2);
});

test("failNext makes the next N calls fail, then it accepts again", async () => {
  h.recorder.failNext(1, "reject");
  h.recorder.failNext(1, "429");
  const first = await send("bulk", [{ id: "x" }]);
  const second = await send("bulk", [{ id: "y" }]);
  assert.equal(first.ok, false);
  assert.match(first.error, /rejected/);
  assert.equal(second.ok, false);
  assert.match(second.error, /429/);
  assert.deepEqual(await send("bulk", [{ id: "z" }]), { ok: true });
  assert.deepEqual(h.recorder.accepted("bulk"), [{ id: "z" }]);
  assert.deepEqual(h.recorder.calls.map((c) => c.failure), ["reject", "429", null]);
});

test("hang delays the answer", async () => {
  h.recorder.failNext(1, "hang", { ms: 300 });
  const t0 = Date.now();
  assert.deepEqual(await send("build", [{ id: "slow" }]), { ok: true });
  assert.ok(Date.now() - t0 >= 250, "send returned before the hang elapsed");
});
