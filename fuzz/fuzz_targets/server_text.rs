//! A server's text frame as the browsers read it: whatever the derive's
//! reading (`ServerMessage::parse`, the server's) accepts, the light
//! reading (`ServerMessage::parse_light`, the clients') must read as the
//! same message, and every message it reads must go back to JSON and come
//! back the same.
#![no_main]

use cursors_protocol::ServerMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let light = ServerMessage::parse_light(text);
    if let Ok(message) = ServerMessage::parse(text) {
        assert_eq!(
            light.as_ref(),
            Some(&message),
            "the derive reads {message:?}, the light way {light:?}: {text:?}"
        );
    }
    if let Some(message) = light {
        let json = message.to_json();
        assert_eq!(
            ServerMessage::parse_light(&json),
            Some(message),
            "not read back from its own JSON {json:?} (from {text:?})"
        );
    }
});
