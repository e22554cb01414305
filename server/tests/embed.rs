//! The server's side of the embed (issue 28), against a real server: the
//! sites of `--embed-origins` get rooms of their own, anchored positions go
//! through as they came, and the embed's files and `/embed/access` answer
//! other origins as browsers need.

mod support;

use cursors_protocol::{Anchor, ClientMessage, ServerMessage};
use support::{Client, TestServer, http_get_with_headers};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const DOCS: &str = "http://docs.example.test";
const SHOP: &str = "http://shop.example.test";

async fn embedded(server: &TestServer, origin: &str, room: &str) -> Client {
    let mut request = server
        .ws_url(&format!("?room={room}"))
        .into_client_request()
        .expect("a request");
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(origin).expect("an origin"));
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket upgrade");
    Client::from_socket(socket).await
}

async fn server_for_sites() -> TestServer {
    TestServer::start_with(|config| {
        config.embed_origins = vec![DOCS.to_owned(), SHOP.to_owned()];
    })
    .await
}

#[tokio::test]
async fn two_sites_with_a_room_of_the_same_name_never_meet() {
    let server = server_for_sites().await;
    let mut docs_reader = embedded(&server, DOCS, "lobby").await;
    let docs_writer = embedded(&server, DOCS, "lobby").await;
    let shop = embedded(&server, SHOP, "lobby").await;
    let ours = server.join("lobby").await;
    assert_eq!(docs_writer.peer_ids(), vec![docs_reader.id.as_str()]);
    assert!(shop.peers().is_empty(), "the shop's lobby is its own");
    assert!(ours.peers().is_empty(), "our page's lobby is its own");
    let joined = docs_reader.next_joined().await;
    assert_eq!(joined, docs_writer.id);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_anchor_goes_through_as_it_came_and_a_plain_move_clears_it() {
    let server = server_for_sites().await;
    let mut mover = embedded(&server, DOCS, "_guide").await;
    let mut watcher = embedded(&server, DOCS, "_guide").await;
    let intro = Anchor {
        id: "intro".into(),
        x: 0.3,
        y: 0.6,
    };
    mover
        .send(&ClientMessage::Move {
            x: 0.41,
            y: 0.12,
            anchor: Some(intro.clone()),
        })
        .await;
    let seen = watcher
        .recv_until(|message| match message {
            ServerMessage::Cursors { moves } => moves
                .iter()
                .find(|position| position.id == mover.id)
                .cloned(),
            _ => None,
        })
        .await;
    assert_eq!(
        (seen.x, seen.y, seen.anchor),
        (0.41, 0.12, Some(intro.clone()))
    );

    // Someone arriving now sees the anchor in the welcome.
    let late = embedded(&server, DOCS, "_guide").await;
    let snapshot = late
        .peers()
        .iter()
        .find(|peer| peer.id == mover.id)
        .expect("the mover is listed");
    assert_eq!(snapshot.anchor, Some(intro));

    mover.move_to(0.5, 0.5).await;
    let plain = watcher
        .recv_until(|message| match message {
            ServerMessage::Cursors { moves } => moves
                .iter()
                .find(|position| position.id == mover.id && position.x == 0.5)
                .cloned(),
            _ => None,
        })
        .await;
    assert_eq!(plain.anchor, None);

    // A bad anchor is refused, and the socket goes on.
    mover
        .send(&ClientMessage::Move {
            x: 0.5,
            y: 0.5,
            anchor: Some(Anchor {
                id: String::new(),
                x: 0.5,
                y: 0.5,
            }),
        })
        .await;
    let refused = mover
        .recv_until(|message| match message {
            ServerMessage::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .await;
    assert!(refused.contains("anchor"), "{refused}");
    assert!(mover.try_move_to(0.25, 0.25).await);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn access_says_which_flag_would_let_a_site_in() {
    let server = server_for_sites().await;
    let (head, body) =
        http_get_with_headers(server.addr, "/embed/access", &[("Origin", DOCS)]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {DOCS}")),
        "{head}"
    );
    assert_eq!(body, "ok\n");

    let stranger = "http://elsewhere.example.test";
    let (head, body) =
        http_get_with_headers(server.addr, "/embed/access", &[("Origin", stranger)]).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {stranger}")),
        "{head}"
    );
    assert!(
        body.contains(&format!("--embed-origins {stranger}")),
        "{body}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_embeds_files_carry_cors_headers_for_the_listed_sites_only() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::create_dir(dist.path().join("embed")).unwrap();
    std::fs::write(dist.path().join("embed.js"), "// loader\n").unwrap();
    let wasm = "embed/cursors-embed-0123456789abcdef_bg.wasm";
    std::fs::write(dist.path().join(wasm), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>x</title>",
    )
    .unwrap();
    let static_dir = dist.path().to_owned();
    let server = TestServer::start_with(|config| {
        config.embed_origins = vec![DOCS.to_owned()];
        config.static_dir = static_dir;
    })
    .await;

    let (head, _) =
        http_get_with_headers(server.addr, &format!("/{wasm}"), &[("Origin", DOCS)]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {DOCS}")),
        "{head}"
    );
    assert!(head.contains("vary: "), "{head}");
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert!(
        head.contains("cache-control: public, max-age=31536000, immutable"),
        "{head}"
    );

    let (head, _) = http_get_with_headers(server.addr, "/embed.js", &[("Origin", DOCS)]).await;
    assert!(
        head.contains(&format!("access-control-allow-origin: {DOCS}")),
        "{head}"
    );
    assert!(
        head.contains("cache-control: public, max-age=300, must-revalidate"),
        "{head}"
    );

    for (path, origin) in [(format!("/{wasm}"), SHOP), ("/index.html".to_owned(), DOCS)] {
        let (head, _) = http_get_with_headers(server.addr, &path, &[("Origin", origin)]).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            !head.contains("access-control-allow-origin"),
            "{path} for {origin}: {head}"
        );
    }
    server.stop().await.unwrap();
}
