// Mints bearer tokens exactly as shared/src/token.rs expects: compact JWS, header
// {"alg":"HS256","typ":"JWT"}, base64url without padding, HMAC-SHA256 over "header.payload",
// claims sub, org, scopes (array) and exp (seconds). The escape hatches (another alg, another
// secret, a raw header, a tampered payload) exist to build the tokens ingest must refuse.
import { createHmac } from "node:crypto";
import { AUTH_SECRET } from "./harness.mjs";

export const b64url = (data) => Buffer.from(typeof data === "string" ? data : JSON.stringify(data)).toString("base64url");

const nowSecs = () => Math.floor(Date.now() / 1000);

/**
 * A signed token. `claims` override the defaults (alice of acme, `write:*`, valid for an hour);
 * `opts.secret` signs with another key, `opts.header` replaces the JOSE header, `opts.hmac`
 * picks the HMAC hash ("sha256" unless said), `opts.signature` replaces the signature part.
 */
export function mint(claims = {}, opts = {}) {
  const body = { sub: "alice", org: "acme", scopes: ["write:*"], exp: nowSecs() + 3600, ...claims };
  const header = opts.header ?? { alg: "HS256", typ: "JWT" };
  const signed = `${b64url(header)}.${b64url(body)}`;
  const signature =
    opts.signature ?? createHmac(opts.hmac ?? "sha256", opts.secret ?? AUTH_SECRET).update(signed).digest("base64url");
  return `${signed}.${signature}`;
}

/** `token` with its payload replaced by `claims` (header and signature kept as they were). */
export function tamper(token, claims) {
  const [header, , signature] = token.split(".");
  return `${header}.${b64url(claims)}.${signature}`;
}

/** The decoded payload of a token. */
export function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}

/** `shared::key::compose`: the one unambiguous encoding of composite keys. */
export const compose = (parts) => parts.map((p) => String(p).replaceAll("%", "%25").replaceAll(":", "%3A")).join(":");

/** `shared::token::key_id`: which secret signed (the header's `kid`, a signed URL's `kid`). */
export const keyId = (secret = AUTH_SECRET) => createHmac("sha256", secret).update("artifacts key id").digest("hex").slice(0, 16);

/**
 * The query of a signed URL for `path` (as requested, percent-encoding included) valid until
 * `exp`, signed on behalf of `org`/`sub` — what `POST /$.content/sign` hands out.
 */
export function signedQuery(path, exp, { org = "acme", sub = "alice", secret = AUTH_SECRET, kid = keyId(secret) } = {}) {
  const sig = createHmac("sha256", secret).update(compose(["signed-url-v2", path, exp, org, sub])).digest("hex");
  const q = new URLSearchParams({ exp: String(exp), by_org: org, by_sub: sub });
  if (kid !== null) q.set("kid", kid);
  q.set("sig", sig);
  return q.toString();
}
