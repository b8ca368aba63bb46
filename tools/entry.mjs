// Entry module for a workers-rs worker built by tools/package-worker.sh. Every call into wasm goes
// through guard.mjs (trap recovery: the instance is reset after a trap, counted in
// globalThis.__wasmResets, which /$.health reports; the test suites assert it stays 0).
import * as wasm from "./index.js";
import { guard } from "./guard.mjs";

export default {
  fetch(request, env, ctx) {
    return guard(() => wasm.fetch(request, env, ctx));
  },
};
