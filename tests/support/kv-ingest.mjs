// Test entry of the ingest worker in the harness (tests/support/harness.mjs): its ARTIFACT_STATE under
// production's KV limit, the ledger switch, and with TEST_FAULTS the fault injector (kv-wrap.mjs).
import worker from "../../build/ingest/entry.mjs";
import { withFaults } from "./fault-wrap.mjs";
import { withKv } from "./kv-wrap.mjs";

export default withKv(worker, withFaults(worker));
