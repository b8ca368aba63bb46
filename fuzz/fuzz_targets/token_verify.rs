//! `shared::token::verify` (and `bearer`): arbitrary tokens, and signed tokens after mutation.
//!
//! First byte even: the rest is a token string (lossy UTF-8). It may only verify if it is
//! exactly what `sign` makes for the claims it carries, or what it made before key ids (header
//! `{"alg":"HS256","typ":"JWT"}`, same payload, signed under the secret) — seeds include signed
//! tokens, the fuzzer cannot forge a MAC; it never verifies under another secret, and an empty secret is always
//! `MisconfiguredSecret`. First byte odd: claims are built from the rest, signed, checked to
//! verify to the same claims when they are valid now, then mutated (overwrite, insert, delete,
//! truncate); a token that differs from the signed one must never verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::token::{bearer, sign, verify, Claims, TokenError, MAX_TOKEN_BYTES};

const SECRET: &[u8] = b"fuzz-secret-0123456789";
const NOW: u64 = 1_800_000_000;

/// Reads bytes off the front of the input.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn string(&mut self) -> String {
        let n = usize::from(self.byte() % 24).min(self.0.len());
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(s).into_owned()
    }
    fn time(&mut self) -> u64 {
        // Mostly around NOW, sometimes anywhere.
        let b = self.byte();
        let delta = u64::from(self.byte()) * 1000 + u64::from(self.byte());
        match b % 4 {
            0 => NOW.wrapping_add(delta),
            1 => NOW.wrapping_sub(delta),
            2 => u64::from_le_bytes([b, self.byte(), self.byte(), self.byte(), self.byte(), self.byte(), self.byte(), self.byte()]),
            _ => NOW,
        }
    }
}

fn check_bearer(token: &str) {
    let header = format!("Bearer {token}");
    let want = Some(token.trim()).filter(|t| !t.is_empty());
    assert_eq!(bearer(&header), want, "bearer() did not return the token");
}

/// `token` (from `sign`) as it was minted before key ids: the header without `kid`, re-signed.
fn legacy(token: &str) -> String {
    use hmac::{Hmac, Mac};
    let payload = token.split('.').nth(1).unwrap_or_default();
    let signed = format!("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{payload}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(signed.as_bytes());
    let sig = mac.finalize().into_bytes();
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = format!("{signed}.");
    for chunk in sig.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn raw(token: &str) {
    check_bearer(token);
    assert_eq!(verify(token, b"", NOW), Err(TokenError::MisconfiguredSecret));
    assert!(verify(token, b"another-secret", NOW).is_err(), "verified under the wrong secret");
    if let Ok(claims) = verify(token, SECRET, NOW) {
        let current = sign(&claims, SECRET);
        assert!(current == token || legacy(&current) == token, "a token verified that sign() did not make: {token}");
        assert!(claims.exp > NOW && claims.nbf.is_none_or(|n| n <= NOW));
    }
}

fn signed(mut r: Reader<'_>) {
    let scopes = (0..r.byte() % 4).map(|_| r.string()).collect();
    let claims = Claims {
        sub: r.string(),
        org: r.string(),
        scopes,
        exp: r.time(),
        nbf: (r.byte() % 2 == 1).then(|| r.time()),
        iat: (r.byte() % 2 == 1).then(|| r.time()),
    };
    let token = sign(&claims, SECRET);
    let valid_now = !claims.sub.is_empty()
        && !claims.org.is_empty()
        && claims.exp > NOW
        && claims.nbf.is_none_or(|n| n <= NOW)
        && token.len() <= MAX_TOKEN_BYTES;
    match verify(&token, SECRET, NOW) {
        Ok(c) => {
            assert!(valid_now, "verified claims that are not valid now: {claims:?}");
            assert_eq!(c, claims, "claims changed through sign/verify");
        }
        Err(e) => {
            assert!(!valid_now, "valid signed token rejected with {e:?}: {claims:?}");
            assert_ne!(e, TokenError::BadSignature, "own signature rejected");
        }
    }
    assert!(verify(&token, b"another-secret", NOW).is_err());

    let mut bytes = token.clone().into_bytes();
    for _ in 0..(r.byte() % 8) {
        let op = r.byte();
        let at = (usize::from(r.byte()) << 8 | usize::from(r.byte())) % (bytes.len() + 1);
        let b = r.byte();
        match op % 4 {
            0 if at < bytes.len() => bytes[at] = b,
            1 => bytes.insert(at, b),
            2 if at < bytes.len() => {
                bytes.remove(at);
            }
            3 => bytes.truncate(at),
            _ => {}
        }
    }
    let mutated = String::from_utf8_lossy(&bytes).into_owned();
    if mutated != token {
        let r = verify(&mutated, SECRET, NOW);
        assert!(r.is_err(), "a mutated token verified: {mutated:?} -> {r:?}");
    }
    raw(&mutated);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        raw(&String::from_utf8_lossy(rest));
    } else {
        signed(Reader(rest));
    }
});
