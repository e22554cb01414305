//! The types against the examples of PROTOCOL.md, spelled exactly as there.
//!
//! Each example is parsed into our type and serialised back; the result must
//! be the same JSON value (key order aside). Then every bad input of the
//! protocol's table must be refused by `ClientMessage::parse`.

use cursors_protocol::{
    Anchor, ClientMessage, CursorPosition, Point, ProtocolError, ServerMessage,
};
use serde_json::Value;

fn same_json(left: &str, right: &str) {
    let left: Value = serde_json::from_str(left).unwrap();
    let right: Value = serde_json::from_str(right).unwrap();
    assert_eq!(left, right);
}

fn client_round_trip(text: &str) -> ClientMessage {
    let message = ClientMessage::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    same_json(&message.to_json(), text);
    message
}

fn server_round_trip(text: &str) -> ServerMessage {
    let message = ServerMessage::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    same_json(&message.to_json(), text);
    // The browsers' light reading gives the same message.
    assert_eq!(
        ServerMessage::parse_light(text).as_ref(),
        Some(&message),
        "{text}"
    );
    message
}

#[test]
fn client_messages_match_the_protocol() {
    assert_eq!(
        client_round_trip(r#"{"type":"hello","name":"Ada"}"#),
        ClientMessage::Hello { name: "Ada".into() }
    );
    assert_eq!(
        client_round_trip(r#"{"type":"move","x":0.4215,"y":0.1337}"#),
        ClientMessage::Move {
            anchor: None,
            x: 0.4215,
            y: 0.1337
        }
    );
    assert_eq!(
        client_round_trip(r#"{"type":"leave"}"#),
        ClientMessage::Leave
    );
    assert_eq!(
        client_round_trip(r#"{"type":"ping","id":42}"#),
        ClientMessage::Ping { id: 42 }
    );
    // Additions of this project (docs/PROTOCOL.md): cursor chat and away.
    assert_eq!(
        client_round_trip(r#"{"type":"say","text":"hi!"}"#),
        ClientMessage::Say { text: "hi!".into() }
    );
    assert_eq!(
        client_round_trip(r#"{"type":"say","text":""}"#),
        ClientMessage::Say {
            text: String::new()
        }
    );
    assert_eq!(
        client_round_trip(r#"{"type":"presence","away":true}"#),
        ClientMessage::Presence { away: true }
    );
    // The crowd (issue 18): follow someone, or nobody.
    assert_eq!(
        client_round_trip(r#"{"type":"follow","id":"k3f9x2"}"#),
        ClientMessage::Follow {
            id: Some("k3f9x2".into())
        }
    );
    assert_eq!(
        client_round_trip(r#"{"type":"follow","id":null}"#),
        ClientMessage::Follow { id: None }
    );
    assert_eq!(
        ClientMessage::parse(r#"{"type":"follow"}"#).unwrap(),
        ClientMessage::Follow { id: None }
    );
    // The social layer (issue 19).
    assert_eq!(
        client_round_trip(r#"{"type":"react","emoji":"👍"}"#),
        ClientMessage::React {
            emoji: "👍".into()
        }
    );
    assert_eq!(
        client_round_trip(r#"{"type":"point","x":0.25,"y":0.75}"#),
        ClientMessage::Point { x: 0.25, y: 0.75 }
    );
    assert_eq!(
        client_round_trip(r#"{"type":"laser","on":true}"#),
        ClientMessage::Laser { on: true }
    );
    assert_eq!(
        client_round_trip(r#"{"type":"spotlight","on":false}"#),
        ClientMessage::Spotlight { on: false }
    );
}

#[test]
fn anchored_positions_match_the_protocol() {
    let intro = Anchor {
        id: "intro".into(),
        x: 0.3,
        y: 0.6,
    };
    assert_eq!(
        client_round_trip(
            r#"{"type":"move","x":0.41,"y":0.12,"anchor":{"id":"intro","x":0.3,"y":0.6}}"#
        ),
        ClientMessage::Move {
            x: 0.41,
            y: 0.12,
            anchor: Some(intro.clone()),
        }
    );
    assert_eq!(
        server_round_trip(
            r#"{"type":"cursors","moves":[{"id":"p1","x":0.41,"y":0.12,"anchor":{"id":"intro","x":0.3,"y":0.6}}]}"#
        ),
        ServerMessage::Cursors {
            moves: vec![CursorPosition {
                id: "p1".into(),
                x: 0.41,
                y: 0.12,
                anchor: Some(intro),
            }]
        }
    );
    for bad in [
        r#"{"type":"move","x":0.5,"y":0.5,"anchor":{"id":"","x":0.3,"y":0.6}}"#,
        r#"{"type":"move","x":0.5,"y":0.5,"anchor":{"id":"a\u0007b","x":0.3,"y":0.6}}"#,
        r#"{"type":"move","x":0.5,"y":0.5,"anchor":{"id":"intro","x":1.5,"y":0.6}}"#,
        r#"{"type":"move","x":0.5,"y":0.5,"anchor":{"id":"intro","x":0.3,"y":-0.1}}"#,
    ] {
        assert_eq!(
            ClientMessage::parse(bad),
            Err(ProtocolError::BadAnchor),
            "{bad}"
        );
    }
    let long = format!(
        r#"{{"type":"move","x":0.5,"y":0.5,"anchor":{{"id":"{}","x":0,"y":0}}}}"#,
        "a".repeat(65)
    );
    assert_eq!(ClientMessage::parse(&long), Err(ProtocolError::BadAnchor));
}

#[test]
fn every_listed_reaction_is_accepted_as_written_in_the_protocol() {
    // PROTOCOL.md lists the set in this order; the page offers it on 1 to 6.
    assert_eq!(
        cursors_protocol::REACTIONS,
        ["👍", "❤️", "😂", "🎉", "😮", "👀"]
    );
    for emoji in cursors_protocol::REACTIONS {
        let text = ClientMessage::React {
            emoji: emoji.into(),
        }
        .to_json();
        assert_eq!(
            ClientMessage::parse(&text).unwrap(),
            ClientMessage::React {
                emoji: emoji.into()
            }
        );
    }
}

#[test]
fn server_messages_match_the_protocol() {
    let welcome = server_round_trip(
        r##"{"type":"welcome","id":"k3f9","name":"Ada","color":"#e5484d","peers":[{"id":"p1","name":"Bo","color":"#30a46c","x":0.5,"y":0.5}]}"##,
    );
    let ServerMessage::Welcome { peers, .. } = welcome else {
        panic!("not a welcome")
    };
    assert_eq!(
        peers[0].position().map(|point| (point.x, point.y)),
        Some((0.5, 0.5))
    );

    // A hidden peer has no x/y at all (not null).
    let hidden_peer = server_round_trip(
        r##"{"type":"welcome","id":"k3f9","name":"Ada","color":"#e5484d","peers":[{"id":"p1","name":"Bo","color":"#30a46c"}]}"##,
    );
    let ServerMessage::Welcome { peers, .. } = hidden_peer else {
        panic!("not a welcome")
    };
    assert_eq!(peers[0].position(), None);

    server_round_trip(r##"{"type":"joined","peer":{"id":"p1","name":"Bo","color":"#30a46c"}}"##);
    server_round_trip(r#"{"type":"renamed","id":"p1","name":"Bob"}"#);
    server_round_trip(r#"{"type":"cursors","moves":[{"id":"p1","x":0.5,"y":0.5}]}"#);
    server_round_trip(r#"{"type":"hidden","id":"p1"}"#);
    server_round_trip(r#"{"type":"left","id":"p1"}"#);
    server_round_trip(r#"{"type":"pong","id":42}"#);
    server_round_trip(r#"{"type":"said","id":"p1","text":"hello"}"#);
    server_round_trip(r#"{"type":"presence","id":"p1","away":false}"#);
    server_round_trip(
        r##"{"type":"welcome","id":"k3f9","name":"Ada","color":"#e5484d","peers":[{"id":"p1","name":"Bo","color":"#30a46c","away":true}]}"##,
    );
    server_round_trip(
        r##"{"type":"welcome","id":"k3f9","name":"Ada","color":"#e5484d","peers":[{"id":"p1","name":"Bo","color":"#30a46c","away":true}]}"##,
    );
    server_round_trip(
        r##"{"type":"welcome","id":"k3f9","name":"Ada","color":"#e5484d","peers":[],"resume":"0123456789abcdef0123456789abcdef"}"##,
    );
    server_round_trip(r#"{"type":"error","code":"bad_message","message":"…"}"#);
    // The crowd (issue 18).
    let heat = vec!["0"; 64].join(",");
    server_round_trip(&format!(
        r#"{{"type":"crowd","active":true,"total":10000,"heat":[{heat}]}}"#
    ));
    server_round_trip(r#"{"type":"crowd","active":false,"total":40,"heat":[]}"#);
    let view = server_round_trip(
        r##"{"type":"view","enter":[{"id":"p1","name":"Bo","color":"#30a46c","x":0.5,"y":0.5}],"exit":["p2"]}"##,
    );
    assert!(matches!(view, ServerMessage::View { ref exit, .. } if exit == &["p2"]));
    // The social layer (issue 19).
    server_round_trip(r#"{"type":"reacted","id":"p1","emoji":"🎉"}"#);
    server_round_trip(r#"{"type":"pointed","id":"p1","x":0.5,"y":0.25}"#);
    server_round_trip(r#"{"type":"laser","id":"p1","on":true}"#);
    server_round_trip(r#"{"type":"spotlight","id":"p1","on":false}"#);
}

#[test]
fn per_person_messages_name_their_subject() {
    for (text, subject) in [
        (
            r##"{"type":"joined","peer":{"id":"p1","name":"Bo","color":"#30a46c"}}"##,
            Some("p1"),
        ),
        (r#"{"type":"renamed","id":"p2","name":"Bob"}"#, Some("p2")),
        (r#"{"type":"hidden","id":"p3"}"#, Some("p3")),
        (r#"{"type":"left","id":"p4"}"#, Some("p4")),
        (r#"{"type":"said","id":"p5","text":"hi"}"#, Some("p5")),
        (r#"{"type":"presence","id":"p6","away":true}"#, Some("p6")),
        (r#"{"type":"reacted","id":"p7","emoji":"👍"}"#, Some("p7")),
        (
            r#"{"type":"pointed","id":"p8","x":0.5,"y":0.5}"#,
            Some("p8"),
        ),
        (r#"{"type":"laser","id":"p9","on":true}"#, Some("p9")),
        (r#"{"type":"spotlight","id":"pa","on":true}"#, Some("pa")),
        (
            r#"{"type":"cursors","moves":[{"id":"p1","x":0.5,"y":0.5}]}"#,
            None,
        ),
        (r#"{"type":"pong","id":42}"#, None),
    ] {
        let message = ServerMessage::parse(text).unwrap();
        assert_eq!(message.subject(), subject, "{text}");
    }
}

// ANCHOR: exact-coordinates
#[test]
fn coordinates_are_relayed_exactly() {
    // The server re-serialises what it parsed; the value must come back
    // bit-for-bit so a client can recognise its own coordinates.
    for (x, y) in [
        (0.1, 0.2),
        (0.123456789012345, 1.0),
        (0.0, 5e-324),
        (1.0 / 3.0, 1.0 - 1.0 / 977.0),
    ] {
        let text = ClientMessage::Move { x, y, anchor: None }.to_json();
        let ClientMessage::Move {
            x: parsed_x,
            y: parsed_y,
            ..
        } = ClientMessage::parse(&text).unwrap()
        else {
            panic!("not a move")
        };
        assert_eq!(
            (parsed_x.to_bits(), parsed_y.to_bits()),
            (x.to_bits(), y.to_bits())
        );
    }
}
// ANCHOR_END: exact-coordinates

#[test]
fn hello_names_are_trimmed() {
    assert_eq!(
        ClientMessage::parse(r#"{"type":"hello","name":"  Ada  "}"#).unwrap(),
        ClientMessage::Hello { name: "Ada".into() }
    );
}

#[test]
fn every_bad_input_of_the_table_is_refused() {
    let long_say = format!(r#"{{"type":"say","text":"{}"}}"#, "x".repeat(65));
    let bad_inputs = [
        ("not JSON", "hello there"),
        ("truncated JSON", r#"{"type":"move","x":0.1"#),
        ("JSON but not an object", "[1,2,3]"),
        ("no type", r#"{"x":0.1,"y":0.2}"#),
        ("unknown type", r#"{"type":"teleport","x":0.1,"y":0.2}"#),
        ("missing field", r#"{"type":"move","x":0.1}"#),
        ("wrong-typed field", r#"{"type":"move","x":"0.1","y":0.2}"#),
        ("wrong-typed name", r#"{"type":"hello","name":7}"#),
        ("wrong-typed ping id", r#"{"type":"ping","id":"42"}"#),
        ("negative ping id", r#"{"type":"ping","id":-1}"#),
        ("x below 0", r#"{"type":"move","x":-0.01,"y":0.5}"#),
        ("y above 1", r#"{"type":"move","x":0.5,"y":1.0000001}"#),
        (
            "huge exponent (not finite)",
            r#"{"type":"move","x":1e400,"y":0.5}"#,
        ),
        ("NaN literal", r#"{"type":"move","x":NaN,"y":0.5}"#),
        ("empty name", r#"{"type":"hello","name":"   "}"#),
        (
            "long name",
            &format!(r#"{{"type":"hello","name":"{}"}}"#, "x".repeat(33)),
        ),
        (
            "control character in name",
            r#"{"type":"hello","name":"A\u0000da"}"#,
        ),
        ("chat text over 64 characters", &long_say),
        (
            "control character in chat",
            r#"{"type":"say","text":"a\nb"}"#,
        ),
        ("wrong-typed chat text", r#"{"type":"say","text":5}"#),
        ("empty follow id", r#"{"type":"follow","id":""}"#),
        (
            "follow id over 64 characters",
            &format!(r#"{{"type":"follow","id":"{}"}}"#, "x".repeat(65)),
        ),
        ("wrong-typed follow id", r#"{"type":"follow","id":7}"#),
        (
            "a reaction not in the set",
            r#"{"type":"react","emoji":"👎"}"#,
        ),
        ("text as a reaction", r#"{"type":"react","emoji":"hello"}"#),
        ("empty reaction", r#"{"type":"react","emoji":""}"#),
        ("no emoji", r#"{"type":"react"}"#),
        ("point off the board", r#"{"type":"point","x":1.5,"y":0.5}"#),
        ("point not finite", r#"{"type":"point","x":1e400,"y":0.5}"#),
        ("wrong-typed laser", r#"{"type":"laser","on":"yes"}"#),
        ("spotlight without on", r#"{"type":"spotlight"}"#),
    ];
    for (what, text) in bad_inputs {
        let refusal = ClientMessage::parse(text);
        assert!(refusal.is_err(), "{what} was accepted: {text}");
    }
    // The specific reasons, where the table names them.
    assert_eq!(
        ClientMessage::parse(r#"{"type":"move","x":2,"y":0.5}"#),
        Err(ProtocolError::CoordinateOutOfRange)
    );
    assert!(matches!(
        ClientMessage::parse(r#"{"type":"hello","name":""}"#),
        Err(ProtocolError::BadName(_))
    ));
    assert_eq!(
        ClientMessage::parse(r#"{"type":"react","emoji":"👎"}"#),
        Err(ProtocolError::UnknownReaction)
    );
    assert_eq!(
        ClientMessage::parse(r#"{"type":"point","x":0.5,"y":-0.1}"#),
        Err(ProtocolError::CoordinateOutOfRange)
    );
}

#[test]
fn unknown_extra_fields_are_tolerated() {
    // Additions to the protocol must not break older servers.
    assert_eq!(
        ClientMessage::parse(r#"{"type":"move","x":0.5,"y":0.5,"pressure":0.3}"#).unwrap(),
        ClientMessage::Move {
            x: 0.5,
            y: 0.5,
            anchor: None
        }
    );
}

#[test]
fn a_cursors_frame_reads_the_same_by_the_quick_path_and_the_general_one() {
    // `ServerMessage::parse` reads `cursors` frames without serde's generic
    // tree; whatever the spelling, it must agree with serde's derive, for
    // what it accepts and for what it refuses.
    let general = |text: &str| serde_json::from_str::<ServerMessage>(text).ok();
    for text in [
        r#"{"type":"cursors","moves":[]}"#,
        r#"{"type":"cursors","moves":[{"id":"p1","x":0.5,"y":0.25},{"id":"p2","x":1,"y":0}]}"#,
        // Keys in another order, and fields added by a later protocol.
        r#"{"moves":[{"y":0.75,"x":0.125,"id":"p1","pressure":1}],"type":"cursors","seq":7}"#,
        // Other types, and frames that are not `cursors` batches at all.
        r#"{"type":"hidden","id":"p1"}"#,
        r#"{"type":"pong","id":42}"#,
        r#"{"type":"cursor","moves":[]}"#,
        r#"{"type":"cursors"}"#,
        r#"{"type":"cursors","moves":[{"id":"p1","x":"left","y":0}]}"#,
        r#"{"type":"cursors","moves":[{"id":"p1","x":0.5}]}"#,
        r#"{"moves":[]}"#,
        r#"[1,2]"#,
        "",
        // Shapes a plain struct would take but the enum does not, or the
        // other way round: the quick way must leave them to the enum.
        r#"{"type":{"cursors":null},"moves":[]}"#,
        r#"["cursors",[]]"#,
        r#"{"type":"cursors","type":"cursors","moves":[]}"#,
        r#"{"type":"cursors","moves":[],"moves":[]}"#,
        r#"{"type":"cursors","moves":null}"#,
        r#"{"type":null,"moves":[]}"#,
        r#"{"type":"Cursors","moves":[]}"#,
        r#"{"type":"curs\u006frs","moves":[]}"#,
        r#"{"type":"cursors","moves":[],"note":"\ud800"}"#,
        r#"{"type":"cursors","moves":[],"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
    ] {
        assert_eq!(ServerMessage::parse(text).ok(), general(text), "{text}");
    }
    // And what it reads is the batch, position by position.
    assert_eq!(
        ServerMessage::parse(r#"{"moves":[{"id":"p1","x":0.5,"y":0.25}],"type":"cursors"}"#)
            .unwrap(),
        ServerMessage::Cursors {
            moves: vec![CursorPosition {
                anchor: None,
                id: "p1".into(),
                x: 0.5,
                y: 0.25
            }]
        }
    );
}

#[test]
fn a_move_reads_the_same_by_the_quick_path_and_the_general_one() {
    // `ClientMessage::parse` reads `move` without serde's generic tree; it
    // must accept and refuse exactly what serde's derive (and the board's
    // rule) would.
    for text in [
        r#"{"type":"move","x":0.4215,"y":0.1337}"#,
        r#"{"y":1,"x":0,"type":"move"}"#,
        r#"{"type":"move","x":0.5,"y":0.5,"pressure":0.3}"#,
        r#"{"type":"move","x":0.5}"#,
        r#"{"type":"move","x":"0.5","y":0.5}"#,
        r#"{"type":"move","x":1.5,"y":0.5}"#,
        r#"{"type":"moved","x":0.5,"y":0.5}"#,
        r#"{"type":"point","x":0.5,"y":0.5}"#,
        r#"{"x":0.5,"y":0.5}"#,
        "",
        r#"{"type":{"move":null},"x":0.5,"y":0.5}"#,
        r#"[{"move":null},0.5,0.5]"#,
        r#"["move",0.5,0.5]"#,
        r#"{"type":"move","type":"move","x":0.5,"y":0.5}"#,
        r#"{"type":"move","x":0.5,"x":0.25,"y":0.5}"#,
        r#"{"type":"move","x":null,"y":0.5}"#,
        r#"{"type":"mo\u0076e","x":0.5,"y":0.5}"#,
        r#"{"type":"move","x":0.5,"y":0.5,"z":"\ud800"}"#,
        "  \n{\"type\":\"move\",\"x\":0.5,\"y\":0.5}",
    ] {
        let general = serde_json::from_str::<ClientMessage>(text)
            .ok()
            .filter(|message| match message {
                ClientMessage::Move { x, y, .. } | ClientMessage::Point { x, y } => {
                    Point { x: *x, y: *y }.is_on_board()
                }
                _ => true,
            });
        assert_eq!(ClientMessage::parse(text).ok(), general, "{text}");
    }
}

/// A small seeded generator (xorshift64*), so the generated frames are the
/// same in every run.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
    fn fraction(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self) -> bool {
        self.below(2) == 0
    }
    fn text(&mut self) -> String {
        let pieces = ["a", "Zoë", "\"", "\\", "😀", "\n", " ", "id-7", "{\"x\":1}"];
        (0..self.below(4))
            .map(|_| pieces[self.below(pieces.len() as u64) as usize])
            .collect()
    }
    fn anchor(&mut self) -> Option<Anchor> {
        self.chance().then(|| Anchor {
            id: self.text(),
            x: self.fraction(),
            y: self.fraction(),
        })
    }
    fn snapshot(&mut self) -> cursors_protocol::PeerSnapshot {
        let shown = self.chance();
        cursors_protocol::PeerSnapshot {
            verified: self.chance(),
            id: self.text(),
            name: self.text(),
            color: self.text(),
            x: shown.then(|| self.fraction()),
            y: shown.then(|| self.fraction()),
            away: self.chance(),
            anchor: self.anchor(),
        }
    }
    fn message(&mut self) -> ServerMessage {
        match self.below(17) {
            0 => ServerMessage::Welcome {
                verified: self.chance(),
                id: self.text(),
                name: self.text(),
                color: self.text(),
                peers: (0..self.below(3)).map(|_| self.snapshot()).collect(),
                resume: self.chance().then(|| self.text()),
                expires: self.chance().then(|| self.next()),
            },
            1 => ServerMessage::Joined {
                peer: cursors_protocol::PeerInfo {
                    verified: self.chance(),
                    id: self.text(),
                    name: self.text(),
                    color: self.text(),
                },
            },
            2 => ServerMessage::Renamed {
                id: self.text(),
                name: self.text(),
            },
            3 => ServerMessage::Cursors {
                moves: (0..self.below(4))
                    .map(|_| CursorPosition {
                        id: self.text(),
                        x: self.fraction(),
                        y: self.fraction(),
                        anchor: self.anchor(),
                    })
                    .collect(),
            },
            4 => ServerMessage::Hidden { id: self.text() },
            5 => ServerMessage::Left { id: self.text() },
            6 => ServerMessage::Pong { id: self.next() },
            7 => ServerMessage::Refreshed {
                expires: self.next(),
            },
            8 => ServerMessage::Said {
                id: self.text(),
                text: self.text(),
            },
            9 => ServerMessage::Presence {
                id: self.text(),
                away: self.chance(),
            },
            10 => ServerMessage::Error {
                code: cursors_protocol::ErrorCode::BadMessage,
                message: self.text(),
            },
            11 => ServerMessage::Crowd {
                active: self.chance(),
                total: self.next(),
                heat: (0..self.below(65)).map(|_| self.next() as u32).collect(),
            },
            12 => ServerMessage::View {
                enter: (0..self.below(3)).map(|_| self.snapshot()).collect(),
                exit: (0..self.below(3)).map(|_| self.text()).collect(),
            },
            13 => ServerMessage::Reacted {
                id: self.text(),
                emoji: self.text(),
            },
            14 => ServerMessage::Pointed {
                id: self.text(),
                x: self.fraction(),
                y: self.fraction(),
            },
            15 => ServerMessage::Laser {
                id: self.text(),
                on: self.chance(),
            },
            _ => ServerMessage::Spotlight {
                id: self.text(),
                on: self.chance(),
            },
        }
    }
}

#[test]
fn the_light_reading_and_the_derive_agree_on_generated_frames() {
    let mut draws = Draws(0x9e37_79b9_7f4a_7c15);
    for _ in 0..5_000 {
        let message = draws.message();
        let text = message.to_json();
        assert_eq!(
            ServerMessage::parse(&text).ok().as_ref(),
            Some(&message),
            "{text}"
        );
        assert_eq!(ServerMessage::parse_light(&text), Some(message), "{text}");
    }
}

#[test]
fn the_light_reading_refuses_what_the_derive_refuses() {
    for text in [
        r#"[]"#,
        r#"{"type":"nothing"}"#,
        r#"{"type":"pong","id":1.5}"#,
        r#"{"type":"pong","id":-1}"#,
        r#"{"type":"left"}"#,
        r#"{"type":"welcome","id":"a","name":"b","color":"c","peers":[{"id":"d"}]}"#,
        r#"{"type":"welcome","id":"a","name":"b","color":"c","peers":[],"resume":7}"#,
        r#"{"type":"view","enter":[{"id":"a","name":"b","color":"c","away":null}],"exit":[]}"#,
        r#"{"type":"crowd","active":true,"total":3,"heat":[4294967296]}"#,
        r#"{"type":"error","code":"other","message":"m"}"#,
        r#"{"type":"cursors","moves":[{"id":"a","x":0.5,"y":0.5,"anchor":{"id":"b","x":0.5}}]}"#,
    ] {
        assert!(
            ServerMessage::parse(text).is_err(),
            "the derive takes {text}"
        );
        assert_eq!(ServerMessage::parse_light(text), None, "{text}");
    }
}
