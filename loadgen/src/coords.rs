//! Coordinates that carry their own identity, at a spot of the board.
//!
//! The server relays coordinates bit-exactly, so a load generator can encode
//! who sent a move and which one it was in the numbers themselves. Each
//! coordinate is a fraction with denominator 2³⁰ (exact in an f64, and
//! exact through JSON text with `float_roundtrip`): the high ten bits are a
//! coarse position on the board (1/1024 of its side), the low twenty an
//! integer, the sequence number in `x` and the user number in `y`:
//!
//! `x = (coarse_x · 2²⁰ + sequence) / 2³⁰`, `y = (coarse_y · 2²⁰ + user) / 2³⁰`.
//!
//! The coarse position matters once a room is a crowd: there each receiver
//! is shown the people near its own pointer, so if everyone sat near (0, 0)
//! the whole room would share one cell and the benchmark would measure
//! nothing of the selection. So every user has a home spread evenly over
//! the board ([`home`], deterministic from the user number) and a mover
//! wanders on a slow circle around it ([`spot`]); the low bits still say
//! exactly who sent which move.

/// Bits of the identifying integer (sequence in `x`, user in `y`).
const IDENTITY_BITS: u32 = 20;
/// Bits of the coarse position on each axis.
const COARSE_BITS: u32 = 10;

/// Largest user index and sequence number (exclusive) that fit.
pub const LIMIT: u64 = 1 << IDENTITY_BITS;
/// Steps of the coarse position per side of the board.
const COARSE_STEPS: u64 = 1 << COARSE_BITS;
/// The common denominator, 2³⁰.
const SCALE: f64 = (1u64 << (IDENTITY_BITS + COARSE_BITS)) as f64;

/// Radius of a mover's circle, in board widths: a fifth of a cell of the
/// server's 8 × 8 grid, so a mover stays mostly near its home and
/// sometimes crosses into the next cell, as a hand does.
const WANDER_RADIUS: f64 = 0.025;
/// Moves per turn of the circle: 10 s at 30 Hz, a slow walk.
const MOVES_PER_TURN: f64 = 300.0;

/// Where a user's pointer is placed first, in `[0, 1)²`: the user number's
/// point of the R2 low-discrepancy sequence, which covers the board evenly
/// for any number of users (neighbouring numbers land far apart).
pub fn home(user: u64) -> (f64, f64) {
    // The plastic number's inverse powers (Roberts' R2 sequence).
    const STEP_X: f64 = 0.754_877_666_246_692_7;
    const STEP_Y: f64 = 0.569_840_290_998_053_3;
    let index = user as f64 + 1.0;
    (
        (0.5 + STEP_X * index).fract(),
        (0.5 + STEP_Y * index).fract(),
    )
}

/// Where a user's pointer is at its `sequence`-th move: on a slow circle
/// around its home (sequence 0, the placing move, is the home itself),
/// kept on the board.
pub fn spot(user: u64, sequence: u64) -> (f64, f64) {
    let (home_x, home_y) = home(user);
    if sequence == 0 {
        return (home_x, home_y);
    }
    let angle = std::f64::consts::TAU * sequence as f64 / MOVES_PER_TURN;
    (
        (home_x + WANDER_RADIUS * angle.cos()).clamp(0.0, 1.0),
        (home_y + WANDER_RADIUS * angle.sin()).clamp(0.0, 1.0),
    )
}

/// The coarse step of a board coordinate in `[0, 1]`.
fn coarse(coordinate: f64) -> u64 {
    ((coordinate * COARSE_STEPS as f64) as u64).min(COARSE_STEPS - 1)
}

/// The coordinates a user sends for its `sequence`-th move: at [`spot`],
/// rounded down to the coarse grid, with the identity in the low bits.
pub fn encode(user: u64, sequence: u64) -> (f64, f64) {
    let (x, y) = spot(user, sequence);
    let pack = |coarse: u64, identity: u64| {
        ((coarse << IDENTITY_BITS) | (identity % LIMIT)) as f64 / SCALE
    };
    (pack(coarse(x), sequence), pack(coarse(y), user))
}

/// `(user, sequence)` from relayed coordinates, if they are ours.
pub fn decode(x: f64, y: f64) -> Option<(u64, u64)> {
    let identity = |coordinate: f64| {
        let scaled = coordinate * SCALE;
        (scaled.fract() == 0.0 && (0.0..SCALE).contains(&scaled)).then_some(scaled as u64 % LIMIT)
    };
    Some((identity(y)?, identity(x)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cursors_protocol::{ClientMessage, CursorPosition, ServerMessage};

    /// Through the JSON text a client sends and the one a server sends back.
    fn through_json(x: f64, y: f64) -> (f64, f64) {
        let text = ClientMessage::Move { x, y, anchor: None }.to_json();
        let Ok(ClientMessage::Move { x, y, .. }) = ClientMessage::parse(&text) else {
            panic!("{text}")
        };
        let relayed = ServerMessage::Cursors {
            moves: vec![CursorPosition {
                anchor: None,
                id: "p1".into(),
                x,
                y,
            }],
        }
        .to_json();
        let Ok(ServerMessage::Cursors { moves }) = ServerMessage::parse(&relayed) else {
            panic!("{relayed}")
        };
        (moves[0].x, moves[0].y)
    }

    #[test]
    fn round_trips_through_json_text() {
        let cases = [
            (0, 0),
            (1, 1),
            (499, 123_456),
            (9_999, 17),
            (10_049, 1_799),
            (LIMIT - 1, LIMIT - 1),
        ];
        for (user, sequence) in cases {
            let (x, y) = encode(user, sequence);
            assert!((0.0..1.0).contains(&x) && (0.0..1.0).contains(&y));
            assert_eq!(decode(x, y), Some((user, sequence)), "{user} {sequence}");
            let (x, y) = through_json(x, y);
            assert_eq!(decode(x, y), Some((user, sequence)), "{user} {sequence}");
        }
    }

    #[test]
    fn every_move_of_a_walk_round_trips() {
        for user in [3, 777, 9_998] {
            for sequence in 0..MOVES_PER_TURN as u64 + 5 {
                let (x, y) = through_json(encode(user, sequence).0, encode(user, sequence).1);
                assert_eq!(decode(x, y), Some((user, sequence)));
            }
        }
    }

    #[test]
    fn the_encoded_point_lies_within_a_coarse_step_of_the_spot() {
        for (user, sequence) in [(0, 0), (42, 10), (9_999, 250)] {
            let (x, y) = encode(user, sequence);
            let (spot_x, spot_y) = spot(user, sequence);
            let step = 1.0 / COARSE_STEPS as f64;
            assert!((spot_x - x).abs() < step && (spot_y - y).abs() < step);
        }
    }

    #[test]
    fn homes_cover_the_board_evenly() {
        // 10,000 users over the server's 8 × 8 cells: about 156 each.
        let mut per_cell = [0u32; 64];
        for user in 0..10_000 {
            let (x, y) = encode(user, 0);
            per_cell[(y * 8.0) as usize * 8 + (x * 8.0) as usize] += 1;
        }
        let (least, most) = (per_cell.iter().min(), per_cell.iter().max());
        assert!(
            least >= Some(&140) && most <= Some(&172),
            "{least:?} to {most:?}"
        );
        // And the first few users (the observers) are not all in one cell.
        let cells: std::collections::BTreeSet<_> = (0..32)
            .map(|user| {
                let (x, y) = home(user);
                ((x * 8.0) as usize, (y * 8.0) as usize)
            })
            .collect();
        assert!(cells.len() >= 20, "{cells:?}");
    }

    #[test]
    fn a_mover_wanders_near_its_home_and_stays_on_the_board() {
        let (home_x, home_y) = home(5);
        let spots: Vec<_> = (1..=MOVES_PER_TURN as u64).map(|s| spot(5, s)).collect();
        let farthest = spots
            .iter()
            .map(|(x, y)| (x - home_x).hypot(y - home_y))
            .fold(0.0, f64::max);
        assert!(farthest > WANDER_RADIUS * 0.9 && farthest <= WANDER_RADIUS + 1e-12);
        // Consecutive moves differ, so every move is a real move.
        assert!(spots.windows(2).all(|pair| pair[0] != pair[1]));
        for user in 0..2_000 {
            for sequence in [1, 75, 150, 225] {
                let (x, y) = encode(user, sequence);
                assert!((0.0..1.0).contains(&x) && (0.0..1.0).contains(&y));
            }
        }
    }

    #[test]
    fn foreign_coordinates_are_not_decoded() {
        assert_eq!(decode(0.123, 0.5), None);
        assert_eq!(decode(0.5, 1.0), None);
        assert_eq!(decode(-0.5, 0.5), None);
    }
}
