//! When to try reconnecting: exponential backoff with full jitter.
//!
//! After a drop every open page reconnects at once; if they all retried on
//! the same schedule they would hit a restarting server in waves. "Full
//! jitter" (pick uniformly between zero and the exponential bound) spreads
//! them out while keeping the expected wait short. The bound doubles per
//! failed attempt from half a second and stops growing at ten seconds.

use std::time::Duration;

// ANCHOR: backoff
/// Bound of the first retry.
pub const FIRST: Duration = Duration::from_millis(500);
/// The bound never grows past this.
pub const CAP: Duration = Duration::from_secs(10);

/// The delay before retry number `attempt` (0 for the first), given
/// `random` uniform in `[0, 1)`.
pub fn reconnect_delay(attempt: u32, random: f64) -> Duration {
    let bound = FIRST
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(CAP);
    bound.mul_f64(random.clamp(0.0, 1.0))
}
// ANCHOR_END: backoff

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_doubles_then_caps() {
        let almost_one = 0.999_999;
        let bounds: Vec<u128> = (0..8)
            .map(|attempt| reconnect_delay(attempt, almost_one).as_millis())
            .collect();
        assert_eq!(bounds, [499, 999, 1999, 3999, 7999, 9999, 9999, 9999]);
        assert_eq!(
            reconnect_delay(u32::MAX, almost_one),
            CAP.mul_f64(almost_one)
        );
    }

    #[test]
    fn jitter_spans_zero_to_the_bound() {
        assert_eq!(reconnect_delay(3, 0.0), Duration::ZERO);
        assert_eq!(reconnect_delay(3, 0.5), Duration::from_secs(2));
        assert_eq!(
            reconnect_delay(1, 7.0),
            Duration::from_secs(1),
            "out-of-range randomness is clamped"
        );
    }
}
