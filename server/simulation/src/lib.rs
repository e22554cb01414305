//! Faults nobody thought of, looked for by simulation (issue 27): the
//! room's rules (`cursors_server::room::state::RoomState`) driven through
//! thousands of seeded random schedules, with invariants checked after
//! every step. No network, no clock, no task: the rules take their inputs
//! and the time as arguments, so a run is a pure function of its seed, and
//! a failure is replayed exactly by running that seed again.
//!
//! - [`choices`]: where decisions come from: a seed, or a fuzzer's bytes;
//! - [`page`]: what one page knows, built only from what it was sent;
//! - [`room`]: one room, its schedule, the truth beside it, the invariants;
//! - [`group`]: three servers sharing a room through the replication rules
//!   over a simulated Redis that delays, drops while cut off, and loses a
//!   server: after healing, they agree, and a dead server's people are gone.
//!
//! `cargo test -p cursors-simulation` tries a fixed set of seeds (every CI
//! run); `scripts/simulate.sh SECONDS` tries new ones for as long as asked;
//! `SIMULATION_SEED=N cargo test -p cursors-simulation` replays one.

pub mod choices;
pub mod group;
pub mod page;
pub mod room;

use choices::Seeded;
pub use room::{Failure, RoomSimulation, Summary};

/// Steps in one run: long enough to cross the crowd threshold both ways
/// and to outlive several grace periods.
pub const STEPS: usize = 400;

/// Runs the room simulation for one seed.
pub fn run_seed(seed: u64) -> Result<Summary, Failure> {
    let mut choices = Seeded::new(seed);
    RoomSimulation::new(&mut choices, seed).run(&mut choices, STEPS)
}

/// Runs the group simulation for one seed; returns the steps it took.
pub fn run_group_seed(seed: u64) -> Result<usize, Failure> {
    let mut choices = Seeded::new(seed);
    group::GroupSimulation::new(seed).run(&mut choices, STEPS)
}

/// The one command that replays a seed, printed with every failure.
pub fn replay_command(seed: u64) -> String {
    format!("SIMULATION_SEED={seed} cargo test -p cursors-simulation --test seeds")
}

/// A failure as a reader needs it: the seed, what broke, the steps before.
pub fn report(seed: u64, failure: &Failure) -> String {
    let mut text = format!(
        "seed {seed} failed at step {}: {}\n  replay: {}\n  the steps before:\n",
        failure.step,
        failure.what,
        replay_command(seed)
    );
    for line in &failure.history {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    text
}
