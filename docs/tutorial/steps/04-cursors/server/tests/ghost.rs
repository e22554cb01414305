//! What chapter 4 shows, and chapter 5 fixes: when a page closes, this
//! server tells nobody, so the other pages keep drawing its cursor.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use server::Relay;
use shared::{Position, ServerMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn start(relay: Relay) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server::app(relay)).await });
    url
}

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

#[tokio::test]
async fn a_page_that_closes_leaves_a_ghost_cursor() {
    let relay = Relay::new();
    let url = start(relay.clone()).await;
    let (mut ada, _) = connect_async(&url).await.unwrap();
    let (mut bo, _) = connect_async(&url).await.unwrap();
    let (mut cy, _) = connect_async(&url).await.unwrap();

    send(&mut ada, 0.25, 0.5).await;
    let ServerMessage::Moved { id: ada_id, .. } = next_message(&mut bo).await;
    next_message(&mut cy).await;

    // Ada closes her tab, and the server is done with her connection...
    ada.close(None).await.unwrap();
    wait_for_connections(&relay, 2).await;

    // ...yet the next thing Bo hears is Cy moving: nothing ever says Ada
    // left, so Bo's page draws her cursor at (0.25, 0.5) for good.
    send(&mut cy, 0.75, 0.75).await;
    let ServerMessage::Moved { id, x, y, .. } = next_message(&mut bo).await;
    assert_ne!(id, ada_id);
    assert_eq!((x, y), (0.75, 0.75));
}
