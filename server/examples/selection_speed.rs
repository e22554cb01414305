//! How long choosing a crowd's views takes: one round of the selection rule
//! for all 64 cells of a room of 10,000 on the board, a tenth of them
//! active, each cell keeping the view it had a round before. A crowd
//! chooses again up to four times a second, so this is the part of a crowd
//! server's CPU that grows with N. A benchmark, not a test: it prints its
//! figures and asserts nothing.
//!
//!     cargo run --release -p cursors-server --example selection_speed

use std::hint::black_box;
use std::time::{Duration, Instant as WallClock};

use cursors_protocol::Point;
use cursors_server::room::crowd::grid::Cell;
use cursors_server::room::crowd::selection::{Candidate, Candidates, Shown, select};
use tokio::time::Instant;

const MEMBERS: u64 = 10_000;
/// `--visible-cursors` by default, less the one followed person.
const SLOTS: usize = 49;

/// A spread of points over the board that needs no random generator: the
/// same every run.
fn spot(key: u64) -> Point {
    let golden = 0.618_033_988_749_895;
    Point {
        x: (key as f64 * golden).fract(),
        y: (key as f64 * golden * golden).fract(),
    }
}

fn main() {
    let start = Instant::now();
    let now = start + Duration::from_secs(10);
    let list = (0..MEMBERS)
        .map(|key| Candidate {
            key,
            point: spot(key),
            last_moved: (key % 10 == 0).then_some(now - Duration::from_millis(500)),
        })
        .collect();
    let candidates = Candidates::new(list);
    let mut scratch = Vec::new();
    // Each cell's view from an earlier round, shown long enough ago that
    // it may change: the common case.
    let mut views: Vec<Vec<Shown>> = Cell::all()
        .map(|cell| select(&[], &candidates, cell.centre(), start, SLOTS, &mut scratch))
        .collect();
    // Three passes: the first warms caches up, the spread shows the noise.
    for pass in 1..=3 {
        let rounds = 50;
        let clock = WallClock::now();
        for _ in 0..rounds {
            for (cell, view) in Cell::all().zip(views.iter_mut()) {
                *view = select(
                    black_box(view),
                    &candidates,
                    cell.centre(),
                    now,
                    SLOTS,
                    &mut scratch,
                );
            }
        }
        let round = clock.elapsed() / rounds;
        println!(
            "pass {pass}: one round for 64 cells, {MEMBERS} candidates: {round:?} ({:.1} ns a candidate per cell)",
            round.as_nanos() as f64 / (64 * MEMBERS) as f64
        );
    }
}
