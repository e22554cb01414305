//! Abuse and limits: malformed frames, rate limits, connection caps, the
//! Origin check and slowloris clients. Each misbehaving connection is dealt
//! with alone; everyone else keeps being served.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use cursors_protocol::{ClientMessage, ServerMessage};
use cursors_server::FanoutMode;
use support::{
    Client, PATIENCE, TestServer, metric, positions_of, raw_frame, raw_handshake, try_connect,
    wait_for_eof, wait_for_metric,
};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn malformed_frames_end_only_that_connection() {
    let server = TestServer::start().await;
    let mut bystander = server.join("frames").await;
    let violations: [(&str, Vec<u8>); 6] = [
        ("reserved opcode 0x3", raw_frame(0x83, b"hi", true)),
        (
            "RSV1 bit without an extension",
            raw_frame(0x80 | 0x40 | 0x1, b"hi", true),
        ),
        ("unmasked client frame", raw_frame(0x81, b"hi", false)),
        (
            "invalid UTF-8 in a text frame",
            raw_frame(0x81, &[0xff, 0xfe, 0xfd], true),
        ),
        (
            "control frame over 125 bytes",
            raw_frame(0x89, &[0u8; 126], true),
        ),
        ("fragmented control frame", raw_frame(0x09, b"ping", true)),
    ];
    for (what, bytes) in violations {
        let mut offender = raw_handshake(server.addr, "/ws?room=frames").await;
        offender.write_all(&bytes).await.unwrap();
        wait_for_eof(&mut offender).await;
        // The bystander is still served, and a new connection works.
        assert!(
            bystander
                .sync()
                .await
                .iter()
                .all(|message| !matches!(message, ServerMessage::Error { .. })),
            "{what}"
        );
        let mut fresh = server.join("frames").await;
        fresh.move_to(0.5, 0.5).await;
        fresh.sync().await;
        fresh.close().await;
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn excess_messages_are_dropped_and_sustained_abuse_is_closed() {
    let server = TestServer::start_with(|config| {
        config.rate_limit = 20;
        config.rate_burst = 20;
        config.rate_abuse_secs = 2;
    })
    .await;
    let mut flooder = server.join("flood").await;
    let mut witness = server.join("flood").await;

    // A burst of 60 moves: the first 20 fit the bucket, most of the rest
    // are dropped and never relayed.
    for step in 1..=60 {
        flooder.move_to(step as f64 / 100.0, 0.5).await;
    }
    let dropped = {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let dropped = metric(&server, "cursors_rate_limited_drops_total").await;
            if dropped >= 30.0 || tokio::time::Instant::now() > deadline {
                break dropped;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert!(dropped >= 30.0, "only {dropped} dropped");
    let relayed = witness.sync().await;
    let last_x = relayed
        .iter()
        .flat_map(|message| positions_of(message, &flooder.id))
        .map(|(x, _)| x)
        .next_back();
    assert!(
        last_x.is_some_and(|x| x < 0.3),
        "the late moves of the burst were relayed: {last_x:?}"
    );

    // Keeping it up for seconds is abuse: closed with 1008.
    let flooding = async {
        for step in 0..2000 {
            if !flooder.try_move_to((step % 100) as f64 / 100.0, 0.5).await {
                break; // the server hung up
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let mut flooder_closed = false;
    tokio::select! {
        () = flooding => {}
        () = tokio::time::sleep(PATIENCE) => {}
    }
    let close = flooder.closed().await;
    if let Some(close) = close {
        assert_eq!(close.code, CloseCode::Policy);
        flooder_closed = true;
    }
    assert!(flooder_closed, "the flooder was not closed with 1008");
    assert_eq!(metric(&server, "cursors_abuse_closes_total").await, 1.0);
    // The witness is fine.
    witness.sync().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn connection_caps_hold_for_the_socket_lifetime_and_are_released() {
    let server = TestServer::start_with(|config| {
        config.max_connections = 3;
        config.max_connections_per_ip = 2;
    })
    .await;
    let url = server.ws_url("?room=caps");
    let first_address: IpAddr = "127.0.0.1".parse().unwrap();
    let second_address: IpAddr = "127.0.0.2".parse().unwrap();
    let third_address: IpAddr = "127.0.0.3".parse().unwrap();

    let a = try_connect(&url, &[], Some(first_address)).await.unwrap();
    let b = try_connect(&url, &[], Some(first_address)).await.unwrap();
    assert_eq!(
        try_connect(&url, &[], Some(first_address)).await.err(),
        Some(503),
        "per-address cap"
    );
    let c = try_connect(&url, &[], Some(second_address)).await.unwrap();
    assert_eq!(
        try_connect(&url, &[], Some(third_address)).await.err(),
        Some(503),
        "global cap"
    );
    assert_eq!(metric(&server, "cursors_connection_permits").await, 3.0);
    assert_eq!(metric(&server, "cursors_connected_addresses").await, 2.0);
    assert_eq!(
        metric(
            &server,
            "cursors_refusals_total{reason=\"too_many_from_address\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(&server, "cursors_refusals_total{reason=\"server_full\"}").await,
        1.0
    );

    for client in [a, b, c] {
        client.close().await;
    }
    wait_for_metric(&server, "cursors_connection_permits", 0.0).await;
    wait_for_metric(&server, "cursors_connected_addresses", 0.0).await;
    wait_for_metric(&server, "cursors_connections", 0.0).await;
    // Released means usable again.
    try_connect(&url, &[], Some(third_address)).await.unwrap();
    server.stop().await.unwrap();
}

// ANCHOR: origin-test
#[tokio::test]
async fn only_allowed_origins_may_connect() {
    let server = TestServer::start_with(|config| {
        config.allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let url = server.ws_url("?room=origins");
    let own_origin = format!("http://{}", server.addr);
    for refused in [
        "https://app.example.com.evil.com",
        "https://evil.example",
        "http://app.example.com",
        "null",
    ] {
        assert_eq!(
            try_connect(&url, &[("Origin", refused)], None).await.err(),
            Some(403),
            "{refused}"
        );
    }
    for allowed in ["https://app.example.com", own_origin.as_str()] {
        assert!(
            try_connect(&url, &[("Origin", allowed)], None)
                .await
                .is_ok(),
            "{allowed}"
        );
    }
    assert!(
        try_connect(&url, &[], None).await.is_ok(),
        "no Origin: not a browser"
    );
    assert_eq!(
        metric(
            &server,
            "cursors_refusals_total{reason=\"forbidden_origin\"}"
        )
        .await,
        4.0
    );
    server.stop().await.unwrap();
}
// ANCHOR_END: origin-test

// ANCHOR: slowloris-test
#[tokio::test]
async fn slowloris_connections_are_cut_off_while_real_clients_connect() {
    let server = TestServer::start_with(|config| config.header_read_timeout_secs = 1).await;
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut trickling = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    trickling
        .write_all(b"GET /ws?room=slow HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();

    // Trickle one header byte at a time; the server must hang up on both
    // long before the loop (bounded) runs out.
    let trickle = async {
        for _ in 0..200 {
            if trickling.write_all(b"X").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the trickling client was never cut off");
    };
    let meanwhile = async {
        let mut client = server.join("slow").await;
        client.sync().await;
        wait_for_eof(&mut silent).await;
    };
    tokio::join!(trickle, meanwhile);
    server.stop().await.unwrap();
}
// ANCHOR_END: slowloris-test

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_others_keep_receiving() {
    stalled_reader_is_closed_while_others_keep_receiving(FanoutMode::Coalesced).await;
}

#[tokio::test]
async fn in_the_immediate_fanout_too_a_stalled_reader_is_closed_and_others_keep_receiving() {
    stalled_reader_is_closed_while_others_keep_receiving(FanoutMode::Immediate).await;
}

async fn stalled_reader_is_closed_while_others_keep_receiving(fanout: FanoutMode) {
    let server = TestServer::start_with(|config| {
        config.fanout = fanout;
        config.write_timeout_secs = 1;
        config.socket_send_buffer_bytes = 8 * 1024;
        config.rate_limit = 1000;
        config.rate_burst = 1000;
    })
    .await;
    let stalled = join_with_tiny_window(&server, "stall").await;
    let stalled_id = stalled.id.clone();

    let mut reader = server.join("stall").await;
    let mut movers = Vec::new();
    for _ in 0..20 {
        movers.push(server.join("stall").await);
    }
    // Movers move (and read) until the room sees the
    // stalled client leave; the reader keeps receiving all along.
    let mut round = 0u32;
    let left = loop {
        round += 1;
        assert!(round < 3000, "the stalled client was never closed");
        for (index, mover) in movers.iter_mut().enumerate() {
            mover
                .move_to((round % 1000) as f64 / 1000.0, index as f64 / 20.0)
                .await;
            mover.drain_available().await;
        }
        let mut left = false;
        for message in reader.sync().await {
            left |= matches!(&message, ServerMessage::Left { id } if *id == stalled_id);
        }
        if left {
            break round;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(left > 0);
    assert!(metric(&server, "cursors_slow_client_closes_total").await >= 1.0);
    // The reader got every mover's latest position.
    let last = (round % 1000) as f64 / 1000.0;
    for mover in &mut movers {
        mover.move_to(last, 0.99).await;
    }
    let mut seen = std::collections::HashMap::new();
    while seen.len() < movers.len() {
        for position in match reader.recv().await {
            ServerMessage::Cursors { moves } => moves,
            _ => continue,
        } {
            if position.y == 0.99 {
                seen.insert(position.id.clone(), position.x);
            }
        }
    }
    drop(stalled);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_ignores_pings_is_closed_and_the_room_sees_left() {
    let server = TestServer::start_with(|config| {
        config.ping_interval_secs = 1;
        config.pong_timeout_secs = 1;
        // A dead connection may resume for a while; not what this test is about.
        config.resume_grace_secs = 1;
    })
    .await;
    // tungstenite answers pings only while the socket is being read; this
    // client never reads again after its welcome, so it never answers.
    let silent = server.join("heartbeat").await;
    let mut watcher = server.join("heartbeat").await;
    let left = watcher.next_left();
    // The watcher itself keeps answering pings (it is reading), so only the
    // silent one goes.
    assert_eq!(left.await, silent.id);
    assert_eq!(
        metric(&server, "cursors_heartbeat_timeouts_total").await,
        1.0
    );
    watcher.send(&ClientMessage::Ping { id: 7 }).await;
    watcher
        .recv_until(|message| matches!(message, ServerMessage::Pong { id: 7 }).then_some(()))
        .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_mass_departure_does_not_expel_the_members_who_stay() {
    // A queue of 4 events and 30 users leaving at once: the room produces
    // 30 `hidden` (and later 30 `left`) for the one who stays, faster than
    // its connection task gets a turn. That backlog is the server's, not a
    // sign that the client stopped reading, so it must not be closed.
    let server = TestServer::start_with(|config| {
        config.outbound_queue = 4;
        config.reload_grace_ms = 200;
    })
    .await;
    let mut stayer = server.join("exodus").await;
    let mut leavers = Vec::new();
    for index in 0..30 {
        let mut leaver = server.join("exodus").await;
        leaver.move_to(0.5, index as f64 / 30.0).await;
        leavers.push(leaver);
    }
    for leaver in &mut leavers {
        leaver.sync().await;
    }
    stayer.sync().await;
    let leaving: std::collections::HashSet<String> =
        leavers.iter().map(|leaver| leaver.id.clone()).collect();

    futures_util::future::join_all(leavers.into_iter().map(Client::close)).await;

    let mut hidden = std::collections::HashSet::new();
    let mut left = std::collections::HashSet::new();
    while left.len() < leaving.len() {
        match stayer.recv().await {
            ServerMessage::Hidden { id } => {
                hidden.insert(id);
            }
            ServerMessage::Left { id } => {
                left.insert(id);
            }
            _ => {}
        }
    }
    assert_eq!(hidden, leaving);
    assert_eq!(left, leaving);
    assert_eq!(
        metric(&server, "cursors_slow_client_closes_total").await,
        0.0
    );
    // And the stayer is still served.
    stayer.sync().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn events_piling_up_behind_a_stuck_write_close_that_client() {
    // The write timeout is out of reach, so only the event bound can act.
    let server = TestServer::start_with(|config| {
        config.outbound_queue = 8;
        config.write_timeout_secs = 600;
        config.socket_send_buffer_bytes = 8 * 1024;
        config.rate_limit = 1000;
        config.rate_burst = 1000;
    })
    .await;
    let stalled = join_with_tiny_window(&server, "pile-up").await;
    let stalled_id = stalled.id.clone();
    let mut reader = server.join("pile-up").await;
    let mut talker = server.join("pile-up").await;
    // Moves fill the stalled client's socket; each `say` then waits behind
    // the blocked write as an event.
    let mut round = 0u32;
    loop {
        round += 1;
        assert!(round < 3000, "the stalled client was never closed");
        talker.move_to(f64::from(round % 100) / 100.0, 0.5).await;
        talker
            .send(&ClientMessage::Say {
                text: format!("line {round}"),
            })
            .await;
        talker.drain_available().await;
        let messages = reader.sync().await;
        if messages
            .iter()
            .any(|message| matches!(message, ServerMessage::Left { id } if *id == stalled_id))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(metric(&server, "cursors_slow_client_closes_total").await >= 1.0);
    drop(stalled);
    server.stop().await.unwrap();
}

/// Joins `room` through a socket with a tiny receive window, so the
/// server's writes to it block soon after it stops reading (it never reads).
async fn join_with_tiny_window(server: &TestServer, room: &str) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (socket, _) =
        tokio_tungstenite::client_async(server.ws_url(&format!("?room={room}")), stream)
            .await
            .unwrap();
    Client::from_socket(socket).await
}
