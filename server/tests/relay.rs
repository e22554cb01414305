//! The relay, seen from real WebSocket clients: joining, positions, rooms,
//! presence events, and the HTTP side of the server interface.

mod support;

use cursors_protocol::{ClientMessage, ServerMessage};
use cursors_server::FanoutMode;
use support::{PATIENCE, TestServer, http_get_with_head, metric, positions_of};

#[tokio::test]
async fn welcome_lists_peers_with_their_last_positions() {
    let server = TestServer::start().await;
    let mut ada = server.join("welcome").await;
    ada.move_to(0.25, 0.75).await;
    ada.sync().await;
    let mut hidden = server.join("welcome").await;
    hidden.move_to(0.5, 0.5).await;
    hidden.send(&ClientMessage::Leave).await;
    hidden.sync().await;

    let newcomer = server.join("welcome").await;
    let ServerMessage::Welcome {
        id,
        name,
        color,
        peers,
        resume,
        expires,
        ..
    } = &newcomer.welcome
    else {
        unreachable!()
    };
    assert!(!id.is_empty() && !name.is_empty() && color.starts_with('#'));
    assert_eq!(*expires, None, "no token, no end");
    assert!(
        resume.as_ref().is_some_and(|token| token.len() == 32),
        "{resume:?}"
    );
    assert_eq!(peers.len(), 2, "{peers:?}");
    assert_eq!(peers[0].id, ada.id);
    assert_eq!(peers[0].name, ada.name);
    assert_eq!(peers[0].color, ada.color);
    assert_eq!((peers[0].x, peers[0].y), (Some(0.25), Some(0.75)));
    assert_eq!(peers[1].id, hidden.id);
    assert_eq!(
        (peers[1].x, peers[1].y),
        (None, None),
        "a hidden cursor has no position"
    );

    // The others hear about the newcomer.
    let joined = ada.recv_until(|message| match message {
        ServerMessage::Joined { peer } if peer.id == newcomer.id => Some(peer.clone()),
        _ => None,
    });
    let joined = joined.await;
    assert_eq!(
        (joined.name.as_str(), joined.color.as_str()),
        (newcomer.name.as_str(), newcomer.color.as_str())
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn ids_are_unique_and_colours_distinct_within_a_room() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(server.join("palette").await);
    }
    let mut ids: Vec<_> = clients.iter().map(|client| client.id.clone()).collect();
    let mut colors: Vec<_> = clients.iter().map(|client| client.color.clone()).collect();
    ids.sort();
    ids.dedup();
    colors.sort();
    colors.dedup();
    assert_eq!(ids.len(), 8);
    assert_eq!(colors.len(), 8, "colours repeat while the palette lasts");
    assert!(
        clients.iter().all(|client| client.name.contains(' ')),
        "friendly generated names"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn moves_reach_the_others_exactly_and_in_order() {
    // The moves go out as fast as the socket takes them: lift the rate limit
    // (tested on its own) so that none is dropped for that.
    let server = TestServer::start_with(|config| config.rate_burst = 1000).await;
    let mut sender = server.join("order").await;
    let mut receivers = vec![server.join("order").await, server.join("order").await];

    // Coordinates with many significant digits: they must come back bit-exact.
    let sent: Vec<(f64, f64)> = (1..=300)
        .map(|step| (step as f64 / 301.0, 1.0 - step as f64 / 977.0))
        .collect();
    for &(x, y) in &sent {
        sender.move_to(x, y).await;
    }
    let last = *sent.last().unwrap();
    for receiver in &mut receivers {
        let mut seen = Vec::new();
        while seen.last() != Some(&last) {
            let message = receiver.recv().await;
            seen.extend(positions_of(&message, &sender.id));
        }
        // The server may coalesce (skip) positions but never reorder them or
        // alter them: each one received is a sent one, later than the last.
        let mut previous_index = None;
        for position in &seen {
            let index = sent.iter().position(|candidate| candidate == position);
            let index = index.unwrap_or_else(|| panic!("{position:?} was never sent"));
            assert!(
                previous_index < Some(index),
                "position {index} arrived after {previous_index:?}"
            );
            previous_index = Some(index);
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_immediate_fanout_relays_each_move_as_its_own_frame() {
    // The handbook's design, kept for the benchmark: nothing is merged or
    // batched while the receiver keeps up (100 moves fit the outbound queue).
    let server = TestServer::start_with(|config| {
        config.fanout = FanoutMode::Immediate;
        config.rate_burst = 1000;
    })
    .await;
    let mut sender = server.join("relay").await;
    let mut receiver = server.join("relay").await;
    let sent: Vec<(f64, f64)> = (1..=100)
        .map(|step| (step as f64 / 101.0, 1.0 - step as f64 / 307.0))
        .collect();
    for &(x, y) in &sent {
        sender.move_to(x, y).await;
    }
    let mut received = Vec::new();
    while received.len() < sent.len() {
        if let ServerMessage::Cursors { moves } = receiver.recv().await {
            assert_eq!(moves.len(), 1, "one move per frame, got {moves:?}");
            assert_eq!(moves[0].id, sender.id);
            received.push((moves[0].x, moves[0].y));
        }
    }
    assert_eq!(received, sent);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn rooms_are_isolated() {
    let server = TestServer::start().await;
    let mut mover = server.join("red").await;
    let mut neighbour = server.join("red").await;
    let mut outsider = server.join("blue").await;
    assert!(
        outsider.peers().is_empty(),
        "another room's users are not listed"
    );

    mover
        .send(&ClientMessage::Hello {
            name: "Mover".into(),
        })
        .await;
    mover.move_to(0.3, 0.3).await;
    mover.send(&ClientMessage::Leave).await;
    // Once the neighbour has seen all of it, the room task has delivered it
    // everywhere it was going to.
    neighbour.next_hidden().await;
    mover.close().await;
    neighbour.next_left().await;

    let seen = outsider.sync().await;
    assert!(seen.is_empty(), "the other room saw {seen:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn leave_hides_and_disconnect_removes() {
    let server = TestServer::start().await;
    let mut ada = server.join("presence").await;
    let mut bo = server.join("presence").await;
    ada.next_joined().await;

    bo.move_to(0.1, 0.9).await;
    assert_eq!(
        ada.recv_until(|message| positions_of(message, &bo.id).pop())
            .await,
        (0.1, 0.9)
    );
    bo.send(&ClientMessage::Leave).await;
    let hidden = ada.next_hidden();
    assert_eq!(hidden.await, bo.id);

    let bo_id = bo.id.clone();
    bo.close().await;
    let left = ada.next_left();
    assert_eq!(left.await, bo_id);

    let late = server.join("presence").await;
    assert_eq!(late.peer_ids(), [ada.id.as_str()]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn hello_renames_for_everyone() {
    let server = TestServer::start().await;
    let mut ada = server.join("names").await;
    let mut bo = server.join("names").await;
    ada.send(&ClientMessage::Hello {
        name: "  Ada Lovelace ".into(),
    })
    .await;
    for client in [&mut ada, &mut bo] {
        let renamed = client.recv_until(|message| match message {
            ServerMessage::Renamed { id, name } => Some((id.clone(), name.clone())),
            _ => None,
        });
        assert_eq!(renamed.await.1, "Ada Lovelace", "trimmed");
    }
    let carol = server.join("names").await;
    assert_eq!(carol.peers()[0].name, "Ada Lovelace");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn ping_is_answered_with_the_same_id() {
    let server = TestServer::start().await;
    let mut client = server.join("rtt").await;
    client.send(&ClientMessage::Ping { id: 42 }).await;
    assert_eq!(client.recv().await, ServerMessage::Pong { id: 42 });
    server.stop().await.unwrap();
}

#[tokio::test]
async fn health_and_static_files() {
    let dist = cursors_test_support::temp_dir("cursors-dist").unwrap();
    std::fs::write(dist.path().join("index.html"), "<h1>the client</h1>").unwrap();
    let static_dir = dist.path().to_owned();
    let server = TestServer::start_with(move |config| config.static_dir = static_dir).await;

    assert_eq!(server.get("/healthz").await.0, 200);
    let (status, body) = server.get("/?room=lobby").await;
    assert_eq!((status, body.as_str()), (200, "<h1>the client</h1>"));
    let (status, body) = server.get("/missing.js").await;
    assert_eq!(status, 404);
    assert!(body.contains("build the client"), "{body}");
    let (status, body) = server.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("cursors_connections 0"), "{body}");

    server.stop().await.unwrap();
    dist.close().unwrap();
}

#[tokio::test]
async fn binary_subprotocol_carries_exact_cursors_while_json_clients_share_the_room() {
    use cursors_protocol::binary::{BINARY_SUBPROTOCOL, decode_cursors};
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let server = TestServer::start().await;
    let mut request = server
        .ws_url("?room=encodings")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        BINARY_SUBPROTOCOL.parse().unwrap(),
    );
    let (mut binary, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()["Sec-WebSocket-Protocol"],
        BINARY_SUBPROTOCOL
    );
    let mut json = server.join("encodings").await;

    let (x, y) = (1.0 / 3.0, 1.0 - 1.0 / 977.0);
    json.move_to(x, y).await;
    // The binary client: welcome and joined stay JSON text, cursors are binary.
    let mut saw_text = false;
    let position = loop {
        match tokio::time::timeout(support::PATIENCE, binary.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Text(text) => {
                saw_text = true;
                assert!(ServerMessage::parse(text.as_str()).is_ok());
            }
            Message::Binary(bytes) => {
                let moves = decode_cursors(&bytes).unwrap();
                if let Some(position) = moves.into_iter().find(|position| position.id == json.id) {
                    break position;
                }
            }
            _ => {}
        }
    };
    assert!(saw_text, "the welcome is JSON");
    assert_eq!(
        (position.x.to_bits(), position.y.to_bits()),
        (x.to_bits(), y.to_bits())
    );
    // The JSON client in the same room still gets JSON.
    let json_id = json.id.clone();
    assert_eq!(
        json.recv_until(|message| positions_of(message, &json_id).pop())
            .await,
        (x, y)
    );
    server.stop().await.unwrap();
}

/// Each cursor batch a room hands out is observed by two histograms on
/// `/metrics`: how long handing it out took, and how many frames it made.
#[tokio::test]
async fn metrics_show_each_flush_in_the_histograms() {
    let server = TestServer::start().await;
    let mut ada = server.join("histograms").await;
    let mut bo = server.join("histograms").await;
    let mut cy = server.join("histograms").await;
    ada.sync().await;
    let flushes_before = metric(&server, "cursors_frames_per_flush_count").await;
    let frames_before = metric(&server, "cursors_frames_per_flush_sum").await;

    ada.move_to(0.125, 0.5).await;
    for watcher in [&mut bo, &mut cy] {
        watcher
            .recv_until(|message| {
                positions_of(message, &ada.id)
                    .contains(&(0.125, 0.5))
                    .then_some(())
            })
            .await;
    }
    // Observed right after the frames are queued, so perhaps just after
    // they arrive: poll.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while metric(&server, "cursors_frames_per_flush_count").await <= flushes_before {
        assert!(tokio::time::Instant::now() < deadline, "no flush observed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let frames = metric(&server, "cursors_frames_per_flush_sum").await - frames_before;
    assert!(
        frames >= 2.0,
        "bo and cy each got a frame, counted {frames}"
    );
    for histogram in ["cursors_frames_per_flush", "cursors_flush_duration_seconds"] {
        let count = metric(&server, &format!("{histogram}_count")).await;
        let everything = metric(&server, &format!("{histogram}_bucket{{le=\"+Inf\"}}")).await;
        assert_eq!(count, everything, "{histogram}: every flush is in a bucket");
    }
    assert_eq!(
        metric(&server, "cursors_flush_duration_seconds_count").await,
        metric(&server, "cursors_frames_per_flush_count").await,
        "both histograms observe the same flushes"
    );
    server.stop().await.unwrap();
}

/// Every series `/metrics` served before it was declared through a registry
/// (commit 084cd8e, which wrote the exposition by hand), with its type.
/// Other people's dashboards read these names: this list is copied from that
/// code, not from what the server writes now.
const SERIES_SERVED_BEFORE: [(&str, &str); 24] = [
    ("cursors_connections", "gauge"),
    ("cursors_rooms", "gauge"),
    ("cursors_connections_total", "counter"),
    ("cursors_messages_in_total", "counter"),
    ("cursors_bad_messages_total", "counter"),
    ("cursors_frames_out_total", "counter"),
    ("cursors_bytes_out_total", "counter"),
    ("cursors_stale_batches_dropped_total", "counter"),
    ("cursors_slow_client_closes_total", "counter"),
    ("cursors_oversized_closes_total", "counter"),
    ("cursors_heartbeat_timeouts_total", "counter"),
    ("cursors_backplane_up", "gauge"),
    ("cursors_backplane_published_total", "counter"),
    ("cursors_backplane_received_total", "counter"),
    ("cursors_backplane_errors_total", "counter"),
    ("cursors_backplane_dropped_total", "counter"),
    ("cursors_stale_commands_total", "counter"),
    ("cursors_rate_limited_drops_total", "counter"),
    ("cursors_abuse_closes_total", "counter"),
    ("cursors_refusals_total", "counter"),
    ("cursors_room_tasks", "gauge"),
    ("cursors_occupied_rooms", "gauge"),
    ("cursors_connection_permits", "gauge"),
    ("cursors_connected_addresses", "gauge"),
];

/// The families of a classic (0.0.4) text exposition, name to type, after
/// checking what a strict parser (Go's expfmt, `promtool check metrics`)
/// requires: each family has one `# TYPE` line, its `# HELP` line (if any)
/// comes right before and names the same family, and every sample after it
/// is named as the family (a histogram's as the family plus `_bucket`,
/// `_sum` or `_count`) until the next family. No OpenMetrics `# EOF`.
fn classic_families(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut families = std::collections::BTreeMap::new();
    let mut help_for: Option<&str> = None;
    let mut current: Option<(&str, &str)> = None;
    for line in text.lines() {
        assert_ne!(line.trim(), "# EOF", "an OpenMetrics ending:\n{text}");
        if let Some(help) = line.strip_prefix("# HELP ") {
            assert!(help_for.is_none(), "two HELP lines in a row: {line}");
            help_for = Some(help.split(' ').next().unwrap_or_default());
        } else if let Some(declaration) = line.strip_prefix("# TYPE ") {
            let (name, kind) = declaration
                .split_once(' ')
                .unwrap_or_else(|| panic!("a TYPE line without a type: {line}"));
            if let Some(helped) = help_for.take() {
                assert_eq!(helped, name, "HELP and TYPE name different families");
            }
            let earlier = families.insert(name.to_owned(), kind.to_owned());
            assert!(earlier.is_none(), "two TYPE lines for {name}:\n{text}");
            current = Some((name, kind));
        } else if !line.is_empty() {
            assert!(!line.starts_with('#'), "an unknown comment: {line}");
            assert!(help_for.is_none(), "HELP without TYPE before: {line}");
            let (family, kind) = current.unwrap_or_else(|| panic!("an untyped sample: {line}"));
            let sample_name = line.split(['{', ' ']).next().unwrap_or_default();
            let named_as_family = match kind {
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| sample_name.strip_suffix(suffix) == Some(family)),
                _ => sample_name == family,
            };
            assert!(
                named_as_family,
                "sample {sample_name} under `# TYPE {family} {kind}`"
            );
        }
    }
    families
}

/// `/metrics` is the classic Prometheus text format, said so in its content
/// type, and keeps every series it served before under its name and type,
/// next to the two flush histograms.
#[tokio::test]
async fn metrics_keep_every_series_served_before_in_the_classic_format() {
    let server = TestServer::start().await;
    let (head, body) = http_get_with_head(server.addr, "/metrics").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim())
        })
        .unwrap_or_else(|| panic!("no content type in:\n{head}"));
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");

    let families = classic_families(&body);
    for (name, kind) in SERIES_SERVED_BEFORE {
        assert_eq!(
            families.get(name).map(String::as_str),
            Some(kind),
            "{name} in:\n{body}"
        );
        if name != "cursors_refusals_total" {
            assert_eq!(metric(&server, name).await, 0.0, "{name} is served at 0");
        }
    }
    for reason in [
        "bad_room",
        "forbidden_origin",
        "server_full",
        "too_many_from_address",
    ] {
        let series = format!("cursors_refusals_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(&server, &series).await, 0.0, "{series}");
    }
    for histogram in ["cursors_flush_duration_seconds", "cursors_frames_per_flush"] {
        assert_eq!(
            families.get(histogram).map(String::as_str),
            Some("histogram"),
            "{histogram} in:\n{body}"
        );
    }
    assert_eq!(
        families.len(),
        SERIES_SERVED_BEFORE.len() + 2,
        "a family nobody declared:\n{body}"
    );
    server.stop().await.unwrap();
}

/// The server writes its data frames itself and tungstenite answers the
/// client's pings on the same socket. A pong that tungstenite could write
/// only in part (the socket full) must be finished before the next data
/// frame starts, or the client reads the frame's bytes as the rest of the
/// pong. So the client here keeps its socket nearly full, reading slowly
/// through a tiny window while pinging and while others move, and every
/// frame it reads must be whole and every pong must come back.
#[tokio::test]
async fn a_clients_pings_are_answered_between_the_frames_it_is_sent() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start_with(|config| {
        config.socket_send_buffer_bytes = 4 * 1024;
        // Slow, not stuck: no write may be given up.
        config.write_timeout_secs = 60;
        config.rate_limit = 1000;
        config.rate_burst = 1000;
    })
    .await;
    let tiny_window = tokio::net::TcpSocket::new_v4().expect("socket");
    tiny_window.set_recv_buffer_size(2048).expect("window");
    let stream = tiny_window.connect(server.addr).await.expect("connect");
    let (ada, _) = tokio_tungstenite::client_async(
        server.ws_url("?room=pings"),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("upgrade");
    let (mut pinger, mut reader) = ada.split();
    let mut movers = Vec::new();
    for _ in 0..10 {
        movers.push(server.join("pings").await);
    }
    let done = Arc::new(AtomicBool::new(false));
    let moving = tokio::spawn({
        let done = done.clone();
        async move {
            let mut round = 0u32;
            while !done.load(Ordering::Relaxed) {
                round += 1;
                for (index, mover) in movers.iter_mut().enumerate() {
                    mover
                        .move_to(f64::from(round % 1000) / 1000.0, index as f64 / 10.0)
                        .await;
                    mover.drain_available().await;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    });
    const PINGS: u8 = 200;
    let pinging = tokio::spawn(async move {
        for round in 0..PINGS {
            pinger
                .send(Message::Ping(vec![round; 125].into()))
                .await
                .expect("ping sent");
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        pinger
    });
    let mut pongs = Vec::new();
    let mut frames = 0u32;
    while pongs.len() < usize::from(PINGS) {
        let frame = tokio::time::timeout(PATIENCE, reader.next())
            .await
            .expect("a frame within the patience bound")
            .expect("socket still open")
            .unwrap_or_else(|error| panic!("after {frames} frames, a broken one: {error}"));
        match frame {
            Message::Text(text) => {
                ServerMessage::parse(text.as_str())
                    .unwrap_or_else(|error| panic!("a frame came apart {text}: {error}"));
                frames += 1;
            }
            Message::Pong(payload) => pongs.push(payload.to_vec()),
            Message::Ping(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
        // Reading slowly keeps the server's side of the socket full.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    done.store(true, Ordering::Relaxed);
    moving.await.expect("movers ran");
    let _pinger = pinging.await.expect("pings sent");
    let expected: Vec<Vec<u8>> = (0..PINGS).map(|round| vec![round; 125]).collect();
    assert_eq!(pongs, expected);
    assert!(frames > 0);
    server.stop().await.unwrap();
}
