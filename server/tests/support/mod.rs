//! A test harness: a real server on 127.0.0.1:0 and real WebSocket clients.
//!
//! Timeouts here only keep a broken build from hanging the suite; no test
//! asserts on how long anything took.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cursors_protocol::{ClientMessage, ServerMessage};
use cursors_server::Config;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// Generous bound on any single wait, so a bug fails the test instead of
/// hanging it.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server with the default configuration changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::defaults();
        config.static_dir = PathBuf::from("/nonexistent-static-dir");
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(cursors_server::serve(listener, config, shutdown.clone()));
        Self {
            addr,
            shutdown,
            task,
        }
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/ws{}", self.addr, query)
    }

    /// Connects to `room` and reads the welcome.
    pub async fn join(&self, room: &str) -> Client {
        Client::connect(&self.ws_url(&format!("?room={room}"))).await
    }

    /// Starts the graceful shutdown and waits for `serve` to return.
    pub async fn stop(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("server stops in time")
            .expect("server task")
    }

    /// A raw HTTP/1.1 GET; returns the status code and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(PATIENCE, stream.read_to_string(&mut response))
            .await
            .unwrap()
            .unwrap();
        let status = response[9..12].parse().expect("status code");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub id: String,
    pub name: String,
    pub color: String,
    pub welcome: ServerMessage,
    next_ping: u64,
}

impl Client {
    pub async fn connect(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WebSocket upgrade");
        let mut client = Self {
            socket,
            id: String::new(),
            name: String::new(),
            color: String::new(),
            welcome: ServerMessage::Pong { id: 0 },
            next_ping: 1_000_000,
        };
        let welcome = client.recv().await;
        let ServerMessage::Welcome {
            id, name, color, ..
        } = &welcome
        else {
            panic!("first frame is not a welcome: {welcome:?}");
        };
        (client.id, client.name, client.color) = (id.clone(), name.clone(), color.clone());
        client.welcome = welcome;
        client
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        self.send_raw(Message::text(message.to_json())).await;
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("send");
    }

    pub async fn move_to(&mut self, x: f64, y: f64) {
        self.send(&ClientMessage::Move { x, y }).await;
    }

    /// The next protocol message; panics on close or timeout.
    pub async fn recv(&mut self) -> ServerMessage {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a frame within the patience bound")
                .expect("socket still open")
                .expect("a valid frame");
            match frame {
                Message::Text(text) => {
                    return ServerMessage::parse(text.as_str())
                        .unwrap_or_else(|error| panic!("server sent bad JSON {text}: {error}"));
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Reads until `pick` returns something, skipping other messages.
    pub async fn recv_until<T>(&mut self, mut pick: impl FnMut(&ServerMessage) -> Option<T>) -> T {
        loop {
            let message = self.recv().await;
            if let Some(found) = pick(&message) {
                return found;
            }
        }
    }

    /// Sends a ping and returns everything received before its pong: a
    /// barrier that proves the server handled all our earlier messages.
    pub async fn sync(&mut self) -> Vec<ServerMessage> {
        self.next_ping += 1;
        let id = self.next_ping;
        self.send(&ClientMessage::Ping { id }).await;
        let mut before = Vec::new();
        loop {
            match self.recv().await {
                ServerMessage::Pong { id: answered } if answered == id => return before,
                other => before.push(other),
            }
        }
    }

    /// Reads until the server closes; returns its close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("close within the patience bound");
            match frame {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
        // Wait for the server's reply so the disconnect has been seen.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(PATIENCE, self.socket.next()).await {}
    }
}

/// Positions of `id` found in a `cursors` message.
pub fn positions_of(message: &ServerMessage, id: &str) -> Vec<(f64, f64)> {
    match message {
        ServerMessage::Cursors { moves } => moves
            .iter()
            .filter(|position| position.id == id)
            .map(|position| (position.x, position.y))
            .collect(),
        _ => Vec::new(),
    }
}
