// Types of the artifact store's JS client (index.js). Hand-written; the wire shapes are those of
// docs/ingest.md, docs/serve.md and docs/openapi.json.

/** `preview`, `build` (ingest's default) or `bulk`: which stream, and how soon it is readable. */
export type Mode = "preview" | "build" | "bulk";
export type Visibility = "public" | "unlisted" | "org" | "user";

/** A record as a client sends it (docs/records.md). */
export interface ArtifactRecord {
  ns: string;
  type: string;
  /** One or more path-safe segments joined by `/`. */
  id: string;
  visibility?: Visibility;
  markdown?: string | null;
  mdx?: string | null;
  html?: string | null;
  esm?: string | null;
  dts?: string | null;
  css?: string | null;
  mdast?: unknown;
  hast?: unknown;
  estree?: unknown;
  frontmatter?: unknown;
  inputs?: string[] | null;
  supersedes?: string[] | null;
  tags?: Record<string, string> | null;
  /** RFC 3339 or integer microseconds. */
  expires_at?: string | number | null;
  /** Bulk mode only: RFC 3339 or integer microseconds. */
  ts?: string | number;
  deleted?: boolean;
}

export type Fetch = (input: string | Request, init?: RequestInit & { duplex?: "half" }) => Promise<Response>;

export interface ClientOptions {
  /** Ingest's base URL (`http://127.0.0.1:8787` under `make dev`). */
  ingestUrl?: string;
  /** Serve's base URL (`http://127.0.0.1:8788` under `make dev`). */
  serveUrl?: string;
  /** A bearer token (`make token`, or minted by the operator). */
  token?: string;
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: Fetch;
  /** Fetch for ingest only: a service binding's `fetch` inside a Worker. */
  ingestFetch?: Fetch;
  /** Fetch for serve only. */
  serveFetch?: Fetch;
  /** Stream request bodies (default: whether this runtime's fetch can). */
  streaming?: boolean;
  /** Most records in one request of `putMany` (default 1,000). */
  maxRecords?: number;
  /** Most bytes of NDJSON in one request of `putMany` (default 8 MiB). */
  maxBytes?: number;
  /** Retries of a 429 (after `Retry-After`) or 503 (its unsent lines only); default 4. */
  retries?: number;
}

/** A rejected line as ingest names it. */
export interface RejectedLine {
  line: number;
  field?: string;
  reason: string;
}

/** Ingest's answer to one request (200, or 207 with rejected lines). */
export interface PutSummary {
  mode: Mode;
  accepted: number;
  deduped: number;
  deduped_lines: number[];
  rejected: number;
  rejected_lines: RejectedLine[];
  truncated?: boolean;
}

/** What became of one line of `putMany`, numbered from 1 over the whole input. */
export type LineResult =
  | { line: number; status: "accepted" }
  | { line: number; status: "deduped" }
  | { line: number; status: "rejected"; field?: string; reason: string };

/** `putMany`'s summary over every request it sent. */
export interface PutManySummary extends PutSummary {
  /** Lines read from the input. */
  lines: number;
  /** Requests sent (resends not counted). */
  requests: number;
}

export interface PutOptions {
  mode?: Mode;
  /** Default: derived from the body (SHA-256), so a retry is recognised. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface PutManyOptions {
  mode?: Mode;
  /** Called for each line as soon as the request holding it is answered. */
  onResult?: (result: LineResult) => void;
  signal?: AbortSignal;
  maxRecords?: number;
  maxBytes?: number;
}

export interface GetOptions {
  /** Bypass serve's cache (`?fresh=true`; needs a token). */
  fresh?: boolean;
  /** A token for this read instead of the client's. */
  token?: string;
  /** A snapshot id or an RFC 3339 time: the table as of then. */
  version?: string | number;
  signal?: AbortSignal;
}

export interface Artifact<T = unknown> {
  status: number;
  contentType: string | null;
  etag: string | null;
  /** `cache`, `serving` or `tail`. */
  source: string | null;
  text: string;
  /** The text, or for a JSON extension (`json`, `mdast.json`, …) the parsed value. */
  body: T;
}

export interface ListItem {
  id: string;
  ts: string;
  size_bytes: number;
  visibility: Visibility;
  content_hash: string;
}

export interface ListPage {
  ns: string;
  type: string;
  items: ListItem[];
  /** With `delimiter` (where serve supports it): the common prefixes on this page. */
  prefixes?: string[];
  /** Pass as `cursor` for the next page; null on the last one. */
  cursor: string | null;
}

export interface ListOptions {
  /** Only ids starting with it. */
  prefix?: string;
  /** Roll ids holding it after the prefix up into `prefixes` (where serve supports it). */
  delimiter?: string;
  cursor?: string | null;
  /** Items a page (serve's default 100, at most 1,000). */
  limit?: number;
  token?: string;
  signal?: AbortSignal;
}

/** `ns/type/id`, or its parts. */
export type Ref = string | { ns: string; type: string; id: string };

/** An error answer, typed from its RFC 9457 problem+json body. */
export class ProblemError extends Error {
  readonly name: "ProblemError";
  readonly status: number;
  /** `https://artifacts.dev/problems/<slug>`, or `about:blank` for a body that is not a problem. */
  readonly type: string;
  /** The last segment of `type`: `not-found`, `rate-limited`, `invalid-records`, … */
  readonly slug: string;
  readonly title: string;
  readonly detail?: string;
  /** Every member of the problem body (`allow`, `field`, `unsent_lines`, `rejected_lines`, …). */
  readonly members: Record<string, unknown>;
  /** `Retry-After`, seconds, when the answer had one. */
  readonly retryAfter?: number;
}

export class ArtifactsClient {
  constructor(options?: ClientOptions);
  readonly ingestUrl?: string;
  readonly serveUrl?: string;
  readonly streaming: boolean;
  /** Publishes one record. Throws a ProblemError for an error answer (400 when it is invalid). */
  put(record: ArtifactRecord, options?: PutOptions): Promise<PutSummary>;
  /** Publishes every record as NDJSON, streamed where the runtime can, in requests under the limits. */
  putMany(records: AsyncIterable<ArtifactRecord> | Iterable<ArtifactRecord>, options?: PutManyOptions): Promise<PutManySummary>;
  /** Reads one representation (`md`, `html`, `json`, `d.ts`, …) of the newest version. */
  get<T = unknown>(ref: Ref, ext: string, options?: GetOptions): Promise<Artifact<T>>;
  /** One page of the listing of `ns/type`. */
  list(ns: string, type: string, options?: ListOptions): Promise<ListPage>;
  /** Every item of the listing, following cursors. */
  listAll(ns: string, type: string, options?: Omit<ListOptions, "cursor"> & { cursor?: string }): AsyncGenerator<ListItem>;
}

export function createClient(options?: ClientOptions): ArtifactsClient;
/** Whether this runtime's fetch sends a ReadableStream request body as a stream. */
export function supportsRequestStreams(): boolean;
