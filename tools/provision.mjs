// `make provision`: the Cloudflare resources the two workers need, as wrangler commands in the
// order they must run — the R2 bucket, its data catalog, one Pipelines stream per mode (the record
// contract's schema, wrangler/stream-schema.json), one R2 Data Catalog sink per mode (zstd, a roll
// interval per mode), one pipeline per mode (INSERT INTO sink SELECT * FROM stream), the KV
// namespace — and the rate limiter, which is a binding in wrangler/ingest.toml, not a command. Then
// the compact worker's (#16): its queue, and the bucket's event notification rule that feeds it
// the sources' metadata commits (wrangler/compact.toml's consumer; `make deploy` deploys it). Then
// the ledger's (#17): the outbox queue ingest produces to and the ledger worker consumes, and its
// dead-letter queue (wrangler/ledger.toml; `make deploy` deploys the ledger first).
//
// Without APPLY it only prints them (a shell script: comments and commands, secrets as "$VAR").
// With APPLY=1 (`--apply`) it runs them with the pinned wrangler, skipping what already exists,
// reads back the stream ids, the KV namespace id and the catalog URI / warehouse, and writes them
// into wrangler/ingest.toml, wrangler/serve.toml, wrangler/compact.toml and wrangler/ledger.toml
// (text edits: comments and layout stay).
// `--check` (run by `make deploy`) exits 1 while the configs still hold the committed placeholders
// (or disagree on LEDGER_SHARDS).
//
// Settings (environment; empty means unset): BUCKET (artifacts-warehouse), CATALOG_NAMESPACE
// (artifacts), TABLE_PREVIEW / TABLE_BUILD / TABLE_BULK (preview / build / bulk), STREAM_PREFIX
// (artifacts: streams artifacts_preview …, sinks …_sink, pipelines …_pipeline), KV_TITLE
// (artifact_state), ROLL_PREVIEW_S / ROLL_BUILD_S / ROLL_BULK_S (60 / 120 / 300; at least 60),
// SINK_CATALOG_TOKEN (APPLY only: the API token the sinks write the catalog with), CONFIG_DIR
// (wrangler), WRANGLER (node_modules/.bin/wrangler), COMPACT_QUEUE (artifacts-compact: the compact
// worker's queue), NOTIFY_PREFIXES (__r2_data_catalog/: comma-separated key prefixes under which
// the sources' metadata is written, one notification rule each — R2 Data Catalog keeps its tables
// under __r2_data_catalog/; add `<root>/metadata/` per TABLE_ROOTS table) and NOTIFY_SUFFIX
// (.metadata.json: one notification per commit; `none` for every object under the prefix),
// LEDGER_QUEUE (artifacts-ledger-outbox: ingest's LEDGER_OUTBOX, the ledger worker's consumer) and
// LEDGER_DLQ (<LEDGER_QUEUE>-dlq: its dead-letter queue).
// docs/deploy.md walks through all of it.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const MODES = ["preview", "build", "bulk"];
export const SCHEMA_FILE = "wrangler/stream-schema.json";
/** Roll intervals in seconds per mode: the sink's minimum is 60 s, its default 300 s. */
export const DEFAULT_ROLL_S = { preview: 60, build: 120, bulk: 300 };
export const MIN_ROLL_S = 60;
/** Printed where the sinks' catalog token goes; APPLY substitutes the variable's value. */
export const TOKEN_VAR = "SINK_CATALOG_TOKEN";
/** Where R2 Data Catalog keeps its tables' files in the bucket (their metadata among them). */
export const NOTIFY_PREFIX = "__r2_data_catalog/";
/** The compact worker's config, for the printed deploy step. */
export const COMPACT_CONFIG = "wrangler/compact.toml";
/** The ledger worker's config (the Durable Object class `Ledger`), deployed before the others. */
export const LEDGER_CONFIG = "wrangler/ledger.toml";
/** The configs that read LEDGER_SHARDS (it must be equal in all of them). */
export const SHARD_CONFIGS = ["ledger.toml", "ingest.toml", "serve.toml", "compact.toml"];

function setting(env, name, fallback) {
  const v = env[name];
  return v === undefined || v.trim() === "" ? fallback : v.trim();
}

/** Names and settings from the environment; throws on a bad one. */
export function options(env = process.env) {
  const o = {
    bucket: setting(env, "BUCKET", "artifacts-warehouse"),
    namespace: setting(env, "CATALOG_NAMESPACE", "artifacts"),
    prefix: setting(env, "STREAM_PREFIX", "artifacts"),
    kvTitle: setting(env, "KV_TITLE", "artifact_state"),
    tables: Object.fromEntries(MODES.map((m) => [m, setting(env, `TABLE_${m.toUpperCase()}`, m)])),
    roll: {},
    queue: setting(env, "COMPACT_QUEUE", "artifacts-compact"),
    notifyPrefixes: setting(env, "NOTIFY_PREFIXES", NOTIFY_PREFIX).split(",").map((p) => p.trim()).filter(Boolean),
    notifySuffix: setting(env, "NOTIFY_SUFFIX", ".metadata.json"),
    ledgerQueue: setting(env, "LEDGER_QUEUE", "artifacts-ledger-outbox"),
  };
  o.ledgerDlq = setting(env, "LEDGER_DLQ", `${o.ledgerQueue}-dlq`);
  if (o.notifySuffix === "none") o.notifySuffix = "";
  for (const [what, v] of [["COMPACT_QUEUE", o.queue], ["LEDGER_QUEUE", o.ledgerQueue], ["LEDGER_DLQ", o.ledgerDlq]]) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(v)) throw new Error(`${what}=${v}: a queue name is lowercase letters, digits and dashes`);
  }
  if (new Set([o.queue, o.ledgerQueue, o.ledgerDlq]).size !== 3) throw new Error(`COMPACT_QUEUE, LEDGER_QUEUE and LEDGER_DLQ must be three different queues`);
  if (o.notifyPrefixes.length === 0) throw new Error("NOTIFY_PREFIXES: at least one prefix");
  for (const p of o.notifyPrefixes) if (!p.endsWith("/")) throw new Error(`NOTIFY_PREFIXES: ${p} is not a directory prefix (ends with /)`);
  for (const m of MODES) {
    const raw = setting(env, `ROLL_${m.toUpperCase()}_S`, String(DEFAULT_ROLL_S[m]));
    const s = Number(raw);
    if (!/^\d+$/.test(raw) || s < MIN_ROLL_S) {
      throw new Error(`ROLL_${m.toUpperCase()}_S=${raw}: a sink's roll interval is whole seconds, at least ${MIN_ROLL_S}`);
    }
    o.roll[m] = s;
  }
  // Streams, sinks and pipelines are SQL names: letters, digits, underscores.
  for (const [what, v] of [["STREAM_PREFIX", o.prefix], ["CATALOG_NAMESPACE", o.namespace], ...MODES.map((m) => [`TABLE_${m.toUpperCase()}`, o.tables[m]])]) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(v)) throw new Error(`${what}=${v}: letters, digits and underscores only`);
  }
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(o.bucket)) throw new Error(`BUCKET=${o.bucket}: not an R2 bucket name`);
  return o;
}

export const streamName = (o, mode) => `${o.prefix}_${mode}`;
export const sinkName = (o, mode) => `${o.prefix}_${mode}_sink`;
export const pipelineName = (o, mode) => `${o.prefix}_${mode}_pipeline`;
export const pipelineSql = (o, mode) => `INSERT INTO ${sinkName(o, mode)} SELECT * FROM ${streamName(o, mode)}`;

/**
 * The steps, in order. A step is { kind: "command", what, args, exists? } (args after `wrangler`;
 * the sink token is the placeholder object { env: TOKEN_VAR }; `exists` says how APPLY recognises
 * a resource that is already there) or { kind: "note", what }.
 */
export function plan(o) {
  const steps = [];
  const cmd = (what, args, exists) => steps.push({ kind: "command", what, args, exists });
  const note = (what) => steps.push({ kind: "note", what });
  cmd("the R2 bucket (the warehouse)", ["r2", "bucket", "create", o.bucket], { kind: "output", match: /already exists/i });
  cmd("its R2 Data Catalog (Iceberg REST catalog)", ["r2", "bucket", "catalog", "enable", o.bucket], { kind: "catalog" });
  for (const m of MODES) {
    // Workers only: ingest sends through the binding, never the stream's HTTP endpoint.
    cmd(`stream ${m} (schema: the record contract)`, ["pipelines", "streams", "create", streamName(o, m), "--schema-file", SCHEMA_FILE, "--http-enabled=false"], { kind: "list", list: ["pipelines", "streams", "list"], name: streamName(o, m) });
  }
  for (const m of MODES) {
    cmd(
      `sink ${m} → ${o.namespace}.${o.tables[m]} (Parquet zstd, roll ${o.roll[m]} s)`,
      ["pipelines", "sinks", "create", sinkName(o, m), "--type", "r2-data-catalog", "--bucket", o.bucket, "--namespace", o.namespace, "--table", o.tables[m], "--catalog-token", { env: TOKEN_VAR }, "--compression", "zstd", "--roll-interval", String(o.roll[m])],
      { kind: "list", list: ["pipelines", "sinks", "list"], name: sinkName(o, m) },
    );
  }
  for (const m of MODES) {
    cmd(`pipeline ${m}: stream → sink`, ["pipelines", "create", pipelineName(o, m), "--sql", pipelineSql(o, m)], { kind: "list", list: ["pipelines", "list"], name: pipelineName(o, m) });
  }
  cmd("the KV namespace ARTIFACT_STATE (ingest, serve and the ledger)", ["kv", "namespace", "create", o.kvTitle], { kind: "kv", title: o.kvTitle });
  note(`rate limiter: no command — the [[ratelimits]] binding RATE_LIMITER in wrangler/ingest.toml (${rateLimiter()}) is created with the worker by \`make deploy\``);
  // The compact worker (#16): its queue, then the rule that sends every source metadata commit to it.
  cmd(`the compact worker's queue (R2 event notifications and its own run orders)`, ["queues", "create", o.queue], { kind: "output", match: /already (exists|taken)/i });
  for (const prefix of o.notifyPrefixes) {
    cmd(
      `R2 event notifications: objects created under ${prefix}${o.notifySuffix ? ` ending ${o.notifySuffix}` : ""} → ${o.queue}`,
      ["r2", "bucket", "notification", "create", o.bucket, "--event-type", "object-create", "--prefix", prefix, ...(o.notifySuffix ? ["--suffix", o.notifySuffix] : []), "--queue", o.queue],
      { kind: "output", match: /already exists|overlap|conflict/i },
    );
  }
  note(`the compact worker: \`make deploy\` runs \`npx wrangler deploy -c ${COMPACT_CONFIG}\` after the ledger, ingest and serve — ${o.queue}'s consumer, cron every minute`);
  // The ledger (#17): the outbox ingest sends a deferred confirm to, and where it ends after max_retries.
  const exists = { kind: "output", match: /already (exists|taken)/i };
  cmd(`the ledger's outbox queue (ingest's LEDGER_OUTBOX → the ledger worker's consumer)`, ["queues", "create", o.ledgerQueue], exists);
  cmd(`its dead-letter queue (confirms still failing after max_retries)`, ["queues", "create", o.ledgerDlq], exists);
  note(`the ledger worker: \`make deploy\` runs \`npx wrangler deploy -c ${LEDGER_CONFIG}\` first — the Durable Object class Ledger (migration v1, new_sqlite_classes) that ingest, serve and compact bind by script_name, ${o.ledgerQueue}'s consumer`);
  return steps;
}

/** The rate limiter binding as wrangler/ingest.toml declares it. */
function rateLimiter(dir = path.join(root, "wrangler")) {
  const file = path.join(dir, "ingest.toml");
  if (!existsSync(file)) return "see the config";
  const text = readFileSync(file, "utf8");
  const id = /namespace_id\s*=\s*"([^"]*)"/.exec(text)?.[1];
  const simple = /simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/.exec(text);
  return `namespace_id ${id ?? "?"}, ${simple ? `${simple[1]} requests per ${simple[2]} s per tenant` : "limit in the config"}`;
}

/** One argument as a POSIX shell word. */
export function shellWord(a) {
  if (typeof a === "object") return `"$${a.env}"`;
  return /^[A-Za-z0-9_\-./:=@,+]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`;
}

/** The printed script: each step as a comment and its command (`npx wrangler …`, the pinned one). */
export function render(o, steps = plan(o)) {
  const lines = [
    "# make provision: run from the repository root, logged in (`npx wrangler login`) to the account.",
    `# The sinks need an API token with R2 Data Catalog and R2 storage write access: export ${TOKEN_VAR}=… first.`,
    "# APPLY=1 runs these, skips what exists and writes the ids into wrangler/ingest.toml, serve.toml, compact.toml and ledger.toml.",
  ];
  let n = 0;
  for (const s of steps) {
    if (s.kind === "note") {
      lines.push(`# ${s.what}`);
      continue;
    }
    n += 1;
    lines.push(`# ${n}. ${s.what}`);
    lines.push(["npx", "wrangler", ...s.args].map(shellWord).join(" "));
  }
  lines.push(
    "# then (APPLY=1 does this): the stream ids into wrangler/ingest.toml ([[pipelines]] pipeline = \"<stream id>\"),",
    "#   the KV namespace id into ingest, serve and ledger, the catalog URI and warehouse (`npx wrangler r2 bucket catalog get " + o.bucket + "`) into wrangler/serve.toml and wrangler/compact.toml",
    "# then: make deploy (the ledger first, then ingest, serve, compact), and the secrets (docs/deploy.md): AUTH_SECRET (ingest, serve), CATALOG_TOKEN (serve and compact, read-only), PURGE_API_TOKEN (ingest, with ZONE_ID)",
  );
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Config edits: TOML as text, one `key = value` line at a time, so comments and layout stay.

/** The [header] / [[header]] blocks of a TOML text: { header, start, end } line ranges. */
function blocks(lines) {
  const out = [];
  let cur = { header: "", start: 0, end: lines.length };
  lines.forEach((line, i) => {
    const m = /^\s*(\[\[?[^\]]+\]\]?)\s*(#.*)?$/.exec(line);
    if (m) {
      cur.end = i;
      out.push(cur);
      cur = { header: m[1].replace(/\s+/g, ""), start: i, end: lines.length };
    }
  });
  out.push(cur);
  return out;
}

const keyLine = (key) => new RegExp(`^\\s*${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*=`);

/**
 * Sets `key = value` (a string) in the block `header` — for [[arrays]], the one whose `where` key
 * has the `where` value — replacing its line or adding it after the block's last key. Throws when
 * no such block exists.
 */
export function setKey(text, { header, where, key, value }) {
  const lines = text.split("\n");
  const candidates = blocks(lines).filter((b) => b.header === header);
  const block = candidates.find((b) => !where || lines.slice(b.start, b.end).some((l) => new RegExp(`^\\s*${where.key}\\s*=\\s*"${where.value}"\\s*(#.*)?$`).test(l)));
  if (!block) throw new Error(`no ${header}${where ? ` with ${where.key} = "${where.value}"` : ""} in the config`);
  const line = `${key} = ${JSON.stringify(value)}`;
  const at = lines.slice(block.start, block.end).findIndex((l) => keyLine(key).test(l));
  if (at >= 0) {
    const old = lines[block.start + at];
    const comment = /"\s*(#.*)$/.exec(old)?.[1];
    lines[block.start + at] = comment ? `${line} ${comment}` : line;
  } else {
    let last = block.start;
    for (let i = block.start; i < block.end; i++) if (/^\s*[A-Za-z0-9_-]+\s*=/.test(lines[i])) last = i;
    lines.splice(last + 1, 0, line);
  }
  return lines.join("\n");
}

/**
 * Writes what provisioning produced into the config texts. `ids`: { streams: { preview,
 * build, bulk } (stream ids), kv (namespace id), catalogUri, warehouse }; `o` the options (bucket,
 * namespace, tables, queues). Returns { ingest, serve, compact, ledger } (`compact` and `ledger`
 * only when given).
 */
export function writeIds({ ingest, serve, compact, ledger }, ids, o) {
  for (const m of MODES) {
    ingest = setKey(ingest, { header: "[[pipelines]]", where: { key: "binding", value: `PIPELINE_${m.toUpperCase()}` }, key: "pipeline", value: ids.streams[m] });
  }
  // The ledger's outbox: ingest produces to it (ledger.toml consumes it, below).
  ingest = setKey(ingest, { header: "[[queues.producers]]", where: { key: "binding", value: "LEDGER_OUTBOX" }, key: "queue", value: o.ledgerQueue });
  const out = {};
  if (ledger !== undefined) {
    // The host of the class: the alarm's KV generation writes, the outbox's consumer and its dead-letter queue.
    ledger = setKey(ledger, { header: "[[kv_namespaces]]", where: { key: "binding", value: "ARTIFACT_STATE" }, key: "id", value: ids.kv });
    ledger = setKey(ledger, { header: "[[queues.consumers]]", key: "queue", value: o.ledgerQueue });
    ledger = setKey(ledger, { header: "[[queues.consumers]]", where: { key: "queue", value: o.ledgerQueue }, key: "dead_letter_queue", value: o.ledgerDlq });
    out.ledger = ledger;
  }
  for (const which of ["ingest", "serve"]) {
    const text = which === "ingest" ? ingest : serve;
    const next = setKey(text, { header: "[[kv_namespaces]]", where: { key: "binding", value: "ARTIFACT_STATE" }, key: "id", value: ids.kv });
    if (which === "ingest") ingest = next;
    else serve = next;
  }
  serve = setKey(serve, { header: "[[r2_buckets]]", where: { key: "binding", value: "WAREHOUSE" }, key: "bucket_name", value: o.bucket });
  const vars = {
    CATALOG_URL: ids.catalogUri,
    CATALOG_WAREHOUSE: ids.warehouse,
    CATALOG_NAMESPACE: o.namespace,
    TABLE_PREVIEW: o.tables.preview,
    TABLE_BUILD: o.tables.build,
    TABLE_BULK: o.tables.bulk,
    LOCATION_PREFIX: `s3://${o.bucket}/`,
  };
  for (const [key, value] of Object.entries(vars)) serve = setKey(serve, { header: "[vars]", key, value });
  if (compact === undefined) return { ingest, serve, ...out };
  // The compact worker reads the same tables as serve (the serving table's sources are serve's).
  compact = setKey(compact, { header: "[[r2_buckets]]", where: { key: "binding", value: "WAREHOUSE" }, key: "bucket_name", value: o.bucket });
  compact = setKey(compact, { header: "[[queues.producers]]", where: { key: "binding", value: "COMPACT_QUEUE" }, key: "queue", value: o.queue });
  compact = setKey(compact, { header: "[[queues.consumers]]", key: "queue", value: o.queue });
  for (const [key, value] of Object.entries(vars)) compact = setKey(compact, { header: "[vars]", key, value });
  return { ingest, serve, compact, ...out };
}

/** writeIds on the files in `dir` (ingest.toml, serve.toml and, when there, compact.toml and ledger.toml). */
export function writeIdsToDir(dir, ids, o) {
  const files = { ingest: path.join(dir, "ingest.toml"), serve: path.join(dir, "serve.toml"), compact: path.join(dir, "compact.toml"), ledger: path.join(dir, "ledger.toml") };
  const read = (which, optional = true) => (optional && !existsSync(files[which]) ? undefined : readFileSync(files[which], "utf8"));
  const next = writeIds({ ingest: read("ingest", false), serve: read("serve", false), compact: read("compact"), ledger: read("ledger") }, ids, o);
  for (const which of Object.keys(files)) {
    if (next[which] === undefined) delete files[which];
    else writeFileSync(files[which], next[which]);
  }
  return files;
}

/**
 * What in the configs in `dir` is still a placeholder of the committed files (what `make deploy`
 * refuses to deploy): the KV id, the Pipelines stream names, the catalog's ACCOUNT_ID — and a
 * LEDGER_SHARDS that differs between the configs (keys would be looked up in another shard than
 * the one they were confirmed in).
 */
export function placeholders(dir) {
  const ingest = readFileSync(path.join(dir, "ingest.toml"), "utf8");
  const serve = readFileSync(path.join(dir, "serve.toml"), "utf8");
  const ledgerFile = path.join(dir, "ledger.toml");
  const ledger = existsSync(ledgerFile) ? readFileSync(ledgerFile, "utf8") : undefined;
  const out = [];
  for (const [name, text] of [["ingest.toml", ingest], ["serve.toml", serve], ["ledger.toml", ledger]]) {
    if (text !== undefined && /^id = "0{31}1"/m.test(text)) out.push(`${name}: the KV namespace id is the placeholder`);
  }
  for (const m of MODES) {
    if (new RegExp(`^pipeline = "artifacts-${m}"`, "m").test(ingest)) out.push(`ingest.toml: PIPELINE_${m.toUpperCase()} names no stream id`);
  }
  const code = (text) => text.split("\n").filter((l) => !l.trim().startsWith("#")).join("\n");
  if (/ACCOUNT_ID/.test(code(serve))) out.push("serve.toml: CATALOG_URL / CATALOG_WAREHOUSE still say ACCOUNT_ID");
  const compact = path.join(dir, "compact.toml");
  if (existsSync(compact) && /ACCOUNT_ID/.test(code(readFileSync(compact, "utf8")))) out.push("compact.toml: CATALOG_URL / CATALOG_WAREHOUSE still say ACCOUNT_ID");
  const shards = SHARD_CONFIGS.filter((f) => existsSync(path.join(dir, f))).map((f) => [f, /^LEDGER_SHARDS\s*=\s*"([^"]*)"/m.exec(readFileSync(path.join(dir, f), "utf8"))?.[1] ?? "(unset)"]);
  if (new Set(shards.map(([, n]) => n)).size > 1) out.push(`LEDGER_SHARDS differs: ${shards.map(([f, n]) => `${f} ${n}`).join(", ")} (must be equal in every config)`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// APPLY

/** The catalog URI and warehouse from `wrangler r2 bucket catalog enable|get` output. */
export function parseCatalog(text) {
  const plain = stripVTControlCharacters(text);
  const uri = /Catalog URI:\s*'?(https?:\/\/[^\s']+)/.exec(plain)?.[1];
  const warehouse = /Warehouse:\s*'?([^\s']+?)'?\s*$/m.exec(plain)?.[1];
  return uri && warehouse ? { catalogUri: uri, warehouse } : undefined;
}

/** The JSON array in a `--json` / `kv namespace list` output (wrangler may print a banner first). */
export function parseJsonList(text) {
  const plain = stripVTControlCharacters(text);
  const start = plain.indexOf("[");
  if (start < 0) throw new Error(`no JSON list in: ${plain.slice(0, 300)}`);
  return JSON.parse(plain.slice(start, plain.lastIndexOf("]") + 1));
}

function apply(o, env, log) {
  const wrangler = setting(env, "WRANGLER", path.join(root, "node_modules", ".bin", "wrangler"));
  const configDir = path.resolve(root, setting(env, "CONFIG_DIR", "wrangler"));
  const token = setting(env, TOKEN_VAR, undefined);
  if (!token) throw new Error(`APPLY=1 needs ${TOKEN_VAR}: an API token with R2 Data Catalog and R2 storage write access for the sinks (docs/deploy.md)`);
  if (!existsSync(wrangler)) throw new Error(`${wrangler} is missing: run make tools`);
  const run = (args) => {
    const argv = args.map((a) => (typeof a === "object" ? env[a.env] ?? token : a));
    try {
      return { ok: true, out: execFileSync(wrangler, argv, { cwd: root, env: { ...env, WRANGLER_SEND_METRICS: "false" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 24 }) };
    } catch (e) {
      return { ok: false, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
    }
  };
  const must = (args) => {
    const r = run(args);
    if (!r.ok) throw new Error(`wrangler ${args.join(" ")} failed:\n${r.out}`);
    return r.out;
  };
  const listed = (args) => parseJsonList(must([...args, ...(args[0] === "kv" ? [] : ["--json", "--per-page", "100"])]));
  let catalogOut = "";
  for (const s of plan(o)) {
    if (s.kind === "note") {
      log(`# ${s.what}`);
      continue;
    }
    const shown = ["wrangler", ...s.args].map(shellWord).join(" ");
    if (s.exists.kind === "list" && listed(s.exists.list).some((x) => x.name === s.exists.name)) {
      log(`exists, skipped: ${shown}`);
      continue;
    }
    if (s.exists.kind === "kv" && listed(["kv", "namespace", "list"]).some((x) => x.title === s.exists.title)) {
      log(`exists, skipped: ${shown}`);
      continue;
    }
    log(`running: ${shown}`);
    const r = run(s.args);
    // A catalog that is already enabled answers `catalog get`; a bucket that exists says so.
    const existed =
      !r.ok &&
      ((s.exists.kind === "output" && s.exists.match.test(r.out)) ||
        (s.exists.kind === "catalog" && parseCatalog((catalogOut = run(["r2", "bucket", "catalog", "get", o.bucket]).out))));
    if (!r.ok && !existed) throw new Error(`${shown} failed:\n${r.out}`);
    if (!r.ok) log(`exists, skipped: ${shown}`);
    else if (s.exists.kind === "catalog") catalogOut = r.out;
  }
  const catalog = parseCatalog(catalogOut) ?? parseCatalog(must(["r2", "bucket", "catalog", "get", o.bucket]));
  if (!catalog) throw new Error(`could not read the catalog URI and warehouse of ${o.bucket}`);
  const streams = listed(["pipelines", "streams", "list"]);
  const ids = { streams: {}, kv: undefined, ...catalog };
  for (const m of MODES) {
    ids.streams[m] = streams.find((x) => x.name === streamName(o, m))?.id;
    if (!ids.streams[m]) throw new Error(`stream ${streamName(o, m)} not found after creating it`);
  }
  ids.kv = listed(["kv", "namespace", "list"]).find((x) => x.title === o.kvTitle)?.id;
  if (!ids.kv) throw new Error(`KV namespace ${o.kvTitle} not found after creating it`);
  const files = writeIdsToDir(configDir, ids, o);
  log(`wrote ${path.relative(root, files.ingest)}: stream ids ${MODES.map((m) => `${m}=${ids.streams[m]}`).join(", ")}; KV ${ids.kv}; LEDGER_OUTBOX queue ${o.ledgerQueue}`);
  log(`wrote ${path.relative(root, files.serve)}: KV ${ids.kv}; CATALOG_URL ${ids.catalogUri}; CATALOG_WAREHOUSE ${ids.warehouse}; bucket ${o.bucket}`);
  if (files.compact) log(`wrote ${path.relative(root, files.compact)}: CATALOG_URL ${ids.catalogUri}; CATALOG_WAREHOUSE ${ids.warehouse}; bucket ${o.bucket}; queue ${o.queue}`);
  if (files.ledger) log(`wrote ${path.relative(root, files.ledger)}: KV ${ids.kv}; queue ${o.ledgerQueue}; dead-letter queue ${o.ledgerDlq}`);
  log("next: make deploy, then the secrets (docs/deploy.md)");
  return ids;
}

function main() {
  if (process.argv.includes("--check")) {
    const dir = path.resolve(root, setting(process.env, "CONFIG_DIR", "wrangler"));
    const left = placeholders(dir);
    for (const p of left) console.error(`make deploy: ${p}`);
    if (left.length) {
      console.error("make deploy: run `make provision APPLY=1` first (or write the ids by hand: docs/deploy.md)");
      process.exit(1);
    }
    return;
  }
  const applyIt = process.argv.includes("--apply");
  let o;
  try {
    o = options();
  } catch (e) {
    console.error(`make provision: ${e.message}`);
    process.exit(2);
  }
  if (!applyIt) {
    process.stdout.write(render(o));
    return;
  }
  try {
    apply(o, process.env, (line) => console.log(line));
  } catch (e) {
    console.error(`make provision APPLY=1: ${e.message}`);
    process.exit(1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
