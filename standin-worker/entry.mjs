// Entry module of the local stand-in for Pipelines → R2 Data Catalog (copied by
// tools/package-worker.sh instead of tools/entry.mjs). `Preview`/`Build`/`Bulk` are what the
// ingest worker's PIPELINE_* bindings point at locally; the default fetch serves the REST catalog
// and `POST /flush[?mode=…][&due=1]`.
import { WorkerEntrypoint } from "cloudflare:workers";
import * as wasm from "./index.js";
import { guard } from "./guard.mjs";

class Stream extends WorkerEntrypoint {
  // Resolves once the records are durable in the buffer; a due commit runs after the answer.
  async send(records) {
    const due = await guard(() => wasm.send(this.mode, JSON.stringify(records ?? null), this.env));
    if (due) {
      this.ctx.waitUntil(
        guard(() => wasm.flush(this.mode, this.env)).catch((e) => console.error(`standin ${this.mode} commit failed`, e)),
      );
    }
  }
}

export class Preview extends Stream { mode = "preview"; }
export class Build extends Stream { mode = "build"; }
export class Bulk extends Stream { mode = "bulk"; }

export default {
  fetch(request, env, ctx) {
    return guard(() => wasm.fetch(request, env, ctx));
  },
};
