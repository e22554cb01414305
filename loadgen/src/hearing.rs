//! The end-of-run check of a long run: does every observer still hear
//! every moving member of its room? A room gone deaf near the end (after a
//! Redis failover, say) is a small share of a long run's deliveries and
//! would hide in the delivery column; counted per pair, it cannot.

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unheard {
    /// Observer and sender pairs checked.
    pub pairs: u64,
    /// Of them, those where the observer's newest position from the sender
    /// is more than the slack behind the sender's last move.
    pub unheard_pairs: u64,
    /// Observers with at least one such sender.
    pub observers_short: u64,
}

/// Checks each observer's newest sequence seen per sender (indexed by
/// user number; empty if it saw nothing) against each sender's last
/// sequence sent. `room_mates(observer, sender)` says whether the sender
/// is a moving member of the observer's room (and not the observer).
/// `slack` is how many moves a sender may be ahead: those sent in the
/// last moments, still on their way when the run stopped.
pub fn unheard(
    observers: &[(u64, Vec<u64>)],
    last_sequence: &[u64],
    room_mates: impl Fn(u64, u64) -> bool,
    slack: u64,
) -> Unheard {
    let mut found = Unheard {
        pairs: 0,
        unheard_pairs: 0,
        observers_short: 0,
    };
    for (observer, newest_seen) in observers {
        let mut short = false;
        for (sender, last) in last_sequence.iter().enumerate() {
            let sender = sender as u64;
            if !room_mates(*observer, sender) {
                continue;
            }
            found.pairs += 1;
            let seen = newest_seen.get(sender as usize).copied().unwrap_or(0);
            if seen.saturating_add(slack) < *last {
                found.unheard_pairs += 1;
                short = true;
            }
        }
        found.observers_short += u64::from(short);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users 0..4 in rooms by parity; everyone moves.
    fn same_room(observer: u64, sender: u64) -> bool {
        observer != sender && observer % 2 == sender % 2
    }

    #[test]
    fn a_sender_behind_by_more_than_the_slack_is_unheard() {
        let last_sequence = [100, 100, 100, 100];
        let observers = vec![
            // Observer 0 heard 2 lately; observer 1 lost 3 at move 50.
            (0, vec![0, 0, 97, 0]),
            (1, vec![0, 0, 0, 50]),
        ];
        let found = unheard(&observers, &last_sequence, same_room, 5);
        assert_eq!(
            found,
            Unheard {
                pairs: 2,
                unheard_pairs: 1,
                observers_short: 1
            }
        );
    }

    #[test]
    fn an_observer_that_saw_nothing_misses_every_room_mate() {
        let last_sequence = [10, 10, 10, 10, 10];
        let found = unheard(&[(0, Vec::new())], &last_sequence, same_room, 2);
        assert_eq!(found.pairs, 2);
        assert_eq!(found.unheard_pairs, 2);
        assert_eq!(found.observers_short, 1);
    }

    #[test]
    fn senders_that_barely_moved_are_within_the_slack() {
        let found = unheard(&[(0, Vec::new())], &[3, 0, 3, 0], same_room, 5);
        assert_eq!(found.unheard_pairs, 0);
    }
}
