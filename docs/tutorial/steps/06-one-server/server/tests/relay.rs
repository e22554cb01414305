// ANCHOR: whole
//! What chapter 2 claims: a position sent by one page reaches every other
//! page, stamped with the sender's id and colour, and never comes back to
//! the sender.

use futures_util::{SinkExt, StreamExt};
use server::Relay;
use shared::{Position, ServerMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ANCHOR: start
async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            server::app(Relay::new(), std::path::Path::new("client/dist")),
        )
        .await
    });
    url
}
// ANCHOR_END: start

async fn send(socket: &mut Socket, x: f64, y: f64) {
    let json = serde_json::to_string(&Position { x, y }).unwrap();
    socket.send(Message::text(json)).await.unwrap();
}

async fn next_message(socket: &mut Socket) -> ServerMessage {
    loop {
        match socket.next().await.expect("socket closed").unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_position_goes_to_everyone_else_and_not_back() {
    let url = start().await;
    let (mut ada, _) = connect_async(&url).await.unwrap();
    let (mut bo, _) = connect_async(&url).await.unwrap();
    let (mut cy, _) = connect_async(&url).await.unwrap();

    send(&mut ada, 0.25, 0.5).await;
    let ServerMessage::Moved {
        id: ada_id,
        color: ada_color,
        x,
        y,
    } = next_message(&mut bo).await
    else {
        panic!("expected Ada's move")
    };
    assert_eq!((x, y), (0.25, 0.5));
    assert_eq!(
        next_message(&mut cy).await,
        ServerMessage::Moved {
            id: ada_id,
            color: ada_color.clone(),
            x: 0.25,
            y: 0.5,
        }
    );

    // Had Ada's move come back to her, it would be first in her queue,
    // before Bo's: so her first message being Bo's proves it did not.
    send(&mut bo, 0.75, 0.125).await;
    let ServerMessage::Moved {
        id: bo_id,
        color: bo_color,
        x,
        y,
    } = next_message(&mut ada).await
    else {
        panic!("expected Bo's move")
    };
    assert_eq!((x, y), (0.75, 0.125));
    assert_ne!(bo_id, ada_id, "each connection has its own id");
    assert_ne!(bo_color, ada_color, "and its own colour");
}

#[tokio::test]
async fn what_is_not_a_position_is_ignored_and_the_socket_stays_open() {
    let url = start().await;
    let (mut ada, _) = connect_async(&url).await.unwrap();
    let (mut bo, _) = connect_async(&url).await.unwrap();
    ada.send(Message::text("not json")).await.unwrap();
    ada.send(Message::text(r#"{"x": "left"}"#)).await.unwrap();
    send(&mut ada, 0.5, 0.5).await;
    let ServerMessage::Moved { x, y, .. } = next_message(&mut bo).await else {
        panic!("expected Ada's move")
    };
    assert_eq!((x, y), (0.5, 0.5));
}
// ANCHOR_END: whole
