//! The social layer of docs/PROTOCOL.md over real WebSockets: reactions,
//! points ("look here"), the laser and spotlight. Each is validated, goes to
//! the others and not back to the sender, and reactions and points are held
//! to their per-connection limits.

mod support;

use std::time::Instant;

use cursors_protocol::{
    ClientMessage, ErrorCode, POINTS_PER_SECOND, REACTIONS, REACTIONS_PER_SECOND, ServerMessage,
};
use support::{Client, TestServer, metric};

/// Renames `sender` to `marker` and reads `watcher` until it hears it: the
/// room handles a connection's messages in order, so everything the room
/// relayed for the earlier messages has then reached `watcher`, and is
/// returned.
async fn until_marker(
    sender: &mut Client,
    watcher: &mut Client,
    marker: &str,
) -> Vec<ServerMessage> {
    sender
        .send(&ClientMessage::Hello {
            name: marker.into(),
        })
        .await;
    let mut before = Vec::new();
    loop {
        match watcher.recv().await {
            ServerMessage::Renamed { name, .. } if name == marker => return before,
            other => before.push(other),
        }
    }
}

fn is_bad_message(message: &ServerMessage) -> bool {
    matches!(
        message,
        ServerMessage::Error {
            code: ErrorCode::BadMessage,
            ..
        }
    )
}

async fn pair(server: &TestServer, room: &str) -> (Client, Client) {
    let mut ada = server.join(room).await;
    let bo = server.join(room).await;
    ada.next_joined().await;
    (ada, bo)
}

// ANCHOR: reactions-test
#[tokio::test]
async fn a_reaction_reaches_the_others_and_an_unknown_one_is_refused() {
    let server = TestServer::start().await;
    let (mut ada, mut bo) = pair(&server, "react").await;

    for emoji in REACTIONS {
        ada.send(&ClientMessage::React {
            emoji: emoji.into(),
        })
        .await;
        let reacted = bo
            .recv_until(|message| match message {
                ServerMessage::Reacted { id, emoji } => Some((id.clone(), emoji.clone())),
                _ => None,
            })
            .await;
        assert_eq!(reacted, (ada.id.clone(), emoji.to_owned()));
        // Past the burst the limit would drop them: wait for a new token.
        tokio::time::sleep(std::time::Duration::from_millis(260)).await;
    }
    assert!(
        !ada.sync()
            .await
            .iter()
            .any(|message| matches!(message, ServerMessage::Reacted { .. })),
        "the sender does not hear its own reactions"
    );

    for refused in ["👎", "hello", "", "\u{2764}"] {
        ada.send(&ClientMessage::React {
            emoji: refused.into(),
        })
        .await;
        let answer = ada.recv().await;
        assert!(is_bad_message(&answer), "{refused:?}: {answer:?}");
    }
    let relayed = until_marker(&mut ada, &mut bo, "after the refusals").await;
    assert!(
        !relayed
            .iter()
            .any(|message| matches!(message, ServerMessage::Reacted { .. })),
        "nothing refused was relayed: {relayed:?}"
    );
    server.stop().await.unwrap();
}
// ANCHOR_END: reactions-test

#[tokio::test]
async fn a_held_key_relays_at_most_the_reaction_limit() {
    let server = TestServer::start().await;
    let (mut ada, mut bo) = pair(&server, "held").await;
    let drops_before = metric(&server, "cursors_rate_limited_drops_total").await;

    let started = Instant::now();
    for _ in 0..40 {
        ada.send(&ClientMessage::React {
            emoji: "👍".into()
        })
        .await;
    }
    let relayed = until_marker(&mut ada, &mut bo, "released").await;
    let elapsed = started.elapsed().as_secs_f64();
    let reactions = relayed
        .iter()
        .filter(|message| matches!(message, ServerMessage::Reacted { .. }))
        .count();
    // The burst, plus what the rate refilled while the key was held.
    let limit = f64::from(REACTIONS_PER_SECOND) * (1.0 + elapsed);
    assert!(
        reactions >= REACTIONS_PER_SECOND as usize && reactions as f64 <= limit.ceil(),
        "{reactions} of 40 relayed in {elapsed:.3} s (limit {limit:.1})"
    );
    // No error frames for the excess: it is dropped, and counted.
    assert!(
        !ada.sync().await.iter().any(is_bad_message),
        "the excess is dropped without an error"
    );
    assert!(metric(&server, "cursors_rate_limited_drops_total").await > drops_before);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_point_is_validated_like_a_move_relayed_and_limited() {
    let server = TestServer::start().await;
    let (mut ada, mut bo) = pair(&server, "point").await;

    ada.send(&ClientMessage::Point { x: 0.25, y: 0.75 }).await;
    let pointed = bo
        .recv_until(|message| match message {
            ServerMessage::Pointed { id, x, y } => Some((id.clone(), *x, *y)),
            _ => None,
        })
        .await;
    assert_eq!(pointed, (ada.id.clone(), 0.25, 0.75));

    for (x, y) in [(1.5, 0.5), (0.5, -0.01)] {
        ada.send(&ClientMessage::Point { x, y }).await;
        let answer = ada.recv().await;
        assert!(is_bad_message(&answer), "({x}, {y}): {answer:?}");
    }
    ada.send_raw(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"point","x":1e400,"y":0.5}"#,
    ))
    .await;
    assert!(is_bad_message(&ada.recv().await), "not finite");

    let started = Instant::now();
    for step in 0..40_u32 {
        ada.send(&ClientMessage::Point {
            x: f64::from(step) / 40.0,
            y: 0.5,
        })
        .await;
    }
    let relayed = until_marker(&mut ada, &mut bo, "clicked").await;
    let elapsed = started.elapsed().as_secs_f64();
    let points = relayed
        .iter()
        .filter(|message| matches!(message, ServerMessage::Pointed { .. }))
        .count();
    let limit = f64::from(POINTS_PER_SECOND) * (1.0 + elapsed);
    assert!(
        points >= 1 && points as f64 <= limit.ceil(),
        "{points} of 40 relayed in {elapsed:.3} s (limit {limit:.1})"
    );
    assert!(
        !ada.sync()
            .await
            .iter()
            .any(|message| matches!(message, ServerMessage::Pointed { .. })),
        "the sender does not hear its own points"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn laser_and_spotlight_relay_changes_and_end_with_the_connection() {
    let server = TestServer::start().await;
    let (mut ada, mut bo) = pair(&server, "spotlight").await;

    // A held Shift may repeat `on`: only the change is relayed.
    for on in [true, true, true, false, false] {
        ada.send(&ClientMessage::Laser { on }).await;
    }
    ada.send(&ClientMessage::Spotlight { on: true }).await;
    ada.send(&ClientMessage::Spotlight { on: true }).await;
    let relayed: Vec<ServerMessage> = until_marker(&mut ada, &mut bo, "lit")
        .await
        .into_iter()
        .filter(|message| {
            matches!(
                message,
                ServerMessage::Laser { .. } | ServerMessage::Spotlight { .. }
            )
        })
        .collect();
    let id = ada.id.clone();
    assert_eq!(
        relayed,
        [
            ServerMessage::Laser {
                id: id.clone(),
                on: true
            },
            ServerMessage::Laser {
                id: id.clone(),
                on: false
            },
            ServerMessage::Spotlight {
                id: id.clone(),
                on: true
            },
        ]
    );
    assert!(
        !ada.sync().await.iter().any(|message| matches!(
            message,
            ServerMessage::Laser { .. } | ServerMessage::Spotlight { .. }
        )),
        "the sender does not hear its own"
    );
    ada.send_raw(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"spotlight","on":"yes"}"#,
    ))
    .await;
    assert!(is_bad_message(&ada.recv().await));

    // The page closes with its spotlight on: the others are told it is off
    // at once, before the reload grace is over.
    ada.close().await;
    let off = bo
        .recv_until(|message| match message {
            ServerMessage::Spotlight { id: who, on } if *who == id => Some(*on),
            ServerMessage::Left { id: who } if *who == id => {
                panic!("left before the spotlight went off")
            }
            _ => None,
        })
        .await;
    assert!(!off);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_newcomer_sees_the_spotlight_already_on() {
    let server = TestServer::start().await;
    let mut ada = server.join("lit-room").await;
    ada.send(&ClientMessage::Spotlight { on: true }).await;
    ada.sync().await;
    let mut cy = server.join("lit-room").await;
    let lit = cy
        .recv_until(|message| match message {
            ServerMessage::Spotlight { id, on } => Some((id.clone(), *on)),
            _ => None,
        })
        .await;
    assert_eq!(lit, (ada.id.clone(), true));
    server.stop().await.unwrap();
}
