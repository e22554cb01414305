//! A client's text frame, as the connection's loop hands it to
//! `ClientMessage::parse` (server/src/ws.rs).
//!
//! Asserts, beyond not panicking:
//! - the quick read of a `move` (protocol/src/quick.rs) accepts nothing
//!   the enum refuses, and reads the same point, to the bit;
//! - whatever `parse` accepts, it accepts again from the message's own
//!   JSON, as the same message: a valid message stays valid on the way
//!   back out (a name stays normalised, a coordinate exact).
#![no_main]

use cursors_protocol::{ClientMessage, quick};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // tungstenite hands the loop text frames only once they are UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(point) = quick::move_point(text) {
        match serde_json::from_str::<ClientMessage>(text) {
            Ok(ClientMessage::Move { x, y, .. }) => assert!(
                x.to_bits() == point.x.to_bits() && y.to_bits() == point.y.to_bits(),
                "the quick read says {point:?}, the enum ({x}, {y}): {text:?}"
            ),
            other => panic!("the quick read took a move the enum reads as {other:?}: {text:?}"),
        }
    }
    match ClientMessage::parse(text) {
        Ok(message) => {
            let json = message.to_json();
            assert_eq!(
                ClientMessage::parse(&json),
                Ok(message),
                "not read back from its own JSON {json:?} (from {text:?})"
            );
        }
        // The reason goes back to the client in an `error` frame.
        Err(error) => drop(error.to_string()),
    }
});
