// Trap recovery for the wasm workers, copied by tools/package-worker.sh next to every worker's
// entry module. A trap in wasm (a panic with panic=abort, or an out-of-bounds access) leaves the
// instance unusable: `guard` resets it before the next call and counts resets in
// globalThis.__wasmResets, which the workers' health reports (the test suites assert it stays 0).
// (The ledger's entry has a synchronous guard of its own: its calls run inside transactionSync.)
import * as wasm from "./index.js";

globalThis.__wasmResets ??= 0;
let critical = false;

/** Runs `fn` (a call into wasm), resetting the instance first if an earlier call trapped. */
export async function guard(fn) {
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
