// Entry module for a workers-rs worker built by tools/package-worker.sh.
//
// A trap in wasm (a panic with panic=abort, or an out-of-bounds access) leaves the instance
// unusable. We reset it before the next request and count resets in globalThis.__wasmResets,
// which /$.health reports: the test suites assert it stays 0.
import * as wasm from "./index.js";

globalThis.__wasmResets ??= 0;
let critical = false;

function resetIfCritical() {
  if (critical) {
    wasm.__wbg_reset_state();
    critical = false;
    globalThis.__wasmResets += 1;
  }
}

async function guard(fn) {
  resetIfCritical();
  try {
    return await fn();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      console.error("wasm trap; instance will be reset", e);
      critical = true;
    }
    throw e;
  }
}

export default {
  fetch(request, env, ctx) {
    return guard(() => wasm.fetch(request, env, ctx));
  },
};
