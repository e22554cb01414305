//! Graceful shutdown of the real binary: SIGTERM with 50 clients connected
//! gives each a close frame with 1001 and the process exits 0.

mod support;

use std::process::Stdio;

use support::{Client, PATIENCE};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

// ANCHOR: test
#[tokio::test]
async fn sigterm_closes_every_socket_with_1001_and_exits_zero() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_cursors-server"))
        .args(["--addr", "127.0.0.1:0", "--static-dir", "/nonexistent"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server binary");

    // Tools find the port on the "listening on http://HOST:PORT" line.
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let address = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some((_, address)) = line.split_once("listening on http://") {
                return address.trim().to_owned();
            }
        }
        panic!("the server exited without a listening line");
    })
    .await
    .expect("a listening line in time");
    // Keep draining its logs so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let mut clients = Vec::new();
    for index in 0..50 {
        let room = format!("room-{}", index % 5);
        clients.push(Client::connect(&format!("ws://{address}/ws?room={room}")).await);
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    for client in &mut clients {
        let close = client
            .closed()
            .await
            .expect("a close frame, not a dropped connection");
        assert_eq!(close.code, CloseCode::Away);
    }
    let exit = tokio::time::timeout(PATIENCE, server.wait())
        .await
        .expect("exit in time")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
// ANCHOR_END: test
