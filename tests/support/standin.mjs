// Helpers shared by the stand-in specs (standin, standin-sink-shape): the settings they start
// with, sending records through ingest, and reading a record back through serve field by field.
import assert from "node:assert/strict";
import { post, ndjson } from "./ingest.mjs";
import { fetchContent, readToken } from "./content.mjs";
import { mint } from "./token.mjs";

/** Serve re-reads table metadata on every request, so a flush shows at once. */
export const serveVars = { METADATA_TTL_SECONDS: "0" };
/** Roll intervals no spec waits out: only explicit flushes commit, so the specs decide when. */
export const LONG_ROLLS = { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" };

/** A token writing every namespace as acme/alice. */
export const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
/** A token reading what acme/alice wrote (org visibility included). */
export const owner = () => readToken("acme", "alice");

/** Posts `recs` to ingest in `mode` as `writer()`; asserts every one was accepted. */
export async function send(h, recs, mode = "build") {
  const r = await post(h, ndjson(recs), { token: writer(), mode });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.accepted, recs.length, r.text);
  return r;
}

/** Asserts serve answers `r` (a record as sent) as its owner: the .md bytes, and every field of
 * the .json — what the record set, null or its default for the rest, never the sink's column. */
export async function assertServed(h, r) {
  const key = `${r.ns}/${r.type}/${r.id}`;
  const md = await fetchContent(h, `/$.content/${key}.md`, { token: owner() });
  assert.equal(md.status, 200, `${key}.md: ${md.text.slice(0, 300)}`);
  assert.equal(md.text, r.markdown);
  const j = await fetchContent(h, `/$.content/${key}.json`, { token: owner() });
  assert.equal(j.status, 200, `${key}.json: ${j.text.slice(0, 300)}`);
  const b = j.body;
  for (const f of ["ns", "type", "id", "markdown"]) assert.equal(b[f], r[f], f);
  assert.equal(b.owner_org, "acme");
  assert.equal(b.owner_user, "alice");
  assert.equal(b.visibility, r.visibility ?? b.visibility);
  assert.match(b.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.equal(b.deleted, false);
  assert.equal(typeof b.content_hash, "string");
  assert.equal(typeof b.size_bytes, "number");
  assert.deepEqual(b.mdast, r.mdast ?? null);
  assert.deepEqual(b.frontmatter, r.frontmatter ?? null);
  assert.equal(b.html, r.html ?? null);
  for (const f of ["mdx", "esm", "dts", "css", "hast", "estree"]) assert.equal(b[f], null, f);
  assert.deepEqual(b.inputs, r.inputs ?? null);
  assert.equal(b.__ingest_ts, undefined, "the sink's column is not part of the record");
}
