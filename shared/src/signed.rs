//! Signed URLs: `?exp=<unix seconds>&sig=<hex HMAC-SHA256>` over the content path, so one
//! artifact can be handed out without a token until it expires. The signature covers the path
//! exactly as requested (percent-encoding included) and the expiry; comparison is constant-time.

use alloc::string::String;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest lifetime a signed URL may ask for, seconds (7 days).
pub const MAX_TTL_SECS: u64 = 7 * 24 * 3600;

/// Why a signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignError {
    /// `exp` is in the past.
    Expired,
    /// The signature does not match (tampered path, expiry or signature).
    BadSignature,
    /// `exp` or `sig` is missing or malformed.
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
            SignError::Malformed => "a signed URL needs exp (unix seconds) and sig (hex)",
            SignError::NoSecret => "signed URLs are not configured",
        }
    }
}

fn mac(secret: &[u8], path: &str, exp: u64) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(secret).ok()?;
    m.update(path.as_bytes());
    m.update(b"\n");
    m.update(alloc::format!("{exp}").as_bytes());
    Some(m)
}

/// The hex signature of `path` valid until `exp`.
pub fn sign(secret: &[u8], path: &str, exp: u64) -> Option<String> {
    if secret.is_empty() {
        return None;
    }
    Some(crate::record::hex(&mac(secret, path, exp)?.finalize().into_bytes()))
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

/// Checks `sig` for `path` and `exp` at `now` (seconds).
pub fn verify(secret: &[u8], path: &str, exp: Option<&str>, sig: Option<&str>, now: u64) -> Result<(), SignError> {
    if secret.is_empty() {
        return Err(SignError::NoSecret);
    }
    let exp: u64 = exp.and_then(|e| e.parse().ok()).ok_or(SignError::Malformed)?;
    let sig = sig.and_then(unhex).ok_or(SignError::Malformed)?;
    let m = mac(secret, path, exp).ok_or(SignError::NoSecret)?;
    m.verify_slice(&sig).map_err(|_| SignError::BadSignature)?;
    if exp <= now {
        return Err(SignError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &[u8] = b"secret";

    #[test]
    fn round_trip_and_refusals() {
        let p = "/$.content/docs/guide/intro.md";
        let sig = sign(S, p, 100).unwrap();
        assert_eq!(verify(S, p, Some("100"), Some(&sig), 99), Ok(()));
        assert_eq!(verify(S, p, Some("100"), Some(&sig), 100), Err(SignError::Expired));
        assert_eq!(verify(S, p, Some("101"), Some(&sig), 99), Err(SignError::BadSignature), "expiry tampered");
        assert_eq!(verify(S, "/$.content/docs/guide/other.md", Some("100"), Some(&sig), 99), Err(SignError::BadSignature));
        assert_eq!(verify(b"other", p, Some("100"), Some(&sig), 99), Err(SignError::BadSignature));
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'a' { b'b' } else { b'a' };
        assert_eq!(verify(S, p, Some("100"), Some(core::str::from_utf8(&flipped).unwrap()), 99), Err(SignError::BadSignature));
        assert_eq!(verify(S, p, None, Some(&sig), 99), Err(SignError::Malformed));
        assert_eq!(verify(S, p, Some("100"), Some("xyz"), 99), Err(SignError::Malformed));
        assert_eq!(verify(S, p, Some("100"), Some(&sig[..10]), 99), Err(SignError::BadSignature));
        assert_eq!(verify(b"", p, Some("100"), Some(&sig), 99), Err(SignError::NoSecret));
        assert_eq!(sign(b"", p, 1), None);
    }
}
