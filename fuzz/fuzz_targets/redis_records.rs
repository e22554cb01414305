//! What a server reads back from Redis (server/src/room/redis/): a user's
//! record from the room's `users` hash (`read_records`, `claim`), and a
//! message on the room's channel, read the quick way (`Received`: the
//! sender, then the body) as the dispatch task reads it. Redis holds what
//! other servers wrote, so nothing here may panic on any text.
//!
//! Asserts, beyond not panicking:
//! - a record read is written back as the same record;
//! - the quick envelope read agrees with serde's reading of `Envelope`
//!   wherever both accept it, and accepts whatever serde accepts but a
//!   variant's index in place of its tag's name and a repeated field of
//!   another kind's body (serde never looks at it); what only the quick read
//!   accepts is what it skips unread (a lone surrogate escape, or a number
//!   no f64 holds, in a field it does not look into);
//! - the same for a published message's body: the quick read of a
//!   `cursors` frame (protocol/src/quick.rs) against the enum.
#![no_main]

use cursors_protocol::{ServerMessage, quick};
use cursors_server::fuzzing::{Envelope, Received, UserRecord};
use libfuzzer_sys::fuzz_target;

/// What serde_json says of a value it does not decode when it skips it
/// unread, and refuses when it reads it: a string escape, or a number no
/// f64 holds (serde's derive buffers every field of the envelope, and so
/// reads numbers the quick read skips; found by an hour's run).
fn only_read_values_refuse(error: &serde_json::Error) -> bool {
    let error = error.to_string();
    ["surrogate", "hex escape", "unicode code point", "number out of range"]
        .iter()
        .any(|what| error.contains(what))
}

fuzz_target!(|data: &[u8]| {
    // fred hands the server a message's or a field's value as UTF-8 text,
    // or the server counts an error and drops it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(record) = serde_json::from_str::<UserRecord>(text) {
        let user = record.user();
        assert_eq!(user.id, record.peer.id);
        let json = serde_json::to_string(&record).expect("a record serialises");
        let back: UserRecord = serde_json::from_str(&json).expect("its own JSON reads back");
        assert_eq!(back, record, "{json}");
    }

    let serde = serde_json::from_str::<Envelope>(text);
    // As the dispatch task reads it: the sender first (a server's own
    // messages stop there), then the body.
    let received = serde_json::from_str::<Received>(text);
    let quick = received.and_then(Received::envelope);
    match (&quick, &serde) {
        (Ok(quick), Ok(serde)) => assert_eq!(quick, serde, "{text}"),
        (Err(error), Ok(serde)) => {
            // serde reads a variant's index in place of its name when the
            // tag was buffered first, as Envelope's flattened body is
            // (`"kind":2`, `"type":5`); the quick read reads the tag itself
            // and wants the name, as the protocol says. And a field given
            // twice that the body's kind does not use (`"id"` beside a
            // `message`) is ignored by serde, refused by the quick read,
            // which reads every field it knows. Anything else serde
            // reads, the quick read must too: the same envelope, written
            // out again, reads back as itself.
            assert!(
                ["invalid type: integer", "duplicate field"]
                    .iter()
                    .any(|allowed| error.to_string().starts_with(allowed)),
                "serde reads {serde:?}, the quick read refuses it ({error}): {text}"
            );
            let json = serde_json::to_string(serde).expect("an envelope serialises");
            let again = serde_json::from_str::<Received>(&json).and_then(Received::envelope);
            assert_eq!(again.as_ref().ok(), Some(serde), "{json}");
        }
        (Ok(quick), Err(error)) => assert!(
            only_read_values_refuse(error),
            "the quick read takes {quick:?}, serde refuses it ({error}): {text}"
        ),
        (Err(_), Err(_)) => {}
    }

    if let Some(moves) = quick::cursors(text) {
        match serde_json::from_str::<ServerMessage>(text) {
            Ok(ServerMessage::Cursors { moves: read }) => {
                let bits = |moves: &[cursors_protocol::CursorPosition]| {
                    moves
                        .iter()
                        .map(|position| {
                            (
                                position.id.clone(),
                                position.x.to_bits(),
                                position.y.to_bits(),
                            )
                        })
                        .collect::<Vec<_>>()
                };
                assert_eq!(bits(&moves), bits(&read), "{text}");
            }
            Err(error) if only_read_values_refuse(&error) => {}
            other => {
                panic!("the quick read took a cursors frame the enum reads as {other:?}: {text}")
            }
        }
    }
});
