// The ledger worker (#17) on a Miniflare of its own, until the shared harness binds it (build
// order step 3 of docs/design/ledger.md): the built ledger worker hosting `Ledger` (SQLite), its
// outbox queue (with a dead-letter queue) and a KV double in front of the real KV namespace that
// refuses a second put of a key within a second as production does and records every put; plus
// a small JS caller bound to the class by scriptName, as ingest, serve and the compact worker
// will be. Also `shardOf`, the ledger's shard of a key in JS (shared::ledger::shard_of).
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const COMPATIBILITY_DATE = "2026-04-01";
export const OUTBOX = "artifacts-ledger-outbox";
export const OUTBOX_DLQ = "artifacts-ledger-outbox-dlq";

const modulesRules = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];

// KV as production behaves for writes: a second put of a key within 1,000 ms fails with
// production's error. Every put (refused or not) is recorded with its time.
const KV_DOUBLE = `
import { WorkerEntrypoint } from "cloudflare:workers";
const puts = [];
const last = new Map();
export class KvLimit extends WorkerEntrypoint {
  async put(key, value) {
    const at = Date.now();
    const prev = last.get(key);
    if (prev !== undefined && at - prev < 1000) {
      puts.push({ key, value, at, ok: false });
      throw new Error("KV PUT failed: 429 Too Many Requests");
    }
    last.set(key, at);
    puts.push({ key, value, at, ok: true });
    await this.env.KV.put(key, value);
  }
  async get(key) {
    return this.env.KV.get(key);
  }
}
export default {
  // GET: every put so far; POST /touch?key=k: as if k had just been written by someone else.
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/touch") {
      last.set(url.searchParams.get("key"), Date.now());
      return new Response("ok");
    }
    return Response.json(puts);
  },
};
`;

// What ingest, serve and the compact worker will do: stub.fetch("https://ledger/<call>") on the
// object of a shard. /do/<object name>/<call>, /outbox (a message body), /kv/<key>.
const CALLER = `
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const [, kind, a, b] = url.pathname.split("/");
    if (kind === "do") {
      const stub = env.LEDGER.get(env.LEDGER.idFromName(decodeURIComponent(a)));
      const init = { method: req.method };
      if (req.method === "POST") init.body = await req.text();
      return stub.fetch("https://ledger/" + b, init);
    }
    if (kind === "outbox") {
      await env.LEDGER_OUTBOX.send(await req.text());
      return new Response("queued");
    }
    if (kind === "kv") {
      const v = await env.KV.get(decodeURIComponent(a));
      return new Response(v ?? "", { status: v === null ? 404 : 200 });
    }
    return new Response("no route", { status: 404 });
  },
};
`;

/**
 * Starts the stack. `vars` are the ledger worker's vars (LEDGER_SHARDS defaults to 16). Returns
 * { mf, call(object, name, body?) → {status, json, text}, stats(object), puts(), touch(kvKey)
 *   (the KV double refuses the key's next put within a second), kv(key), outbox(body),
 *   ledger(path, init) (the worker's own fetch), dispose }.
 */
export async function startLedger({ vars = {}, build, persist } = {}) {
  // `ARTIFACTS_BUILD=<dir>` (a copy of build/) as the shared harness reads it; `build`: another
  // ledger build directory; `persist`: a directory keeping the objects' SQLite across starts (the
  // migration test writes a v1 database there first: tests/support/ledger-v1.mjs).
  const dir = build ?? path.join(process.env.ARTIFACTS_BUILD ? path.resolve(process.env.ARTIFACTS_BUILD) : path.join(root, "build"), "ledger");
  const mf = new Miniflare({
    ...(persist ? { durableObjectsPersist: persist } : {}),
    workers: [
      {
        name: "caller",
        modules: [{ type: "ESModule", path: "caller.mjs", contents: CALLER }],
        compatibilityDate: COMPATIBILITY_DATE,
        durableObjects: { LEDGER: { className: "Ledger", scriptName: "ledger", useSQLite: true } },
        queueProducers: { LEDGER_OUTBOX: OUTBOX },
        kvNamespaces: { KV: "artifact-state" },
      },
      {
        name: "ledger",
        modules: true,
        modulesRoot: dir,
        scriptPath: path.join(dir, "entry.mjs"),
        modulesRules,
        compatibilityDate: COMPATIBILITY_DATE,
        durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } },
        serviceBindings: { ARTIFACT_STATE: { name: "kv-double", entrypoint: "KvLimit" } },
        queueConsumers: { [OUTBOX]: { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 3, retryDelay: 0, deadLetterQueue: OUTBOX_DLQ } },
        bindings: { LEDGER_SHARDS: "16", ...vars },
      },
      {
        name: "kv-double",
        modules: [{ type: "ESModule", path: "kv.mjs", contents: KV_DOUBLE }],
        compatibilityDate: COMPATIBILITY_DATE,
        kvNamespaces: { KV: "artifact-state" },
      },
    ],
  });
  await mf.ready;
  const caller = await mf.getWorker("caller");
  const kvDouble = await mf.getWorker("kv-double");
  const ledgerWorker = await mf.getWorker("ledger");
  const s = { mf };
  s.call = async (object, name, body) => {
    const init = body === undefined ? { method: "GET" } : { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) };
    const r = await caller.fetch(`http://caller/do/${encodeURIComponent(object)}/${name}`, init);
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, json, text, type: r.headers.get("content-type") };
  };
  s.stats = async (object) => (await s.call(object, "stats")).json;
  s.puts = async () => (await kvDouble.fetch("http://kv/puts")).json();
  s.touch = async (key) => (await kvDouble.fetch(`http://kv/touch?key=${encodeURIComponent(key)}`, { method: "POST" })).text();
  s.kv = async (key) => {
    const r = await caller.fetch(`http://caller/kv/${encodeURIComponent(key)}`);
    const text = await r.text();
    return r.status === 200 ? text : null;
  };
  s.outbox = async (body) => {
    const r = await caller.fetch("http://caller/outbox", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
    await r.text();
  };
  s.ledger = (p, init) => ledgerWorker.fetch(`http://ledger${p}`, init);
  s.dispose = () => mf.dispose();
  return s;
}

// ---- shard_of in JS: jump consistent hash over xxHash64 (seed 0), as shared::ledger::shard ----

const M = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;
const rotl = (x, r) => ((x << BigInt(r)) | (x >> BigInt(64 - r))) & M;
const mul = (a, b) => (a * b) & M;
const add = (a, b) => (a + b) & M;
const round = (acc, input) => mul(rotl(add(acc, mul(input, P2)), 31), P1);
const merge = (acc, val) => add(mul(acc ^ round(0n, val), P1), P4);
const u64 = (b, i) => { let x = 0n; for (let k = 7; k >= 0; k--) x = (x << 8n) | BigInt(b[i + k]); return x; };
const u32 = (b, i) => BigInt(b[i] | (b[i + 1] << 8) | (b[i + 2] << 16)) | (BigInt(b[i + 3]) << 24n);

/** xxHash64 of `bytes` (a Uint8Array), seed 0, as a BigInt. */
export function xxh64(bytes) {
  const len = bytes.length;
  let i = 0;
  let h;
  if (len >= 32) {
    const v = [add(P1, P2), P2, 0n, (0n - P1) & M];
    for (; i + 32 <= len; i += 32) for (let l = 0; l < 4; l++) v[l] = round(v[l], u64(bytes, i + l * 8));
    h = add(add(rotl(v[0], 1), rotl(v[1], 7)), add(rotl(v[2], 12), rotl(v[3], 18)));
    for (const acc of v) h = merge(h, acc);
  } else {
    h = P5;
  }
  h = add(h, BigInt(len));
  for (; i + 8 <= len; i += 8) h = add(mul(rotl(h ^ round(0n, u64(bytes, i)), 27), P1), P4);
  if (i + 4 <= len) {
    h = add(mul(rotl(h ^ mul(u32(bytes, i), P1), 23), P2), P3);
    i += 4;
  }
  for (; i < len; i++) h = mul(rotl(h ^ mul(BigInt(bytes[i]), P5), 11), P1);
  h ^= h >> 33n;
  h = mul(h, P2);
  h ^= h >> 29n;
  h = mul(h, P3);
  return h ^ (h >> 32n);
}

/** Lamping and Veach's jump consistent hash of a u64 BigInt into `buckets`. */
export function jump(key, buckets) {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = add(mul(key, 2862933555777941757n), 1n);
    j = Math.trunc((b + 1) * (Number(1n << 31n) / Number((key >> 33n) + 1n)));
  }
  return Math.max(b, 0);
}

/** The shard of a ledger key (shared::ledger::shard::shard_of); shards clamped to 1..=1024. */
export const shardOf = (key, shards = 16) => jump(xxh64(new TextEncoder().encode(key)), Math.min(Math.max(shards, 1), 1024));

/** The dedupe key (shared::record::dedupe_key_of) of plain parts (no `%` or `:` in them). */
export const dedupeKey = (hash, vis, deleted, org, usr) => [hash, vis, deleted ? "1" : "0", org, usr].join(":");
