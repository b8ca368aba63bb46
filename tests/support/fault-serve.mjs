// Test entry for the serve worker with fault-injecting storage bindings (see fault-wrap.mjs).
import worker from "../../build/serve/entry.mjs";
import { withFaults } from "./fault-wrap.mjs";

export default withFaults(worker);
