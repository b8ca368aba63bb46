// Entry module of the ledger worker (copied by tools/package-worker.sh instead of tools/entry.mjs).
//
// Exports the Durable Object class `Ledger` and the worker's `fetch` (/$.health) and `queue` (the
// LEDGER_OUTBOX consumer). The split with the wasm module: every decision and every SQL statement
// is in Rust, in synchronous exports that run inside one `transactionSync` each (a throw rolls the
// call's writes back); this file does what must be awaited — request bodies, `setAlarm`, the
// alarm's KV puts, the outbox's stub calls — in the order the Rust side dictates. State lives only
// in SQLite, so resetting the wasm instance after a trap loses nothing: a trap resets it before
// the next call and is counted in globalThis.__wasmResets, which /$.health reports.
import { DurableObject } from "cloudflare:workers";
import * as wasm from "./index.js";

globalThis.__wasmResets ??= 0;
let critical = false;

function guard(fn) {
  if (critical) {
    wasm.__wbg_reset_state();
    critical = false;
    globalThis.__wasmResets += 1;
  }
  try {
    return fn();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      console.error("wasm trap; instance will be reset", e);
      critical = true;
    }
    throw e;
  }
}

/** `[status, body, allow]` → a response: JSON for a 200, problem+json otherwise. */
function respond(status, body, allow) {
  const headers = { "content-type": status === 200 ? "application/json" : "application/problem+json" };
  if (allow !== null) headers.allow = allow;
  return new Response(body, { status, headers });
}

/** Makes sure the object's alarm fires no later than `at` (an earlier one stays). */
async function alarmBy(storage, at) {
  const set = await storage.getAlarm();
  if (set === null || set > at) await storage.setAlarm(at);
}

export class Ledger extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // Schema migrations, once per object start, before any call is delivered.
    ctx.blockConcurrencyWhile(async () => guard(() => ctx.storage.transactionSync(() => wasm.ledger_init(ctx))));
  }

  // The ledger's calls: POST https://ledger/<call> with a JSON body, GET /stats
  // (docs/design/ledger.md, Calls). One transaction each; the alarm it asks for is set after.
  async fetch(request) {
    const body = request.method === "POST" ? await request.text() : "";
    const path = new URL(request.url).pathname;
    let out;
    try {
      out = guard(() => this.ctx.storage.transactionSync(() => wasm.ledger_call(this.ctx, this.env, path, request.method, body)));
    } catch (e) {
      console.error(`ledger ${path} failed`, e);
      const detail = String(e?.message ?? e);
      const problem = { type: "https://artifacts.dev/problems/ledger-failed", title: "Internal Server Error", status: 500, detail };
      return respond(500, JSON.stringify(problem), null);
    }
    const [status, text, alarmAt, allow] = out;
    if (alarmAt !== null) await alarmBy(this.ctx.storage, alarmAt);
    return respond(status, text, allow);
  }

  // KV generations of due keys, copies aged out, expiry. The first transaction stores kv_at and
  // deletes the keys' kv_due rows before any put starts (a lookup meanwhile marks the key again);
  // a refused put makes its key due again. Then the next alarm, unless a call during the puts
  // asked for an earlier one.
  async alarm() {
    const storage = this.ctx.storage;
    const [puts, next] = guard(() => storage.transactionSync(() => wasm.ledger_alarm(this.ctx, this.env)));
    let retry = null;
    if (puts.length > 0) {
      const kv = this.env.ARTIFACT_STATE;
      const results = await Promise.allSettled(puts.map(([k, v]) => kv.put(k, v)));
      const failed = [];
      results.forEach((r, i) => {
        if (r.status === "rejected") {
          console.error(`ledger alarm: KV put ${puts[i][0]} failed`, r.reason);
          failed.push(puts[i][0]);
        }
      });
      retry = guard(() => storage.transactionSync(() => wasm.ledger_alarm_done(this.ctx, failed, puts.length)));
    }
    const at = [next, retry].filter((x) => x !== null);
    if (at.length > 0) await alarmBy(storage, Math.min(...at));
  }
}

export default {
  fetch(request) {
    const [status, body, allow] = guard(() => wasm.worker_fetch(new URL(request.url).pathname, request.method));
    return respond(status, body, allow);
  },

  // Each message is one deferred confirm body; Rust regroups its writes by shard. All shards
  // answered 200: acked; any failure: retried (then the dead-letter queue); malformed: acked.
  async queue(batch, env) {
    let confirms = 0;
    let malformed = 0;
    let retried = 0;
    for (const m of batch.messages) {
      const text = typeof m.body === "string" ? m.body : JSON.stringify(m.body ?? null);
      const plan = guard(() => wasm.outbox_plan(text, env));
      if (plan === null) {
        console.error("ledger outbox: a message is not a confirm body; acked");
        malformed += 1;
        m.ack();
        continue;
      }
      let ok = true;
      for (const [name, body] of plan) {
        try {
          const r = await env.LEDGER.get(env.LEDGER.idFromName(name)).fetch("https://ledger/confirm", { method: "POST", body });
          const answer = await r.text();
          if (r.status === 200) confirms += 1;
          else {
            ok = false;
            console.error(`ledger outbox: ${name} confirm answered ${r.status}: ${answer}`);
          }
        } catch (e) {
          ok = false;
          console.error(`ledger outbox: ${name} confirm failed`, e);
        }
      }
      if (ok) m.ack();
      else {
        retried += 1;
        m.retry();
      }
    }
    guard(() => wasm.outbox_counted(batch.messages.length, confirms, malformed, retried));
  },
};
