//! The selection rule: who a cell's receivers see.
//!
//! A person in a crowd should see the people near their own pointer and the
//! ones who are doing something, and never a cursor that blinks in and out.
//! So each cell's view is a ranking with memory:
//!
//! - the score of a candidate is their distance from the cell's centre
//!   (board units), less [`ACTIVE_BONUS`] if they moved within [`RECENT`]:
//!   a third of the board closer for being active;
//! - someone already shown counts [`STAY_MARGIN`] closer (hysteresis: a
//!   newcomer must be clearly better to take their place), and someone
//!   shown less than [`MIN_DWELL`] ago is kept whatever their score;
//! - the best `slots` scores make the view; ties go to the older member,
//!   so the same inputs always give the same view.
//!
//! It takes the candidates and the time as arguments and returns the new
//! view: unit-tested below with made-up instants.

use std::collections::HashMap;
use std::time::Duration;

use cursors_protocol::Point;
use tokio::time::Instant;

/// A member's key in its room (the room state's `MemberKey`).
pub type Key = u64;

/// Moving within this long counts as "doing something".
pub const RECENT: Duration = Duration::from_secs(2);
/// How much closer (in board units) someone active counts.
pub const ACTIVE_BONUS: f64 = 1.0 / 3.0;
/// How much closer someone already shown counts.
pub const STAY_MARGIN: f64 = 0.1;
/// Someone shown stays at least this long (while their cursor is visible).
pub const MIN_DWELL: Duration = Duration::from_secs(2);

/// Someone who may be shown: a member whose cursor is on the board.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub key: Key,
    pub point: Point,
    /// When they last moved, if ever.
    pub last_moved: Option<Instant>,
}

/// Someone in a view, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub key: Key,
    pub since: Instant,
}

/// Candidates, indexed by key for the incumbents' lookups. Built once per
/// selection round and shared by every cell.
pub struct Candidates {
    list: Vec<Candidate>,
    by_key: HashMap<Key, usize>,
}

impl Candidates {
    pub fn new(list: Vec<Candidate>) -> Self {
        let by_key = list
            .iter()
            .enumerate()
            .map(|(index, candidate)| (candidate.key, index))
            .collect();
        Self { list, by_key }
    }

    pub fn get(&self, key: Key) -> Option<&Candidate> {
        self.by_key.get(&key).map(|index| &self.list[*index])
    }
}

// ANCHOR: score
/// A candidate's score seen from `centre` at `now` (lower is better).
pub fn score(candidate: &Candidate, centre: Point, now: Instant, shown: bool) -> f64 {
    let (dx, dy) = (candidate.point.x - centre.x, candidate.point.y - centre.y);
    // Not `hypot`: its care for overflow made each score about 40% slower
    // (`examples/selection_speed.rs`), and a crowd of 10,000 scores 2.5
    // million candidates a second. Board
    // coordinates are within [0, 1], so the plain formula is exact enough.
    let distance = (dx * dx + dy * dy).sqrt();
    let active = candidate
        .last_moved
        .is_some_and(|moved| now.saturating_duration_since(moved) < RECENT);
    distance - if active { ACTIVE_BONUS } else { 0.0 } - if shown { STAY_MARGIN } else { 0.0 }
}
// ANCHOR_END: score

// ANCHOR: select
/// The view of a cell centred on `centre` at `now`: up to `slots` of the
/// candidates, given the view it had (`current`, in key order, as this
/// returns it). `scratch` is reused between calls to spare allocations.
pub fn select(
    current: &[Shown],
    candidates: &Candidates,
    centre: Point,
    now: Instant,
    slots: usize,
    scratch: &mut Vec<(f64, Key)>,
) -> Vec<Shown> {
    let shown_before = |key: Key| {
        current
            .binary_search_by_key(&key, |shown| shown.key)
            .ok()
            .map(|index| current[index])
    };
    // Whoever was shown a moment ago and is still on the board stays.
    let mut view: Vec<Shown> = current
        .iter()
        .filter(|shown| {
            now.saturating_duration_since(shown.since) < MIN_DWELL
                && candidates.get(shown.key).is_some()
        })
        .take(slots)
        .copied()
        .collect();
    let kept = view.len();
    let free = slots - kept;
    if free > 0 {
        scratch.clear();
        scratch.extend(candidates.list.iter().filter_map(|candidate| {
            let before = shown_before(candidate.key);
            let is_kept = before.is_some_and(|shown| {
                view[..kept]
                    .binary_search_by_key(&shown.key, |kept| kept.key)
                    .is_ok()
            });
            (!is_kept).then(|| {
                let score = score(candidate, centre, now, before.is_some());
                (score, candidate.key)
            })
        }));
        let best = |left: &(f64, Key), right: &(f64, Key)| {
            left.0.total_cmp(&right.0).then(left.1.cmp(&right.1))
        };
        if scratch.len() > free {
            scratch.select_nth_unstable_by(free - 1, best);
            scratch.truncate(free);
        }
        view.extend(scratch.iter().map(|(_, key)| Shown {
            key: *key,
            // Someone who stays keeps their date; a newcomer starts now.
            since: shown_before(*key).map_or(now, |shown| shown.since),
        }));
    }
    view.sort_by_key(|shown| shown.key);
    view
}
// ANCHOR_END: select

#[cfg(test)]
mod tests {
    use super::*;

    const CENTRE: Point = Point { x: 0.5, y: 0.5 };

    fn at(key: Key, x: f64, y: f64) -> Candidate {
        Candidate {
            key,
            point: Point { x, y },
            last_moved: None,
        }
    }

    fn keys(view: &[Shown]) -> Vec<Key> {
        view.iter().map(|shown| shown.key).collect()
    }

    fn select_now(
        current: &[Shown],
        list: Vec<Candidate>,
        now: Instant,
        slots: usize,
    ) -> Vec<Shown> {
        select(
            current,
            &Candidates::new(list),
            CENTRE,
            now,
            slots,
            &mut Vec::new(),
        )
    }

    #[test]
    fn the_nearest_are_shown_when_nobody_moves() {
        let now = Instant::now();
        let list = vec![
            at(1, 0.9, 0.9),
            at(2, 0.5, 0.52),
            at(3, 0.1, 0.1),
            at(4, 0.45, 0.5),
        ];
        assert_eq!(keys(&select_now(&[], list.clone(), now, 2)), [2, 4]);
        // Enough slots for everyone: everyone.
        assert_eq!(keys(&select_now(&[], list, now, 10)), [1, 2, 3, 4]);
    }

    #[test]
    fn someone_active_counts_a_third_of_the_board_closer() {
        let now = Instant::now();
        let still_near = at(1, 0.5, 0.6); // 0.1 away
        let active_far = Candidate {
            last_moved: Some(now - Duration::from_millis(500)),
            ..at(2, 0.5, 0.8) // 0.3 away, less the bonus: ≈ -0.03
        };
        let was_active = Candidate {
            last_moved: Some(now - RECENT),
            ..at(3, 0.5, 0.55) // moved 2 s ago: no longer counts
        };
        assert_eq!(
            keys(&select_now(
                &[],
                vec![still_near, active_far, was_active],
                now,
                1
            )),
            [2]
        );
        assert_eq!(
            keys(&select_now(
                &[],
                vec![still_near, active_far, was_active],
                now,
                2
            )),
            [2, 3]
        );
    }

    #[test]
    fn someone_shown_stays_at_least_the_minimum_dwell() {
        let start = Instant::now();
        let view = select_now(&[], vec![at(1, 0.5, 0.7)], start, 1);
        assert_eq!(keys(&view), [1]);
        // A much nearer newcomer a second later does not push them out yet...
        let later = start + Duration::from_secs(1);
        let list = vec![at(1, 0.5, 0.7), at(2, 0.5, 0.5)];
        let view = select_now(&view, list.clone(), later, 1);
        assert_eq!(keys(&view), [1]);
        assert_eq!(view[0].since, start, "someone who stays keeps their date");
        // ...but once the dwell is over, the better one wins.
        let view = select_now(&view, list, start + MIN_DWELL, 1);
        assert_eq!(keys(&view), [2]);
        assert_eq!(view[0].since, start + MIN_DWELL);
    }

    #[test]
    fn a_slightly_better_newcomer_does_not_replace_someone_shown() {
        let start = Instant::now();
        let view = select_now(&[], vec![at(1, 0.5, 0.7)], start, 1); // 0.2 away
        let after_dwell = start + MIN_DWELL * 2;
        // 0.15 away: better, but not by the stay margin. No flicker.
        let list = vec![at(1, 0.5, 0.7), at(2, 0.5, 0.65)];
        assert_eq!(keys(&select_now(&view, list, after_dwell, 1)), [1]);
        // 0.05 away: better by more than the margin.
        let list = vec![at(1, 0.5, 0.7), at(2, 0.5, 0.55)];
        assert_eq!(keys(&select_now(&view, list, after_dwell, 1)), [2]);
    }

    #[test]
    fn someone_whose_cursor_left_the_board_goes_at_once() {
        let start = Instant::now();
        let view = select_now(&[], vec![at(1, 0.5, 0.6), at(2, 0.9, 0.9)], start, 1);
        assert_eq!(keys(&view), [1]);
        // 1 hid (no longer a candidate): within the dwell, still replaced.
        let soon = start + Duration::from_millis(100);
        assert_eq!(
            keys(&select_now(&view, vec![at(2, 0.9, 0.9)], soon, 1)),
            [2]
        );
    }

    #[test]
    fn ties_go_to_the_older_member_so_views_are_repeatable() {
        let now = Instant::now();
        let list = vec![at(5, 0.5, 0.6), at(3, 0.5, 0.4), at(9, 0.6, 0.5)];
        for _ in 0..3 {
            assert_eq!(keys(&select_now(&[], list.clone(), now, 2)), [3, 5]);
        }
    }

    #[test]
    fn a_view_never_holds_more_than_its_slots() {
        let now = Instant::now();
        let list: Vec<Candidate> = (0..200)
            .map(|key| at(key, (key % 20) as f64 / 20.0, (key / 20) as f64 / 10.0))
            .collect();
        let mut view = Vec::new();
        for step in 0..10 {
            let moment = now + Duration::from_millis(700 * step);
            view = select_now(&view, list.clone(), moment, 7);
            assert_eq!(view.len(), 7);
        }
    }
}
