//! At most one send per animation frame, no more than the server allows,
//! and never a lost final position.
//!
//! A pointer can report moves far faster than the screen refreshes; sending
//! each would flood the socket with positions nobody sees. The throttle keeps
//! only the latest position and asks for one animation frame; when the frame
//! comes, that latest position is sent. Because the pending value is replaced
//! rather than dropped, the last move before the pointer stops is always the
//! one that goes out (a "leading-drop, trailing-keep" throttle).
//!
//! One send per frame is 60 a second on most displays, but 144 or more on
//! fast ones, above the server's rate limit (120 a second): a page that
//! moved without a pause there was cut off for abuse. So frames also keep a
//! floor between sends, [`MIN_SEND_INTERVAL_MS`]: a frame that comes sooner
//! keeps the position pending and asks for the next frame.

// ANCHOR: throttle
/// The least time between two sends: at most about 90 a second, under
/// the server's 120, and above 60 so that a 60 Hz display (frames 16.7 ms
/// apart, give or take a little jitter) still sends on every frame.
pub const MIN_SEND_INTERVAL_MS: f64 = 11.0;

/// Holds the latest value until an animation frame takes it.
#[derive(Debug)]
pub struct FrameThrottle<T> {
    pending: Option<T>,
    frame_requested: bool,
    /// When the last value was taken (the frame's clock, milliseconds).
    last_sent_at: Option<f64>,
}

/// What an animation frame should do with the throttle.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameTurn<T> {
    /// Send this value.
    Send(T),
    /// Too soon after the last send: ask for another frame and try then.
    Wait,
    /// Nothing is pending.
    Idle,
}

impl<T> Default for FrameThrottle<T> {
    fn default() -> Self {
        Self {
            pending: None,
            frame_requested: false,
            last_sent_at: None,
        }
    }
}

impl<T> FrameThrottle<T> {
    /// Records `value` as the latest. Returns `true` when the caller must
    /// request an animation frame (none is pending yet).
    pub fn offer(&mut self, value: T) -> bool {
        self.pending = Some(value);
        !std::mem::replace(&mut self.frame_requested, true)
    }

    /// Called from the animation frame that runs at `now` (milliseconds).
    pub fn take_for_frame(&mut self, now: f64) -> FrameTurn<T> {
        if self.pending.is_none() {
            self.frame_requested = false;
            return FrameTurn::Idle;
        }
        // A clock that went backwards (a `Date.now()` fallback) sends.
        if self
            .last_sent_at
            .is_some_and(|sent| (0.0..MIN_SEND_INTERVAL_MS).contains(&(now - sent)))
        {
            // The frame stays requested: the caller asks for the next one.
            return FrameTurn::Wait;
        }
        self.frame_requested = false;
        self.last_sent_at = Some(now);
        self.pending.take().map_or(FrameTurn::Idle, FrameTurn::Send)
    }
    // ANCHOR_END: throttle

    /// Forgets the pending value (the pointer left, or the socket went away:
    /// a stale position must not be sent later).
    pub fn discard(&mut self) {
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `frames` animation frames `frame_ms` apart with `moves_per_frame`
    /// pointer moves before each, the way the page drives the throttle, and
    /// returns what was sent and when.
    /// After the moves, frames go on until the throttle is idle, so the
    /// last sent value is the pointer's final position if nothing was lost.
    fn drive(frames: usize, frame_ms: f64, moves_per_frame: usize) -> Vec<(f64, usize)> {
        let mut throttle = FrameThrottle::default();
        let mut sent = Vec::new();
        let mut frame_pending = false;
        let mut position = 0;
        for frame in 0..frames + 10 {
            if frame < frames {
                for _ in 0..moves_per_frame {
                    position += 1;
                    frame_pending |= throttle.offer(position);
                }
            }
            let now = frame as f64 * frame_ms;
            if frame_pending {
                match throttle.take_for_frame(now) {
                    FrameTurn::Send(value) => {
                        sent.push((now, value));
                        frame_pending = false;
                    }
                    FrameTurn::Wait => {}
                    FrameTurn::Idle => frame_pending = false,
                }
            }
        }
        sent
    }

    #[test]
    fn many_moves_in_one_frame_send_only_the_last() {
        let mut throttle = FrameThrottle::default();
        assert!(throttle.offer(1), "the first move requests a frame");
        assert!(!throttle.offer(2), "later moves reuse it");
        assert!(!throttle.offer(3));
        assert_eq!(throttle.take_for_frame(0.0), FrameTurn::Send(3));
        assert_eq!(
            throttle.take_for_frame(50.0),
            FrameTurn::Idle,
            "nothing twice"
        );
    }

    #[test]
    fn each_frame_sends_at_most_once_and_the_final_move_is_never_lost() {
        // Three moves per 60 Hz frame for 34 frames: one send per frame.
        let sent = drive(34, 1000.0 / 60.0, 3);
        assert_eq!(sent.len(), 34, "one send per frame: {sent:?}");
        assert_eq!(
            sent.last().map(|&(_, value)| value),
            Some(34 * 3),
            "the final position went out"
        );
        assert!(
            sent.windows(2).all(|pair| pair[0].1 < pair[1].1),
            "in order"
        );
    }

    #[test]
    fn a_fast_display_sends_no_more_than_the_floor_allows() {
        // A second of a pointer moving without a pause, on displays from
        // 60 Hz to 240 Hz: never over the server's 120 a second.
        for hertz in [60.0, 120.0, 144.0, 165.0, 240.0] {
            let sent = drive(hertz as usize, 1000.0 / hertz, 2);
            assert!(
                sent.len() <= 91,
                "{hertz} Hz sent {} in a second",
                sent.len()
            );
            assert!(sent.len() >= 55, "{hertz} Hz sent only {}", sent.len());
            assert!(
                sent.windows(2)
                    .all(|pair| pair[1].0 - pair[0].0 >= MIN_SEND_INTERVAL_MS),
                "{hertz} Hz: sends closer than the floor"
            );
        }
    }

    #[test]
    fn a_move_held_back_by_the_floor_goes_out_on_a_later_frame() {
        let mut throttle = FrameThrottle::default();
        assert!(throttle.offer("a"));
        assert_eq!(throttle.take_for_frame(0.0), FrameTurn::Send("a"));
        assert!(throttle.offer("b"), "a new move asks for a frame");
        assert_eq!(throttle.take_for_frame(7.0), FrameTurn::Wait, "too soon");
        assert!(!throttle.offer("c"), "the frame is still requested");
        assert_eq!(
            throttle.take_for_frame(14.0),
            FrameTurn::Send("c"),
            "the latest goes"
        );
        assert_eq!(throttle.take_for_frame(21.0), FrameTurn::Idle);
    }

    #[test]
    fn a_clock_that_goes_backwards_does_not_hold_sends_back() {
        let mut throttle = FrameThrottle::default();
        throttle.offer(1);
        assert_eq!(throttle.take_for_frame(1_000.0), FrameTurn::Send(1));
        throttle.offer(2);
        assert_eq!(throttle.take_for_frame(400.0), FrameTurn::Send(2));
    }

    #[test]
    fn discarding_drops_the_pending_value_but_the_next_move_requests_a_frame() {
        let mut throttle = FrameThrottle::default();
        assert!(throttle.offer("a"));
        throttle.discard();
        assert_eq!(throttle.take_for_frame(0.0), FrameTurn::Idle);
        assert!(throttle.offer("b"));
        assert_eq!(throttle.take_for_frame(1.0), FrameTurn::Send("b"));
    }
}
