// Fault injection for the storage bindings, as a test entry module around a built worker (tests
// only; never deployed). `withFaults(worker)` returns a worker whose `fetch` wraps
// `env.WAREHOUSE` (R2) and `env.ARTIFACT_STATE` (KV) in objects that delegate to the real
// bindings, record every call, and apply the faults armed through the control path:
//
//   POST /__faults  {"rules": [{binding, op, kind, times?, match?}], "reset"?: true}  arm (append)
//   GET  /__faults  → {"calls": [{binding, op, key, fault}], "rules": [...left]}          inspect
//   DELETE /__faults                                                                   clear all
//
// binding: "r2" | "kv"; op: "get" | "put" | "head" | "list" | "delete" (or "*");
// kind: "throw" (the call rejects), "truncate" (R2 get only: the body holds half the bytes
// while `size` still tells the whole length); times: how many matching calls fail (default 1);
// skip: matching calls let through before the first failure (default 0); match: a substring the
// key must contain (bulk KV reads match on their keys joined with ","). The control path is handled here, before the worker
// sees the request, so production code has no test hook.
const CONTROL = "/__faults";
const MAX_CALLS = 5000;

const state = { rules: [], calls: [] };

function keyText(key) {
  if (Array.isArray(key)) return key.join(",");
  return key === undefined ? "" : String(key);
}

/** The armed rule that applies to this call (its count is used up), or null. */
function take(binding, op, key) {
  const k = keyText(key);
  let rule = state.rules.find((r) => r.binding === binding && (r.op === op || r.op === "*") && r.times > 0 && (!r.match || k.includes(r.match)));
  if (rule?.skip > 0) {
    rule.skip -= 1;
    rule = undefined;
  }
  const fault = rule ? rule.kind : null;
  if (rule) rule.times -= 1;
  state.calls.push({ binding, op, key: k, fault });
  if (state.calls.length > MAX_CALLS) state.calls.splice(0, state.calls.length - MAX_CALLS);
  return fault;
}

const injected = (binding, op, key) => new Error(`injected ${binding} ${op} failure (${keyText(key)})`);

/** An R2ObjectBody whose body ends early: half the bytes, `size` unchanged. */
class TruncatedR2ObjectBody {
  constructor(real, bytes) {
    for (const f of ["key", "version", "size", "etag", "httpEtag", "uploaded", "httpMetadata", "customMetadata", "range", "checksums", "storageClass", "ssecKeyMd5"]) {
      this[f] = real[f];
    }
    this.cut = bytes;
    this.bodyUsed = false;
  }
  get body() {
    const bytes = this.cut;
    return new ReadableStream({ start(c) { c.enqueue(bytes); c.close(); } });
  }
  writeHttpMetadata(headers) {
    for (const [k, v] of Object.entries(this.httpMetadata ?? {})) if (typeof v === "string") headers.set(k, v);
  }
  async arrayBuffer() {
    this.bodyUsed = true;
    return this.cut.buffer.slice(this.cut.byteOffset, this.cut.byteOffset + this.cut.byteLength);
  }
  async bytes() { return new Uint8Array(await this.arrayBuffer()); }
  async text() { return new TextDecoder().decode(await this.arrayBuffer()); }
  async json() { return JSON.parse(await this.text()); }
  async blob() { return new Blob([await this.arrayBuffer()]); }
}

// Named after the runtime class on purpose: workers-rs checks a binding's constructor name.
class R2Bucket {
  constructor(real) { this.real = real; }
  async get(key, options) {
    const fault = take("r2", "get", key);
    if (fault === "throw") throw injected("r2", "get", key);
    const obj = await this.real.get(key, options);
    if (fault !== "truncate" || obj === null || !("arrayBuffer" in obj)) return obj;
    const all = new Uint8Array(await obj.arrayBuffer());
    return new TruncatedR2ObjectBody(obj, all.slice(0, Math.floor(all.length / 2)));
  }
  async head(key) {
    if (take("r2", "head", key) === "throw") throw injected("r2", "head", key);
    return this.real.head(key);
  }
  async list(options) {
    if (take("r2", "list", options?.prefix) === "throw") throw injected("r2", "list", options?.prefix);
    return this.real.list(options);
  }
  async put(key, value, options) {
    if (take("r2", "put", key) === "throw") throw injected("r2", "put", key);
    return this.real.put(key, value, options);
  }
  async delete(keys) {
    if (take("r2", "delete", keys) === "throw") throw injected("r2", "delete", keys);
    return this.real.delete(keys);
  }
  createMultipartUpload(...a) { return this.real.createMultipartUpload(...a); }
  resumeMultipartUpload(...a) { return this.real.resumeMultipartUpload(...a); }
}

class KvNamespace {
  constructor(real) { this.real = real; }
  async get(key, options) {
    if (take("kv", "get", key) === "throw") throw injected("kv", "get", key);
    return this.real.get(key, options);
  }
  async getWithMetadata(key, options) {
    if (take("kv", "get", key) === "throw") throw injected("kv", "get", key);
    return this.real.getWithMetadata(key, options);
  }
  async put(key, value, options) {
    if (take("kv", "put", key) === "throw") throw injected("kv", "put", key);
    return this.real.put(key, value, options);
  }
  async delete(key) {
    if (take("kv", "delete", key) === "throw") throw injected("kv", "delete", key);
    return this.real.delete(key);
  }
  async list(options) {
    if (take("kv", "list", options?.prefix) === "throw") throw injected("kv", "list", options?.prefix);
    return this.real.list(options);
  }
}

async function control(request) {
  if (request.method === "POST") {
    const body = await request.json();
    if (body.reset) state.rules = [];
    for (const r of body.rules ?? []) state.rules.push({ op: "get", times: 1, ...r });
    return Response.json({ rules: state.rules });
  }
  if (request.method === "DELETE") {
    state.rules = [];
    state.calls = [];
    return Response.json({ rules: [] });
  }
  return Response.json({ calls: state.calls, rules: state.rules });
}

/** `worker` (a module worker's default export) with its storage bindings wrapped. */
export function withFaults(worker) {
  return {
    fetch(request, env, ctx) {
      if (new URL(request.url).pathname === CONTROL) return control(request);
      const overrides = {};
      if (env.WAREHOUSE) overrides.WAREHOUSE = new R2Bucket(env.WAREHOUSE);
      if (env.ARTIFACT_STATE) overrides.ARTIFACT_STATE = new KvNamespace(env.ARTIFACT_STATE);
      const wrapped = new Proxy(env, { get: (t, k) => (Object.hasOwn(overrides, k) ? overrides[k] : Reflect.get(t, k)) });
      return worker.fetch(request, wrapped, ctx);
    },
  };
}
