// A client for the edge artifact store (#19): publish records through ingest (`POST /$.artifacts`)
// and read them through serve (`GET /$.content/…`). fetch only, no dependencies: it runs in Node
// (18+), inside a Worker (pass a service binding's fetch) and in a browser (the tenant must list
// the page's origin in its `cors_origins`, see docs/serve.md). Types: index.d.ts.

const NDJSON = "application/x-ndjson";
const PROBLEM = "application/problem+json";
/** Extensions whose answer is JSON (parsed by `get`). */
const JSON_EXTS = new Set(["json", "mdast.json", "hast.json", "estree.json", "frontmatter.json"]);

/** An error answer, typed from its RFC 9457 problem+json body. */
export class ProblemError extends Error {
  constructor(status, body, response) {
    const p = body && typeof body === "object" ? body : {};
    const type = typeof p.type === "string" ? p.type : "about:blank";
    const title = typeof p.title === "string" ? p.title : `HTTP ${status}`;
    const detail = typeof p.detail === "string" ? p.detail : typeof body === "string" ? body.slice(0, 500) : undefined;
    super(detail ? `${status} ${title}: ${detail}` : `${status} ${title}`);
    this.name = "ProblemError";
    this.status = status;
    this.type = type;
    /** The last segment of `type` (`https://artifacts.dev/problems/not-found` → `not-found`). */
    this.slug = type.slice(type.lastIndexOf("/") + 1);
    this.title = title;
    this.detail = detail;
    /** Every member of the problem (`allow`, `field`, `unsent_lines`, …), the standard ones too. */
    this.members = { ...p };
    this.retryAfter = retryAfterSecs(response);
  }
}

function retryAfterSecs(response) {
  const v = response?.headers?.get("retry-after");
  const n = v == null ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

async function problemOf(res) {
  const text = await res.text();
  let body = text;
  if ((res.headers.get("content-type") ?? "").startsWith(PROBLEM) || text.startsWith("{")) {
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON after all: the text is the detail.
    }
  }
  return new ProblemError(res.status, body, res);
}

/** A path segment as serve decodes it: path-safe bytes as they are, the rest percent-encoded. */
const segment = (s) => encodeURIComponent(s).replace(/%40/g, "@").replace(/%2B/g, "+");
const encodePath = (p) => p.split("/").map(segment).join("/");
const trimSlash = (u) => String(u).replace(/\/+$/, "");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether this runtime's fetch sends a ReadableStream body as a stream (Node needs `duplex`). */
export function supportsRequestStreams() {
  // Workers stream a ReadableStream body (chunked) without being asked for `duplex`.
  if (globalThis.navigator?.userAgent === "Cloudflare-Workers") return true;
  try {
    let duplexRead = false;
    const req = new Request("http://localhost/", {
      method: "POST",
      body: new ReadableStream(),
      get duplex() {
        duplexRead = true;
        return "half";
      },
    });
    return duplexRead && !req.headers.has("content-type");
  } catch {
    return false;
  }
}

function refPath(ref, ext) {
  const r = typeof ref === "string" ? ref.replace(/^\/?\$\.content\//, "") : `${ref.ns}/${ref.type}/${ref.id}`;
  return `/$.content/${encodePath(r)}.${ext}`;
}

function idempotencyKey() {
  return globalThis.crypto?.randomUUID?.();
}

export class ArtifactsClient {
  /**
   * @param {import("./index.d.ts").ClientOptions} options
   */
  constructor(options = {}) {
    const { ingestUrl, serveUrl, token, fetch: f } = options;
    this.ingestUrl = ingestUrl ? trimSlash(ingestUrl) : undefined;
    this.serveUrl = serveUrl ? trimSlash(serveUrl) : undefined;
    this.token = token;
    const base = f ?? globalThis.fetch;
    // A bare `fetch` called as a method of this object would lose its receiver in browsers.
    this.ingestFetch = options.ingestFetch ?? ((...a) => base(...a));
    this.serveFetch = options.serveFetch ?? ((...a) => base(...a));
    this.streaming = options.streaming ?? supportsRequestStreams();
    this.maxRecords = options.maxRecords ?? 1000;
    this.maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
    this.retries = options.retries ?? 4;
  }

  #auth(headers, token = this.token) {
    if (token) headers.authorization = `Bearer ${token}`;
    return headers;
  }

  #ingest(path) {
    if (!this.ingestUrl) throw new TypeError("ingestUrl is not set");
    return `${this.ingestUrl}${path}`;
  }

  #serve(path) {
    if (!this.serveUrl) throw new TypeError("serveUrl is not set");
    return `${this.serveUrl}${path}`;
  }

  /** Publishes one record; resolves to ingest's summary (200, or 207 with its rejected line). */
  async put(record, { mode, idempotencyKey: key, signal } = {}) {
    const body = JSON.stringify(record) + "\n";
    return this.#send(body, { mode, key: key ?? (await contentKey(body)), signal });
  }

  /**
   * One request, retried on 429 (after Retry-After, the same body under the same key) and on
   * 503 (only the lines its `unsent_lines` names, as a request of their own). `body` is the
   * NDJSON text, or with `stream` a handle on the lines the stream sends (`drain()` reads the
   * rest, `text()` is every line).
   */
  async #send(body, { mode, key, signal, stream }, attempt = 0) {
    const headers = this.#auth({ "content-type": NDJSON });
    if (mode) headers["x-artifact-mode"] = mode;
    if (key) headers["x-idempotency-key"] = key;
    for (;;) {
      const init = { method: "POST", headers, body: stream ?? body, signal };
      if (stream) init.duplex = "half";
      let res;
      try {
        res = await this.ingestFetch(this.#ingest("/$.artifacts"), init);
      } catch (e) {
        if (!stream || signal?.aborted) throw e;
        // A runtime that refuses a streamed body (HTTP/1.1 in a browser) gets the buffered one.
        res = null;
      }
      if (stream) {
        await body.drain();
        body = body.text();
        stream = undefined;
        if (!res) continue;
      }
      if (res.status === 200 || res.status === 207) return await res.json();
      const problem = await problemOf(res);
      if (attempt >= this.retries || ![429, 503].includes(res.status)) throw problem;
      attempt++;
      await sleep(1000 * Math.min(problem.retryAfter ?? 2 ** attempt / 4, 30));
      const unsent = problem.members.unsent_lines;
      if (res.status === 503 && Array.isArray(unsent) && unsent.length > 0) {
        const lines = body.split("\n");
        const rest = unsent.map((n) => lines[n - 1]).join("\n") + "\n";
        const later = remap(await this.#send(rest, { mode, key: await contentKey(rest), signal }, attempt), (n) => unsent[n - 1]);
        // The lines this answer settled stand; the resend's answer covers the rest.
        const p = problem.members;
        return {
          ...later,
          accepted: later.accepted + (p.accepted ?? 0),
          deduped: later.deduped + (p.deduped ?? 0),
          rejected: later.rejected + (p.rejected ?? 0),
          rejected_lines: [...(p.rejected_lines ?? []), ...later.rejected_lines].sort((a, b) => a.line - b.line),
          deduped_lines: [...(p.deduped_lines ?? []), ...later.deduped_lines].sort((a, b) => a - b),
        };
      }
    }
  }

  /**
   * Publishes every record of `records` (an iterable or async iterable) as NDJSON, in requests
   * of at most `maxRecords` records and `maxBytes` bytes. Where the runtime streams request
   * bodies each request's body is a ReadableStream fed as records arrive; otherwise each batch
   * is sent whole. `onResult` sees each line's result (numbered from 1 over the whole input) as
   * soon as the request holding it is answered. Resolves to the summary over every request.
   */
  async putMany(records, { mode, onResult, signal, maxRecords = this.maxRecords, maxBytes = this.maxBytes } = {}) {
    const iter = records[Symbol.asyncIterator]?.() ?? records[Symbol.iterator]();
    const total = { mode: mode ?? "build", accepted: 0, deduped: 0, rejected: 0, lines: 0, requests: 0, rejected_lines: [], deduped_lines: [] };
    const encoder = new TextEncoder();
    let done = false;
    let pending = null; // a record read past the previous request's limits
    const next = async () => {
      if (pending) {
        const p = pending;
        pending = null;
        return p;
      }
      const r = await iter.next();
      if (r.done) {
        done = true;
        return null;
      }
      return JSON.stringify(r.value) + "\n";
    };
    while (!done || pending) {
      const first = total.lines;
      // The lines of this request, kept for a resend and for the results.
      const lines = [];
      let bytes = 0;
      const take = async () => {
        if (lines.length >= maxRecords) return null;
        const line = await next();
        if (line == null) return null;
        const size = encoder.encode(line).length;
        if (lines.length > 0 && bytes + size > maxBytes) {
          pending = line;
          return null;
        }
        lines.push(line);
        bytes += size;
        return line;
      };
      let body;
      let stream;
      if (this.streaming) {
        const head = await take();
        if (head == null) break;
        let closed = false;
        body = {
          text: () => lines.join(""),
          drain: async () => {
            if (closed) return;
            closed = true;
            while ((await take()) != null);
          },
        };
        let sentHead = false;
        stream = new ReadableStream({
          async pull(controller) {
            const line = sentHead ? (closed ? null : await take()) : ((sentHead = true), head);
            if (line == null) {
              closed = true;
              controller.close();
            } else controller.enqueue(encoder.encode(line));
          },
        });
      } else {
        while ((await take()) != null);
        if (lines.length === 0) break;
        body = lines.join("");
      }
      const summary = await this.#send(body, { mode, key: stream ? idempotencyKey() : await contentKey(body), signal, stream });
      const count = lines.length;
      total.requests++;
      total.lines += count;
      total.mode = summary.mode ?? total.mode;
      total.accepted += summary.accepted ?? 0;
      total.deduped += summary.deduped ?? 0;
      total.rejected += summary.rejected ?? 0;
      const rejected = new Map((summary.rejected_lines ?? []).map((r) => [r.line, r]));
      const deduped = new Set(summary.deduped_lines ?? []);
      for (let i = 1; i <= count; i++) {
        const line = first + i;
        const r = rejected.get(i);
        let result;
        if (r) {
          result = { line, status: "rejected", reason: r.reason, ...(r.field ? { field: r.field } : {}) };
          total.rejected_lines.push({ ...r, line });
        } else if (deduped.has(i)) {
          result = { line, status: "deduped" };
          total.deduped_lines.push(line);
        } else result = { line, status: "accepted" };
        onResult?.(result);
      }
    }
    return total;
  }

  /**
   * Reads one representation: `ref` is `ns/type/id` (or `{ns, type, id}`), `ext` the extension
   * (`md`, `html`, `json`, `d.ts`, …). JSON extensions resolve to the parsed value in `body`.
   */
  async get(ref, ext, { fresh, token, signal, version } = {}) {
    let p = refPath(ref, ext);
    if (version != null) p = p.replace(new RegExp(`\\.${ext.replace(/\./g, "\\.")}$`), `@${segment(String(version))}.${ext}`);
    if (fresh) p += "?fresh=true";
    const res = await this.serveFetch(this.#serve(p), { headers: this.#auth({}, token ?? this.token), signal });
    if (res.status !== 200) throw await problemOf(res);
    const text = await res.text();
    return {
      status: res.status,
      contentType: res.headers.get("content-type"),
      etag: res.headers.get("etag"),
      source: res.headers.get("x-artifact-source"),
      text,
      body: JSON_EXTS.has(ext) ? JSON.parse(text) : text,
    };
  }

  /**
   * One page of the listing of `ns/type`: `{ns, type, items, cursor}`; `cursor` is null on the
   * last page. With `prefix`, only ids starting with it (the first page starts at the prefix,
   * and the listing ends once ids pass it).
   */
  async list(ns, type, { prefix = "", delimiter, cursor, limit, token, signal } = {}) {
    const q = new URLSearchParams();
    if (prefix) q.set("prefix", prefix);
    if (delimiter) q.set("delimiter", delimiter);
    const start = cursor ?? (prefix.length > 1 ? prefix.slice(0, -1) : undefined);
    if (start) q.set("cursor", start);
    if (limit) q.set("limit", String(limit));
    const qs = q.toString();
    const res = await this.serveFetch(this.#serve(`/$.content/${segment(ns)}/${segment(type)}/${qs ? `?${qs}` : ""}`), {
      headers: this.#auth({}, token ?? this.token),
      signal,
    });
    if (res.status !== 200) throw await problemOf(res);
    const page = await res.json();
    if (!prefix) return page;
    const items = [];
    let past = false;
    for (const item of page.items ?? []) {
      if (item.id.startsWith(prefix)) items.push(item);
      else if (item.id > prefix) past = true;
    }
    return { ...page, items, cursor: past ? null : page.cursor ?? null };
  }

  /** Every item of the listing, following cursors. */
  async *listAll(ns, type, options = {}) {
    let cursor = options.cursor;
    do {
      const page = await this.list(ns, type, { ...options, cursor });
      yield* page.items;
      cursor = page.cursor;
    } while (cursor);
  }
}

/** `summary` with its line numbers passed through `map`. */
function remap(summary, map) {
  return {
    ...summary,
    rejected_lines: (summary.rejected_lines ?? []).map((r) => ({ ...r, line: map(r.line) })),
    deduped_lines: (summary.deduped_lines ?? []).map(map),
  };
}

/** An idempotency key from the body's content (SHA-256), so a retried batch is the same request. */
async function contentKey(body) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return idempotencyKey();
  const digest = new Uint8Array(await subtle.digest("SHA-256", new TextEncoder().encode(body)));
  return "js-" + Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A client; `createClient(options)` is `new ArtifactsClient(options)`. */
export const createClient = (options) => new ArtifactsClient(options);
