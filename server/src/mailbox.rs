//! The outbound path of one connection: a bounded queue that the room fills
//! and the connection task empties onto the socket.
//!
//! Two kinds of frames wait here, with different rules:
//!
//! * **Events** (`welcome`, `joined`, `left`, `hidden`, `renamed`, `pong`,
//!   `error`) must all arrive, in order. A client is judged on what it
//!   failed to take: while its connection is stuck writing (the socket
//!   accepts no more), at most `capacity` events may pile up; one more
//!   means the client has stopped reading, and the mailbox is marked
//!   overflowed so the connection closes it (1008). Events queued before the
//!   connection task got its turn are the server's backlog, not the
//!   client's fault: when 300 people leave a room at once, each who stays
//!   gets 300 `hidden` in one go. Those may reach `capacity ×
//!   BACKLOG_FACTOR`, a hard bound that holds whatever happens.
//! * **Cursor batches** are snapshots: a newer one makes an older one
//!   useless. The room says how many may wait: one in the coalesced fan-out,
//!   where each batch already holds a whole tick; `capacity` in the
//!   immediate fan-out, which relays each move as its own frame, as the
//!   handbook's server does. When a batch arrives and that many are still
//!   unsent, they are dropped (counted as stale) and the room's *full
//!   snapshot* of current positions is queued at the end instead. A plain
//!   replacement would be wrong: an old batch may hold a user whom the new
//!   one does not mention, and that user's last position would be lost.
//!   Queuing the snapshot at the end (after any events that were waiting
//!   behind the old batches) keeps each event and position in the order the
//!   room produced them.
//!
//! Frames are reference-counted (`Utf8Bytes` for JSON text, `Bytes` for
//! binary batches): a batch serialised once by the room is shared by every
//! mailbox that holds it.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use axum::extract::ws::{Message, Utf8Bytes};
use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

/// What happened to a cursor batch handed to [`Mailbox::push_cursor_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchDelivery {
    /// Queued; nothing was waiting.
    Queued,
    /// This many unsent older batches were dropped and the full snapshot
    /// queued instead.
    ReplacedStale(usize),
}

/// Why a mailbox no longer delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Closed {
    /// The client has stopped reading: its event queue is full.
    #[error("the client's outbound queue is full")]
    Overflowed,
    /// The same user resumed on a newer connection.
    #[error("resumed on a newer connection")]
    Superseded,
}

#[derive(Debug)]
enum Outbound {
    /// A JSON text frame.
    Event(Utf8Bytes),
    /// A `cursors` frame, JSON text or binary as the client negotiated.
    CursorBatch(Message),
}

/// How many times `capacity` events may wait while the connection has not
/// yet taken them (see the module doc).
pub const BACKLOG_FACTOR: usize = 16;

/// Queue storage kept after a burst has drained; a larger one is given back,
/// so a burst does not raise every connection's idle memory for good.
const RETAINED_SLOTS: usize = 64;

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Outbound>,
    events: usize,
    batches: usize,
    closed: Option<Closed>,
    /// The connection took frames and has not finished writing them.
    writing: bool,
}

#[derive(Debug)]
pub struct Mailbox {
    queue: Mutex<Queue>,
    /// Set by every push and taken by [`Mailbox::ready`]. A mailbox has one
    /// reader, its connection, so a flag and that reader's waker do what a
    /// `Notify` would, without a list of waiters to lock on every frame.
    pushed: AtomicBool,
    reader: AtomicWaker,
    /// Woken once, when the mailbox closes: a connection stuck writing
    /// waits on this beside its write (see [`Mailbox::closed`]).
    closing: Notify,
    capacity: usize,
}

impl Mailbox {
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            pushed: AtomicBool::new(false),
            reader: AtomicWaker::new(),
            closing: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    // ANCHOR: push
    /// Queues an event frame. Past the capacity, marks the mailbox overflowed
    /// and drops the frame: the connection will be closed anyway.
    pub fn push_event(&self, frame: Utf8Bytes) -> Result<(), Closed> {
        {
            let mut queue = self.lock();
            if let Some(closed) = queue.closed {
                return Err(closed);
            }
            let limit = if queue.writing {
                self.capacity
            } else {
                self.capacity * BACKLOG_FACTOR
            };
            if queue.events >= limit {
                queue.closed = Some(Closed::Overflowed);
                drop(queue);
                self.wake_reader();
                self.closing.notify_waiters();
                return Err(Closed::Overflowed);
            }
            queue.events += 1;
            queue.frames.push_back(Outbound::Event(frame));
        }
        self.wake_reader();
        Ok(())
    }
    // ANCHOR_END: push

    // ANCHOR: latest
    /// Queues a cursor batch behind at most `keep - 1` unsent ones; with
    /// `keep` already waiting, replaces them all with the room's full
    /// snapshot (computed only then, see the module doc).
    pub fn push_cursor_batch(
        &self,
        batch: Message,
        keep: usize,
        snapshot: impl FnOnce() -> Message,
    ) -> BatchDelivery {
        let delivery = {
            let mut queue = self.lock();
            if queue.batches < keep.max(1) {
                queue.batches += 1;
                queue.frames.push_back(Outbound::CursorBatch(batch));
                BatchDelivery::Queued
            } else {
                let stale = queue.batches;
                queue
                    .frames
                    .retain(|frame| !matches!(frame, Outbound::CursorBatch(_)));
                queue.batches = 1;
                queue.frames.push_back(Outbound::CursorBatch(snapshot()));
                BatchDelivery::ReplacedStale(stale)
            }
        };
        self.wake_reader();
        delivery
    }
    // ANCHOR_END: latest

    /// Moves every waiting frame into `frames`, oldest first. Until
    /// [`Mailbox::written`], the connection counts as writing them.
    pub fn drain_into(&self, frames: &mut Vec<Message>) -> Result<(), Closed> {
        let mut queue = self.lock();
        if let Some(closed) = queue.closed {
            return Err(closed);
        }
        queue.events = 0;
        queue.batches = 0;
        queue.writing = true;
        frames.extend(queue.frames.drain(..).map(|frame| match frame {
            Outbound::Event(text) => Message::Text(text),
            Outbound::CursorBatch(batch) => batch,
        }));
        if queue.frames.capacity() > RETAINED_SLOTS {
            queue.frames.shrink_to(RETAINED_SLOTS);
        }
        Ok(())
    }

    /// The frames taken by the last [`Mailbox::drain_into`] are on the
    /// socket: the client took them.
    pub fn written(&self) {
        self.lock().writing = false;
    }

    /// Tells the connection behind this mailbox that its user resumed
    /// elsewhere: it stops delivering and the connection closes.
    pub fn supersede(&self) {
        self.lock().closed.get_or_insert(Closed::Superseded);
        self.wake_reader();
        self.closing.notify_waiters();
    }

    /// Resolves once the mailbox is closed, with why. The connection waits
    /// on it while writing: a client whose write is stuck is closed as soon
    /// as its events overflow, not only when the write times out.
    pub async fn closed(&self) -> Closed {
        loop {
            // Created before the check, so a closure right after it still
            // wakes this future.
            let notified = self.closing.notified();
            if let Some(closed) = self.lock().closed {
                return closed;
            }
            notified.await;
        }
    }

    /// Resolves when something was pushed since the last call (a push that
    /// happens while nobody waits is remembered, so none is missed). For
    /// the mailbox's one reader.
    pub async fn ready(&self) {
        poll_fn(|context| {
            if self.pushed.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            self.reader.register(context.waker());
            // A push between the check and the registration woke nobody.
            if self.pushed.swap(false, Ordering::AcqRel) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    fn wake_reader(&self) {
        self.pushed.store(true, Ordering::Release);
        self.reader.wake();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while holding this lock can only come from a bug in the
        // few lines above; the queue is still consistent, so carry on.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Utf8Bytes {
        Utf8Bytes::from(text.to_owned())
    }

    fn batch(text: &str) -> Message {
        Message::Text(frame(text))
    }

    fn drained(mailbox: &Mailbox) -> Vec<String> {
        let mut frames = Vec::new();
        mailbox.drain_into(&mut frames).unwrap();
        frames
            .iter()
            .map(|frame| frame.to_text().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn events_keep_their_order_and_a_stale_batch_becomes_the_snapshot_at_the_end() {
        let mailbox = Mailbox::new(8);
        mailbox.push_event(frame("joined")).unwrap();
        assert_eq!(
            mailbox.push_cursor_batch(batch("batch-1"), 1, || unreachable!()),
            BatchDelivery::Queued
        );
        mailbox.push_event(frame("hidden")).unwrap();
        assert_eq!(
            mailbox.push_cursor_batch(batch("batch-2"), 1, || batch("snapshot-2")),
            BatchDelivery::ReplacedStale(1)
        );
        assert_eq!(drained(&mailbox), ["joined", "hidden", "snapshot-2"]);
        assert!(drained(&mailbox).is_empty());
    }

    #[test]
    fn a_reader_that_keeps_up_gets_every_batch() {
        let mailbox = Mailbox::new(8);
        mailbox.push_cursor_batch(batch("batch-1"), 1, || unreachable!());
        assert_eq!(drained(&mailbox), ["batch-1"]);
        mailbox.push_cursor_batch(batch("batch-2"), 1, || unreachable!());
        assert_eq!(drained(&mailbox), ["batch-2"]);
    }

    #[test]
    fn events_piling_up_behind_a_stuck_write_overflow_the_mailbox() {
        let mailbox = Mailbox::new(2);
        mailbox.drain_into(&mut Vec::new()).unwrap(); // a write starts, never ends
        mailbox.push_event(frame("a")).unwrap();
        mailbox.push_event(frame("b")).unwrap();
        assert_eq!(mailbox.push_event(frame("c")), Err(Closed::Overflowed));
        assert_eq!(mailbox.drain_into(&mut Vec::new()), Err(Closed::Overflowed));
    }

    #[test]
    fn a_burst_before_the_connection_takes_its_turn_is_allowed_up_to_the_hard_bound() {
        let mailbox = Mailbox::new(2);
        let bound = 2 * BACKLOG_FACTOR;
        for index in 0..bound {
            mailbox.push_event(frame(&index.to_string())).unwrap();
        }
        let mut frames = Vec::new();
        mailbox.drain_into(&mut frames).unwrap();
        assert_eq!(frames.len(), bound);
        mailbox.written();
        // The write went through: the next burst is judged afresh...
        for index in 0..bound {
            mailbox.push_event(frame(&index.to_string())).unwrap();
        }
        // ...and the hard bound still holds.
        assert_eq!(
            mailbox.push_event(frame("one too many")),
            Err(Closed::Overflowed)
        );
    }

    #[test]
    fn a_superseded_mailbox_stops_delivering() {
        let mailbox = Mailbox::new(2);
        mailbox.push_event(frame("a")).unwrap();
        mailbox.supersede();
        assert_eq!(mailbox.drain_into(&mut Vec::new()), Err(Closed::Superseded));
        assert_eq!(mailbox.push_event(frame("b")), Err(Closed::Superseded));
    }

    #[tokio::test]
    async fn a_push_wakes_the_reader_once_whether_or_not_it_was_waiting() {
        let mailbox = std::sync::Arc::new(Mailbox::new(2));
        // Pushed while nobody waits: remembered.
        mailbox.push_event(frame("a")).unwrap();
        assert!(futures_util::poll!(std::pin::pin!(mailbox.ready())).is_ready());
        // Taken: not ready again until the next push.
        assert!(futures_util::poll!(std::pin::pin!(mailbox.ready())).is_pending());
        // Pushed by another task while the reader waits: it wakes.
        let reader = std::sync::Arc::clone(&mailbox);
        let waiting = tokio::spawn(async move {
            tokio::time::timeout(std::time::Duration::from_secs(10), reader.ready()).await
        });
        tokio::task::yield_now().await;
        mailbox.push_cursor_batch(batch("batch"), 1, || unreachable!());
        assert!(
            waiting.await.unwrap().is_ok(),
            "the waiting reader was not woken"
        );
    }

    #[test]
    fn batches_never_accumulate() {
        let mailbox = Mailbox::new(2);
        for round in 0..1000 {
            mailbox.push_cursor_batch(batch("batch"), 1, || batch(&format!("snapshot-{round}")));
        }
        assert_eq!(drained(&mailbox), ["snapshot-999"]);
    }

    #[test]
    fn in_the_immediate_fan_out_moves_queue_up_to_the_bound_then_collapse() {
        let mailbox = Mailbox::new(8);
        for index in 0..3 {
            let delivery =
                mailbox.push_cursor_batch(batch(&format!("move-{index}")), 3, || unreachable!());
            assert_eq!(delivery, BatchDelivery::Queued);
        }
        mailbox.push_event(frame("left")).unwrap();
        assert_eq!(
            mailbox.push_cursor_batch(batch("move-3"), 3, || batch("snapshot-3")),
            BatchDelivery::ReplacedStale(3)
        );
        assert_eq!(drained(&mailbox), ["left", "snapshot-3"]);
        // Once written, the client may fall behind by `keep` again.
        for index in 0..3 {
            mailbox.push_cursor_batch(batch(&format!("move-{index}")), 3, || unreachable!());
        }
        assert_eq!(drained(&mailbox), ["move-0", "move-1", "move-2"]);
    }
}
