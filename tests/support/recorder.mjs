// Node-side state of the Pipelines double: every send() call, and failures queued for the next
// calls. Failure kinds: "reject" (promise rejects), "throw" (synchronous-style error), "429" and
// "503" (errors whose message carries that status, as the real binding reports), "hang" (send
// does not resolve for `ms`).
export class PipelineRecorder {
  constructor() {
    this.calls = [];
    this.failures = [];
    /** When set, every accepted send takes this long (to observe concurrency). */
    this.delayMs = 0;
    this.inFlight = 0;
    this.maxInFlight = 0;
  }

  /** Fail the next `count` send() calls with `kind`. */
  failNext(count, kind = "reject", opts = {}) {
    for (let i = 0; i < count; i++) this.failures.push({ kind, ...opts });
  }

  /** Every record the double accepted, per stream, in order. */
  accepted(stream) {
    return this.calls.filter((c) => c.ok && (!stream || c.stream === stream)).flatMap((c) => c.records);
  }

  reset() {
    this.calls = [];
    this.failures = [];
    this.delayMs = 0;
    this.inFlight = 0;
    this.maxInFlight = 0;
  }

  /** The fetch handler bound as RECORDER in the double. */
  async handle(request) {
    if (new URL(request.url).pathname === "/done") {
      this.inFlight = Math.max(0, this.inFlight - 1);
      return Response.json({});
    }
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const { stream, records } = await request.json();
    const failure = this.failures.shift();
    this.calls.push({ stream, records, ok: !failure, failure: failure?.kind ?? null });
    if (!failure) this.onSend?.(stream, records);
    if (!failure) return Response.json(this.delayMs ? { hang: this.delayMs } : {});
    switch (failure.kind) {
      case "hang":
        return Response.json({ hang: failure.ms ?? 60_000 });
      case "429":
        return Response.json({ fail: "throw", message: "429 Too Many Requests: pipeline is rate limited" });
      case "503":
        return Response.json({ fail: "throw", message: "503 Service Unavailable" });
      case "throw":
        return Response.json({ fail: "throw", message: failure.message ?? "internal error" });
      default:
        return Response.json({ fail: "reject", message: failure.message ?? "rejected" });
    }
  }
}
