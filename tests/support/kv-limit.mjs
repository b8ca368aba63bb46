// The KV limit of production, shared by every worker of the harness's Miniflare (#17, build order
// step 3 of docs/design/ledger.md): one worker that every wrapped `ARTIFACT_STATE`
// (tests/support/kv-wrap.mjs in ingest and serve) and the ledger's own KV binding ask before a
// write, so a second put of a key within 1,000 ms is refused with production's error wherever it
// comes from, and that counts get/put/delete per key. Its `fetch` answers the harness:
//
//   GET  /ops?shards=n   → {"kv": {"get", "put", "delete", "refused", "keys": {key: {get, put, delete, refused}}},
//                           "ledger": {"<i>": the shard's GET /stats}}  (only shards that exist)
//   POST /ops/reset       forget the KV counts (the ledger's counters cannot be reset: h.ops()
//                         subtracts a baseline)
//   POST /touch?key=k     as if k had just been written (its next put within a second is refused)
//   GET  /hint?key=k      ingest's colo hint of k in caches.default ({"g","h"}), or 404
//   POST /ledger/<i>/<call>  a ledger call on shard i (GET for stats), answered as the shard answers
//
// KV_LIMIT_OFF = "1" (start({ kvLimit: false })): counted, never refused.
import { WorkerEntrypoint } from "cloudflare:workers";

const last = new Map();
let keys = new Map();
const LIMIT_MS = 1000;
const REFUSED = "KV PUT failed: 429 Too Many Requests";

function count(key, op) {
  let c = keys.get(key);
  if (c === undefined) {
    c = { get: 0, put: 0, delete: 0, refused: 0 };
    keys.set(key, c);
  }
  c[op] += 1;
}

/** The decision alone (no storage): the wrappers call it, then do the operation on their own binding. */
function admit(op, key, env) {
  if (op === "put" || op === "delete") {
    const at = Date.now();
    const prev = last.get(key);
    if (op === "put" && env.KV_LIMIT_OFF !== "1" && prev !== undefined && at - prev < LIMIT_MS) {
      count(key, "refused");
      return false;
    }
    last.set(key, at);
  }
  count(key, op);
  return true;
}

// Called over RPC by the wrappers: `admit(op, keys)` → whether the operation may go ahead.
export class KvLimit extends WorkerEntrypoint {
  async admit(op, key) {
    if (Array.isArray(key)) {
      for (const k of key) admit(op, k, this.env);
      return true;
    }
    return admit(op, key, this.env);
  }
}

// The ledger's own ARTIFACT_STATE (the alarm's generation puts): a KV-shaped entrypoint over the
// same namespace, under the same limit.
export class LedgerKv extends WorkerEntrypoint {
  async put(key, value, options) {
    if (!admit("put", key, this.env)) throw new Error(REFUSED);
    await this.env.KV.put(key, value, options);
  }
  async get(key, options) {
    admit("get", key, this.env);
    return this.env.KV.get(key, options);
  }
  async delete(key) {
    admit("delete", key, this.env);
    return this.env.KV.delete(key);
  }
}

function totals() {
  const t = { get: 0, put: 0, delete: 0, refused: 0, keys: Object.fromEntries(keys) };
  for (const c of keys.values()) for (const op of ["get", "put", "delete", "refused"]) t[op] += c[op];
  return t;
}

export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    if (url.pathname === "/touch") {
      last.set(url.searchParams.get("key"), Date.now());
      return new Response("ok");
    }
    const call = url.pathname.match(/^\/ledger\/(\d+)\/(\w+)$/);
    if (call) {
      const init = { method: req.method };
      if (req.method === "POST") init.body = await req.text();
      return env.LEDGER.get(env.LEDGER.idFromName(`ledger/${call[1]}`)).fetch(`https://ledger/${call[2]}`, init);
    }
    if (url.pathname === "/hint") {
      const hit = await caches.default.match(`https://artifact-cache.internal/gen/${url.searchParams.get("key")}`);
      return hit ?? new Response("no hint", { status: 404 });
    }
    if (url.pathname === "/ops/reset") {
      keys = new Map();
      return new Response("ok");
    }
    if (url.pathname === "/ops") {
      const shards = Number(url.searchParams.get("shards") ?? "16");
      const ledger = {};
      if (env.LEDGER) {
        const all = await Promise.all(
          Array.from({ length: shards }, async (_, i) => {
            const r = await env.LEDGER.get(env.LEDGER.idFromName(`ledger/${i}`)).fetch("https://ledger/stats");
            return [String(i), await r.json()];
          }),
        );
        for (const [i, s] of all) ledger[i] = s;
      }
      return Response.json({ kv: totals(), ledger });
    }
    return new Response("no route", { status: 404 });
  },
};
