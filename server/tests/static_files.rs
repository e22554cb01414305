//! The built client served like a production site (issue 28): hashed
//! assets cached for good, the page revalidated, Brotli sent from the file
//! the build wrote, security headers everywhere, a Content-Security-Policy
//! that lets the page's own start-up script and WebAssembly run, and
//! `/metrics` on an address of its own when asked.

mod support;

use std::net::SocketAddr;

use sha2::{Digest, Sha256};
use support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PAGE: &str = "<!DOCTYPE html><html><head><script type=\"module\">import init from '/app-0123456789abcdef.js'; await init();</script></head><body></body></html>";
const INLINE: &str = "import init from '/app-0123456789abcdef.js'; await init();";
const WASM: &[u8] = b"\0asm the module";
const WASM_BR: &[u8] = b"pretend brotli bytes";

struct Answer {
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn status(&self) -> u16 {
        self.head[9..12].parse().expect("a status code")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut response = Vec::new();
    tokio::time::timeout(support::PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("answers in time")
        .expect("reads");
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a head");
    Answer {
        head: String::from_utf8_lossy(&response[..split]).into_owned(),
        body: response[split + 4..].to_vec(),
    }
}

fn dist() -> cursors_test_support::TempDir {
    let dist = cursors_test_support::temp_dir("cursors-dist").expect("a folder");
    let write =
        |name: &str, bytes: &[u8]| std::fs::write(dist.path().join(name), bytes).expect("writes");
    write("index.html", PAGE.as_bytes());
    write("app-0123456789abcdef_bg.wasm", WASM);
    write("app-0123456789abcdef_bg.wasm.br", WASM_BR);
    write("favicon.svg", b"<svg/>");
    dist
}

#[tokio::test]
async fn the_page_revalidates_and_carries_a_policy_that_allows_its_own_script() {
    let dist = dist();
    let static_dir = dist.path().to_owned();
    let server = TestServer::start_with(move |config| config.static_dir = static_dir).await;
    let page = get(server.addr, "/", &[]).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.body, PAGE.as_bytes());
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(page.header("referrer-policy").is_some());
    let policy = page.header("content-security-policy").expect("a policy");
    use base64::Engine;
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(INLINE.as_bytes()));
    assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
    assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
    // Revalidation is a 304 that keeps the policy of the cache.
    let etag = page.header("etag").expect("an ETag").to_owned();
    let again = get(server.addr, "/", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.header("cache-control"), Some("no-cache"));
    // An unhashed file revalidates too.
    let icon = get(server.addr, "/favicon.svg", &[]).await;
    assert_eq!(icon.header("cache-control"), Some("no-cache"));
    assert!(icon.header("content-security-policy").is_none());
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_hashed_asset_is_immutable_and_sent_precompressed_to_who_takes_brotli() {
    let dist = dist();
    let static_dir = dist.path().to_owned();
    let server = TestServer::start_with(move |config| config.static_dir = static_dir).await;
    let path = "/app-0123456789abcdef_bg.wasm";
    let brotli = get(server.addr, path, &[("Accept-Encoding", "gzip, br")]).await;
    assert_eq!(brotli.status(), 200);
    assert_eq!(brotli.header("content-encoding"), Some("br"));
    assert_eq!(
        brotli.body, WASM_BR,
        "the build's file, not a compression per request"
    );
    assert_eq!(brotli.header("content-type"), Some("application/wasm"));
    assert_eq!(
        brotli.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let plain = get(server.addr, path, &[]).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, WASM);
    assert_eq!(plain.header("x-content-type-options"), Some("nosniff"));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn metrics_can_move_to_an_address_of_their_own() {
    let metrics_addr = cursors_test_support::free_loopback_address().expect("a free port");
    let server =
        TestServer::start_with(move |config| config.metrics_addr = Some(metrics_addr)).await;
    let public = get(server.addr, "/metrics", &[]).await;
    assert_eq!(public.status(), 404, "the public port no longer shows them");
    cursors_test_support::wait_until_accepts(metrics_addr, "the metrics listener")
        .expect("listens");
    let metrics = get(metrics_addr, "/metrics", &[]).await;
    assert_eq!(metrics.status(), 200);
    assert!(String::from_utf8_lossy(&metrics.body).contains("cursors_connections 0"));
    server.join("lobby").await;
    server.stop().await.expect("stops");
    // Shutdown stops the metrics listener too.
    cursors_test_support::wait_until_refused(metrics_addr).expect("released");
}
