//! How long parsing the two most frequent frames takes: a client's `move`
//! and a `cursors` batch of 100 positions, by `parse` (which reads them the
//! quick way) and by serde's derive of the whole enum (the general way).
//! A benchmark, not a test: it prints its figures and asserts nothing.
//!
//!     cargo run --release -p cursors-protocol --example parse_speed

use std::hint::black_box;
use std::time::{Duration, Instant};

use cursors_protocol::{ClientMessage, CursorPosition, ServerMessage};

/// The mean time of one call of `parse` over `rounds` calls.
fn mean_time<T>(rounds: u32, mut parse: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(parse());
    }
    start.elapsed() / rounds
}

fn main() {
    let moves: Vec<CursorPosition> = (0..100)
        .map(|index| CursorPosition {
            anchor: None,
            id: format!("ab{index:04}"),
            x: 0.123_456 + f64::from(index) / 1000.0,
            y: 0.654_321,
        })
        .collect();
    let batch = ServerMessage::Cursors { moves }.to_json();
    let one_move = ClientMessage::Move {
        anchor: None,
        x: 0.4215,
        y: 0.1337,
    }
    .to_json();
    // Three passes: the first warms caches up, the spread shows the noise.
    for pass in 1..=3 {
        let general = mean_time(20_000, || {
            serde_json::from_str::<ServerMessage>(black_box(&batch))
        });
        let quick = mean_time(20_000, || ServerMessage::parse(black_box(&batch)));
        println!(
            "pass {pass}: cursors, 100 positions ({} bytes): serde's derive {general:?}, ServerMessage::parse {quick:?}",
            batch.len()
        );
        let general = mean_time(200_000, || {
            serde_json::from_str::<ClientMessage>(black_box(&one_move))
        });
        let quick = mean_time(200_000, || ClientMessage::parse(black_box(&one_move)));
        println!("pass {pass}: move: serde's derive {general:?}, ClientMessage::parse {quick:?}");
    }
}
