//! What the page counts about its own work, and the per-second rates the
//! diagnostics overlay shows.
//!
//! The counters only ever grow; a rate is the difference between two
//! snapshots over the time between them. That keeps counting free (an
//! addition where the work happens, no timers) and lets anyone who samples
//! the counters, the overlay once a second or the frame benchmark over its
//! whole run, compute rates over the window they choose.
//!
//! It is how a learner sees coalescing at work: with 50 others moving at
//! 60 Hz, the page receives about 60 frames a second, not 3,000 messages,
//! each carrying many positions.

use crate::decimal::plain;

/// Running totals since the page loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// `cursors` frames received.
    pub cursor_frames: u64,
    /// Positions those frames carried.
    pub positions: u64,
    /// Time spent handling them, parsing included (milliseconds).
    pub cursor_frame_ms: f64,
    /// Every other message received, and the time spent on them.
    pub other_messages: u64,
    pub other_message_ms: f64,
    /// Moves this page sent.
    pub moves_sent: u64,
    /// Animation frames that moved cursors, and the time they took,
    /// the redrawing of the cursors they moved included.
    pub frames_drawn: u64,
    pub drawing_ms: f64,
}

impl Counters {
    /// All the script time counted so far (milliseconds).
    pub fn script_ms(&self) -> f64 {
        self.cursor_frame_ms + self.other_message_ms + self.drawing_ms
    }

    /// The counters as a JSON object, for the frame benchmark to read.
    pub fn to_json(&self) -> String {
        format!(
            concat!(
                "{{\"cursor_frames\":{},\"positions\":{},\"cursor_frame_ms\":{},",
                "\"other_messages\":{},\"other_message_ms\":{},\"moves_sent\":{},",
                "\"frames_drawn\":{},\"drawing_ms\":{}}}"
            ),
            self.cursor_frames,
            self.positions,
            plain(self.cursor_frame_ms),
            self.other_messages,
            plain(self.other_message_ms),
            self.moves_sent,
            self.frames_drawn,
            plain(self.drawing_ms),
        )
    }
}

/// Per-second rates over one sampling window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub cursor_frames_per_second: f64,
    pub positions_per_second: f64,
    pub moves_sent_per_second: f64,
    /// Animation frames that moved cursors, per second (0 when all is still).
    pub render_fps: f64,
    /// Script time per second, in milliseconds.
    pub script_ms_per_second: f64,
    /// Average time to handle one `cursors` frame, in milliseconds.
    pub ms_per_cursor_frame: f64,
}

impl Rates {
    /// The rates between two snapshots taken `elapsed_ms` apart. A window of
    /// no time (or counters that went backwards) gives zeros, not infinities.
    pub fn between(earlier: &Counters, later: &Counters, elapsed_ms: f64) -> Self {
        // Written so that a NaN window also gives zeros.
        if elapsed_ms.is_nan() || elapsed_ms <= 0.0 {
            return Self::default();
        }
        let seconds = elapsed_ms / 1000.0;
        let per_second = |earlier: u64, later: u64| later.saturating_sub(earlier) as f64 / seconds;
        let cursor_frames = later.cursor_frames.saturating_sub(earlier.cursor_frames);
        let cursor_frame_ms = (later.cursor_frame_ms - earlier.cursor_frame_ms).max(0.0);
        Self {
            cursor_frames_per_second: per_second(earlier.cursor_frames, later.cursor_frames),
            positions_per_second: per_second(earlier.positions, later.positions),
            moves_sent_per_second: per_second(earlier.moves_sent, later.moves_sent),
            render_fps: per_second(earlier.frames_drawn, later.frames_drawn),
            script_ms_per_second: (later.script_ms() - earlier.script_ms()).max(0.0) / seconds,
            ms_per_cursor_frame: if cursor_frames == 0 {
                0.0
            } else {
                cursor_frame_ms / cursor_frames as f64
            },
        }
    }
}

/// Whether the page was asked, by its address, to open with the overlay
/// shown: `?debug` (with or without a value) among the query parameters.
pub fn debug_requested(query: &str) -> bool {
    query
        .trim_start_matches('?')
        .split('&')
        .any(|pair| pair.split('=').next() == Some("debug"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_differences_over_the_window() {
        let earlier = Counters {
            cursor_frames: 100,
            positions: 1_000,
            cursor_frame_ms: 10.0,
            moves_sent: 5,
            frames_drawn: 40,
            drawing_ms: 4.0,
            ..Counters::default()
        };
        let later = Counters {
            cursor_frames: 130,
            positions: 2_500,
            cursor_frame_ms: 13.0,
            other_messages: 2,
            other_message_ms: 0.5,
            moves_sent: 35,
            frames_drawn: 70,
            drawing_ms: 7.0,
        };
        let rates = Rates::between(&earlier, &later, 500.0);
        assert_eq!(rates.cursor_frames_per_second, 60.0);
        assert_eq!(rates.positions_per_second, 3_000.0);
        assert_eq!(rates.moves_sent_per_second, 60.0);
        assert_eq!(rates.render_fps, 60.0);
        assert!(
            (rates.script_ms_per_second - 13.0).abs() < 1e-9,
            "{rates:?}"
        );
        assert!((rates.ms_per_cursor_frame - 0.1).abs() < 1e-9, "{rates:?}");
    }

    #[test]
    fn a_still_page_or_an_empty_window_has_zero_rates() {
        let counters = Counters {
            cursor_frames: 7,
            drawing_ms: 3.0,
            ..Counters::default()
        };
        assert_eq!(
            Rates::between(&counters, &counters, 1000.0),
            Rates::default()
        );
        assert_eq!(
            Rates::between(&Counters::default(), &counters, 0.0),
            Rates::default()
        );
        assert_eq!(
            Rates::between(&counters, &Counters::default(), 1000.0),
            Rates::default(),
            "counters that went backwards (a reload) are not negative rates"
        );
    }

    #[test]
    fn the_counters_read_as_json() {
        let counters = Counters {
            cursor_frames: 2,
            positions: 3,
            cursor_frame_ms: 0.5,
            ..Counters::default()
        };
        let parsed: serde_json::Value = serde_json::from_str(&counters.to_json()).unwrap();
        assert_eq!(parsed["cursor_frames"], 2);
        assert_eq!(parsed["positions"], 3);
        assert_eq!(parsed["cursor_frame_ms"], 0.5);
        assert_eq!(parsed["drawing_ms"], 0.0);
    }

    #[test]
    fn debug_is_asked_for_by_the_query() {
        assert!(debug_requested("?debug"));
        assert!(debug_requested("?room=lobby&debug=1"));
        assert!(!debug_requested("?room=debugging"));
        assert!(!debug_requested(""));
    }
}
