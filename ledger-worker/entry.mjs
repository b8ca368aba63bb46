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
    // Debug counters of this object since it started (GET /stats): calls by name, rows written
    // (what SQLite reports each statement wrote, i.e. what Durable Objects bill), KV puts.
    this.stats = { calls: {}, rows_written: 0, kv_puts: 0, kv_put_failures: 0 };
    // Schema migrations, once per object start, before any call is delivered.
    ctx.blockConcurrencyWhile(async () => guard(() => ctx.storage.transactionSync(() => wasm.ledger_init(ctx))));
  }

  count(call, rows) {
    if (call !== null) this.stats.calls[call] = (this.stats.calls[call] ?? 0) + 1;
    this.stats.rows_written += rows;
  }

  // The ledger's calls: POST https://ledger/<call> with a JSON body (docs/design/ledger.md, Calls),
  // one transaction each; the alarm a call asks for is set after it. GET /stats: the counters.
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/stats") {
      if (request.method === "GET") return respond(200, JSON.stringify(this.stats), null);
      const detail = "this route accepts GET";
      const problem = { type: "https://artifacts.dev/problems/method-not-allowed", title: "Method Not Allowed", status: 405, detail, allow: "GET" };
      return respond(405, JSON.stringify(problem), "GET");
    }
    const body = request.method === "POST" ? await request.text() : "";
    let out;
    try {
      out = guard(() => this.ctx.storage.transactionSync(() => wasm.ledger_call(this.ctx, this.env, path, request.method, body)));
    } catch (e) {
      console.error(`ledger ${path} failed`, e);
      const detail = String(e?.message ?? e);
      const problem = { type: "https://artifacts.dev/problems/ledger-failed", title: "Internal Server Error", status: 500, detail };
      return respond(500, JSON.stringify(problem), null);
    }
    const [status, text, alarmAt, allow, call, rows] = out;
    this.count(call, rows);
    if (alarmAt !== null) await alarmBy(this.ctx.storage, alarmAt);
    return respond(status, text, allow);
  }

  // KV generations of due keys, copies aged out, expiry. The first transaction stores kv_at and
  // deletes the keys' kv_due rows before any put starts (a lookup meanwhile marks the key again);
  // a refused put makes its key due again. Then the next alarm, unless a call during the puts
  // asked for an earlier one.
  async alarm() {
    const storage = this.ctx.storage;
    const [puts, next, rows] = guard(() => storage.transactionSync(() => wasm.ledger_alarm(this.ctx, this.env)));
    this.count("alarm", rows);
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
      this.stats.kv_puts += puts.length - failed.length;
      this.stats.kv_put_failures += failed.length;
      let requeued;
      [retry, requeued] = guard(() => storage.transactionSync(() => wasm.ledger_alarm_done(this.ctx, failed)));
      this.count(null, requeued);
    }
    const at = [next, retry].filter((x) => x !== null);
    if (at.length > 0) await alarmBy(storage, Math.min(...at));
  }
}

// The outbox consumer's counts in this isolate (reported by /$.health): messages, confirms
// answered 200, malformed messages (acked), messages retried.
const outbox = [0, 0, 0, 0];

export default {
  fetch(request) {
    const [status, body, allow] = guard(() => wasm.worker_fetch(new URL(request.url).pathname, request.method, outbox));
    return respond(status, body, allow);
  },

  // Each message is one deferred confirm body; Rust regroups its writes by shard. All shards
  // answered 200: acked; any failure: retried (then the dead-letter queue); malformed: acked.
  async queue(batch, env) {
    for (const m of batch.messages) {
      outbox[0] += 1;
      const text = typeof m.body === "string" ? m.body : JSON.stringify(m.body ?? null);
      const plan = guard(() => wasm.outbox_plan(text, env));
      if (plan === null) {
        console.error("ledger outbox: a message is not a confirm body; acked");
        outbox[2] += 1;
        m.ack();
        continue;
      }
      let ok = true;
      for (const [name, body] of plan) {
        try {
          const r = await env.LEDGER.get(env.LEDGER.idFromName(name)).fetch("https://ledger/confirm", { method: "POST", body });
          const answer = await r.text();
          if (r.status === 200) outbox[1] += 1;
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
        outbox[3] += 1;
        m.retry();
      }
    }
  },
};
