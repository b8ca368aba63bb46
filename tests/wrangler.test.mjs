// Both wrangler configs must be deployable as written: `wrangler deploy --dry-run` bundles the
// built worker and validates every binding offline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

const run = promisify(execFile);

for (const worker of ["ingest", "serve"]) {
  test(`wrangler deploy --dry-run accepts wrangler/${worker}.toml`, async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), `dry-${worker}-`));
    const { stdout } = await run(
      "node_modules/.bin/wrangler",
      ["deploy", "--dry-run", "--outdir", out, "-c", `wrangler/${worker}.toml`],
      { env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" }, maxBuffer: 1 << 24 },
    );
    assert.match(stdout, /--dry-run: exiting now/);
    const bindings = worker === "ingest"
      ? ["PIPELINE_PREVIEW", "PIPELINE_BUILD", "PIPELINE_BULK", "ARTIFACT_STATE", "RATE_LIMITER"]
      : ["WAREHOUSE", "ARTIFACT_STATE", "CATALOG_URL", "LOCATION_PREFIX"];
    for (const b of bindings) assert.match(stdout, new RegExp(b), `binding ${b} missing from dry run`);
    const files = await readdir(out);
    assert.ok(files.some((f) => f.endsWith(".wasm")), `no wasm in the bundle: ${files}`);
  });
}
