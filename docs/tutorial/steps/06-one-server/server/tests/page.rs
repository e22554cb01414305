//! What chapter 6 claims: one server, one address, serves the built page
//! at `/` and the socket at `/ws`.

use std::path::PathBuf;

use futures_util::{SinkExt, StreamExt};
use server::Relay;
use shared::{Position, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

/// A folder standing in for `client/dist`, with a page in it.
fn page_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("step6-page-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<title>the built page</title>").unwrap();
    dir
}

/// `GET path` over a plain TCP connection: the whole HTTP response.
async fn get(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn one_address_serves_the_page_and_the_socket() {
    let dir = page_dir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = server::app(Relay::new(), &dir);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let page = get(address, "/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.ends_with("<title>the built page</title>"), "{page}");
    assert!(
        get(address, "/missing.js")
            .await
            .starts_with("HTTP/1.1 404")
    );

    let url = format!("ws://{address}/ws");
    let (mut ada, _) = connect_async(&url).await.unwrap();
    let (mut bo, _) = connect_async(&url).await.unwrap();
    let json = serde_json::to_string(&Position { x: 0.5, y: 0.5 }).unwrap();
    ada.send(Message::text(json)).await.unwrap();
    let Message::Text(text) = bo.next().await.unwrap().unwrap() else {
        panic!("expected text")
    };
    let moved: ServerMessage = serde_json::from_str(&text).unwrap();
    assert!(
        matches!(moved, ServerMessage::Moved { x, y, .. } if (x, y) == (0.5, 0.5)),
        "{moved:?}"
    );
}
