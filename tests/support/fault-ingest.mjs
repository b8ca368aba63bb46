// Test entry for the ingest worker with fault-injecting storage bindings (see fault-wrap.mjs).
import worker from "../../build/ingest/entry.mjs";
import { withFaults } from "./fault-wrap.mjs";

export default withFaults(worker);
