//! Rooms only the invited can enter (issue 28): with `--token-key`, a real
//! server refuses every socket without a good token for its room, before
//! the upgrade, each refusal with its own status, reason and metric; lets
//! a good one in; and closes the socket when its token runs out.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cursors_protocol::{ClientMessage, ServerMessage};
use cursors_server::token::{Claims, TokenKey};
use support::{Client, TestServer, metric};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const SECRET: &[u8] = b"the tokens test's secret, 32 bytes or more";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn key() -> TokenKey {
    TokenKey::from_bytes(SECRET).expect("long enough")
}

fn sign(room: &str, exp: u64) -> String {
    key()
        .sign(&Claims {
            room: room.to_owned(),
            exp,
            iat: Some(now()),
            nbf: None,
            sub: Some("test".to_owned()),
            name: None,
        })
        .expect("signs")
}

/// A token for `room`, good for an hour, that vouches for `name`.
fn sign_named(room: &str, name: &str) -> String {
    key()
        .sign(&Claims {
            room: room.to_owned(),
            exp: now() + 3600,
            iat: Some(now()),
            nbf: None,
            sub: Some("ada".to_owned()),
            name: Some(name.to_owned()),
        })
        .expect("signs")
}

async fn server_with_tokens() -> (TestServer, tempfile::TempDir) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = folder.path().join("secret");
    std::fs::write(&path, SECRET).expect("write the key");
    let server = TestServer::start_with(|config| config.token_key = Some(path)).await;
    (server, folder)
}

/// The status and body of a refused upgrade.
async fn refused(url: &str) -> (u16, String) {
    match tokio_tungstenite::connect_async(url).await {
        Err(WsError::Http(response)) => (
            response.status().as_u16(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned(),
        ),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("{url} was let in"),
    }
}

#[tokio::test]
async fn every_bad_token_is_refused_before_the_upgrade_with_its_reason() {
    let (server, _key) = server_with_tokens().await;
    let good = sign("lobby", now() + 3600);
    // One character of the signature changed: its first, because the
    // last also carries padding bits and may decode as no base64 at all.
    let signature_start = good.rfind('.').expect("three parts") + 1;
    let flipped = if good[signature_start..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let mut tampered = good.clone();
    tampered.replace_range(signature_start..=signature_start, flipped);
    let cases = [
        ("?room=lobby".to_owned(), 401, "needs a token"),
        (
            format!("?room=lobby&token={}", "x".repeat(5000)),
            401,
            "larger than",
        ),
        ("?room=lobby&token=nonsense".to_owned(), 401, "malformed"),
        (format!("?room=lobby&token={tampered}"), 401, "signature"),
        (
            format!("?room=lobby&token={}", sign("lobby", now() - 60)),
            401,
            "expired",
        ),
        (
            format!("?room=kitchen&token={good}"),
            403,
            "not \"kitchen\"",
        ),
        // A resume token is no way around the room token.
        (
            "?room=lobby&resume=0123456789abcdef".to_owned(),
            401,
            "needs a token",
        ),
    ];
    for (query, status, reason) in &cases {
        let (got_status, body) = refused(&server.ws_url(query)).await;
        assert_eq!(got_status, *status, "{query}: {body}");
        assert!(
            body.contains(reason),
            "{query}: {body:?} should say {reason:?}"
        );
    }
    for (label, count) in [
        ("token_missing", 2.0),
        ("token_too_large", 1.0),
        ("token_malformed", 1.0),
        ("token_bad_signature", 1.0),
        ("token_expired", 1.0),
        ("token_wrong_room", 1.0),
        ("token_not_yet_valid", 0.0),
    ] {
        let name = format!("cursors_refusals_total{{reason=\"{label}\"}}");
        assert_eq!(metric(&server, &name).await, count, "{name}");
    }
    // The good token opens its room, and people there see each other.
    let mut ada = Client::connect(&server.ws_url(&format!("?room=lobby&token={good}"))).await;
    let bo = Client::connect(&server.ws_url(&format!("?room=lobby&token={good}"))).await;
    assert_eq!(ada.next_joined().await, bo.id);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_prefix_token_opens_every_room_under_it_and_no_other() {
    let (server, _key) = server_with_tokens().await;
    let docs = sign("docs-*", now() + 3600);
    Client::connect(&server.ws_url(&format!("?room=docs-intro&token={docs}"))).await;
    let (status, _) = refused(&server.ws_url(&format!("?room=blog&token={docs}"))).await;
    assert_eq!(status, 403);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_socket_is_closed_when_its_token_runs_out() {
    let (server, _key) = server_with_tokens().await;
    // Valid for two more seconds (the leeway covers only what arrives
    // already expired).
    let brief = sign("lobby", now() + 2);
    let lasting = sign("lobby", now() + 3600);
    let mut brief_client =
        Client::connect(&server.ws_url(&format!("?room=lobby&token={brief}"))).await;
    let mut lasting_client =
        Client::connect(&server.ws_url(&format!("?room=lobby&token={lasting}"))).await;
    let frame = brief_client.closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::from(4401));
    assert_eq!(frame.reason.as_str(), "token expired");
    // The other socket goes on: it sees the first one's cursor go, and
    // answers a ping.
    tokio::time::timeout(Duration::from_secs(5), lasting_client.sync())
        .await
        .expect("the other socket still answers");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn the_welcome_says_when_the_socket_ends_and_a_refresh_moves_it() {
    let (server, _key) = server_with_tokens().await;
    let first_end = now() + 2;
    let brief = sign("lobby", first_end);
    let mut client = Client::connect(&server.ws_url(&format!("?room=lobby&token={brief}"))).await;
    let ServerMessage::Welcome { expires, .. } = &client.welcome else {
        unreachable!("the first frame is the welcome")
    };
    assert_eq!(*expires, Some(first_end));
    // A token for another room does not refresh this socket.
    client
        .send(&ClientMessage::Refresh {
            token: sign("kitchen", now() + 3600),
        })
        .await;
    let refused = client
        .recv_until(|message| match message {
            ServerMessage::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .await;
    assert!(refused.contains("refresh refused"), "{refused}");
    let later_end = now() + 3600;
    client
        .send(&ClientMessage::Refresh {
            token: sign("lobby", later_end),
        })
        .await;
    let moved = client
        .recv_until(|message| match message {
            ServerMessage::Refreshed { expires } => Some(*expires),
            _ => None,
        })
        .await;
    assert_eq!(moved, later_end);
    // Past the first token's end, the socket is still open.
    tokio::time::sleep(Duration::from_secs(3)).await;
    client.sync().await;
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_refused_refresh_leaves_the_end_where_it_was() {
    let (server, _key) = server_with_tokens().await;
    let mut client =
        Client::connect(&server.ws_url(&format!("?room=lobby&token={}", sign("lobby", now() + 2))))
            .await;
    client
        .send(&ClientMessage::Refresh {
            token: "tampered.token.value".to_owned(),
        })
        .await;
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::from(4401));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn without_a_token_key_no_token_is_asked_for() {
    let server = TestServer::start().await;
    server.join("lobby").await;
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_name_claim_is_shown_as_verified_and_cannot_be_changed() {
    let (server, _key) = server_with_tokens().await;
    let named = sign_named("lobby", "  Ada Lovelace ");
    let mut ada = Client::connect(&server.ws_url(&format!("?room=lobby&token={named}"))).await;
    let ServerMessage::Welcome { name, verified, .. } = &ada.welcome else {
        unreachable!("the first frame is the welcome")
    };
    assert_eq!((name.as_str(), *verified), ("Ada Lovelace", true));

    let plain = sign("lobby", now() + 3600);
    let mut bo = Client::connect(&server.ws_url(&format!("?room=lobby&token={plain}"))).await;
    let listed = bo
        .peers()
        .iter()
        .find(|peer| peer.id == ada.id)
        .expect("Ada is listed")
        .clone();
    assert_eq!(
        (listed.name.as_str(), listed.verified),
        ("Ada Lovelace", true)
    );
    let ServerMessage::Welcome { verified, .. } = &bo.welcome else {
        unreachable!()
    };
    assert!(!verified, "a token without a name gives no verified name");

    // Ada's page cannot rename her; Bo's can rename Bo.
    ada.send(&ClientMessage::Hello {
        name: "Mallory".to_owned(),
    })
    .await;
    let refused = ada
        .recv_until(|message| match message {
            ServerMessage::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .await;
    assert!(refused.contains("room token"), "{refused}");
    bo.send(&ClientMessage::Hello {
        name: "Bo".to_owned(),
    })
    .await;
    let renamed = ada
        .recv_until(|message| match message {
            ServerMessage::Renamed { id, name } => Some((id.clone(), name.clone())),
            _ => None,
        })
        .await;
    assert_eq!(
        renamed,
        (bo.id.clone(), "Bo".to_owned()),
        "only Bo's rename went out"
    );
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sharing_redis_honour_the_same_tokens() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let key_path = folder.path().join("secret");
    std::fs::write(&key_path, SECRET).expect("write the key");
    let key_flag = key_path.to_str().expect("a UTF-8 path");
    let redis = support::start_redis();
    let one = support::start_server_process(&redis.url(), &["--token-key", key_flag]);
    let two = support::start_server_process(&redis.url(), &["--token-key", key_flag]);

    let named = sign_named("shared", "Ada Lovelace");
    let plain = sign("shared", now() + 3600);
    let ada = Client::connect(&one.ws_url(&format!("?room=shared&token={named}"))).await;
    support::wait_for_user(&redis, "shared", &ada.id);
    let mut bo = Client::connect(&two.ws_url(&format!("?room=shared&token={plain}"))).await;
    // Bo, on the other server, sees Ada with her verified name.
    let listed = match bo.peers().iter().find(|peer| peer.id == ada.id) {
        Some(peer) => (peer.name.clone(), peer.verified),
        None => {
            bo.recv_until(|message| match message {
                ServerMessage::Joined { peer } if peer.id == ada.id => {
                    Some((peer.name.clone(), peer.verified))
                }
                _ => None,
            })
            .await
        }
    };
    assert_eq!(listed, ("Ada Lovelace".to_owned(), true));

    // The same refusals on either server.
    for server in [&one, &two] {
        let (status, body) = refused(&server.ws_url("?room=shared")).await;
        assert_eq!(
            (status, body.contains("needs a token")),
            (401, true),
            "{body}"
        );
        let (status, _) = refused(&server.ws_url(&format!("?room=elsewhere&token={plain}"))).await;
        assert_eq!(status, 403);
    }

    // Ada's connection vanishes; her resume token alone does not open the
    // room on the other server, and with a room token it gives her back.
    let resume = ada.resume_token();
    let ada_id = ada.id.clone();
    ada.vanish();
    let (status, _) = refused(&two.ws_url(&format!("?room=shared&resume={resume}"))).await;
    assert_eq!(status, 401, "a resume token never replaces a room token");
    let back =
        Client::connect(&two.ws_url(&format!("?room=shared&resume={resume}&token={named}"))).await;
    assert_eq!(back.id, ada_id, "resumed on the other server");
    let ServerMessage::Welcome { name, verified, .. } = &back.welcome else {
        unreachable!("the first frame is the welcome")
    };
    assert_eq!((name.as_str(), *verified), ("Ada Lovelace", true));
}
