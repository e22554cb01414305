//! Per-connection message rate limit: a token bucket, plus a rule for when
//! exceeding it stops being a burst and becomes abuse.
//!
//! A browser sends at most one move per animation frame (60 Hz, sometimes
//! 120 Hz), so the default of 120 messages a second with a burst of 240 never
//! touches a real user. Messages over the limit are dropped; a client that
//! goes over it in `abuse_seconds` consecutive seconds is abusive and gets
//! closed (1008). Pure logic on explicit instants, so it is unit-tested
//! without sleeping.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit: handle the message.
    Allow,
    /// Over the limit: drop this message.
    Drop,
    /// Over the limit for too long: close the connection.
    Abuse,
}

#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    abuse_seconds: u32,
    tokens: f64,
    last_refill: Instant,
    window_start: Instant,
    dropped_in_window: u32,
    /// Consecutive one-second windows, before the current one, with drops.
    abusive_windows: u32,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32, abuse_seconds: u32, now: Instant) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            abuse_seconds: abuse_seconds.max(1),
            tokens: f64::from(burst.max(1)),
            last_refill: now,
            window_start: now,
            dropped_in_window: 0,
            abusive_windows: 0,
        }
    }

    // ANCHOR: check
    /// Judges one incoming message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        self.roll_window(now);
        let elapsed = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.last_refill = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allow;
        }
        self.dropped_in_window += 1;
        // The current window now has drops too.
        if self.abusive_windows + 1 >= self.abuse_seconds {
            Verdict::Abuse
        } else {
            Verdict::Drop
        }
    }
    // ANCHOR_END: check

    fn roll_window(&mut self, now: Instant) {
        let windows = now.saturating_duration_since(self.window_start).as_secs();
        if windows == 0 {
            return;
        }
        // Only an immediately preceding window with drops continues a streak.
        self.abusive_windows = if windows == 1 && self.dropped_in_window > 0 {
            self.abusive_windows + 1
        } else {
            0
        };
        self.window_start += Duration::from_secs(windows);
        self.dropped_in_window = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `count` messages evenly over one second from `start`; returns
    /// the verdicts.
    fn one_second(limiter: &mut RateLimiter, start: Instant, count: u32) -> Vec<Verdict> {
        (0..count)
            .map(|index| limiter.check(start + Duration::from_secs(1) * index / count))
            .collect()
    }

    #[test]
    fn a_steady_rate_under_the_limit_is_never_dropped() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(120, 240, 5, start);
        for second in 0..30 {
            let verdicts = one_second(&mut limiter, start + Duration::from_secs(second), 60);
            assert!(verdicts.iter().all(|verdict| *verdict == Verdict::Allow));
        }
    }

    #[test]
    fn a_burst_is_absorbed_then_the_excess_dropped() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 20, 5, start);
        let verdicts: Vec<_> = (0..25).map(|_| limiter.check(start)).collect();
        assert_eq!(
            verdicts
                .iter()
                .filter(|verdict| **verdict == Verdict::Allow)
                .count(),
            20
        );
        assert_eq!(verdicts[20..], [Verdict::Drop; 5]);
        // A second later the bucket has refilled by the rate.
        let later: Vec<_> = (0..12)
            .map(|_| limiter.check(start + Duration::from_secs(1)))
            .collect();
        assert_eq!(
            later
                .iter()
                .filter(|verdict| **verdict == Verdict::Allow)
                .count(),
            10
        );
    }

    #[test]
    fn sustained_excess_becomes_abuse_after_the_configured_seconds() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 10, 3, start);
        let mut first_abuse = None;
        for second in 0..10 {
            let verdicts = one_second(&mut limiter, start + Duration::from_secs(second), 100);
            if verdicts.contains(&Verdict::Abuse) {
                first_abuse = Some(second);
                break;
            }
            assert!(verdicts.contains(&Verdict::Drop));
        }
        assert_eq!(
            first_abuse,
            Some(2),
            "third consecutive second over the limit"
        );
    }

    #[test]
    fn a_quiet_second_resets_the_streak() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 10, 3, start);
        let second = |n: u64| start + Duration::from_secs(n);
        one_second(&mut limiter, second(0), 100);
        one_second(&mut limiter, second(1), 100);
        // Half a second of silence, then a few messages well within the limit.
        for tenth in 5..8 {
            assert_eq!(
                limiter.check(second(2) + Duration::from_millis(100 * tenth)),
                Verdict::Allow
            );
        }
        let verdicts = one_second(&mut limiter, second(3), 100);
        assert!(!verdicts.contains(&Verdict::Abuse));
    }
}
