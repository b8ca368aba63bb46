// Test-only worker that calls the Pipelines double over its real binding shape (JS RPC
// `send(records)`), so specs can exercise the double without going through a Rust worker.
// (Calling the binding from Node through Miniflare's proxy would deadlock: the proxy blocks the
// Node thread that serves the double's RECORDER.)
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const binding = env[`PIPELINE_${(url.searchParams.get("stream") ?? "build").toUpperCase()}`];
    try {
      await binding.send(await request.json());
      return Response.json({ ok: true });
    } catch (e) {
      return Response.json({ ok: false, error: String(e?.message ?? e) }, { status: 502 });
    }
  },
};
