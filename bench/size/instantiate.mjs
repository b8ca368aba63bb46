// One measurement of `make bench-size`, in a fresh Node process (V8 caches compiled wasm by its
// bytes within a process, so a second compile in the same process would be free): compile the
// worker's final wasm, then evaluate its wasm-bindgen glue, which instantiates it.
// Usage: node bench/size/instantiate.mjs GLUE_DIR WASM; prints {compile_ms, instantiate_ms}.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [glueDir, wasmPath] = process.argv.slice(2);
const bytes = readFileSync(wasmPath);
const t0 = performance.now();
const module = await WebAssembly.compile(bytes);
const t1 = performance.now();
// run.mjs rewrote the glue's `import wasmModule from "./index_bg.wasm"` to read this global.
globalThis.__benchWasmModule = module;
await import(pathToFileURL(path.join(glueDir, "index.js")).href);
const t2 = performance.now();
console.log(JSON.stringify({ compile_ms: t1 - t0, instantiate_ms: t2 - t1 }));
