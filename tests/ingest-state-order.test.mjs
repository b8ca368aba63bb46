// Per-key state only moves forward (security issue 12, items 11 and 12): a confirmed write with
// an older ts never replaces the state (dedupe key, cache generation) of a newer one. Both
// reproductions run end to end (ingest → the stand-in → serve with its cache) and live in
// tests/support/ingest-state.mjs, so the Durable-Object ledger can run them on its own stack.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, resets } from "./support/harness.mjs";
import { slowOlderWriteFinishesLast, olderBulkRewriteAfterNewer } from "./support/ingest-state.mjs";

let h;
before(async () => {
  h = await start({
    standin: true,
    // A long fresh window: a cache entry that became reachable again would be served for minutes.
    serveVars: { FRESH_SECONDS: "300", STALE_SECONDS: "1", METADATA_TTL_SECONDS: "0" },
    standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" },
  });
});
after(() => h?.dispose());

// Regression: request 1 (older ts, body held open) finished after request 2 and overwrote the
// state with its older write, so a later resend of A was deduped and never sent.
test("an acknowledged write is never deduped against the state of an older write that finished last", { timeout: 60_000 }, async () => {
  await slowOlderWriteFinishesLast(h);
});

// Regression: an older bulk rewrite put the state back to its generation, making the cache entry
// of that older version reachable again while the table said otherwise.
test("an older bulk rewrite after a newer one never brings back the older cached version", { timeout: 60_000 }, async () => {
  await olderBulkRewriteAfterNewer(h);
});

test("no wasm trap during the state-order spec", async () => {
  assert.equal(await resets(h.ingest), 0);
  assert.equal(await resets(h.serve), 0);
});
