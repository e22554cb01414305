//! Bad input, per PROTOCOL.md's table: each gets a clear answer, the
//! offending connection keeps working where the table says so, nothing is
//! relayed, and everyone else is unaffected.

mod support;

use cursors_protocol::{ErrorCode, ServerMessage};
use support::{TestServer, positions_of};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const BAD_TEXT_FRAMES: &[&str] = &[
    "definitely not json",
    "[1,2]",
    r#"{"x":0.5,"y":0.5}"#,
    r#"{"type":"teleport","x":0.5,"y":0.5}"#,
    r#"{"type":"move","x":0.5}"#,
    r#"{"type":"move","x":"0.5","y":0.5}"#,
    r#"{"type":"move","x":-0.1,"y":0.5}"#,
    r#"{"type":"move","x":0.5,"y":1.5}"#,
    r#"{"type":"move","x":1e999,"y":0.5}"#,
    r#"{"type":"hello","name":""}"#,
    r#"{"type":"hello","name":"   "}"#,
    r#"{"type":"hello","name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
    r#"{"type":"hello","name":"tab\there"}"#,
    r#"{"type":"ping","id":"seven"}"#,
];

fn is_bad_message_error(message: &ServerMessage) -> bool {
    matches!(message, ServerMessage::Error { code: ErrorCode::BadMessage, message } if !message.is_empty())
}

#[tokio::test]
async fn every_bad_frame_gets_an_error_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let mut offender = server.join("bad").await;
    let mut witness = server.join("bad").await;
    offender.next_joined().await;

    for text in BAD_TEXT_FRAMES {
        offender.send_raw(Message::text(*text)).await;
        let answer = offender.recv().await;
        assert!(
            is_bad_message_error(&answer),
            "{text} was answered with {answer:?}"
        );
    }
    offender.send_raw(Message::binary(vec![1, 2, 3])).await;
    assert!(is_bad_message_error(&offender.recv().await), "binary frame");

    // Still usable: a valid move goes through to the witness...
    offender.move_to(0.4, 0.6).await;
    let relayed = witness
        .recv_until(|message| positions_of(message, &offender.id).pop())
        .await;
    assert_eq!(relayed, (0.4, 0.6));
    // ...and nothing from the bad frames reached it: no renames, no other
    // positions, no errors meant for someone else.
    let witnessed = witness.sync().await;
    assert!(witnessed.is_empty(), "{witnessed:?}");
    server.stop().await.unwrap();
}

// ANCHOR: oversized-test
#[tokio::test]
async fn an_oversized_frame_closes_with_1009_and_others_carry_on() {
    let server = TestServer::start().await;
    let mut offender = server.join("big").await;
    let mut bystander = server.join("big").await;
    let huge = format!(r#"{{"type":"hello","name":"{}"}}"#, "x".repeat(5000));
    offender.send_raw(Message::text(huge)).await;
    let close = offender.closed().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Size);

    let left = bystander.next_left();
    assert_eq!(left.await, offender.id);
    bystander.move_to(0.5, 0.5).await;
    assert!(
        bystander
            .sync()
            .await
            .iter()
            .all(|message| matches!(message, ServerMessage::Cursors { .. }))
    );
    server.stop().await.unwrap();
}
// ANCHOR_END: oversized-test

#[tokio::test]
async fn a_request_that_is_not_a_websocket_upgrade_is_told_why() {
    let server = TestServer::start().await;
    // A browser opening the endpoint's address as a page.
    let (status, body) = server.get("/ws?room=plain").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Connection header"), "{body}");
    // The server goes on serving upgrades.
    let client = server.join("plain").await;
    assert!(!client.id.is_empty());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_room_names_are_refused_before_the_upgrade() {
    let server = TestServer::start().await;
    for query in [
        "?room=",
        "?room=has%20space",
        "?room=a/b",
        &format!("?room={}", "r".repeat(65)),
    ] {
        let refusal = tokio_tungstenite::connect_async(server.ws_url(query)).await;
        let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refusal else {
            panic!("{query} was not refused with an HTTP error");
        };
        assert_eq!(response.status(), 400, "{query}");
        let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
        assert!(body.contains("bad room name"), "{query}: {body}");
    }
    // No room at all means the lobby.
    let lobby = support::Client::connect(&server.ws_url("")).await;
    let also_lobby = server.join("lobby").await;
    assert_eq!(also_lobby.peers()[0].id, lobby.id);
    server.stop().await.unwrap();
}
