//! A room's rules (`RoomState`) driven by a schedule read from the fuzzer's
//! bytes: the room simulation (server/simulation), whose `FromBytes`
//! answers each of its choices four bytes at a time, in place of a seed.
//! The run ends when the bytes do (or after the simulation's usual number
//! of steps).
//!
//! Asserts every invariant the simulation checks after every step (one
//! member per person, no ghost, latest positions delivered, order, crowd
//! limits, grace: see server/simulation/src/room.rs); a broken one panics
//! with the step and the steps before it, so libFuzzer keeps the input.
#![no_main]

use cursors_simulation::choices::{Choices, FromBytes};
use cursors_simulation::{RoomSimulation, STEPS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut choices = FromBytes::new(data);
    // The room's own generator (ids, tokens) is seeded from the input too.
    let room_seed = u64::from(choices.below(u32::MAX));
    let simulation = RoomSimulation::new(&mut choices, room_seed);
    if let Err(failure) = simulation.run(&mut choices, STEPS) {
        panic!(
            "invariant broken at step {}: {}\nthe steps before:\n{}",
            failure.step,
            failure.what,
            failure.history.join("\n")
        );
    }
});
