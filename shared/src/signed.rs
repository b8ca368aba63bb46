//! Signed URLs: `?exp=<unix seconds>&by_org=<org>&by_sub=<sub>&kid=<key id>&sig=<hex HMAC-SHA256>`
//! over the content path, so one artifact can be handed out without a token until it expires.
//!
//! The signature covers the path exactly as requested (percent-encoding included), the expiry and
//! the **signer** (org and sub of the token that asked for it), through [`crate::key::compose`]
//! so no two (path, expiry, signer) tuples share a message. Serve checks at read time that the
//! signer may *still* read the artifact: a URL made while it was public stops working when it
//! becomes private to someone else. `kid` names the secret that signed ([`crate::token::key_id`]),
//! so URLs survive a secret rotation while the previous secret is configured. Comparison is
//! constant-time. URLs without a signer (made before it was bound) are refused as malformed.

use alloc::string::String;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest lifetime a signed URL may ask for, seconds (7 days).
pub const MAX_TTL_SECS: u64 = 7 * 24 * 3600;

/// Domain separation of the signed message (and its version).
const CONTEXT: &str = "signed-url-v2";

/// Why a signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignError {
    /// `exp` is in the past.
    Expired,
    /// The signature does not match (tampered path, expiry, signer or signature, unknown key).
    BadSignature,
    /// `exp`, `by_org`, `by_sub` or `sig` is missing or malformed.
    Malformed,
    /// No secret configured: nothing verifies.
    NoSecret,
}

impl SignError {
    /// Human description.
    pub fn description(&self) -> &'static str {
        match self {
            SignError::Expired => "the signed URL has expired",
            SignError::BadSignature => "the signed URL's signature does not match",
            SignError::Malformed => "a signed URL needs exp (unix seconds), by_org, by_sub and sig (hex)",
            SignError::NoSecret => "signed URLs are not configured",
        }
    }
}

/// Who signed a URL: the org and sub of the token that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The signer's org.
    pub org: String,
    /// The signer's sub.
    pub sub: String,
}

/// The query parameters of a signed URL, as received (already percent-decoded).
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<'a> {
    /// `exp`.
    pub exp: Option<&'a str>,
    /// `by_org`.
    pub by_org: Option<&'a str>,
    /// `by_sub`.
    pub by_sub: Option<&'a str>,
    /// `kid` (absent: every configured secret is tried).
    pub kid: Option<&'a str>,
    /// `sig`.
    pub sig: Option<&'a str>,
}

fn mac(secret: &[u8], path: &str, exp: u64, signer: &Signer) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(secret).ok()?;
    let exp = alloc::format!("{exp}");
    m.update(crate::key::compose(&[CONTEXT, path, &exp, &signer.org, &signer.sub]).as_bytes());
    Some(m)
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn query_value(v: &str, out: &mut String) {
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&alloc::format!("%{b:02X}"));
        }
    }
}

/// The query string (without `?`) that makes `path` readable until `exp` on behalf of `signer`;
/// `None` when no secret is configured.
pub fn sign(secret: &[u8], path: &str, exp: u64, signer: &Signer) -> Option<String> {
    if secret.is_empty() {
        return None;
    }
    let sig = crate::record::hex(&mac(secret, path, exp, signer)?.finalize().into_bytes());
    let mut q = alloc::format!("exp={exp}&by_org=");
    query_value(&signer.org, &mut q);
    q.push_str("&by_sub=");
    query_value(&signer.sub, &mut q);
    q.push_str(&alloc::format!("&kid={}&sig={sig}", crate::token::key_id(secret)));
    Some(q)
}

fn unhex(s: &str) -> Option<alloc::vec::Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    s.as_bytes().chunks(2).map(|p| Some((digit(*p.first()?)? << 4) | digit(*p.get(1)?)?)).collect()
}

/// Checks a signed URL for `path` at `now` (seconds) under one of `secrets` (current, then
/// previous; empty ones ignored) and returns its signer, who must still be allowed to read.
pub fn verify(secrets: &[&[u8]], path: &str, p: Params<'_>, now: u64) -> Result<Signer, SignError> {
    if secrets.iter().all(|s| s.is_empty()) {
        return Err(SignError::NoSecret);
    }
    let exp: u64 = p.exp.and_then(|e| e.parse().ok()).ok_or(SignError::Malformed)?;
    let sig = p.sig.and_then(unhex).ok_or(SignError::Malformed)?;
    let (Some(org), Some(sub)) = (p.by_org.filter(|o| !o.is_empty()), p.by_sub.filter(|s| !s.is_empty())) else {
        return Err(SignError::Malformed);
    };
    let signer = Signer { org: org.into(), sub: sub.into() };
    let ok = secrets.iter().any(|secret| {
        !secret.is_empty()
            && p.kid.is_none_or(|k| crate::token::key_id(secret) == k)
            && mac(secret, path, exp, &signer).is_some_and(|m| m.verify_slice(&sig).is_ok())
    });
    if !ok {
        return Err(SignError::BadSignature);
    }
    if exp <= now {
        return Err(SignError::Expired);
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    const S: &[u8] = b"secret";

    fn alice() -> Signer {
        Signer { org: "acme".into(), sub: "alice".into() }
    }

    /// Parses the query [`sign`] made (tests only: values here are plain).
    fn params(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.into(), crate::route::percent_decode(v).unwrap())
            })
            .collect()
    }

    fn check(secrets: &[&[u8]], path: &str, q: &[(String, String)], now: u64) -> Result<Signer, SignError> {
        let get = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        verify(
            secrets,
            path,
            Params { exp: get("exp"), by_org: get("by_org"), by_sub: get("by_sub"), kid: get("kid"), sig: get("sig") },
            now,
        )
    }

    fn with(q: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| (k.clone(), if k == name { value.into() } else { v.clone() })).collect()
    }

    #[test]
    fn round_trip_and_refusals() {
        let p = "/$.content/docs/guide/intro.md";
        let q = params(&sign(S, p, 100, &alice()).unwrap());
        assert_eq!(check(&[S], p, &q, 99), Ok(alice()));
        assert_eq!(check(&[S], p, &q, 100), Err(SignError::Expired));
        assert_eq!(check(&[S], p, &with(&q, "exp", "101"), 99), Err(SignError::BadSignature), "expiry tampered");
        assert_eq!(check(&[S], "/$.content/docs/guide/other.md", &q, 99), Err(SignError::BadSignature));
        assert_eq!(check(&[b"other"], p, &q, 99), Err(SignError::BadSignature));
        let sig = q.iter().find(|(k, _)| k == "sig").unwrap().1.clone();
        let flipped = alloc::format!("{}{}", if sig.starts_with('a') { 'b' } else { 'a' }, &sig[1..]);
        assert_eq!(check(&[S], p, &with(&q, "sig", &flipped), 99), Err(SignError::BadSignature));
        assert_eq!(check(&[S], p, &with(&q, "exp", "x"), 99), Err(SignError::Malformed));
        assert_eq!(check(&[S], p, &with(&q, "sig", "xyz"), 99), Err(SignError::Malformed));
        assert_eq!(check(&[S], p, &with(&q, "sig", &sig[..10]), 99), Err(SignError::BadSignature));
        assert_eq!(check(&[b""], p, &q, 99), Err(SignError::NoSecret));
        assert_eq!(sign(b"", p, 1, &alice()), None);
    }

    /// Regression (security issue 4): the signature did not carry the signer, so nothing could
    /// check at read time that the signer may still read. Changing the signer breaks it.
    #[test]
    fn the_signer_is_bound() {
        let p = "/$.content/docs/guide/intro.md";
        let q = params(&sign(S, p, 100, &alice()).unwrap());
        assert_eq!(check(&[S], p, &with(&q, "by_org", "globex"), 99), Err(SignError::BadSignature));
        assert_eq!(check(&[S], p, &with(&q, "by_sub", "bob"), 99), Err(SignError::BadSignature));
        assert_eq!(check(&[S], p, &with(&q, "by_sub", ""), 99), Err(SignError::Malformed));
        // Separators in the signer cannot shift parts between org and sub.
        let gh = Signer { org: "acme".into(), sub: "gh:42".into() };
        let q = params(&sign(S, p, 100, &gh).unwrap());
        assert_eq!(check(&[S], p, &q, 99), Ok(gh));
        let shifted: Vec<(String, String)> = with(&with(&q, "by_org", "acme:gh"), "by_sub", "42");
        assert_eq!(check(&[S], p, &shifted, 99), Err(SignError::BadSignature));
        // A URL without a signer (the old format) is refused.
        let old: Vec<(String, String)> = q.iter().filter(|(k, _)| !k.starts_with("by_")).cloned().collect();
        assert_eq!(check(&[S], p, &old, 99), Err(SignError::Malformed));
    }

    #[test]
    fn rotation() {
        let p = "/$.content/docs/guide/intro.md";
        let (old, new) = (b"old".as_slice(), b"new".as_slice());
        let q = params(&sign(old, p, 100, &alice()).unwrap());
        assert_eq!(check(&[new, old], p, &q, 99), Ok(alice()), "previous secret still accepted");
        assert_eq!(check(&[new], p, &q, 99), Err(SignError::BadSignature));
        let without_kid: Vec<(String, String)> = q.iter().filter(|(k, _)| k != "kid").cloned().collect();
        assert_eq!(check(&[new, old], p, &without_kid, 99), Ok(alice()));
        assert_eq!(check(&[new, old], p, &with(&q, "kid", &crate::token::key_id(new)), 99), Err(SignError::BadSignature));
    }
}
