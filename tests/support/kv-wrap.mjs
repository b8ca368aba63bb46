// Production's KV limit around a built worker (tests only; never deployed): `withKv(worker,
// faulty)` returns a worker whose `env.ARTIFACT_STATE` asks the shared limit
// (tests/support/kv-limit.mjs, bound as KV_LIMIT) before each operation — a second put of a key
// within 1,000 ms anywhere in the Miniflare rejects with `KV PUT failed: 429 Too Many Requests`,
// as production does — and then runs it on the worker's own (real) namespace, so
// `mf.getKVNamespace("ARTIFACT_STATE", …)` still sees the same data. Every operation is counted
// there per key (`h.ops()`).
//
// `env.TEST_FAULTS` set: the request goes to `faulty` (the fault injector of fault-wrap.mjs over
// the same worker), which then sees the limited KV.
//
// The ledger switch: `POST /__ledger {"down": true}` makes every `env.LEDGER` stub call of this
// worker's isolate throw (an unreachable ledger), `{"down": false}` restores it; with `"only":
// "<call>"` (e.g. "confirm", "idem_complete") only that call fails, and with `"times": n` only
// the next n of them (then the switch is off again). `GET /__ledger` → {"down", "only", "times",
// "refused"} (calls refused).
const LEDGER_CONTROL = "/__ledger";
const ledger = { down: false, only: null, times: null, refused: 0 };

/** Whether a stub call to `url` fails now (using up one of `times`). */
function refuse(url) {
  if (!ledger.down) return false;
  if (ledger.only && new URL(typeof url === "string" ? url : url.url).pathname !== `/${ledger.only}`) return false;
  ledger.refused += 1;
  if (ledger.times !== null && --ledger.times <= 0) {
    ledger.down = false;
    ledger.only = null;
    ledger.times = null;
  }
  return true;
}

// Named after the runtime classes on purpose: workers-rs checks a binding's constructor name.
class KvNamespace {
  constructor(real, limit) {
    this.real = real;
    this.limit = limit;
  }
  async get(key, options) {
    await this.limit.admit("get", key);
    return this.real.get(key, options);
  }
  async getWithMetadata(key, options) {
    await this.limit.admit("get", key);
    return this.real.getWithMetadata(key, options);
  }
  async put(key, value, options) {
    if (!(await this.limit.admit("put", key))) throw new Error("KV PUT failed: 429 Too Many Requests");
    return this.real.put(key, value, options);
  }
  async delete(key) {
    await this.limit.admit("delete", key);
    return this.real.delete(key);
  }
  list(options) {
    return this.real.list(options);
  }
}

class DurableObjectNamespace {
  constructor(real) {
    this.real = real;
  }
  idFromName(name) {
    return this.real.idFromName(name);
  }
  idFromString(s) {
    return this.real.idFromString(s);
  }
  newUniqueId(o) {
    return this.real.newUniqueId(o);
  }
  get(id, o) {
    const stub = this.real.get(id, o);
    return {
      id: stub.id,
      name: stub.name,
      fetch: async (...a) => {
        if (refuse(a[0])) throw new Error("ledger unreachable (test switch)");
        return stub.fetch(...a);
      },
    };
  }
}

async function control(request) {
  if (request.method === "POST") {
    const body = await request.json();
    if (typeof body.down === "boolean") {
      ledger.down = body.down;
      ledger.only = body.down ? (body.only ?? null) : null;
      ledger.times = body.down ? (body.times ?? null) : null;
    }
    if (body.reset) ledger.refused = 0;
  }
  return Response.json(ledger);
}

/** `worker` with its KV under production's limit (and `faulty` for TEST_FAULTS; see the top). */
export function withKv(worker, faulty = worker) {
  return {
    fetch(request, env, ctx) {
      if (new URL(request.url).pathname === LEDGER_CONTROL) return control(request);
      const overrides = {};
      if (env.ARTIFACT_STATE && env.KV_LIMIT) overrides.ARTIFACT_STATE = new KvNamespace(env.ARTIFACT_STATE, env.KV_LIMIT);
      if (env.LEDGER && ledger.down) overrides.LEDGER = new DurableObjectNamespace(env.LEDGER);
      const wrapped = new Proxy(env, { get: (t, k) => (Object.hasOwn(overrides, k) ? overrides[k] : Reflect.get(t, k)) });
      return (env.TEST_FAULTS ? faulty : worker).fetch(request, wrapped, ctx);
    },
  };
}
