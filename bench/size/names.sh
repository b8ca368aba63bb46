#!/usr/bin/env bash
# The twiggy input for `make bench-size`: tools/package-worker.sh's wasm-bindgen and wasm-opt -Oz
# steps again, with `-g` so wasm-opt keeps the name section the final module drops. Same cargo
# output, same flags; run.mjs checks that stripping the names gives back (nearly) the final size.
set -euo pipefail
worker=$1 out=$2
wasm=target/wasm32-unknown-unknown/release/${worker}_worker.wasm
flags=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals
  --enable-reference-types --enable-multivalue)
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen "$wasm" --out-dir "$out" --out-name index --target module --no-typescript \
  --experimental-reset-state-function
node_modules/.bin/wasm-opt -Oz -g "${flags[@]}" "$out/index_bg.wasm" -o "$out/names.wasm"
node_modules/.bin/wasm-opt --strip-debug "${flags[@]}" "$out/names.wasm" -o "$out/stripped.wasm"
rm "$out/index_bg.wasm"
