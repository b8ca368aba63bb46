// The project's Python (`make pyenv`'s .venv) running tests/support/pyiceberg_read.py: what the
// pyiceberg interop specs read tables with.
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The venv's interpreter. */
export const PYTHON = path.join(root, ".venv/bin/python");
const READER = path.join(root, "tests/support/pyiceberg_read.py");

/** Runs the Python reader in the venv; resolves to its parsed JSON. */
export function pyiceberg(...args) {
  return new Promise((ok, fail) => {
    execFile(PYTHON, [READER, ...args], { maxBuffer: 256 * 1024 * 1024, timeout: 180_000, env: { ...process.env, PYTHONUTF8: "1" } }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`pyiceberg_read.py ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      try {
        ok(JSON.parse(stdout));
      } catch (e) {
        fail(new Error(`pyiceberg_read.py printed no JSON (${e.message}): ${stdout.slice(0, 500)}\n${stderr}`));
      }
    });
  });
}
