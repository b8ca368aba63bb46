// Entry module of the ledger worker (copied by tools/package-worker.sh instead of tools/entry.mjs).
// Exports the Durable Object class `Ledger` — a JS class over stateless wasm functions: its state
// lives only in SQLite, so resetting the wasm instance after a trap loses nothing — and the
// worker's `fetch` (/$.health) and `queue` (the LEDGER_OUTBOX consumer). A trap resets the instance
// before the next invocation and counts it in globalThis.__wasmResets, which /$.health reports.
import { DurableObject } from "cloudflare:workers";
import * as wasm from "./index.js";

globalThis.__wasmResets ??= 0;
let critical = false;

function guardSync(fn) {
  if (critical) {
    wasm.__wbg_reset_state();
    critical = false;
    globalThis.__wasmResets += 1;
  }
  try {
    return fn();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      console.error("wasm trap; instance will be reset", e);
      critical = true;
    }
    throw e;
  }
}

async function guard(fn) {
  try {
    return await guardSync(fn);
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) critical = true;
    throw e;
  }
}

export class Ledger extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // Schema migrations, once per object start, before any call is delivered.
    ctx.blockConcurrencyWhile(async () => guardSync(() => wasm.ledger_init(ctx)));
  }

  // The ledger's calls: POST https://ledger/<call> with a JSON body (docs/design/ledger.md, Calls).
  fetch(request) {
    return guard(() => wasm.ledger_fetch(request, this.ctx, this.env));
  }

  alarm() {
    return guard(() => wasm.ledger_alarm(this.ctx, this.env));
  }
}

export default {
  fetch(request, env, ctx) {
    return guard(() => wasm.fetch(request, env, ctx));
  },
  queue(batch, env, ctx) {
    return guard(() => wasm.queue(batch, env));
  },
};
