//! A binary frame. The server refuses every binary frame a client sends
//! (server/src/ws.rs answers `bad_message` without reading it); the one
//! binary layout of the protocol is the `cursors` frame the server sends
//! to clients that offer `cursors.binary.v1` (protocol/src/binary.rs),
//! which the page, the load generator and the tests decode.
//!
//! Asserts, beyond not panicking: a frame the decoder accepts has exactly
//! the positions `for_each_cursor` visits, and encodes back to the very
//! same bytes (ids, and every float to the bit).
#![no_main]

use cursors_protocol::binary::{decode_cursors, encode_cursors, for_each_cursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    let mut visited = Vec::new();
    let walked = for_each_cursor(frame, |id, x, y| {
        visited.push((id.to_owned(), x.to_bits(), y.to_bits()))
    });
    match decode_cursors(frame) {
        Ok(moves) => {
            assert_eq!(walked, Ok(()));
            let decoded: Vec<_> = moves
                .iter()
                .map(|position| {
                    (
                        position.id.clone(),
                        position.x.to_bits(),
                        position.y.to_bits(),
                    )
                })
                .collect();
            assert_eq!(decoded, visited);
            assert_eq!(encode_cursors(&moves), frame, "{moves:?}");
        }
        Err(error) => assert_eq!(walked, Err(error)),
    }
});
