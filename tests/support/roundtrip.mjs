// The round trip under load, written once for `tests/roundtrip-load.test.mjs` (small, in
// `make test`) and `tools/soak.mjs` (`make soak`, 10,000 artifacts): concurrent clients ingest
// artifacts across the three modes through ingest → the local stand-in → serve while readers read,
// then every artifact must read back exactly, updated ones at their newest version.
//
// The plan is deterministic: artifact i belongs to batch ⌊i / batch⌋; a batch is one request of
// one tenant in one mode (both cycle over batches), so every request carries one token and one
// X-Artifact-Mode. Ids sort in send order, so each commit's data file covers a narrow id range
// and serve's bounds pruning keeps reads cheap (the scan locator's cost grows with the files an
// id could be in; see DESIGN.md).
//
// After a batch is acknowledged its client sends its follow-ups: a second version of every
// `updateEvery`-th artifact (build/preview: ingest stamps a later `ts`; bulk: an explicit `ts`
// one second later, and for every other one the newer version goes first and the older `ts`
// arrives second, so "newest" is decided by `ts`, not arrival), an identical resend of every
// `dupEvery`-th artifact (deduped by ingest, never committed twice) and a DELETE of the batch's
// extra tombstoned artifact (must read 404 afterwards).
import { start, resets } from "./harness.mjs";
import { mint } from "./token.mjs";

export const MODES = ["preview", "build", "bulk"];
const TENANTS = [
  { org: "acme", sub: "alice" },
  { org: "acme", sub: "bob" },
  { org: "globex", sub: "carol" },
  { org: "initech", sub: "dave" },
];
const VISIBILITIES = ["org", "user", "public", "unlisted"];
const TYPES = ["page", "note", "api"];
const MD_TYPE = "text/markdown; charset=utf-8";
const CSS_TYPE = "text/css; charset=utf-8";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Deterministic filler so sizes vary (0 … ~6 KB) without randomness in the plan. */
function filler(i, v) {
  const n = (i * 7919 + v * 104729) % 6000;
  const words = ["lorem", "ipsum", "grüße", "naïve", "日本語", "emoji 👋", "tab\tand", "quote \"x\"", "back\\slash"];
  let s = "";
  for (let k = 0; s.length < n; k++) s += `${words[(i + k) % words.length]} `;
  return s;
}

/**
 * The artifacts of a run: `count` content artifacts, plus one tombstoned extra per batch of
 * preview/build mode. Each entry: { i, key, ns, type, id, mode, tenant, visibility, versions:
 * [{markdown, css?, ts?}], expect: final version or null (tombstone), deleted }.
 */
export function plan({ count, batch = 25, updateEvery = 10, dupEvery = 50, tag = "rt" }) {
  const base = (Date.now() - 3_600_000) * 1000; // bulk ts: an hour ago, µs
  const artifacts = [];
  const batches = [];
  const nBatches = Math.ceil(count / batch);
  for (let b = 0; b < nBatches; b++) {
    const mode = MODES[b % MODES.length];
    const tenant = TENANTS[b % TENANTS.length];
    const items = [];
    for (let i = b * batch; i < Math.min(count, (b + 1) * batch); i++) {
      const id = `${tag}-${String(i).padStart(6, "0")}`;
      const ns = `load${i % 2}`;
      const type = TYPES[Math.floor(i / 3) % TYPES.length];
      const visibility = VISIBILITIES[i % VISIBILITIES.length];
      const version = (v) => ({
        markdown: `# ${id} v${v}\n\n${filler(i, v)}\n`,
        ...(i % 7 === 0 ? { css: `.a${i}{content:"v${v}"}` } : {}),
        ...(mode === "bulk" ? { ts: base + i * 10 + (v - 1) * 1_000_000 } : {}),
      });
      const updated = updateEvery > 0 && i % updateEvery === 3;
      const versions = updated ? [version(1), version(2)] : [version(1)];
      // bulk: every other update sends the newer ts first; the older one arrives second.
      const reversed = updated && mode === "bulk" && Math.floor(i / updateEvery) % 2 === 1;
      const a = {
        i, key: `${ns}/${type}/${id}`, ns, type, id, mode, tenant, visibility, versions,
        sendOrder: reversed ? [versions[1], versions[0]] : versions,
        dup: dupEvery > 0 && i % dupEvery === 1,
        expect: versions[versions.length - 1],
        deleted: false,
      };
      artifacts.push(a);
      items.push(a);
    }
    // One extra artifact per preview/build batch, written then deleted (tombstones share the
    // table's ts order only within a mode, and DELETE has no client ts, so not in bulk).
    let tomb = null;
    if (mode !== "bulk") {
      const id = `${tag}-${String(b).padStart(6, "0")}-gone`;
      const v = { markdown: `# ${id} (to be deleted)\n` };
      tomb = {
        i: -1, key: `load0/page/${id}`, ns: "load0", type: "page", id, mode, tenant, visibility: "org",
        versions: [v], sendOrder: [v], dup: false, expect: null, deleted: true,
      };
      items.push(tomb);
    }
    batches.push({ b, mode, tenant, items, tomb });
  }
  return { artifacts, batches, tombs: batches.map((x) => x.tomb).filter(Boolean) };
}

const line = (a, v) => JSON.stringify({
  ns: a.ns, type: a.type, id: a.id, visibility: a.visibility, markdown: v.markdown,
  ...(v.css !== undefined ? { css: v.css } : {}),
  ...(v.ts !== undefined ? { ts: v.ts } : {}),
});

const tokens = new Map();
/** One write+read token per tenant (valid for 6 hours, enough for any soak). */
function tokenOf(t) {
  const k = `${t.org}/${t.sub}`;
  if (!tokens.has(k)) tokens.set(k, mint({ org: t.org, sub: t.sub, scopes: ["write:*", "read:*"], exp: Math.floor(Date.now() / 1000) + 6 * 3600 }));
  return tokens.get(k);
}

/** The serving table's key-range split in a scale-out round trip: `load0/…` and `load1/…`. */
export const SCALE_OUT_SPLITS = "load1";

/**
 * The harness for a round trip: the stand-in, commits on a poll while readers read. `scaleOut`
 * (#16): the serving table split in two by key range (SCALE_OUT_SPLITS), sink commits reaching
 * the compact worker through the R2 event notification double, and a second compact worker to
 * race it (`roundTrip`'s `maintainEveryMs` makes them race, with the catalog's compact and expire).
 */
export function startRoundTrip({ flushEveryMs = 250, metadataTtl = "1", rolls = { preview: 500, build: 1000, bulk: 2000 }, scaleOut = false } = {}) {
  const splits = scaleOut ? { SERVING_SPLITS: SCALE_OUT_SPLITS } : {};
  return start({
    standin: true,
    flushEveryMs,
    rateLimit: 1_000_000,
    ...(scaleOut ? { notify: true, compactWorkers: 2, compactVars: splits } : {}),
    // Short metadata TTL so readers see commits while they happen; default cache windows.
    serveVars: { METADATA_TTL_SECONDS: metadataTtl, ...splits },
    // Rolls as in production (5 s / 30 s / 120 s), scaled down: preview commits from send's
    // waitUntil, the others from the poll. Every roll is a data file and a manifest serve scans.
    standinVars: { ROLL_MS_PREVIEW: String(rolls.preview), ROLL_MS_BUILD: String(rolls.build), ROLL_MS_BULK: String(rolls.bulk) },
  });
}

/**
 * Runs the round trip on `h` (from `startRoundTrip`). Never throws on a mismatch: returns counts
 * and the first problems, for the caller to assert on or print. `maintainEveryMs` (> 0): while
 * writers write, on that period, one of the catalog's `compact` (a replace snapshot), its
 * `expire` (snapshots older than 30 s beyond the last 5, their files deleted) or two compact
 * workers racing every range (needs `startRoundTrip({ scaleOut: true })`).
 */
export async function roundTrip(h, { count = 600, clients = 16, readers = 4, batch = 25, updateEvery = 10, dupEvery = 50, maintainEveryMs = 0, log = () => {} } = {}) {
  // Each worker's first fetch resolves `fetch` on Miniflare's proxy synchronously (blocking
  // Node with Atomics.wait); under load that stalls for seconds and the call fails with "other
  // side closed". Touch every worker once before any load.
  for (const w of [h.ingest, h.serve, h.standin]) await (await w("/$.health")).arrayBuffer();
  const t0 = Date.now();
  const p = plan({ count, batch, updateEvery, dupEvery });
  const stats = {
    artifacts: count, tombstoned: p.tombs.length, requests: 0, retries: 0,
    sent: 0, acknowledged: 0, deduped: 0, deletes: 0, statuses: {},
    committed: 0, expectedRows: 0,
    during: { reads: 0, ok: 0, notYet: 0, wrong: 0, errors: 0, batches: 0, listings: 0, tail: {} },
    maintenance: { compact: 0, expire: 0, races: 0, errors: 0 },
    readBack: { ok: 0, mismatched: 0, missing: 0, tombstonesOk: 0, tombstonesWrong: 0, singles: 0, singlesWrong: 0 },
    transportErrors: 0, resent: 0, resets: {}, problems: [], seconds: {},
  };
  const problem = (s) => { if (stats.problems.length < 50) stats.problems.push(s); };
  const count5xx = (status, what) => {
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    if (status >= 500) problem(`${status} from ${what}`);
  };
  // A request whose connection closes before any answer ("other side closed": Miniflare's
  // keep-alive sockets to workerd, occasionally, under this load) is sent once more, as a client
  // would (ingest requests carry an idempotency key; the rest are reads or deletes, which dedupe).
  // A second failure comes back as status 0 with the error as text: counted and reported like any
  // other bad answer, and the run goes on.
  const fetchOf = (worker) => async (path, init) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await worker(path, init);
        return { status: res.status, headers: res.headers, text: await res.text() };
      } catch (e) {
        if (attempt === 0) {
          stats.resent++;
          await sleep(200);
          continue;
        }
        stats.transportErrors++;
        problem(`${init?.method ?? "GET"} ${path}: no answer, twice (${e.message}${e.cause ? `: ${e.cause.message}` : ""})`);
        return { status: 0, headers: new Headers(), text: String(e) };
      }
    }
  };
  const ingest = fetchOf(h.ingest);
  const serve = fetchOf(h.serve);
  // What a reader may legitimately see for a key while the run is on: any version sent so far.
  const sentVersions = new Map();
  const acked = [];

  async function postBatch(bt, lines, items, idem) {
    const body = lines.join("\n") + "\n";
    for (let attempt = 0; ; attempt++) {
      stats.requests++;
      const res = await ingest("/$.artifacts", {
        method: "POST",
        headers: {
          authorization: `Bearer ${tokenOf(bt.tenant)}`,
          "content-type": "application/x-ndjson",
          "x-artifact-mode": bt.mode,
          "x-idempotency-key": idem,
        },
        body,
      });
      const text = res.text;
      count5xx(res.status, `POST batch ${bt.b}`);
      if (res.status === 200) {
        const s = JSON.parse(text);
        stats.acknowledged += s.accepted;
        stats.deduped += s.deduped;
        return s;
      }
      // A client does what the API says: retry 429/503 (and no answer at all) with the same
      // idempotency key.
      if ((res.status === 429 || res.status === 503 || res.status === 0) && attempt < 5) {
        stats.retries++;
        await sleep(Number(res.headers.get("retry-after") ?? 1) * 1000);
        continue;
      }
      problem(`POST batch ${bt.b} (${items.length} lines) → ${res.status}: ${text.slice(0, 300)}`);
      return null;
    }
  }

  async function runBatch(bt) {
    const first = bt.items.map((a) => [a, a.sendOrder[0]]);
    for (const [a, v] of first) sentVersions.set(a.key, [v]);
    stats.sent += first.length;
    const s1 = await postBatch(bt, first.map(([a, v]) => line(a, v)), first, `b${bt.b}-1`);
    if (!s1) return;
    for (const a of bt.items) if (!a.deleted) acked.push(a);
    // Follow-ups: second versions and identical resends in one request.
    const follow = [];
    for (const a of bt.items) {
      if (a.sendOrder.length > 1) follow.push([a, a.sendOrder[1]]);
      if (a.dup) follow.push([a, a.sendOrder[a.sendOrder.length - 1]]);
    }
    if (follow.length) {
      for (const [a, v] of follow) sentVersions.get(a.key).push(v);
      stats.sent += follow.length;
      await postBatch(bt, follow.map(([a, v]) => line(a, v)), follow, `b${bt.b}-2`);
    }
    if (bt.tomb) {
      stats.sent++;
      const res = await ingest(`/$.artifacts/${bt.tomb.key}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${tokenOf(bt.tenant)}`, "x-artifact-mode": bt.mode },
      });
      const text = res.text;
      count5xx(res.status, `DELETE ${bt.tomb.key}`);
      if (res.status === 200) {
        stats.deletes++;
        stats.acknowledged += JSON.parse(text).accepted ?? 1;
      } else problem(`DELETE ${bt.tomb.key} → ${res.status}: ${text.slice(0, 300)}`);
    }
  }

  // Writers: `clients` loops pulling batches in order.
  let next = 0;
  let writing = true;
  const writers = Array.from({ length: clients }, async () => {
    while (next < p.batches.length) {
      const bt = p.batches[next++];
      await runBatch(bt);
      if (bt.b % 40 === 39) log(`  batch ${bt.b + 1}/${p.batches.length}, ${Math.round((Date.now() - t0) / 1000)} s`);
    }
  });

  const pathOf = (a, ext = "md") => `/$.content/${a.key}.${ext}`;
  const auth = (a) => ({ authorization: `Bearer ${tokenOf(a.tenant)}` });

  // Readers: while writers write, read acknowledged artifacts; 404 (not committed yet) is fine,
  // anything else must be a version that was sent.
  let rng = 12345;
  const rand = (n) => {
    rng = (rng * 1103515245 + 12345) % 2147483648;
    return rng % n;
  };
  const latencies = [];
  const tails = [];
  // The sink's maintenance and racing compactors, on a period while writers write.
  const maintainer = (async () => {
    if (!(maintainEveryMs > 0)) return;
    for (let n = 0; writing; n++) {
      await sleep(maintainEveryMs);
      if (!writing) break;
      const mode = MODES[n % 3];
      try {
        if (n % 3 === 0) {
          const res = await h.standin(`/maintain/compact?mode=${mode}`, { method: "POST" });
          if (res.status !== 200) throw new Error(`compact ${mode} → ${res.status}: ${(await res.text()).slice(0, 200)}`);
          await res.arrayBuffer();
          stats.maintenance.compact++;
        } else if (n % 3 === 1) {
          const res = await h.standin(`/maintain/expire?mode=${mode}&keep=5&newer_than=${Date.now() - 30_000}`, { method: "POST" });
          if (res.status !== 200) throw new Error(`expire ${mode} → ${res.status}: ${(await res.text()).slice(0, 200)}`);
          await res.arrayBuffer();
          stats.maintenance.expire++;
        } else {
          const outs = await Promise.all([h.compactRun("", 0), h.compactRun("", 1)]);
          for (const o of outs) {
            const errors = (o.ranges ?? [o]).map((r) => r.error).filter(Boolean);
            if (errors.length) throw new Error(`racing compactors: ${errors.join("; ")}`);
          }
          stats.maintenance.races++;
        }
      } catch (e) {
        stats.maintenance.errors++;
        problem(`maintenance: ${e.message}`);
      }
    }
  })();
  const readerLoops = Array.from({ length: readers }, async (_, r) => {
    while (writing) {
      if (acked.length === 0) {
        await sleep(20);
        continue;
      }
      const roll = rand(20);
      if (roll === 0) {
        // A batch read of up to 20 acknowledged artifacts (owner = the first one's tenant).
        const a0 = acked[rand(acked.length)];
        const refs = acked.filter((a) => a.tenant === a0.tenant).slice(-20).map((a) => `${a.key}.md`);
        const res = await serve("/$.content/batch", { method: "POST", headers: { ...auth(a0), "content-type": "application/json" }, body: JSON.stringify(refs) });
        const text = res.text;
        stats.during.batches++;
        count5xx(res.status, "batch read");
        if (res.status === 200) {
          for (const l of text.split("\n").filter(Boolean)) {
            const o = JSON.parse(l);
            if (o.end) continue;
            if (o.status >= 500) { stats.during.errors++; problem(`batch ref ${o.ref} → ${o.status}: ${JSON.stringify(o.problem)}`); }
          }
        }
        continue;
      }
      if (roll === 1) {
        const a0 = acked[rand(acked.length)];
        const res = await serve(`/$.content/${a0.ns}/${a0.type}/?limit=50`, { headers: auth(a0) });
        stats.during.listings++;
        count5xx(res.status, "listing");
        continue;
      }
      const a = acked[rand(acked.length)];
      const started = Date.now();
      const res = await serve(pathOf(a), { headers: auth(a) });
      const text = res.text;
      latencies.push(Date.now() - started);
      // The tail's length this read saw (table reads only: a cached answer has none).
      const tail = /(?:^|,\s*)tail;desc="(\d+)"/.exec(res.headers.get("server-timing") ?? "");
      if (tail) tails.push(Number(tail[1]));
      stats.during.reads++;
      count5xx(res.status, `GET ${a.key}.md`);
      if (res.status === 404) stats.during.notYet++;
      else if (res.status === 200 && (sentVersions.get(a.key) ?? []).some((v) => v.markdown === text)) stats.during.ok++;
      else if (res.status >= 500) stats.during.errors++;
      else {
        stats.during.wrong++;
        problem(`during the run ${a.key}.md → ${res.status}: ${text.slice(0, 120)}`);
      }
    }
  });

  await Promise.all(writers);
  stats.seconds.ingest = (Date.now() - t0) / 1000;
  writing = false;
  await Promise.all(readerLoops);
  await maintainer;
  latencies.sort((x, y) => x - y);
  const pct = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  stats.during.ms = { p50: pct(0.5), p99: pct(0.99), max: latencies[latencies.length - 1] ?? 0 };
  tails.sort((x, y) => x - y);
  const tailAt = (q) => tails[Math.min(tails.length - 1, Math.floor(q * tails.length))] ?? null;
  stats.during.tail = { reads: tails.length, p50: tailAt(0.5), p99: tailAt(0.99), max: tails.at(-1) ?? null };

  // Final flush: every mode until nothing is left (the poll may be committing at the same time).
  const t1 = Date.now();
  for (let round = 0; round < 20; round++) {
    const outs = await h.flush();
    if (outs.every((o) => o.committed === 0)) break;
  }
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
  for (const mode of MODES) {
    const left = await r2.list({ prefix: `_standin/buffer/${mode}/` });
    if (left.objects.length) problem(`${left.objects.length} buffer objects left in ${mode} after the final flush`);
    stats.committed += await committedRows(r2, mode);
  }
  stats.expectedRows = stats.acknowledged - stats.deduped;
  stats.seconds.flush = (Date.now() - t1) / 1000;
  log(`  final flush: ${stats.committed} rows committed, ${stats.seconds.flush} s`);
  // Past the metadata TTL, so every reader sees the last commit.
  await sleep(1_100);

  // Read back: every artifact exactly, newest version; tombstones 404. All of them through
  // batch reads (100 refs a request, the owner's token; the per-ref rules are the single read's),
  // and every artifact that carries css also through single GETs of .md and .css.
  const t2 = Date.now();
  const byTenant = new Map();
  for (const a of [...p.artifacts, ...p.tombs]) {
    const k = `${a.tenant.org}/${a.tenant.sub}`;
    if (!byTenant.has(k)) byTenant.set(k, []);
    byTenant.get(k).push(a);
  }
  const groups = [];
  for (const list of byTenant.values()) for (let k = 0; k < list.length; k += 100) groups.push(list.slice(k, k + 100));
  const judge = (a, status, contentType, text) => {
    if (a.deleted) {
      if (status === 404) stats.readBack.tombstonesOk++;
      else { stats.readBack.tombstonesWrong++; problem(`tombstoned ${a.key}.md → ${status}: ${String(text).slice(0, 120)}`); }
      return;
    }
    if (status === 200 && text === a.expect.markdown && contentType === MD_TYPE) stats.readBack.ok++;
    else if (status === 404) { stats.readBack.missing++; problem(`${a.key}.md missing (404) after the final flush`); }
    else {
      stats.readBack.mismatched++;
      const older = a.versions.find((v) => v.markdown === text);
      problem(`${a.key}.md → ${status} ${contentType}: ${older ? "an older version" : JSON.stringify(String(text).slice(0, 80))}`);
    }
  };
  let gi = 0;
  await Promise.all(Array.from({ length: Math.min(clients, 8) }, async () => {
    while (gi < groups.length) {
      const group = groups[gi++];
      const res = await serve("/$.content/batch", {
        method: "POST",
        headers: { ...auth(group[0]), "content-type": "application/json" },
        body: JSON.stringify(group.map((a) => `${a.key}.md`)),
      });
      const text = res.text;
      count5xx(res.status, "final batch read");
      // One line per distinct ref (its `positions` say which refs it answers), then the `end`
      // line that marks a complete answer.
      const all = res.status === 200 ? text.split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
      const end = all.at(-1);
      const byPosition = [];
      for (const o of all.slice(0, -1)) for (const p of o.positions ?? []) byPosition[p] = o;
      if (end?.end !== true || group.some((_, k) => !byPosition[k])) {
        problem(`final batch of ${group.length} → ${res.status}, ${all.length} lines: ${text.slice(0, 200)}`);
        stats.readBack.missing += group.filter((a) => !a.deleted).length;
        continue;
      }
      group.forEach((a, k) => {
        const o = byPosition[k];
        if (o.status >= 500) count5xx(o.status, `final batch ref ${o.ref}`);
        judge(a, o.status, o.content_type, o.body ?? JSON.stringify(o.problem));
      });
      if (gi % 20 === 0) log(`  batch reads ${gi}/${groups.length}, ${Math.round((Date.now() - t2) / 1000)} s`);
    }
  }));
  stats.seconds.readBack = (Date.now() - t2) / 1000;
  log(`  read back through ${groups.length} batch reads: ${stats.seconds.readBack} s`);
  const t3 = Date.now();
  const singles = p.artifacts.filter((a) => a.expect.css !== undefined);
  let si = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (si < singles.length) {
      const a = singles[si++];
      const res = await serve(pathOf(a), { headers: auth(a) });
      const text = res.text;
      count5xx(res.status, `final GET ${a.key}.md`);
      const c = await serve(pathOf(a, "css"), { headers: auth(a) });
      const ct = c.text;
      count5xx(c.status, `final GET ${a.key}.css`);
      const ok = res.status === 200 && text === a.expect.markdown && res.headers.get("content-type") === MD_TYPE &&
        c.status === 200 && ct === a.expect.css && c.headers.get("content-type") === CSS_TYPE;
      if (ok) stats.readBack.singles++;
      else {
        stats.readBack.singlesWrong++;
        problem(`single GETs of ${a.key}: .md ${res.status} ${res.headers.get("content-type")} ${JSON.stringify(text.slice(0, 60))}, .css ${c.status} ${c.headers.get("content-type")} ${JSON.stringify(ct.slice(0, 60))}`);
      }
    }
  }));
  stats.seconds.singles = (Date.now() - t3) / 1000;
  const resetsOf = (w) => resets(w).catch((e) => {
    problem(`/$.health: no answer (${e.message})`);
    return -1;
  });
  stats.resets = { ingest: await resetsOf(h.ingest), serve: await resetsOf(h.serve), standin: await resetsOf(h.standin) };
  stats.seconds.total = (Date.now() - t0) / 1000;
  stats.fiveXX = Object.entries(stats.statuses).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0);
  stats.lost = stats.transportErrors + stats.readBack.missing + stats.readBack.mismatched + stats.readBack.tombstonesWrong + stats.readBack.singlesWrong + Math.abs(stats.expectedRows - stats.committed);
  return stats;
}

/** Rows committed to a mode's table: its current snapshot's total-records (0 for the empty v1). */
async function committedRows(r2, mode) {
  const hint = (await (await r2.get(`artifacts/${mode}/metadata/version-hint.text`)).text()).trim();
  const m = JSON.parse(await (await r2.get(`artifacts/${mode}/metadata/v${hint}.metadata.json`)).text());
  const cur = (m.snapshots ?? []).find((s) => s["snapshot-id"] === m["current-snapshot-id"]);
  return cur ? Number(cur.summary["total-records"]) : 0;
}

/** Human-readable summary lines of `stats`. */
export function report(stats) {
  const s = stats;
  return [
    `artifacts ${s.artifacts} (+${s.tombstoned} tombstoned), requests ${s.requests} (retries ${s.retries}), statuses ${JSON.stringify(s.statuses)}`,
    `sent ${s.sent} records, acknowledged ${s.acknowledged} (deduped ${s.deduped}, deletes ${s.deletes}), committed ${s.committed} rows (expected ${s.expectedRows})`,
    `during the run: ${s.during.reads} reads (${s.during.ok} ok, ${s.during.notYet} not yet committed, ${s.during.wrong} wrong, ${s.during.errors} errors), ${s.during.batches} batch reads, ${s.during.listings} listings, read ms ${JSON.stringify(s.during.ms)}`,
    `the tail (source snapshots after the serving watermarks, per table read): ${JSON.stringify(s.during.tail)}; maintenance ${JSON.stringify(s.maintenance)}`,
    `read back (batch reads): ${s.readBack.ok} ok, ${s.readBack.mismatched} mismatched, ${s.readBack.missing} missing; tombstones ${s.readBack.tombstonesOk} 404, ${s.readBack.tombstonesWrong} wrong; single GETs of .md + .css: ${s.readBack.singles} ok, ${s.readBack.singlesWrong} wrong`,
    `5xx ${s.fiveXX}, requests resent after a closed connection ${s.resent}, unanswered twice ${s.transportErrors}, resets ${JSON.stringify(s.resets)}, lost ${s.lost}; seconds ${JSON.stringify(s.seconds)}`,
    ...s.problems.slice(0, 20).map((x) => `  problem: ${x}`),
  ];
}
