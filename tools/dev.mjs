// `make dev`: both workers in real workerd through Miniflare, on 127.0.0.1:8787 (ingest) and
// :8788 (serve) unless INGEST_PORT / SERVE_PORT say otherwise. State (KV, R2, Cache) persists
// under .dev/ (gitignored). Ctrl-C stops everything this started.
import { start } from "../tests/support/harness.mjs";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const persistRoot = path.join(root, ".dev", "state");
mkdirSync(persistRoot, { recursive: true });
const ports = { ingest: Number(process.env.INGEST_PORT ?? 8787), serve: Number(process.env.SERVE_PORT ?? 8788) };

const h = await start({ persistRoot, ports });
for (const [name, port] of Object.entries(ports)) {
  const res = await fetch(`http://127.0.0.1:${port}/$.health`);
  console.log(`${name.padEnd(6)} http://127.0.0.1:${port}  ${res.status} ${await res.text()}`);
}
console.log(`
state: ${persistRoot}
try:   curl -s http://127.0.0.1:${ports.ingest}/$.health
Ctrl-C stops both workers.`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await h.dispose();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
