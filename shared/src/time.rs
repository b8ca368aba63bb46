//! Timestamps as the record contract stores them: microseconds since the Unix epoch, UTC, and
//! their RFC 3339 text form (`2026-11-24T04:01:54.123456Z`). No clock here: callers pass `now`.

use alloc::string::String;
use core::fmt::Write as _;

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) for days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Formats microseconds since the epoch as RFC 3339 UTC with exactly six fractional digits.
pub fn format_micros(micros: i64) -> String {
    let secs = micros.div_euclid(MICROS_PER_SEC);
    let frac = micros.rem_euclid(MICROS_PER_SEC);
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let mut s = String::with_capacity(27);
    let _ = write!(s, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z", sod / 3600, (sod % 3600) / 60, sod % 60);
    s
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |acc, b| acc.checked_mul(10)?.checked_add(i64::from(b - b'0')))
}

/// Parses an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) into microseconds since
/// the epoch. Fractions beyond microseconds are truncated. `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (date, rest) = (b.get(..10)?, b.get(10..)?);
    if date.get(4) != Some(&b'-') || date.get(7) != Some(&b'-') {
        return None;
    }
    let year = digits(date.get(0..4)?)?;
    let month = u32::try_from(digits(date.get(5..7)?)?).ok()?;
    let day = u32::try_from(digits(date.get(8..10)?)?).ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if !matches!(rest.first(), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let time = rest.get(1..9)?;
    if time.get(2) != Some(&b':') || time.get(5) != Some(&b':') {
        return None;
    }
    let (hh, mm, ss) = (digits(time.get(0..2)?)?, digits(time.get(3..5)?)?, digits(time.get(6..8)?)?);
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut tail = rest.get(9..)?;
    let mut frac = 0i64;
    if tail.first() == Some(&b'.') {
        let n = tail.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let f = tail.get(1..=n)?;
        for i in 0..6 {
            frac = frac * 10 + f.get(i).map_or(0, |c| i64::from(c - b'0'));
        }
        tail = tail.get(n + 1..)?;
    }
    let offset_secs = match tail {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2])?;
            let om = digits(&[*m1, *m2])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days.checked_mul(SECS_PER_DAY)?.checked_add(hh * 3600 + mm * 60 + ss.min(59))?.checked_sub(offset_secs)?;
    secs.checked_mul(MICROS_PER_SEC)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_microseconds() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_micros(1_795_492_914_123_456), "2026-11-24T04:01:54.123456Z");
        assert_eq!(format_micros(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for m in [0, 1, 1_795_492_914_123_456, 951_782_400_000_000 /* 2000-02-29 */, -86_400_000_001] {
            assert_eq!(parse_rfc3339(&format_micros(m)), Some(m), "{m}");
        }
        assert_eq!(parse_rfc3339("2026-11-24T05:01:54+01:00"), Some(1_795_492_914_000_000));
        assert_eq!(parse_rfc3339("2026-11-24T04:01:54.1234567Z"), Some(1_795_492_914_123_456));
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2026-11-24",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T00:00:00",
            "2026-11-24T00:00:00.Z",
            "2026-11-24T00:00:00+1:00",
            "２026-11-24T00:00:00Z",
            "2026-11-24T00:00:00Zjunk",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }
}
