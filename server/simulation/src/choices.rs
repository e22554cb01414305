//! Where a simulation's decisions come from: a seeded generator (the
//! simulation's runs, replayed by their seed) or a fuzzer's bytes (the
//! `room` fuzz target). Both answer the same few questions, so one schedule
//! generator serves both.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The questions a schedule asks. Every answer is in range, whatever the
/// source: the fuzzer's bytes cannot ask for an impossible step.
pub trait Choices {
    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u32) -> u32;

    /// Whether there is anything left to decide with: a seed never runs
    /// out, a fuzzer's input does.
    fn exhausted(&self) -> bool {
        false
    }

    /// True `percent` times out of a hundred.
    fn percent(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }

    /// A coordinate in `[0, 1]`, on a grid fine enough that two moves of
    /// one person rarely land on the same point.
    fn coordinate(&mut self) -> f64 {
        f64::from(self.below(1_000_001)) / 1_000_000.0
    }
}

/// Decisions drawn from a seed: the same seed, the same run.
pub struct Seeded(StdRng);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Self(StdRng::seed_from_u64(seed))
    }
}

impl Choices for Seeded {
    fn below(&mut self, bound: u32) -> u32 {
        self.0.random_range(0..bound.max(1))
    }
}

/// Decisions read from bytes, four at a time; zeros once they run out.
pub struct FromBytes<'a> {
    bytes: &'a [u8],
}

impl<'a> FromBytes<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }
}

impl Choices for FromBytes<'_> {
    fn below(&mut self, bound: u32) -> u32 {
        let take = self.bytes.len().min(4);
        let (head, rest) = self.bytes.split_at(take);
        self.bytes = rest;
        let mut word = [0u8; 4];
        word[..take].copy_from_slice(head);
        u32::from_le_bytes(word) % bound.max(1)
    }

    fn exhausted(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_decisions() {
        let draw = |seed| {
            let mut choices = Seeded::new(seed);
            (0..20).map(|_| choices.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn bytes_give_answers_in_range_and_then_run_out() {
        let mut choices = FromBytes::new(&[255, 255, 255, 255, 9]);
        assert_eq!(choices.below(10), u32::MAX % 10);
        assert!(!choices.exhausted());
        assert_eq!(choices.below(10), 9);
        assert!(choices.exhausted());
        assert_eq!(choices.below(10), 0);
        assert!((0.0..=1.0).contains(&choices.coordinate()));
    }
}
