//! Smooth motion for remote cursors.
//!
//! Positions arrive at whatever rate the sender's frames and the network
//! allow (often 20 to 60 a second, unevenly); drawn as they come, cursors
//! jump. Each animation frame instead moves the drawn position part of the
//! way toward the latest received one: an exponential approach (a critically
//! damped first-order filter), `1 - e^(-dt/τ)` of the remaining distance.
//! It never overshoots, has no state besides the drawn point, and does not
//! depend on the frame rate. With τ = 40 ms a cursor covers 95% of a jump in
//! about 120 ms: smooth at 60 fps, yet close behind the real pointer.
//!
//! A spline through the last few points (perfect-cursors) is smoother still
//! but must lag by a whole update interval; for a pointer that people watch
//! to see *where someone is*, the shorter lag wins.

use cursors_protocol::Point;

/// The filter's time constant, in milliseconds.
pub const TIME_CONSTANT_MS: f64 = 40.0;

/// Closer than this (a thousandth of a pixel on a 1000-pixel board) counts
/// as arrived, so an idle room stops animating.
const SETTLED: f64 = 1e-6;

/// The drawn point after `dt_ms` milliseconds of moving from `drawn` toward
/// `target`. `time_constant_ms` of zero (reduced motion) jumps straight there.
pub fn approach(drawn: Point, target: Point, dt_ms: f64, time_constant_ms: f64) -> Point {
    if time_constant_ms <= 0.0 || !dt_ms.is_finite() {
        return target;
    }
    let step = 1.0 - (-dt_ms.max(0.0) / time_constant_ms).exp();
    let next = Point {
        x: drawn.x + (target.x - drawn.x) * step,
        y: drawn.y + (target.y - drawn.y) * step,
    };
    if settled(next, target) { target } else { next }
}

/// Whether `drawn` has arrived at `target`.
pub fn settled(drawn: Point, target: Point) -> bool {
    (drawn.x - target.x).abs() < SETTLED && (drawn.y - target.y).abs() < SETTLED
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: Point = Point { x: 0.1, y: 0.2 };
    const TO: Point = Point { x: 0.9, y: 0.6 };

    #[test]
    fn moves_part_of_the_way_without_overshooting() {
        let mut drawn = FROM;
        let mut previous_distance = f64::INFINITY;
        for _ in 0..30 {
            drawn = approach(drawn, TO, 16.7, TIME_CONSTANT_MS);
            let distance = (TO.x - drawn.x).hypot(TO.y - drawn.y);
            assert!(distance < previous_distance, "always closer");
            assert!(drawn.x <= TO.x && drawn.y <= TO.y, "never past the target");
            previous_distance = distance;
        }
        assert!(
            previous_distance < 1e-4,
            "arrived within half a second: {previous_distance}"
        );
    }

    #[test]
    fn does_not_depend_on_the_frame_rate() {
        let at_60_hz = (0..6).fold(FROM, |drawn, _| {
            approach(drawn, TO, 1000.0 / 60.0, TIME_CONSTANT_MS)
        });
        let at_120_hz = (0..12).fold(FROM, |drawn, _| {
            approach(drawn, TO, 1000.0 / 120.0, TIME_CONSTANT_MS)
        });
        assert!((at_60_hz.x - at_120_hz.x).abs() < 1e-9 && (at_60_hz.y - at_120_hz.y).abs() < 1e-9);
    }

    #[test]
    fn reduced_motion_and_odd_frames_jump_straight_there() {
        assert_eq!(approach(FROM, TO, 16.7, 0.0), TO);
        assert_eq!(approach(FROM, TO, f64::NAN, TIME_CONSTANT_MS), TO);
        assert_eq!(
            approach(FROM, TO, 0.0, TIME_CONSTANT_MS),
            FROM,
            "no time, no motion"
        );
        assert!(settled(approach(TO, TO, 16.7, TIME_CONSTANT_MS), TO));
    }
}
