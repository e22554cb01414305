//! A room of ten thousand: who sees whom once a room is a *crowd*.
//!
//! Everybody-sees-everybody costs a room of N about N² deliveries per
//! flush, every join and leave goes to all N, and no page can draw ten
//! thousand cursors. Above `--crowd-threshold` members a room becomes a
//! crowd, and each receiver is shown at most `--visible-cursors` K others:
//!
//! - [`grid`]: the board is 8 × 8 cells; each receiver belongs to the cell
//!   of its pointer (with hysteresis);
//! - [`selection`]: each cell has a *view* of K − 1 people, the nearest to
//!   its centre with a bonus for the active ones, with hysteresis and a
//!   minimum dwell so nobody blinks in and out;
//! - this file: the crowd's bookkeeping (the views, the receivers and
//!   their cells, whom they follow, when to choose again), which the room's
//!   rules (`state/crowd.rs`) drive with the time as an argument.
//!
//! ## What a flush costs
//!
//! With N members, R receivers here, D of the members dirty since the last
//! flush, C = 64 cells and F receivers whose followed person moved outside
//! their cell's view:
//!
//! - finding each cell's moves: C·(K − 1) look-ups, whatever N;
//! - encoding: at most C + F distinct frames, each serialised once (per
//!   encoding) and shared by every receiver of its group; each holds at
//!   most K positions;
//! - writing: one frame per receiver whose view moved, R at most.
//!
//! So a flush costs O(C·K + R) instead of O(N·D), and a receiver gets at
//! most K positions per frame however large the room. Choosing the views
//! again (a few times a second, only when something changed) costs O(C·N)
//! score computations; the count (`crowd`, at most once a second) O(N).
//! Joins and leaves of people nobody sees cost the others nothing but the
//! next count: a person enters views only once their cursor is on the board.

pub mod grid;
pub mod selection;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use grid::{CELLS, Cell};
use selection::{Key, Shown};

/// How often views may be chosen again while something changes.
pub const SELECT_EVERY: Duration = Duration::from_millis(250);
/// How often the `crowd` count may be sent while it changes.
pub const COUNT_EVERY: Duration = Duration::from_secs(1);
/// Longest wait between two flushes of a crowd: each receiver is updated
/// at least ten times a second while its view moves. A little under a
/// tenth of a second, because a timer only ever fires late (by a
/// millisecond or two, more on a busy machine) and each flush counts from
/// when the last one really happened: aimed at exactly 100 ms, a crowd of
/// 5,000 got 9.9 updates a second.
pub const LONGEST_FLUSH: Duration = Duration::from_millis(95);

// ANCHOR: crowd_rules
/// When a room is a crowd, and how much each receiver sees in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrowdRules {
    /// A room with more members than this is a crowd...
    pub threshold: usize,
    /// ...until it shrinks to this many or fewer (four fifths of the
    /// threshold), so a room at the edge does not flip back and forth.
    pub release: usize,
    /// Most positions a receiver is sent per frame: its cell's view of
    /// `visible - 1` plus the one person it follows.
    pub visible: usize,
}

impl CrowdRules {
    pub fn new(threshold: usize, visible: usize) -> Self {
        Self {
            threshold,
            release: threshold.saturating_mul(4) / 5,
            visible: visible.max(1),
        }
    }

    /// The size of a cell's view.
    pub fn view_slots(&self) -> usize {
        self.visible - 1
    }
}
// ANCHOR_END: crowd_rules

/// A member connected here, seen as a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receiver {
    pub cell: Cell,
    /// The person they follow, shown beyond their cell's view (`None` when
    /// they follow nobody, or the followed person is in the view anyway).
    pub extra: Option<Key>,
}

/// The crowd's bookkeeping. The rules that fill it are in `state/crowd.rs`.
#[derive(Debug)]
pub struct Crowd {
    /// Each cell's view, in key order.
    pub views: Vec<Vec<Shown>>,
    /// The members connected here.
    pub receivers: BTreeMap<Key, Receiver>,
    /// The receivers of each cell (kept in step with `receivers`).
    pub in_cell: Vec<Vec<Key>>,
    /// Something changed since the views were last chosen.
    pub stirred: bool,
    pub last_selection: Option<Instant>,
    /// When the views will be chosen again (set once something changed).
    pub selection_due: Option<Instant>,
    /// The count and heat last sent, and when.
    pub last_count: Option<(Instant, u64, Vec<u32>)>,
    /// Reused by every selection.
    pub scratch: Vec<(f64, Key)>,
}

impl Default for Crowd {
    fn default() -> Self {
        Self {
            views: vec![Vec::new(); CELLS],
            receivers: BTreeMap::new(),
            in_cell: vec![Vec::new(); CELLS],
            stirred: true,
            last_selection: None,
            selection_due: None,
            last_count: None,
            scratch: Vec::new(),
        }
    }
}

impl Crowd {
    /// Adds a receiver in `cell` (or moves it there).
    pub fn place(&mut self, key: Key, receiver: Receiver) {
        if let Some(before) = self.receivers.insert(key, receiver) {
            if before.cell == receiver.cell {
                return;
            }
            self.in_cell[before.cell.index()].retain(|other| *other != key);
        }
        self.in_cell[receiver.cell.index()].push(key);
    }

    /// `key` is no receiver here any more (it is still in the room).
    pub fn unplace(&mut self, key: Key) {
        if let Some(receiver) = self.receivers.remove(&key) {
            self.in_cell[receiver.cell.index()].retain(|other| *other != key);
        }
    }

    /// Forgets `key`, as a receiver and in every view.
    pub fn forget(&mut self, key: Key) {
        self.unplace(key);
        for view in &mut self.views {
            if let Ok(index) = view.binary_search_by_key(&key, |shown| shown.key) {
                view.remove(index);
            }
        }
        for receiver in self.receivers.values_mut() {
            if receiver.extra == Some(key) {
                receiver.extra = None;
            }
        }
        self.stirred = true;
    }

    /// Whether `key` is in `cell`'s view.
    pub fn shows(&self, cell: Cell, key: Key) -> bool {
        self.views[cell.index()]
            .binary_search_by_key(&key, |shown| shown.key)
            .is_ok()
    }

    /// Every receiver who sees `key`: the receivers of the cells whose view
    /// holds them, and those who follow them.
    pub fn viewers(&self, key: Key) -> Vec<Key> {
        let mut viewers: Vec<Key> = Cell::all()
            .filter(|cell| self.shows(*cell, key))
            .flat_map(|cell| self.in_cell[cell.index()].iter().copied())
            .collect();
        viewers.extend(
            self.receivers
                .iter()
                .filter(|(_, receiver)| receiver.extra == Some(key))
                .map(|(receiver, _)| *receiver),
        );
        viewers.sort_unstable();
        viewers.dedup();
        viewers
    }

    /// Something changed at `now`: the views will be chosen again as soon
    /// as `SELECT_EVERY` has passed since the last time.
    pub fn schedule_selection(&mut self, now: Instant) {
        if !self.stirred {
            return;
        }
        let soonest = self
            .last_selection
            .map_or(now, |last| (last + SELECT_EVERY).max(now));
        self.selection_due = Some(self.selection_due.map_or(soonest, |due| due.min(soonest)));
    }

    /// The views were chosen at `now`. Someone kept only by the minimum
    /// dwell may lose their place once it ends, even in a room where
    /// nothing moves any more: the views are then chosen again.
    pub fn selected(&mut self, now: Instant) {
        self.stirred = false;
        self.last_selection = Some(now);
        self.selection_due = self
            .views
            .iter()
            .flatten()
            .map(|shown| shown.since + selection::MIN_DWELL)
            .filter(|dwell_ends| *dwell_ends > now)
            .min();
    }

    /// When the count may be sent again.
    pub fn next_count(&self) -> Option<Instant> {
        self.last_count
            .as_ref()
            .map(|(last, _, _)| *last + COUNT_EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crowd_ends_at_four_fifths_of_its_threshold() {
        let rules = CrowdRules::new(50, 50);
        assert_eq!(rules.release, 40);
        assert_eq!(rules.view_slots(), 49);
        // K = 0 would show nobody, not even the person one follows.
        assert_eq!(CrowdRules::new(50, 0).visible, 1);
        // An absurd flag does not overflow.
        assert_eq!(CrowdRules::new(usize::MAX, 50).release, usize::MAX / 5);
    }

    #[test]
    fn placing_and_forgetting_keeps_the_cells_in_step() {
        let mut crowd = Crowd::default();
        let now = Instant::now();
        crowd.place(
            1,
            Receiver {
                cell: Cell::CENTRE,
                extra: None,
            },
        );
        crowd.place(
            2,
            Receiver {
                cell: Cell::CENTRE,
                extra: Some(3),
            },
        );
        crowd.views[Cell::CENTRE.index()] = vec![Shown { key: 3, since: now }];
        assert_eq!(crowd.viewers(3), [1, 2]);
        crowd.place(
            1,
            Receiver {
                cell: Cell::of(cursors_protocol::Point { x: 0.0, y: 0.0 }),
                extra: None,
            },
        );
        assert_eq!(crowd.in_cell[Cell::CENTRE.index()], [2]);
        crowd.forget(3);
        assert!(crowd.viewers(3).is_empty());
        assert_eq!(crowd.receivers[&2].extra, None);
        crowd.forget(2);
        assert!(crowd.in_cell[Cell::CENTRE.index()].is_empty());
    }
}
