//! Coordinates that carry their own identity.
//!
//! The server relays coordinates bit-exactly, so a load generator can encode
//! who sent a move and which one it was in the numbers themselves:
//! `x = sequence / 2^20`, `y = user / 2^20`. Fractions with a power-of-two
//! denominator are exact in an f64, so decoding recovers both integers and
//! the receiver can look up when that move was sent.

const SCALE: f64 = (1u64 << 20) as f64;

/// Largest user index and sequence number that fit in `[0, 1]`.
pub const LIMIT: u64 = 1 << 20;

pub fn encode(user: u64, sequence: u64) -> (f64, f64) {
    (
        (sequence % LIMIT) as f64 / SCALE,
        (user % LIMIT) as f64 / SCALE,
    )
}

/// `(user, sequence)` from relayed coordinates, if they are ours.
pub fn decode(x: f64, y: f64) -> Option<(u64, u64)> {
    let sequence = x * SCALE;
    let user = y * SCALE;
    (sequence.fract() == 0.0 && user.fract() == 0.0).then_some((user as u64, sequence as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_text() {
        for (user, sequence) in [(0, 0), (1, 1), (499, 123_456), (9_999, LIMIT - 1)] {
            let (x, y) = encode(user, sequence);
            assert!((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y));
            let text = cursors_protocol::ClientMessage::Move { x, y }.to_json();
            let Ok(cursors_protocol::ClientMessage::Move { x, y }) =
                cursors_protocol::ClientMessage::parse(&text)
            else {
                panic!("{text}")
            };
            assert_eq!(decode(x, y), Some((user, sequence)));
        }
    }

    #[test]
    fn foreign_coordinates_are_not_decoded() {
        assert_eq!(decode(0.123, 0.5), None);
    }
}
