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
//!
//! [`Glides`] keeps the drawn point of every cursor and which of them are
//! still on their way. Only those are stepped each frame, so a frame costs
//! nothing for cursors at rest, and once the last one arrives the page can
//! stop asking for frames at all.

use std::collections::HashMap;

use cursors_protocol::Point;

// ANCHOR: approach
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
// ANCHOR_END: approach

/// Whether `drawn` has arrived at `target`.
pub fn settled(drawn: Point, target: Point) -> bool {
    (drawn.x - target.x).abs() < SETTLED && (drawn.y - target.y).abs() < SETTLED
}

/// One cursor's drawn point and where it is heading.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Glide {
    drawn: Point,
    target: Point,
}

/// The drawn position of every cursor on the board, stepped toward its
/// target only while it is still moving.
#[derive(Debug, Default)]
pub struct Glides {
    glides: HashMap<String, Glide>,
    /// Ids whose drawn point has not reached the target yet.
    moving: Vec<String>,
}

impl Glides {
    /// Puts a cursor on the board at `at`, drawn there at once.
    pub fn place(&mut self, id: &str, at: Point) {
        self.glides.insert(
            id.to_owned(),
            Glide {
                drawn: at,
                target: at,
            },
        );
        self.moving.retain(|moving| moving != id);
    }

    /// A new position for a cursor on the board: it glides there over the
    /// next frames. Returns `false` for a cursor that is not placed.
    pub fn aim(&mut self, id: &str, target: Point) -> bool {
        let Some(glide) = self.glides.get_mut(id) else {
            return false;
        };
        let was_moving = !settled(glide.drawn, glide.target);
        glide.target = target;
        if !was_moving && !settled(glide.drawn, target) {
            self.moving.push(id.to_owned());
        }
        true
    }

    /// The cursor left the board.
    pub fn remove(&mut self, id: &str) {
        if self.glides.remove(id).is_some() {
            self.moving.retain(|moving| moving != id);
        }
    }

    /// Keeps only the cursors `keep` says are still on the board.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.glides.retain(|id, _| keep(id));
        let glides = &self.glides;
        self.moving.retain(|id| glides.contains_key(id));
    }

    /// Where a cursor is drawn now.
    pub fn drawn(&self, id: &str) -> Option<Point> {
        self.glides.get(id).map(|glide| glide.drawn)
    }

    /// Whether any cursor still has somewhere to go (the page needs another
    /// animation frame).
    pub fn is_moving(&self) -> bool {
        !self.moving.is_empty()
    }

    // ANCHOR: step
    /// One animation frame, `dt_ms` after the previous one: moves each
    /// moving cursor toward its target and calls `draw` with its new
    /// point. Cursors at rest are not visited.
    pub fn step(&mut self, dt_ms: f64, time_constant_ms: f64, mut draw: impl FnMut(&str, Point)) {
        let glides = &mut self.glides;
        self.moving.retain(|id| {
            let Some(glide) = glides.get_mut(id) else {
                return false;
            };
            glide.drawn = approach(glide.drawn, glide.target, dt_ms, time_constant_ms);
            draw(id, glide.drawn);
            !settled(glide.drawn, glide.target)
        });
    }
    // ANCHOR_END: step
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

    fn glide_until_settled(glides: &mut Glides) -> Vec<(String, Point)> {
        let mut drawn = Vec::new();
        for _ in 0..1000 {
            if !glides.is_moving() {
                return drawn;
            }
            glides.step(16.7, TIME_CONSTANT_MS, |id, at| {
                drawn.push((id.to_owned(), at))
            });
        }
        panic!("never settled");
    }

    #[test]
    fn a_placed_cursor_is_drawn_where_it_is_and_nothing_moves() {
        let mut glides = Glides::default();
        glides.place("bo", FROM);
        assert_eq!(glides.drawn("bo"), Some(FROM));
        assert!(!glides.is_moving(), "an idle board needs no frames");
        let mut visited = 0;
        glides.step(16.7, TIME_CONSTANT_MS, |_, _| visited += 1);
        assert_eq!(visited, 0);
    }

    #[test]
    fn a_frame_steps_only_the_cursors_that_are_moving_then_stops() {
        let mut glides = Glides::default();
        glides.place("bo", FROM);
        glides.place("cy", FROM);
        assert!(glides.aim("bo", TO));
        assert!(glides.aim("bo", TO), "aiming twice does not step twice");
        let drawn = glide_until_settled(&mut glides);
        assert!(
            drawn.iter().all(|(id, _)| id == "bo"),
            "cy was never touched"
        );
        assert_eq!(drawn.last(), Some(&("bo".to_owned(), TO)), "ends on target");
        assert_eq!(glides.drawn("cy"), Some(FROM));
        assert!(!glides.is_moving());
    }

    #[test]
    fn only_placed_cursors_can_be_aimed_and_removed_ones_stop() {
        let mut glides = Glides::default();
        assert!(!glides.aim("ghost", TO));
        assert!(!glides.is_moving());
        glides.place("bo", FROM);
        glides.place("cy", FROM);
        glides.aim("bo", TO);
        glides.aim("cy", TO);
        glides.remove("bo");
        glides.retain(|id| id != "cy");
        assert!(!glides.is_moving());
        assert_eq!(glides.drawn("bo"), None);
        assert_eq!(glides.drawn("cy"), None);
    }

    #[test]
    fn reduced_motion_arrives_in_one_frame() {
        let mut glides = Glides::default();
        glides.place("bo", FROM);
        glides.aim("bo", TO);
        let mut drawn = Vec::new();
        glides.step(16.7, 0.0, |_, at| drawn.push(at));
        assert_eq!(drawn, [TO]);
        assert!(!glides.is_moving());
    }
}
