//! When a room re-synchronises with the group: the schedule of one room's
//! passes, as a pure state machine with injected time.
//!
//! Pub/sub loses whatever was said while a subscriber was away, so a room
//! never assumes continuity: every time Redis comes back (a new
//! [`Status::generation`]) it re-synchronises, meaning it writes its own
//! users again and reads everyone else's (`replication.rs` says what is
//! written). Three more rules make that reliable:
//!
//! - **Retry.** A room that could not subscribe or read when it opened is
//!   not synchronised; it tries again every [`RETRY_EVERY`] while Redis is
//!   up. A deadline, not a fresh sleep per wait: the room task cancels its
//!   wait for the group whenever a command comes, and a busy room would
//!   otherwise never get to try.
//! - **Second pass.** After Redis comes back, each server rewrites its
//!   users when *its* client reconnects, but our subscriber comes back on
//!   its own schedule: a server whose announcement went out while our
//!   subscriber was still away, and whose rewrite landed after our read,
//!   would stay unseen. So every pass is followed by a second one
//!   [`SETTLE`] later, which schedules no third.
//! - **A second outage inside that window** makes the pass it causes a
//!   first pass, with a second pass of its own.
//!
//! The link (`link.rs`) sleeps until [`SyncSchedule::next_wakeup`], then
//! asks [`SyncSchedule::wake`] whether to re-synchronise; it reports what
//! it did with [`SyncSchedule::opened`] and [`SyncSchedule::resynced`].

use std::time::Duration;

use tokio::time::Instant;

/// How soon a room that could not subscribe or read tries again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How long after a pass the second pass comes (see the module doc).
pub const SETTLE: Duration = Duration::from_secs(2);

/// Whether Redis is reachable, and how many times it has come (back) up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub up: bool,
    pub generation: u64,
}

/// One room's synchronisation with the group; see the module doc.
#[derive(Debug, Default)]
pub struct SyncSchedule {
    /// The Redis generation this room last synchronised with; `None` while
    /// it could not subscribe or read.
    synced_generation: Option<u64>,
    /// When an unsynchronised room tries again.
    retry_at: Option<Instant>,
    /// When the second pass is due.
    settle_at: Option<Instant>,
    /// The pass under way is a second pass (it schedules no third).
    settling: bool,
}

impl SyncSchedule {
    /// The room opened: it is synchronised with `generation` if it could
    /// subscribe and, Redis being up, read who is there.
    pub fn opened(&mut self, generation: u64, synchronised: bool) {
        self.synced_generation = synchronised.then_some(generation);
    }

    /// Whether the room is synchronised with some generation of Redis.
    pub fn is_synchronised(&self) -> bool {
        self.synced_generation.is_some()
    }

    /// Redis's status changed: whether the room must re-synchronise now
    /// (Redis is up in a generation this room has not synchronised with).
    pub fn status_changed(&mut self, status: Status) -> bool {
        if status.up && self.synced_generation != Some(status.generation) {
            self.synced_generation = Some(status.generation);
            true
        } else {
            false
        }
    }

    /// When the link must wake up next to ask [`Self::wake`], if ever.
    /// Starts the retry deadline of an unsynchronised room, and drops the
    /// stale one of a room that has synchronised since.
    pub fn next_wakeup(&mut self, now: Instant) -> Option<Instant> {
        if self.synced_generation.is_some() {
            self.retry_at = None;
        } else if self.retry_at.is_none() {
            self.retry_at = Some(now + RETRY_EVERY);
        }
        match (self.retry_at, self.settle_at) {
            (Some(retry), Some(settle)) => Some(retry.min(settle)),
            (retry, settle) => retry.or(settle),
        }
    }

    // ANCHOR: wake
    /// Time passed: whether the room must re-synchronise now.
    pub fn wake(&mut self, now: Instant, status: Status) -> bool {
        let mut resync = false;
        if self.synced_generation.is_none() && self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            resync |= status.up;
        }
        if self.settle_at.is_some_and(|at| at <= now) {
            self.settle_at = None;
            if status.up {
                // Redis went and came back again meanwhile: that makes this
                // a first pass, with a second of its own.
                self.settling = self.synced_generation == Some(status.generation);
                resync = true;
            }
        }
        resync
    }
    // ANCHOR_END: wake

    /// A pass ran with Redis in `generation`: the room is synchronised,
    /// and unless this was the second pass, the second is due in
    /// [`SETTLE`].
    pub fn resynced(&mut self, generation: u64, now: Instant) {
        self.synced_generation = Some(generation);
        if !std::mem::take(&mut self.settling) {
            self.settle_at = Some(now + SETTLE);
        }
    }

    /// A pass could not read who is there: try again soon.
    pub fn read_failed(&mut self) {
        self.synced_generation = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: Status = Status {
        up: true,
        generation: 1,
    };
    const DOWN: Status = Status {
        up: false,
        generation: 1,
    };

    /// A room that opened synchronised with generation 1, saw Redis come
    /// back as generation 2, and ran its first pass at `start`.
    fn resynced_after_an_outage(start: Instant) -> SyncSchedule {
        let mut schedule = SyncSchedule::default();
        schedule.opened(1, true);
        assert!(schedule.status_changed(back(2)));
        schedule.resynced(2, start);
        schedule
    }

    fn back(generation: u64) -> Status {
        Status {
            up: true,
            generation,
        }
    }

    #[test]
    fn a_room_that_opened_synchronised_has_nothing_to_do() {
        let now = Instant::now();
        let mut schedule = SyncSchedule::default();
        schedule.opened(1, true);
        assert!(schedule.is_synchronised());
        assert_eq!(schedule.next_wakeup(now), None);
        assert!(!schedule.status_changed(UP), "same generation");
    }

    #[test]
    fn a_room_that_could_not_open_retries_every_second_while_redis_is_up() {
        let start = Instant::now();
        let mut schedule = SyncSchedule::default();
        schedule.opened(1, false);
        let due = schedule.next_wakeup(start).expect("a retry");
        assert_eq!(due, start + RETRY_EVERY);
        assert!(
            !schedule.wake(due - Duration::from_millis(1), UP),
            "not yet"
        );
        assert!(schedule.wake(due, UP));
        // The pass failed to subscribe: the next retry a second later.
        let next = schedule.next_wakeup(due).expect("another retry");
        assert_eq!(next, due + RETRY_EVERY);
        // While Redis is down a retry does nothing, and the one after is
        // scheduled.
        assert!(!schedule.wake(next, DOWN));
        assert_eq!(schedule.next_wakeup(next), Some(next + RETRY_EVERY));
    }

    #[test]
    fn a_busy_room_keeps_its_retry_deadline_however_often_it_is_woken() {
        let start = Instant::now();
        let mut schedule = SyncSchedule::default();
        schedule.opened(1, false);
        let due = schedule.next_wakeup(start).expect("a retry");
        // A command every 10 ms: each one cancels the wait and asks again.
        for ms in 1..100 {
            let now = start + Duration::from_millis(ms * 10);
            assert_eq!(schedule.next_wakeup(now), Some(due));
            if now < due {
                assert!(!schedule.wake(now, UP));
            }
        }
    }

    #[test]
    fn a_room_that_synchronised_drops_its_stale_retry_deadline() {
        let start = Instant::now();
        let mut schedule = SyncSchedule::default();
        schedule.opened(0, false);
        assert!(schedule.next_wakeup(start).is_some());
        assert!(schedule.status_changed(back(1)));
        schedule.resynced(1, start);
        // Only the second pass remains.
        assert_eq!(schedule.next_wakeup(start), Some(start + SETTLE));
        assert!(!schedule.wake(start + RETRY_EVERY, UP));
    }

    #[test]
    fn redis_back_in_a_new_generation_means_a_pass_then_a_second_and_no_third() {
        let start = Instant::now();
        let mut schedule = SyncSchedule::default();
        schedule.opened(1, true);
        assert!(!schedule.status_changed(DOWN));
        assert!(schedule.status_changed(back(2)));
        schedule.resynced(2, start);
        let second = schedule.next_wakeup(start).expect("a second pass");
        assert_eq!(second, start + SETTLE);
        assert!(schedule.wake(second, back(2)));
        schedule.resynced(2, second);
        assert_eq!(schedule.next_wakeup(second), None, "no third pass");
    }

    #[test]
    fn a_second_outage_inside_the_settle_window_gets_its_own_second_pass() {
        let start = Instant::now();
        let mut schedule = resynced_after_an_outage(start);
        // Redis goes and comes back before the second pass; the room wakes
        // for the settle deadline before it sees the new status.
        let settle = start + SETTLE;
        assert!(schedule.wake(settle, back(3)), "a pass");
        schedule.resynced(3, settle);
        // That was a first pass for generation 3: its second is due.
        let second = schedule.next_wakeup(settle).expect("its own second pass");
        assert_eq!(second, settle + SETTLE);
        assert!(schedule.wake(second, back(3)));
        schedule.resynced(3, second);
        assert_eq!(schedule.next_wakeup(second), None);
    }

    #[test]
    fn a_new_outage_seen_first_restarts_the_second_pass() {
        let start = Instant::now();
        let mut schedule = resynced_after_an_outage(start);
        let later = start + Duration::from_secs(1);
        assert!(schedule.status_changed(back(3)));
        schedule.resynced(3, later);
        assert_eq!(schedule.next_wakeup(later), Some(later + SETTLE));
    }

    #[test]
    fn the_second_pass_waits_while_redis_is_down() {
        let start = Instant::now();
        let mut schedule = resynced_after_an_outage(start);
        let settle = start + SETTLE;
        assert!(!schedule.wake(
            settle,
            Status {
                up: false,
                generation: 2
            }
        ));
        // Dropped: when Redis is back, its new generation brings a pass.
        assert_eq!(schedule.next_wakeup(settle), None);
        assert!(schedule.status_changed(back(3)));
    }

    #[test]
    fn a_pass_that_could_not_read_is_retried() {
        let start = Instant::now();
        let mut schedule = SyncSchedule::default();
        schedule.opened(1, true);
        schedule.read_failed();
        assert!(!schedule.is_synchronised());
        let retry = schedule.next_wakeup(start).expect("a retry");
        assert!(schedule.wake(retry, UP));
    }
}
