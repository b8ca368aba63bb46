//! What a downloaded representation carries (#18): its file name (`Content-Disposition`, RFC 6266)
//! and a digest of the bytes served (`Repr-Digest`, RFC 9530).
//!
//! The file name is the id's last segment and the extension asked for. Ids are ASCII letters,
//! digits and `- _ . @ +` (`crate::record::check_segment`), so today's names fit the quoted
//! `filename`; a name with anything else (UTF-8 included) gets an ASCII fallback in `filename`
//! (each other character `_`) and the exact name in `filename*=UTF-8''…` (RFC 8187
//! percent-encoding), which every current browser prefers.
//!
//! `Repr-Digest: sha-256=:…:` is the SHA-256 of the representation's bytes as served (the
//! rewritten HTML, the `.json` record), as a structured-field byte sequence (standard base64 with
//! padding between colons). `content_hash` hashes the record, not a representation, so it is not
//! this.

use alloc::string::String;
use sha2::{Digest, Sha256};

/// Characters a quoted `filename` keeps as they are (RFC 6266 with RFC 8187's `attr-char` for
/// `filename*`): ASCII letters, digits and ``!#$&+-.^_`|~``.
fn attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// `attachment; filename="{name}"` (and `filename*` when the name holds more than `attr-char`s).
pub fn content_disposition(name: &str) -> String {
    let mut out = String::from("attachment; filename=\"");
    let plain = name.bytes().all(|b| attr_char(b) || b == b'@');
    for c in name.chars() {
        // `@` is safe inside quotes; anything that is not goes into `filename*`.
        out.push(if c.is_ascii() && (attr_char(c as u8) || c == '@') { c } else { '_' });
    }
    out.push('"');
    if !plain {
        out.push_str("; filename*=UTF-8''");
        for b in name.bytes() {
            if attr_char(b) {
                out.push(char::from(b));
            } else {
                out.push('%');
                out.push(hex(b >> 4));
                out.push(hex(b & 0xF));
            }
        }
    }
    out
}

fn hex(n: u8) -> char {
    char::from(if n < 10 { b'0'.saturating_add(n) } else { b'A'.saturating_add(n.saturating_sub(10)) })
}

/// `sha-256=:<base64>:` of `bytes`.
pub fn repr_digest(bytes: &[u8]) -> String {
    let sum = Sha256::digest(bytes);
    let mut out = String::from("sha-256=:");
    base64_into(&sum, &mut out);
    out.push(':');
    out
}

/// Standard base64 with padding (RFC 4648 §4), as structured fields' byte sequences use.
fn base64_into(data: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let char_of = |v: u32| ALPHABET.get((v & 63) as usize).map_or('A', |b| char::from(*b));
    for chunk in data.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(char_of(n >> 18));
        out.push(char_of(n >> 12));
        out.push(if chunk.len() > 1 { char_of(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { char_of(n) } else { '=' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_valid_ids_are_quoted_as_they_are() {
        assert_eq!(content_disposition("intro.md"), "attachment; filename=\"intro.md\"");
        assert_eq!(content_disposition("a-b_c+d@e.1.json"), "attachment; filename=\"a-b_c+d@e.1.json\"");
    }

    #[test]
    fn other_names_get_an_ascii_fallback_and_filename_star() {
        assert_eq!(
            content_disposition("naïve résumé.md"),
            "attachment; filename=\"na_ve_r_sum_.md\"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.md"
        );
        // Quotes, backslashes, separators and control characters never reach the quoted form.
        let d = content_disposition("a\"b\\c;d\r\ne.md");
        assert!(d.starts_with("attachment; filename=\"a_b_c_d__e.md\"; filename*=UTF-8''a%22b%5Cc%3Bd%0D%0Ae.md"), "{d}");
        assert!(!d.contains('\r') && !d.contains('\n'));
    }

    #[test]
    fn digests_are_rfc_9530_byte_sequences() {
        // RFC 9530 Appendix B: `{"hello": "world"}` → this sha-256.
        assert_eq!(repr_digest(b"{\"hello\": \"world\"}"), "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
        assert_eq!(repr_digest(b""), "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
        let mut out = String::new();
        base64_into(b"fo", &mut out);
        assert_eq!(out, "Zm8=");
        out.clear();
        base64_into(b"f", &mut out);
        assert_eq!(out, "Zg==");
    }
}
