// Entry module of the compact worker (copied by tools/package-worker.sh instead of tools/entry.mjs):
// besides `fetch` it exports `scheduled` (the Cron Trigger) and `queue` (the consumer of R2 event
// notifications and of its own run orders). Every call into wasm goes through guard.mjs (trap
// recovery, counted in globalThis.__wasmResets, which /health reports).
import * as wasm from "./index.js";
import { guard } from "./guard.mjs";

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
