//! Which rooms are running: each room's name and the sender of its command
//! channel, and the two moments that change it, a room starting and an
//! empty room unlisting itself.
//!
//! The directory's lock is taken only to find or start a room and when an
//! empty room shuts itself down, never per move. A room task holds a
//! [`Listing`], a weak handle to its entry: enough to unlist itself, and
//! nothing that keeps the directory (or the server) alive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use cursors_protocol::RoomName;
use tokio::sync::mpsc;

use super::command::RoomCommand;

/// Every running room, by name.
#[derive(Debug, Default)]
pub struct RoomDirectory {
    rooms: Mutex<HashMap<RoomName, mpsc::Sender<RoomCommand>>>,
}

impl RoomDirectory {
    /// Number of rooms with a running task.
    pub fn running(&self) -> usize {
        self.lock().len()
    }

    /// The command sender of `room`; if it has no running task, a new
    /// channel of `capacity` is listed and `start` is given its receiver
    /// (under the lock, so two joins cannot start the same room twice).
    pub fn find_or_start(
        self: &Arc<Self>,
        room: &RoomName,
        capacity: usize,
        start: impl FnOnce(mpsc::Receiver<RoomCommand>, Listing),
    ) -> mpsc::Sender<RoomCommand> {
        let mut rooms = self.lock();
        if let Some(commands) = rooms.get(room).filter(|commands| !commands.is_closed()) {
            return commands.clone();
        }
        let (commands, receiver) = mpsc::channel(capacity.max(1));
        rooms.insert(room.clone(), commands.clone());
        let listing = Listing {
            directory: Arc::downgrade(self),
            room: room.clone(),
        };
        start(receiver, listing);
        commands
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<RoomName, mpsc::Sender<RoomCommand>>> {
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A room task's entry in the directory.
#[derive(Debug)]
pub struct Listing {
    directory: Weak<RoomDirectory>,
    room: RoomName,
}

impl Listing {
    // ANCHOR: unlist
    /// The room is empty and its task is ending: closes its channel and
    /// unlists it, under the directory's lock, so that from here a join
    /// starts a fresh room. Joins already queued are refused by dropping
    /// their reply; their senders retry and land there. Whether the
    /// directory was still there to unlist from (not when the server is
    /// gone).
    pub fn unlist(&self, commands: &mut mpsc::Receiver<RoomCommand>) -> bool {
        let Some(directory) = self.directory.upgrade() else {
            return false;
        };
        let mut rooms = directory.lock();
        commands.close();
        while let Ok(command) = commands.try_recv() {
            drop(command);
        }
        if rooms
            .get(&self.room)
            .is_some_and(|listed| listed.is_closed())
        {
            rooms.remove(&self.room);
        }
        true
    }
    // ANCHOR_END: unlist
}
