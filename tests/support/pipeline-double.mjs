// The observable Pipelines double: one WorkerEntrypoint per mode with `async send(records)`, as the
// real Pipelines binding has. Every call goes to the RECORDER binding, a Node function owned by the
// test process (see harness.mjs), which records it and says whether to fail this call.
import { WorkerEntrypoint } from "cloudflare:workers";

class Stream extends WorkerEntrypoint {
  async send(records) {
    const res = await this.env.RECORDER.fetch("http://recorder/send", {
      method: "POST",
      body: JSON.stringify({ stream: this.stream, records }),
    });
    const verdict = await res.json();
    try {
      if (verdict.hang) {
        await new Promise((r) => setTimeout(r, verdict.hang));
      }
    } finally {
      // Lets the recorder count sends in flight.
      await this.env.RECORDER.fetch("http://recorder/done", { method: "POST" });
    }
    if (verdict.fail === "throw") {
      throw new Error(verdict.message ?? "pipeline send failed");
    }
    if (verdict.fail === "reject") {
      return Promise.reject(new Error(verdict.message ?? "pipeline send rejected"));
    }
  }
}

export class Preview extends Stream { stream = "preview"; }
export class Build extends Stream { stream = "build"; }
export class Bulk extends Stream { stream = "bulk"; }

export default {
  fetch() {
    return new Response("pipeline double", { status: 404 });
  },
};
