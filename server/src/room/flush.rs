//! When a room sends its next `cursors` frame: the flush schedule.
//!
//! Each flush costs one write per member, and every room of the server
//! shares its cores, so the server aims at a total number of frames per
//! second (`--frame-budget`) split evenly between the rooms that have
//! members. A room of N members, one of R occupied rooms, may then flush
//! every N·R / budget seconds, capped at the tick (`--tick-ms`) so that no
//! room ever waits longer than one display frame. N is the whole room, on
//! every server that shares it, so that a frame carries as many positions
//! however the room is split:
//!
//! - a lone room of 10 with the default budget of 30,000 may flush every
//!   0.33 ms: in practice each move goes out the moment it arrives;
//! - a room of 500, or 100 rooms of 10, reach the tick: one frame per room
//!   per 16 ms, and coalescing is what keeps the server afloat.
//!
//! Flushes have a *leading edge*: a move into a room that has not flushed
//! for a whole interval goes out at once; only the moves that follow it
//! within the interval wait, and they wait together.
//!
//! Everything here takes the time as an argument, so it is tested without a
//! clock (see the tests at the end, and `state.rs`'s).

use std::time::Duration;

use tokio::time::Instant;

// ANCHOR: flush_interval
/// Least time between two flushes of a room of `members`, one of
/// `occupied_rooms`, when the server aims at `frame_budget` frames per
/// second: `members × occupied_rooms / frame_budget`, capped at `tick`.
///
/// Integer arithmetic in nanoseconds, saturating, so that no room size, room
/// count or budget can overflow or panic (a budget of 0 counts as 1).
pub fn flush_interval(
    members: usize,
    occupied_rooms: usize,
    frame_budget: u32,
    tick: Duration,
) -> Duration {
    let writes_per_flush = members.max(1) as u128;
    let rooms = occupied_rooms.max(1) as u128;
    let budget = u128::from(frame_budget.max(1));
    let nanos = writes_per_flush
        .saturating_mul(rooms)
        .saturating_mul(1_000_000_000)
        / budget;
    let tick_nanos = tick.as_nanos();
    Duration::from_nanos(u64::try_from(nanos.min(tick_nanos)).unwrap_or(u64::MAX))
}
// ANCHOR_END: flush_interval

/// What the schedule says to do about positions waiting to go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushDecision {
    /// Send them now.
    Now,
    /// Send them at this instant (a timer should wake the room then).
    At(Instant),
}

/// When the room last flushed, and when it will next.
#[derive(Debug, Default, Clone)]
pub struct FlushSchedule {
    last_flush: Option<Instant>,
    due: Option<Instant>,
}

impl FlushSchedule {
    // ANCHOR: decide
    /// Positions are waiting at `now`. Flush at once if the room has been
    /// quiet for a whole `interval` (the leading edge) or the deadline set
    /// earlier has come; otherwise keep (or set) the deadline.
    ///
    /// A deadline, once set, is kept even if the interval changes (a member
    /// joins, another room fills): the positions waiting were promised that
    /// time.
    pub fn decide(&mut self, now: Instant, interval: Duration) -> FlushDecision {
        let due = *self.due.get_or_insert_with(|| match self.last_flush {
            Some(last) => last + interval,
            None => now,
        });
        if now >= due {
            FlushDecision::Now
        } else {
            FlushDecision::At(due)
        }
    }
    // ANCHOR_END: decide

    /// A flush happened at `now`.
    pub fn flushed(&mut self, now: Instant) {
        self.last_flush = Some(now);
        self.due = None;
    }

    /// Nothing is waiting any more (the only waiting position was hidden):
    /// no need to wake up.
    pub fn cancel(&mut self) {
        self.due = None;
    }

    /// The deadline of the positions waiting, if any.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(16);

    #[test]
    fn the_interval_grows_with_members_and_rooms_and_stops_at_the_tick() {
        // A lone room of 10 with the default budget: a third of a millisecond.
        assert_eq!(
            flush_interval(10, 1, 30_000, TICK),
            Duration::from_nanos(333_333)
        );
        // Twice the members, or twice the rooms: twice the interval.
        assert_eq!(
            flush_interval(20, 1, 30_000, TICK),
            Duration::from_nanos(666_666)
        );
        assert_eq!(
            flush_interval(10, 2, 30_000, TICK),
            Duration::from_nanos(666_666)
        );
        // 100 rooms of 10 would need 33 ms: the tick caps it.
        assert_eq!(flush_interval(10, 100, 30_000, TICK), TICK);
        assert_eq!(flush_interval(500, 1, 30_000, TICK), TICK);
    }

    #[test]
    fn no_room_size_count_or_budget_can_panic() {
        let sizes = [0, 1, 2, 1_000, u32::MAX as usize, usize::MAX];
        let budgets = [0, 1, 30_000, u32::MAX];
        let ticks = [Duration::ZERO, TICK, Duration::MAX];
        for members in sizes {
            for rooms in sizes {
                for budget in budgets {
                    for tick in ticks {
                        let interval = flush_interval(members, rooms, budget, tick);
                        assert!(interval <= tick, "{members} {rooms} {budget} {tick:?}");
                    }
                }
            }
        }
        // The extremes saturate instead of wrapping.
        assert_eq!(
            flush_interval(usize::MAX, usize::MAX, 1, Duration::MAX),
            Duration::from_nanos(u64::MAX)
        );
        assert_eq!(
            flush_interval(1, 1, 0, Duration::MAX),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn the_first_move_goes_out_at_once_and_the_next_ones_wait_together() {
        let start = Instant::now();
        let interval = Duration::from_millis(10);
        let mut schedule = FlushSchedule::default();
        assert_eq!(schedule.decide(start, interval), FlushDecision::Now);
        schedule.flushed(start);
        assert_eq!(schedule.due(), None);

        let soon = start + Duration::from_millis(2);
        let due = start + interval;
        assert_eq!(schedule.decide(soon, interval), FlushDecision::At(due));
        // A later move in the same interval waits for the same deadline,
        // even if the interval has grown meanwhile.
        assert_eq!(
            schedule.decide(soon + Duration::from_millis(1), interval * 3),
            FlushDecision::At(due)
        );
        assert_eq!(schedule.decide(due, interval), FlushDecision::Now);
        schedule.flushed(due);

        // After a quiet interval, the leading edge again.
        let later = due + interval * 2;
        assert_eq!(schedule.decide(later, interval), FlushDecision::Now);
    }

    #[test]
    fn a_cancelled_deadline_is_forgotten() {
        let start = Instant::now();
        let interval = Duration::from_millis(10);
        let mut schedule = FlushSchedule::default();
        schedule.flushed(start);
        assert!(matches!(
            schedule.decide(start, interval),
            FlushDecision::At(_)
        ));
        schedule.cancel();
        assert_eq!(schedule.due(), None);
    }
}
