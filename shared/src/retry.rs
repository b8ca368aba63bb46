//! Retry policy for Pipelines `send`: exponential backoff with full jitter, bounded both in
//! attempts and in total time. The worker runs the loop (it owns timers); this decides.

/// Bounds and pacing for one chunk's sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (≥ 1).
    pub max_attempts: u32,
    /// Backoff ceiling before jitter for attempt 1, in ms; doubles per attempt.
    pub base_delay_ms: u64,
    /// Largest single backoff, in ms.
    pub max_delay_ms: u64,
    /// Total time a chunk may spend on retries, in ms; no retry starts past it.
    pub budget_ms: u64,
    /// Time one `send` may take before it counts as failed, in ms.
    pub attempt_timeout_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 5, base_delay_ms: 100, max_delay_ms: 2_000, budget_ms: 20_000, attempt_timeout_ms: 10_000 }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this many ms, then try again.
    RetryAfter(u64),
    /// Stop: attempts or time are used up.
    GiveUp,
}

/// The result of sending one chunk: confirmed, or failed for good. No maybe-result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome<E> {
    /// The stream accepted the chunk.
    Confirmed {
        /// Attempts it took.
        attempts: u32,
    },
    /// Every attempt failed.
    Failed {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last_error: E,
    },
}

impl RetryPolicy {
    /// Decides after failed attempt number `attempt` (1-based), `elapsed_ms` since the first
    /// attempt started, with `random` a uniformly random u32 (jitter source).
    pub fn after_failure(&self, attempt: u32, elapsed_ms: u64, random: u32) -> Next {
        if attempt >= self.max_attempts {
            return Next::GiveUp;
        }
        let shift = attempt.saturating_sub(1).min(20);
        let ceiling = self.base_delay_ms.saturating_mul(1u64 << shift).min(self.max_delay_ms);
        // Full jitter: uniform in [0, ceiling].
        let delay = (u64::from(random)).saturating_mul(ceiling.saturating_add(1)) >> 32;
        if elapsed_ms.saturating_add(delay).saturating_add(self.attempt_timeout_ms.min(1)) > self.budget_ms {
            return Next::GiveUp;
        }
        Next::RetryAfter(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy { max_attempts: 10, base_delay_ms: 100, max_delay_ms: 1_000, budget_ms: 1_000_000, attempt_timeout_ms: 1 };
        assert_eq!(p.after_failure(1, 0, u32::MAX), Next::RetryAfter(100));
        assert_eq!(p.after_failure(2, 0, u32::MAX), Next::RetryAfter(200));
        assert_eq!(p.after_failure(3, 0, u32::MAX), Next::RetryAfter(400));
        assert_eq!(p.after_failure(6, 0, u32::MAX), Next::RetryAfter(1_000));
        assert_eq!(p.after_failure(3, 0, 0), Next::RetryAfter(0));
        assert_eq!(p.after_failure(3, 0, u32::MAX / 2), Next::RetryAfter(200));
    }

    #[test]
    fn bounded_by_attempts_and_time() {
        let p = RetryPolicy { max_attempts: 3, base_delay_ms: 100, max_delay_ms: 1_000, budget_ms: 500, attempt_timeout_ms: 1 };
        assert_eq!(p.after_failure(3, 0, 0), Next::GiveUp);
        assert_eq!(p.after_failure(1, 450, u32::MAX), Next::GiveUp);
        assert!(matches!(p.after_failure(1, 300, u32::MAX), Next::RetryAfter(100)));
    }
}
