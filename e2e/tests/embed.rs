//! The embed on someone else's page (issue 28): a plain host page, not
//! ours, served from a second origin on 127.0.0.1 with the one tag, in
//! real Chromium windows of different widths, against a real server.
//!
//! The host page and the helpers that read the embed through its shadow
//! root are `cursors_e2e::embed`, shared with `embed-bench`.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::Router;
use axum::response::Html;
use axum::routing::get;
use cursors_e2e::embed::{
    cursor_over, drawn_cursors, element_box, embed_count, host_page, in_embed, notes, point_at,
    wait_for_count,
};
use cursors_e2e::{Page, Server};
use cursors_server::token::{Claims, TokenKey};
use cursors_test_support::ChromeDriver;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use serde_json::json;
use tokio::net::TcpListener;

const SECRET: &[u8] = b"the embed test's room token secret, 32 bytes+";

/// Serves `page` at every path on a free port of 127.0.0.1 (another
/// origin than the server's: another port), and a room token at `/token`.
async fn host(
    page: impl Fn() -> String + Clone + Send + Sync + 'static,
    token: Option<String>,
) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let token = token.unwrap_or_default();
    let app = Router::new()
        .route("/token", get(move || async move { token }))
        .fallback(get(move || {
            let page = page.clone();
            async move { Html(page()) }
        }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_stays_over_the_same_words_at_two_widths_and_after_scrolling() -> Result<()> {
    // The host's origin is known only once it listens: bind it first, and
    // keep it bound, so no other program takes the port meanwhile.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let host_origin = format!("http://{}", listener.local_addr()?);
    let server = Server::start_configured("127.0.0.1:0".parse()?, |config| {
        config.embed_origins = vec![host_origin.clone()];
    })
    .await?;
    let page_html = host_page(server.addr, "");
    let app = Router::new().fallback(get(move || {
        let page = page_html.clone();
        async move { Html(page) }
    }));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let driver = ChromeDriver::start()?;
    let url = format!("{host_origin}/docs/guide.html?utm=ignored#section");
    let wide = Page::open(&driver, 1300, 800, &url).await?;
    let narrow = Page::open(&driver, 520, 800, &url).await?;
    for page in [&wide, &narrow] {
        wait_for_count(page, "2 people here").await?;
    }
    // Nothing on the host page moved: the browser's own layout-shift
    // entries sum to zero. (The bar was anchored at its right edge once;
    // its count growing from "Connecting…" moved it, 0.0025.)
    for page in [&wide, &narrow] {
        let shift = notes(page).await?["layoutShift"].as_f64();
        assert_eq!(shift, Some(0.0), "the embed shifted the host page's layout");
    }

    // The host page is left alone: one element more in its body, no
    // attribute on html or body, and one global name.
    let untouched = wide
        .eval(
            "return [document.body.lastElementChild.dataset.testid,
                     document.documentElement.getAttributeNames().join(),
                     document.body.getAttributeNames().join(),
                     getComputedStyle(document.querySelector('[data-testid=cursors-embed]')).pointerEvents,
                     typeof window.cursorsEmbed];",
            vec![],
        )
        .await?;
    assert_eq!(
        untouched,
        json!(["cursors-embed", "lang", "", "none", "object"])
    );
    let new_globals = wide
        .eval(
            // Besides the test's own notes and ChromeDriver's `ret_nodes`.
            "return Object.getOwnPropertyNames(window).filter(name =>
               !window.testNotes.globals.includes(name) && !['testNotes', 'ret_nodes'].includes(name));",
            vec![],
        )
        .await?;
    assert_eq!(new_globals, json!(["cursorsEmbed"]), "one global name");
    // axe-core looks into the shadow root too: the embed adds no violation
    // to a host page that has none.
    let violations = wide.accessibility_violations().await?;
    assert!(violations.is_empty(), "{violations:#?}");

    // The paragraph wraps differently at each width; the cursor stays on
    // the same spot of it.
    let [_, _, wide_width, wide_height] = element_box(&wide, "text-1").await?;
    let [_, _, narrow_width, narrow_height] = element_box(&narrow, "text-1").await?;
    assert!(
        narrow_width < wide_width * 0.7 && narrow_height > wide_height * 1.3,
        "text-1 is {wide_width}×{wide_height} wide and {narrow_width}×{narrow_height} narrow"
    );
    point_at(&wide, "text-1", 0.3, 0.6).await?;
    narrow
        .wait_for(
            "the wide window's cursor over the same spot of text-1",
            async |page| cursor_over(page, "text-1", 0.3, 0.6).await,
        )
        .await?;

    // Scrolled, the cursor moves with the page.
    narrow.eval("window.scrollBy(0, 250);", vec![]).await?;
    narrow
        .wait_for("the cursor to move with the scrolled page", async |page| {
            cursor_over(page, "text-1", 0.3, 0.6).await
        })
        .await?;

    // The other way round, over a heading.
    point_at(&narrow, "heading-2", 0.1, 0.5).await?;
    wide.wait_for("the narrow window's cursor over heading-2", async |page| {
        cursor_over(page, "heading-2", 0.1, 0.5).await
    })
    .await?;

    // The toggle, from the keyboard: focus it, press Enter; the cursors go,
    // and stay gone after a reload.
    in_embed(
        &wide,
        "root.querySelector('[data-testid=embed-toggle]').focus(); return true;",
        vec![],
    )
    .await?;
    let enter = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: '\u{E007}' })
        .then(KeyAction::Up { value: '\u{E007}' });
    wide.client.perform_actions(enter).await?;
    wide.wait_for("the cursors hidden", async |page| {
        Ok(drawn_cursors(page).await?.is_empty().then_some(()))
    })
    .await?;
    wide.client.refresh().await?;
    wait_for_count(&wide, "2 people here").await?;
    let pressed = in_embed(
        &wide,
        "return root.querySelector('[data-testid=embed-toggle]').getAttribute('aria-pressed');",
        vec![],
    )
    .await?;
    assert_eq!(pressed, json!("true"), "the toggle is remembered");

    // The count follows who is here.
    narrow.close().await?;
    wait_for_count(&wide, "1 person here").await?;
    wide.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_not_on_the_list_gets_the_script_but_no_socket() -> Result<()> {
    let server = Server::start().await?;
    let server_addr = server.addr;
    let host_addr = host(move || host_page(server_addr, ""), None).await?;
    let driver = ChromeDriver::start()?;
    let page = Page::open(&driver, 900, 700, &format!("http://{host_addr}/")).await?;
    let warning = page
        .wait_for(
            "the console to say which flag would allow this site",
            async |page| {
                let notes = notes(page).await?;
                Ok(notes["warnings"].as_array().and_then(|warnings| {
                    warnings
                        .iter()
                        .find_map(|warning| warning.as_str().map(str::to_owned))
                }))
            },
        )
        .await?;
    assert!(
        warning.contains(&format!("--embed-origins http://{host_addr}")),
        "{warning}"
    );
    let state = page
        .eval(
            "return [window.testNotes.opened, window.testNotes.closed, typeof window.cursorsEmbed,
                     document.querySelector('[data-testid=cursors-embed]') === null];",
            vec![],
        )
        .await?;
    assert_eq!(
        state,
        json!([0, 0, "object", true]),
        "the script ran, opened no socket, drew nothing"
    );

    // And the server refuses this origin's socket, whoever opens it.
    page.eval(
        "const socket = new WebSocket(arguments[0]);",
        vec![json!(format!("ws://{server_addr}/ws?room=x"))],
    )
    .await?;
    page.wait_for("the socket to be refused", async |page| {
        let notes = notes(page).await?;
        Ok((notes["closed"] == json!(1)).then_some(notes["opened"].clone()))
    })
    .await
    .and_then(|opened| {
        anyhow::ensure!(opened == json!(0), "it never opened");
        Ok(())
    })?;
    page.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_token_key_a_valid_token_joins_and_a_tampered_one_does_not() -> Result<()> {
    let key_dir = cursors_test_support::temp_dir("cursors-embed-key")?;
    let key_file = key_dir.path().join("secret");
    std::fs::write(&key_file, SECRET)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let host_origin = format!("http://{}", listener.local_addr()?);
    let server = Server::start_configured("127.0.0.1:0".parse()?, |config| {
        config.embed_origins = vec![host_origin.clone()];
        config.token_key = Some(key_file.clone());
    })
    .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let token = TokenKey::from_bytes(SECRET)?.sign(&Claims {
        room: format!("{host_origin}/*"),
        exp: now + 3600,
        iat: Some(now),
        nbf: None,
        sub: Some("embed-test".into()),
        name: None,
    })?;
    // One character of the signature changed (its first: the last also
    // carries padding bits).
    let signature_start = token.rfind('.').context("three parts")? + 1;
    let flipped = if token[signature_start..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let mut tampered = token.clone();
    tampered.replace_range(signature_start..=signature_start, flipped);

    let server_addr = server.addr;
    let (valid, bad) = (token.clone(), tampered.clone());
    let app = Router::new()
        .route(
            "/token",
            get(move || {
                let token = token.clone();
                async move { token }
            }),
        )
        .route(
            "/valid",
            get(move || {
                let page = host_page(server_addr, &format!("data-token=\"{valid}\""));
                async move { Html(page) }
            }),
        )
        .route(
            "/fetched",
            get(move || async move {
                Html(host_page(
                    server_addr,
                    "data-token-url=\"/token\" data-room=\"valid\"",
                ))
            }),
        )
        .route(
            "/tampered",
            get(move || {
                let page = host_page(
                    server_addr,
                    &format!("data-token=\"{bad}\" data-room=\"valid\""),
                );
                async move { Html(page) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let driver = ChromeDriver::start()?;
    // `/valid`'s room is its path, `_valid`; the others name the room `valid`.
    let fetched = Page::open(&driver, 900, 700, &format!("{host_origin}/fetched")).await?;
    wait_for_count(&fetched, "1 person here").await?;
    let tampered_page = Page::open(&driver, 900, 700, &format!("{host_origin}/tampered")).await?;
    tampered_page
        .wait_for("two refused attempts", async |page| {
            let notes = notes(page).await?;
            Ok((notes["closed"].as_u64() >= Some(2)).then_some(()))
        })
        .await?;
    assert_eq!(notes(&tampered_page).await?["opened"], json!(0));
    assert_eq!(
        embed_count(&tampered_page).await?.as_deref(),
        Some("Connecting…")
    );
    assert_eq!(
        embed_count(&fetched).await?.as_deref(),
        Some("1 person here")
    );
    let valid_page = Page::open(&driver, 900, 700, &format!("{host_origin}/valid")).await?;
    wait_for_count(&valid_page, "1 person here").await?;
    for page in [fetched, tampered_page, valid_page] {
        page.close().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_url_the_embed_refreshes_its_token_before_it_ends() {
    refresh_test().await.expect("the refresh test");
}

async fn refresh_test() -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let key_dir = cursors_test_support::temp_dir("cursors-embed-refresh")?;
    let key_file = key_dir.path().join("secret");
    std::fs::write(&key_file, SECRET)?;
    let host_listener = TcpListener::bind("127.0.0.1:0").await?;
    let host_origin = format!("http://{}", host_listener.local_addr()?);
    let server = Server::start_configured("127.0.0.1:0".parse()?, |config| {
        config.embed_origins = vec![host_origin.clone()];
        config.token_key = Some(key_file.clone());
    })
    .await?;
    // Each token lasts 33 s: the embed asks for the next one 30 s before
    // the end, so about every 3 s, and only once the server said the last
    // one was taken (`refreshed` plans the next fetch).
    let fetched = Arc::new(AtomicUsize::new(0));
    let counter = fetched.clone();
    let room = format!("{host_origin}/*");
    let page = host_page(server.addr, "data-token-url=\"/token\"");
    let app = Router::new()
        .route(
            "/token",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|since| since.as_secs())
                    .unwrap_or_default();
                let token = TokenKey::from_bytes(SECRET)
                    .and_then(|key| {
                        key.sign(&Claims {
                            room: room.clone(),
                            exp: now + 33,
                            iat: Some(now),
                            nbf: None,
                            sub: Some("refresh-test".into()),
                            name: None,
                        })
                    })
                    .unwrap_or_default();
                async move { token }
            }),
        )
        .fallback(get(move || {
            let page = page.clone();
            async move { Html(page) }
        }));
    tokio::spawn(async move { axum::serve(host_listener, app).await });

    let driver = ChromeDriver::start()?;
    let visitor = Page::open(&driver, 900, 700, &format!("{host_origin}/refreshing")).await?;
    wait_for_count(&visitor, "1 person here").await?;
    visitor
        .wait_for("a third token (two refreshes taken)", async |_| {
            Ok((fetched.load(Ordering::SeqCst) >= 3).then_some(()))
        })
        .await?;
    let notes = notes(&visitor).await?;
    assert_eq!(
        (notes["opened"].clone(), notes["closed"].clone()),
        (json!(1), json!(0)),
        "one socket all along, refreshed in place"
    );
    visitor.close().await?;
    Ok(())
}
