//! What to do with ingest's answer to one request (docs/ingest.md): which lines are settled
//! (accepted, deduped, rejected) and which must be sent again, when, and how.

use serde_json::Value;
use std::time::Duration;

/// One rejected line: the 1-based line of the request body, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The line in the request body.
    pub line: usize,
    /// `field: reason`, or the reason.
    pub reason: String,
}

/// What an answer settles and what is left to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Every line is settled: the counts are ingest's.
    Done { accepted: u64, deduped: u64, rejected: Vec<Rejected>, rejected_count: u64 },
    /// Send the whole request again (same body, same key) after the wait: a 429, a 409 (the same
    /// key still running), a 503 that sent nothing, a 5xx without a usable body, a network error.
    Again { wait: Option<Duration>, why: String, counts_as_attempt: bool },
    /// Some lines were written; send exactly `resend` (1-based lines of this body) again, in a
    /// new request, after `wait`. `smaller`: the answer was a 413, so send them in smaller pieces.
    Resend {
        accepted: u64,
        deduped: u64,
        rejected: Vec<Rejected>,
        rejected_count: u64,
        resend: Vec<usize>,
        wait: Option<Duration>,
        smaller: bool,
        why: String,
    },
    /// Send the lines again in two halves (a 413 that read nothing).
    Halve { why: String },
    /// Nothing can finish this request (401, 403, 415, 422, a 400 that is not about lines).
    Fatal { why: String },
}

/// `Retry-After` in seconds (the only form ingest sends), capped at `cap`.
pub fn retry_after(header: Option<&str>, cap: Duration) -> Option<Duration> {
    let secs: u64 = header?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(cap))
}

/// Backoff before attempt `attempt` (1 is the first retry): exponential from `base`, capped at
/// `cap`, with "equal jitter" from `jitter` in [0, 1): half the step fixed, half random, so a
/// wait never shrinks to nothing and concurrent clients spread out.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let step = base.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1).min(20)).unwrap_or(u32::MAX)).min(cap);
    let half = step / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

fn u64_of(body: &Value, key: &str) -> u64 {
    body.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn rejected_of(body: &Value) -> Vec<Rejected> {
    body.get("rejected_lines")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let line = usize::try_from(r.get("line")?.as_u64()?).ok()?;
                    let reason = r.get("reason").and_then(Value::as_str).unwrap_or("rejected");
                    let reason = match r.get("field").and_then(Value::as_str) {
                        Some(f) if !f.is_empty() => format!("{f}: {reason}"),
                        _ => reason.to_string(),
                    };
                    Some(Rejected { line, reason })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn lines_of(body: &Value, key: &str) -> Option<Vec<usize>> {
    body.get(key)?.as_array()?.iter().map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok())).collect()
}

fn slug(body: &Value) -> &str {
    body.get("type").and_then(Value::as_str).map_or("", |t| t.rsplit('/').next().unwrap_or(t))
}

fn detail(status: u16, body: &Value, text: &str) -> String {
    let d = body.get("detail").and_then(Value::as_str).or_else(|| body.get("title").and_then(Value::as_str));
    match d {
        Some(d) => format!("{status} {}: {d}", slug(body)),
        None => format!("{status}: {}", text.chars().take(200).collect::<String>()),
    }
}

/// Decides what an answer means for a request of `lines` lines. `retry_after` is the parsed
/// header.
pub fn decide(status: u16, text: &str, lines: usize, retry_after: Option<Duration>) -> Action {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let why = detail(status, &body, text);
    match status {
        200 | 207 => Action::Done {
            accepted: u64_of(&body, "accepted"),
            deduped: u64_of(&body, "deduped"),
            rejected: rejected_of(&body),
            rejected_count: u64_of(&body, "rejected"),
        },
        400 if body.get("sent_through_line").is_some() => stop(&body, lines, retry_after, false, why),
        // No line valid: every line is settled as rejected.
        400 if slug(&body) == "invalid-records" => {
            Action::Done { accepted: 0, deduped: 0, rejected: rejected_of(&body), rejected_count: u64_of(&body, "rejected") }
        }
        408 => stop(&body, lines, retry_after, false, why),
        413 if body.get("sent_through_line").is_some() => stop(&body, lines, retry_after, true, why),
        413 => Action::Halve { why },
        409 => Action::Again { wait: retry_after.or(Some(Duration::from_secs(2))), why, counts_as_attempt: false },
        429 => Action::Again { wait: retry_after.or(Some(Duration::from_secs(1))), why, counts_as_attempt: false },
        503 if slug(&body) == "pipeline-unavailable" => match lines_of(&body, "unsent_lines") {
            // Exactly the lines the answer names, when it names every one of them.
            Some(unsent) if unsent.len() as u64 == u64_of(&body, "unsent").max(unsent.len() as u64) => Action::Resend {
                accepted: u64_of(&body, "accepted"),
                deduped: u64_of(&body, "deduped"),
                rejected: rejected_of(&body),
                rejected_count: u64_of(&body, "rejected"),
                resend: unsent.into_iter().filter(|l| (1..=lines).contains(l)).collect(),
                wait: retry_after,
                smaller: false,
                why,
            },
            // A list cut short: the whole request again (dedupe answers the lines already written).
            _ => Action::Again { wait: retry_after, why, counts_as_attempt: true },
        },
        500..=599 => Action::Again { wait: retry_after, why, counts_as_attempt: true },
        _ => Action::Fatal { why },
    }
}

/// A stop (docs/ingest.md "Stops"): lines up to `sent_through_line` not in `unsent_lines` are
/// written; `unsent_lines` and every line after `sent_through_line` are sent again.
fn stop(body: &Value, lines: usize, retry_after: Option<Duration>, smaller: bool, why: String) -> Action {
    let through = usize::try_from(u64_of(body, "sent_through_line")).unwrap_or(usize::MAX).min(lines);
    let mut resend = lines_of(body, "unsent_lines").unwrap_or_default();
    resend.retain(|l| (1..=through).contains(l));
    resend.extend(through + 1..=lines);
    // Rejections past the stop are re-judged when those lines are sent again.
    let rejected: Vec<Rejected> = rejected_of(body).into_iter().filter(|r| r.line <= through).collect();
    let rejected_count = rejected.len() as u64;
    if through == 0 && !smaller && slug(body) == "body-unreadable" {
        return Action::Again { wait: retry_after, why, counts_as_attempt: true };
    }
    Action::Resend {
        accepted: u64_of(body, "accepted"),
        deduped: u64_of(body, "deduped"),
        rejected,
        rejected_count,
        resend,
        wait: retry_after,
        smaller,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn success_and_partial_success_settle_every_line() {
        let a = decide(200, r#"{"mode":"build","accepted":3,"deduped":1,"deduped_lines":[2],"rejected":0,"rejected_lines":[]}"#, 3, None);
        assert_eq!(a, Action::Done { accepted: 3, deduped: 1, rejected: vec![], rejected_count: 0 });
        let a = decide(
            207,
            r#"{"accepted":1,"deduped":0,"rejected":1,"rejected_lines":[{"line":2,"field":"id","reason":"may only contain"}]}"#,
            2,
            None,
        );
        assert_eq!(
            a,
            Action::Done {
                accepted: 1,
                deduped: 0,
                rejected: vec![Rejected { line: 2, reason: "id: may only contain".into() }],
                rejected_count: 1
            }
        );
        let a = decide(
            400,
            r#"{"type":"https://artifacts.dev/problems/invalid-records","status":400,"accepted":0,"rejected":1,"rejected_lines":[{"line":1,"reason":"not JSON"}]}"#,
            1,
            None,
        );
        assert!(matches!(a, Action::Done { accepted: 0, rejected_count: 1, .. }));
    }

    #[test]
    fn rate_limits_and_in_flight_keys_wait_and_send_the_same_request() {
        let a = decide(
            429,
            r#"{"type":"https://artifacts.dev/problems/rate-limited","detail":"more than 2 requests per minute for org busy"}"#,
            5,
            Some(37 * S),
        );
        assert_eq!(
            a,
            Action::Again {
                wait: Some(37 * S),
                why: "429 rate-limited: more than 2 requests per minute for org busy".into(),
                counts_as_attempt: false
            }
        );
        assert!(matches!(decide(409, "{}", 5, None), Action::Again { wait: Some(_), counts_as_attempt: false, .. }));
        assert_eq!(retry_after(Some(" 37 "), 120 * S), Some(37 * S));
        assert_eq!(retry_after(Some("9999"), 120 * S), Some(120 * S));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT"), 120 * S), None);
        assert_eq!(retry_after(None, 120 * S), None);
    }

    #[test]
    fn a_503_resends_exactly_the_unsent_lines() {
        let body = r#"{"type":"https://artifacts.dev/problems/pipeline-unavailable","accepted":3,"deduped":0,"rejected":1,"rejected_lines":[{"line":6,"reason":"bad"}],"unsent":2,"unsent_lines":[2,5]}"#;
        match decide(503, body, 6, Some(5 * S)) {
            Action::Resend { accepted, resend, wait, rejected_count, smaller, .. } => {
                assert_eq!((accepted, resend, wait, rejected_count, smaller), (3, vec![2, 5], Some(5 * S), 1, false));
            }
            other => panic!("{other:?}"),
        }
        // A list shorter than the count: the whole request again (dedupe covers the overlap).
        let cut = r#"{"type":"https://artifacts.dev/problems/pipeline-unavailable","accepted":0,"unsent":1001,"unsent_lines":[1,2]}"#;
        assert!(matches!(decide(503, cut, 2000, None), Action::Again { counts_as_attempt: true, .. }));
        // A 503 that sent nothing (KV down) and other 5xx: the same request again.
        assert!(matches!(
            decide(503, r#"{"type":"https://artifacts.dev/problems/state-unavailable"}"#, 3, Some(S)),
            Action::Again { wait: Some(_), counts_as_attempt: true, .. }
        ));
        assert!(matches!(decide(502, "bad gateway", 3, None), Action::Again { wait: None, counts_as_attempt: true, .. }));
    }

    #[test]
    fn stops_resend_the_unsent_lines_and_everything_after_the_stop() {
        let body = r#"{"type":"https://artifacts.dev/problems/too-many-artifacts","limit":3,"accepted":2,"deduped":0,"rejected":0,"rejected_lines":[],"sent_through_line":3,"unsent_lines":[1]}"#;
        match decide(413, body, 6, None) {
            Action::Resend { resend, smaller, accepted, .. } => assert_eq!((resend, smaller, accepted), (vec![1, 4, 5, 6], true, 2)),
            other => panic!("{other:?}"),
        }
        let timeout = r#"{"type":"https://artifacts.dev/problems/body-timeout","accepted":0,"sent_through_line":0}"#;
        assert!(matches!(decide(408, timeout, 2, None), Action::Resend { ref resend, smaller: false, .. } if resend == &vec![1, 2]));
        assert!(matches!(decide(413, r#"{"type":"https://artifacts.dev/problems/body-too-large"}"#, 4, None), Action::Halve { .. }));
    }

    #[test]
    fn what_cannot_finish_is_fatal() {
        for status in [401, 403, 415, 422] {
            assert!(matches!(decide(status, r#"{"detail":"no"}"#, 1, None), Action::Fatal { .. }), "{status}");
        }
        assert!(matches!(decide(400, r#"{"type":"https://artifacts.dev/problems/unknown-mode"}"#, 1, None), Action::Fatal { .. }));
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let base = Duration::from_millis(200);
        let cap = Duration::from_secs(10);
        assert_eq!(backoff(1, base, cap, 0.0), Duration::from_millis(100));
        assert_eq!(backoff(1, base, cap, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(3, base, cap, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(30, base, cap, 1.0), cap);
        assert_eq!(backoff(30, base, cap, 0.0), cap / 2);
    }
}
