// The test side of the storage fault injector (fault-wrap.mjs): arms rules on one worker through
// its `/__faults` control path and reads back what its bindings were asked.
import assert from "node:assert/strict";

/**
 * Fault control for `worker` ("ingest" or "serve") of a harness started with `faults: true`:
 * `arm(...rules)` appends rules ({binding: "r2"|"kv", op, kind: "throw"|"truncate", times,
 * skip, match}), `clear()` drops rules and the call log, `calls(filter?)` lists recorded calls
 * ({binding, op, key, fault}) matching the fields of `filter`.
 */
export function faults(h, worker) {
  const f = worker === "serve" ? h.serve : h.ingest;
  const send = async (init) => {
    const res = await f("/__faults", init);
    const body = await res.json();
    assert.equal(res.status, 200, `/__faults answered ${res.status}`);
    return body;
  };
  return {
    arm: (...rules) => send({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rules }) }),
    clear: () => send({ method: "DELETE" }),
    calls: async (filter = {}) => (await send({ method: "GET" })).calls.filter((c) => Object.entries(filter).every(([k, v]) => (v instanceof RegExp ? v.test(c[k]) : c[k] === v))),
  };
}
