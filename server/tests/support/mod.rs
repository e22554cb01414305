//! A test harness: a real server on 127.0.0.1:0 and real WebSocket clients;
//! for the tests of several servers, real `cursors-server` processes sharing
//! a real `redis-server`, both started by `cursors-test-support` (shared
//! with the browser tests) and logging under `CARGO_TARGET_TMPDIR`.
//!
//! Timeouts here only keep a broken build from hanging the suite; no test
//! asserts on how long anything took.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cursors_protocol::{ClientMessage, PeerSnapshot, ServerMessage};
use cursors_server::Config;
use cursors_test_support::{
    Logs, Redis, RedisCluster, ServerLaunch, ServerProcess, SupportError, free_loopback_address,
};
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

/// Where the processes a test starts write their logs: kept after the test,
/// so a failure can be read.
fn process_logs() -> Logs {
    Logs::In(PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
}

/// A real Redis on a free loopback port.
pub fn start_redis() -> Redis {
    Redis::start(process_logs()).expect("redis-server starts")
}

/// A real Redis Cluster (three primaries, three replicas) on free ports.
pub fn start_redis_cluster() -> RedisCluster {
    RedisCluster::start(process_logs()).expect("a Redis Cluster starts")
}

/// The real server binary on a free port, one of a group sharing
/// `redis_url`, with `extra` flags.
pub fn start_server_process(redis_url: &str, extra: &[&str]) -> ServerProcess {
    // A free port can be taken between choosing and binding it: the
    // server then exits, and a fresh port is tried.
    let mut attempts = 0;
    loop {
        let addr = free_loopback_address().expect("a free port");
        let started = ServerLaunch::new(env!("CARGO_BIN_EXE_cursors-server"), addr)
            .flags(&["--redis-url", redis_url])
            .flags(extra)
            .logs(process_logs())
            .start();
        match started {
            Ok(server) => return server,
            Err(SupportError::Exited { .. }) if attempts < 4 => attempts += 1,
            Err(error) => panic!("the server binary starts: {error}"),
        }
    }
}

/// Waits until the room's shared store in `redis` lists user `id`.
pub fn wait_for_user(redis: &Redis, room: &str, id: &str) {
    let key = format!("cursors:{{room:{room}}}:users");
    let deadline = std::time::Instant::now() + PATIENCE;
    while redis.cli(&["HEXISTS", &key, id]).expect("redis-cli") != "1" {
        assert!(
            std::time::Instant::now() < deadline,
            "{id} never reached {key}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

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
        http_get(self.addr, path).await
    }
}

/// A raw HTTP/1.1 GET; returns the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (head, body) = http_get_with_head(addr, path).await;
    let status = head[9..12].parse().expect("status code");
    (status, body)
}

/// A raw HTTP/1.1 GET; returns the response head (status line and
/// headers) and the body.
pub async fn http_get_with_head(addr: SocketAddr, path: &str) -> (String, String) {
    http_get_with_headers(addr, path, &[]).await
}

/// A raw HTTP/1.1 GET with these extra request headers; returns the
/// response head and the body.
pub async fn http_get_with_headers(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    match response.split_once("\r\n\r\n") {
        Some((head, body)) => (head.to_owned(), body.to_owned()),
        None => (response, String::new()),
    }
}

/// Reads one counter or gauge from the `/metrics` of the server at `addr`.
pub async fn metric_at(addr: SocketAddr, name: &str) -> f64 {
    let (_, body) = http_get(addr, "/metrics").await;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{body}"))
}

/// Polls `/metrics` at `addr` until `name` equals `expected`.
pub async fn wait_for_metric_at(addr: SocketAddr, name: &str, expected: f64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let value = metric_at(addr, name).await;
        if value == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stayed at {value}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
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
        Self::from_socket(socket).await
    }

    /// Wraps an open socket and reads the welcome.
    pub async fn from_socket(socket: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
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

    /// The peers listed in this client's welcome.
    pub fn peers(&self) -> &[PeerSnapshot] {
        match &self.welcome {
            ServerMessage::Welcome { peers, .. } => peers,
            other => unreachable!("the welcome is checked on connect: {other:?}"),
        }
    }

    /// The ids of the peers listed in this client's welcome, in its order.
    pub fn peer_ids(&self) -> Vec<&str> {
        self.peers().iter().map(|peer| peer.id.as_str()).collect()
    }

    /// The token of this client's welcome, to resume with.
    pub fn resume_token(&self) -> String {
        match &self.welcome {
            ServerMessage::Welcome {
                resume: Some(token),
                ..
            } => token.clone(),
            other => panic!("no resume token in {other:?}"),
        }
    }

    /// Sends a move, reporting failure instead of panicking (for tests in
    /// which the server is expected to hang up).
    pub async fn try_move_to(&mut self, x: f64, y: f64) -> bool {
        let text = ClientMessage::Move { x, y, anchor: None }.to_json();
        self.socket.send(Message::text(text)).await.is_ok()
    }

    /// Sends `messages(round)` for round = 0, 1, ... as fast as it can,
    /// without reading anything but a close, until the server closes this
    /// connection (at most `rounds`, then it waits for the close). Returns
    /// the server's close frame.
    pub async fn flood_until_closed(
        &mut self,
        rounds: u64,
        mut messages: impl FnMut(u64) -> Vec<ClientMessage>,
    ) -> Option<CloseFrame> {
        for round in 0..rounds {
            for message in messages(round) {
                let text = Message::text(message.to_json());
                if self.socket.send(text).await.is_err() {
                    return self.closed().await;
                }
            }
            while let Ok(frame) = tokio::time::timeout(Duration::ZERO, self.socket.next()).await {
                match frame {
                    Some(Ok(Message::Close(frame))) => return frame,
                    Some(Err(_)) | None => return None,
                    Some(Ok(_)) => {}
                }
            }
        }
        self.closed().await
    }

    pub async fn move_to(&mut self, x: f64, y: f64) {
        self.send(&ClientMessage::Move { x, y, anchor: None }).await;
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

    /// The next protocol message if one comes within `wait`; panics on
    /// close (a wait that may well see nothing, unlike [`Self::recv`]).
    pub async fn recv_within(&mut self, wait: Duration) -> Option<ServerMessage> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?
                .expect("socket still open")
                .expect("a valid frame");
            match frame {
                Message::Text(text) => {
                    return Some(
                        ServerMessage::parse(text.as_str())
                            .unwrap_or_else(|error| panic!("server sent bad JSON {text}: {error}")),
                    );
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Reads whatever has already arrived, without waiting.
    pub async fn drain_available(&mut self) -> Vec<ServerMessage> {
        let mut messages = Vec::new();
        while let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::ZERO, self.socket.next()).await
        {
            if let Message::Text(text) = frame {
                messages.extend(ServerMessage::parse(text.as_str()).ok());
            }
        }
        messages
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

    /// The id in the next `left`, skipping other messages.
    pub async fn next_left(&mut self) -> String {
        self.recv_until(|message| match message {
            ServerMessage::Left { id } => Some(id.clone()),
            _ => None,
        })
        .await
    }

    /// The id in the next `hidden`, skipping other messages.
    pub async fn next_hidden(&mut self) -> String {
        self.recv_until(|message| match message {
            ServerMessage::Hidden { id } => Some(id.clone()),
            _ => None,
        })
        .await
    }

    /// The id in the next `joined`, skipping other messages.
    pub async fn next_joined(&mut self) -> String {
        self.recv_until(|message| match message {
            ServerMessage::Joined { peer } => Some(peer.id.clone()),
            _ => None,
        })
        .await
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

    /// Ends the TCP connection without a close frame (as when a laptop's
    /// network goes): the server sees end-of-stream mid-connection.
    pub fn vanish(self) {
        if let MaybeTlsStream::Plain(stream) = self.socket.get_ref() {
            let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Both);
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

/// A WebSocket handshake done by hand on a raw TCP stream, so a test can
/// then write bytes no well-behaved client library would.
pub async fn raw_handshake(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Read the response head byte by byte, so nothing after it is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(PATIENCE, stream.read_u8())
            .await
            .unwrap()
            .unwrap();
        head.push(byte);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// A client frame: FIN set, `first_byte_flags` or-ed into the first byte,
/// masked unless `masked` is false.
pub fn raw_frame(first_byte: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut frame = vec![first_byte];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        length @ 0..=125 => frame.push(mask_bit | length as u8),
        length => {
            frame.push(mask_bit | 126);
            frame.extend_from_slice(&(length as u16).to_be_bytes());
        }
    }
    if masked {
        let key = [0x12, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&key);
        frame.extend(
            payload
                .iter()
                .enumerate()
                .map(|(index, byte)| byte ^ key[index % 4]),
        );
    } else {
        frame.extend_from_slice(payload);
    }
    frame
}

/// Reads until the server closes the TCP connection (EOF or reset); panics
/// if it stays open past the patience bound.
pub async fn wait_for_eof(stream: &mut TcpStream) {
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the server kept the connection open"),
        }
    }
}

/// Reads one counter or gauge from `/metrics`.
pub async fn metric(server: &TestServer, name: &str) -> f64 {
    metric_at(server.addr, name).await
}

/// Polls `/metrics` until `name` equals `expected` (disconnects are
/// processed asynchronously).
pub async fn wait_for_metric(server: &TestServer, name: &str, expected: f64) {
    wait_for_metric_at(server.addr, name, expected).await
}

/// Connects with extra request headers and an optional source address;
/// returns the HTTP status of a refusal, or the connected client.
pub async fn try_connect(
    url: &str,
    headers: &[(&str, &str)],
    source: Option<std::net::IpAddr>,
) -> Result<Client, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let host = request.uri().authority().unwrap().as_str().to_owned();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0)).unwrap();
    }
    let stream = socket.connect(host.parse().unwrap()).await.unwrap();
    match tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await {
        Ok((socket, _)) => Ok(Client::from_socket(socket).await),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(error) => panic!("unexpected handshake error: {error}"),
    }
}
