// The consumer of ingest's ARTIFACT_EVENTS queue in the tests (#18): every message body goes to the
// harness's recorder (`h.published`), then the batch is acked. `FullQueue` stands in for a queue
// that refuses every send (bound in place of the queue with `start({ publishEvents: "full" })`).
import { WorkerEntrypoint } from "cloudflare:workers";

export default {
  async queue(batch, env) {
    await env.RECORDER.fetch("http://recorder/", { method: "POST", body: JSON.stringify(batch.messages.map((m) => m.body)) });
    batch.ackAll();
  },
};

export class FullQueue extends WorkerEntrypoint {
  async sendBatch() {
    throw new Error("Queue sendBatch failed: the queue is full");
  }
}
