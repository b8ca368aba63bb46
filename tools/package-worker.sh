#!/usr/bin/env bash
# Turns one worker crate's cargo output into what workerd, Miniflare and wrangler load:
# wasm-bindgen (ES module target, reset-state function for trap recovery) → wasm-opt -Oz from
# npm's binaryen (Debian's 108 produces modules that crash in workerd) → the entry shim.
set -euo pipefail
worker=$1 out=$2
crate=${worker}_worker
wasm=target/wasm32-unknown-unknown/release/${crate}.wasm
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen "$wasm" --out-dir "$out" --out-name index --target module --no-typescript \
  --experimental-reset-state-function
# workerd loads .wasm imports as compiled modules; source-phase imports are not needed.
sed -i 's/^import source \(.*\) from/import \1 from/' "$out/index.js"
node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$out/index_bg.wasm" -o "$out/index_bg.opt.wasm"
mv "$out/index_bg.opt.wasm" "$out/index_bg.wasm"
# Trap recovery shared by the entry modules (the ledger's entry has its own, synchronous one).
cp tools/guard.mjs "$out/guard.mjs"
# A worker may bring its own entry (the stand-in exports WorkerEntrypoint classes).
if [ -f "${worker}-worker/entry.mjs" ]; then
  cp "${worker}-worker/entry.mjs" "$out/entry.mjs"
else
  cp tools/entry.mjs "$out/entry.mjs"
fi
