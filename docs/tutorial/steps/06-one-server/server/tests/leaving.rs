// ANCHOR: whole
//! What chapter 5 claims: when a page goes, closing politely or not, every
//! other page is told (`left`), so none keeps its cursor.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use server::Relay;
use shared::{Position, ServerMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ANCHOR: start
async fn start(relay: Relay) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            server::app(relay, std::path::Path::new("client/dist")),
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

/// Waits (at most 10 s) until the server holds `count` connections.
async fn wait_for_connections(relay: &Relay, count: usize) {
    for _ in 0..1000 {
        if relay.connected() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the server still holds {} connections, not {count}",
        relay.connected()
    );
}

/// Ada moves (so Bo and Cy draw her), then `leave` takes her away; returns
/// Bo's next message after that, once the server has let Ada go.
async fn what_bo_hears_after_ada(leave: impl AsyncFnOnce(Socket)) -> (u64, ServerMessage) {
    let relay = Relay::new();
    let url = start(relay.clone()).await;
    let (mut ada, _) = connect_async(&url).await.unwrap();
    let (mut bo, _) = connect_async(&url).await.unwrap();
    let (mut cy, _) = connect_async(&url).await.unwrap();

    send(&mut ada, 0.25, 0.5).await;
    let ServerMessage::Moved { id: ada_id, .. } = next_message(&mut bo).await else {
        panic!("expected Ada's move")
    };
    next_message(&mut cy).await;

    leave(ada).await;
    wait_for_connections(&relay, 2).await;
    // Cy moves after the server is done with Ada: had it not said that Ada
    // left, Cy's move would be the next thing Bo hears (as in step 4).
    send(&mut cy, 0.75, 0.75).await;
    (ada_id, next_message(&mut bo).await)
}

#[tokio::test]
async fn a_page_that_closes_is_announced_as_left() {
    let (ada_id, heard) = what_bo_hears_after_ada(async |mut ada| {
        ada.close(None).await.unwrap();
    })
    .await;
    assert_eq!(heard, ServerMessage::Left { id: ada_id });
}

#[tokio::test]
async fn a_connection_that_just_drops_is_announced_as_left_too() {
    // No close message: the TCP connection simply goes, as when a laptop
    // lid shuts or a browser crashes.
    let (ada_id, heard) = what_bo_hears_after_ada(async |ada| drop(ada)).await;
    assert_eq!(heard, ServerMessage::Left { id: ada_id });
}
// ANCHOR_END: whole
