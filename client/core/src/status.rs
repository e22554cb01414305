//! What the top bar says about the connection, and which close reasons are
//! worth saying.
//!
//! Both are plain functions of their inputs (the time is an argument), so
//! the words a person reads are unit-tested here, apart from the browser.

/// State of the connection, as shown in the top bar.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Connecting,
    Connected,
    /// Waiting to retry; `retry_at` is a `Date.now()` timestamp in ms.
    Reconnecting {
        retry_at: f64,
        /// Why the server closed the last connection, when it said (a
        /// policy close: too many messages, not reading, too big).
        closed_because: Option<String>,
    },
    /// The browser says it has no network; retries go on regardless.
    Offline,
}

impl Status {
    /// The label, given the current time (for the countdown).
    pub fn label(&self, now: f64) -> String {
        match self {
            Status::Connecting => "connecting…".to_owned(),
            Status::Connected => "connected".to_owned(),
            Status::Reconnecting {
                retry_at,
                closed_because,
            } => {
                // Whole seconds, and never "-0s" once the moment has passed.
                let seconds = ((retry_at - now) / 1000.0).ceil().max(0.0) as u64;
                match closed_because {
                    Some(reason) => format!("{reason}: reconnecting in {seconds}s"),
                    None => format!("reconnecting in {seconds}s"),
                }
            }
            Status::Offline => "offline".to_owned(),
        }
    }

    /// For `data-state`: a stable word for styles and tests.
    pub fn state(&self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Reconnecting { .. } => "reconnecting",
            Status::Offline => "offline",
        }
    }
}

// ANCHOR: close-reason
/// The reason worth showing for a close: the server's own words when it
/// closed us over a policy, a size or an error. A normal close, a server
/// going away and a dropped network (1006, no close frame) need no reason
/// beyond "reconnecting".
pub fn server_close_reason(code: u16, reason: String) -> Option<String> {
    const POLICY: u16 = 1008;
    const TOO_BIG: u16 = 1009;
    const SERVER_ERROR: u16 = 1011;
    let explained = matches!(code, POLICY | TOO_BIG | SERVER_ERROR);
    (explained && !reason.trim().is_empty()).then(|| reason.trim().to_owned())
}
// ANCHOR_END: close-reason

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_count_down_to_the_retry() {
        let now = 1_000_000.0;
        assert_eq!(
            Status::Reconnecting {
                retry_at: now + 2_300.0,
                closed_because: None,
            }
            .label(now),
            "reconnecting in 3s"
        );
        assert_eq!(
            Status::Reconnecting {
                retry_at: now - 50.0,
                closed_because: None,
            }
            .label(now),
            "reconnecting in 0s"
        );
        assert_eq!(
            Status::Reconnecting {
                retry_at: now + 900.0,
                closed_because: Some("rate limit exceeded".to_owned()),
            }
            .label(now),
            "rate limit exceeded: reconnecting in 1s"
        );
        assert_eq!(Status::Connected.label(now), "connected");
        assert_eq!(Status::Offline.state(), "offline");
    }

    #[test]
    fn only_a_close_over_a_policy_size_or_error_shows_its_reason() {
        let reason = |code: u16, text: &str| server_close_reason(code, text.to_owned());
        assert_eq!(
            reason(1008, "rate limit exceeded").as_deref(),
            Some("rate limit exceeded")
        );
        assert_eq!(
            reason(1009, "message too big").as_deref(),
            Some("message too big")
        );
        assert_eq!(
            reason(1011, " could not join the room ").as_deref(),
            Some("could not join the room")
        );
        assert_eq!(reason(1008, ""), None, "nothing said, nothing shown");
        assert_eq!(reason(1000, "bye"), None);
        assert_eq!(
            reason(1001, "server shutting down"),
            None,
            "a restart is routine"
        );
        assert_eq!(reason(1006, ""), None);
    }
}
