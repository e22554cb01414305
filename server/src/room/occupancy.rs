//! How many rooms of this server have members: the rooms that share the
//! frame budget (see `flush.rs`).
//!
//! The count is kept by an RAII guard, [`Occupancy`], that a room task
//! holds exactly while its room has members: it cannot drift, whatever path
//! a room takes to empty.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

// ANCHOR: occupancy
/// How many rooms of this server have members.
#[derive(Debug, Clone, Default)]
pub struct OccupiedRooms(Arc<AtomicUsize>);

impl OccupiedRooms {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one more occupied room until the guard is dropped.
    pub fn occupy(&self) -> Occupancy {
        self.0.fetch_add(1, Ordering::Relaxed);
        Occupancy {
            occupied_rooms: self.0.clone(),
        }
    }
}

/// Held by a room task while its room has members: one of the rooms that
/// share the frame budget. Dropping it (the room emptied, or its task
/// ended in any way) gives the place back.
#[derive(Debug)]
pub struct Occupancy {
    occupied_rooms: Arc<AtomicUsize>,
}

impl Drop for Occupancy {
    fn drop(&mut self) {
        self.occupied_rooms.fetch_sub(1, Ordering::Relaxed);
    }
}
// ANCHOR_END: occupancy
