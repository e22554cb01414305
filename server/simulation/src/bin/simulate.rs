//! A longer search than the test's fixed seeds: runs new seeds of the room
//! and the group simulations for as many seconds as asked, and prints each failure with
//! the one command that replays it. `scripts/simulate.sh SECONDS` runs it.
//!
//!     simulate SECONDS [FIRST_SEED]
//!
//! Seeds are consecutive from FIRST_SEED (by default one taken from the
//! clock, printed, so that a run can be repeated).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cursors_simulation::{report, run_group_seed, run_seed};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(seconds) = args.first().and_then(|seconds| seconds.parse::<u64>().ok()) else {
        eprintln!("usage: simulate SECONDS [FIRST_SEED]");
        return ExitCode::from(2);
    };
    let first = match args.get(1) {
        Some(seed) => match seed.parse::<u64>() {
            Ok(seed) => seed,
            Err(_) => {
                eprintln!("FIRST_SEED must be a number, not {seed:?}");
                return ExitCode::from(2);
            }
        },
        // Far from the test's 0..2000, and different on every run.
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1 << 40, |since| since.as_secs() << 20),
    };
    println!("simulating the room from seed {first} for {seconds} s");
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    let (mut tried, mut failed, mut crowds) = (0u64, 0u64, 0u64);
    let mut seed = first;
    while std::time::Instant::now() < deadline {
        match run_seed(seed) {
            Ok(summary) => crowds += u64::from(summary.crowd_steps > 0),
            Err(failure) => {
                failed += 1;
                println!("room: {}", report(seed, &failure));
            }
        }
        if let Err(failure) = run_group_seed(seed) {
            failed += 1;
            println!("group: {}", report(seed, &failure));
        }
        tried += 1;
        seed = seed.wrapping_add(1);
    }
    println!(
        "{tried} seeds tried on the room and the group (from {first} to {}), {crowds} rooms became crowds, {failed} failed",
        seed.wrapping_sub(1)
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
