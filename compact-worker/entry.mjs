// Entry module of the compact worker (copied by tools/package-worker.sh instead of tools/entry.mjs):
// besides `fetch` it exports `scheduled` (the Cron Trigger) and `queue` (the consumer of R2 event
// notifications and of its own run orders). A trap in wasm resets the instance before the next
// invocation and counts it in globalThis.__wasmResets, which /health reports.
import * as wasm from "./index.js";

globalThis.__wasmResets ??= 0;
let critical = false;

async function guard(fn) {
  if (critical) {
    wasm.__wbg_reset_state();
    critical = false;
    globalThis.__wasmResets += 1;
  }
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
  scheduled(controller, env, ctx) {
    return guard(() => wasm.scheduled(String(controller?.cron ?? ""), env));
  },
  queue(batch, env, ctx) {
    return guard(() => wasm.queue(batch, env));
  },
};
