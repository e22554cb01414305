//! At most one send per animation frame, and never a lost final position.
//!
//! A pointer can report moves far faster than the screen refreshes; sending
//! each would flood the socket with positions nobody sees. The throttle keeps
//! only the latest position and asks for one animation frame; when the frame
//! comes, that latest position is sent. Because the pending value is replaced
//! rather than dropped, the last move before the pointer stops is always the
//! one that goes out (a "leading-drop, trailing-keep" throttle).

// ANCHOR: throttle
/// Holds the latest value until the next animation frame takes it.
#[derive(Debug)]
pub struct FrameThrottle<T> {
    pending: Option<T>,
    frame_requested: bool,
}

impl<T> Default for FrameThrottle<T> {
    fn default() -> Self {
        Self {
            pending: None,
            frame_requested: false,
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

    /// Called from the animation frame: the value to send, if any.
    pub fn take_for_frame(&mut self) -> Option<T> {
        self.frame_requested = false;
        self.pending.take()
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

    #[test]
    fn many_moves_in_one_frame_send_only_the_last() {
        let mut throttle = FrameThrottle::default();
        assert!(throttle.offer(1), "the first move requests a frame");
        assert!(!throttle.offer(2), "later moves reuse it");
        assert!(!throttle.offer(3));
        assert_eq!(throttle.take_for_frame(), Some(3));
        assert_eq!(throttle.take_for_frame(), None, "nothing twice");
    }

    #[test]
    fn each_frame_sends_at_most_once_and_the_final_move_is_never_lost() {
        let mut throttle = FrameThrottle::default();
        let mut sent = Vec::new();
        let mut frame_pending = false;
        for position in 0..100 {
            frame_pending |= throttle.offer(position);
            // Three moves per frame, then the frame fires.
            if position % 3 == 2 && frame_pending {
                frame_pending = false;
                sent.extend(throttle.take_for_frame());
            }
        }
        if frame_pending {
            sent.extend(throttle.take_for_frame());
        }
        assert_eq!(sent.last(), Some(&99), "the final position went out");
        assert_eq!(sent.len(), 34, "one send per frame: {sent:?}");
        assert!(sent.windows(2).all(|pair| pair[0] < pair[1]), "in order");
    }

    #[test]
    fn discarding_drops_the_pending_value_but_the_next_move_requests_a_frame() {
        let mut throttle = FrameThrottle::default();
        assert!(throttle.offer("a"));
        throttle.discard();
        assert_eq!(throttle.take_for_frame(), None);
        assert!(throttle.offer("b"));
        assert_eq!(throttle.take_for_frame(), Some("b"));
    }
}
