//! Reconnection with continuity, in real Chromium: a reload keeps the
//! user's identity, and when the server process is killed and comes back on the same
//! port every page reconnects by itself, with no ghost cursors and no
//! duplicate users.

use anyhow::Result;
use cursors_e2e::{Page, server_process};
use cursors_test_support::{ChromeDriver, free_loopback_address};

/// This page's own line of the presence list ("Name (you)").
async fn own_line(page: &Page) -> Result<String> {
    let line = page
        .eval(
            "const me = [...document.querySelectorAll('[data-testid=presence-item]')].find(i => i.textContent.endsWith('(you)'));
             return me ? me.textContent : '';",
            vec![],
        )
        .await?;
    Ok(line.as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_keep_identity_and_pages_reconnect_after_a_server_restart() -> Result<()> {
    // A real server process, so it can be killed like a crashing server.
    let binary = env!("CARGO_BIN_EXE_server-process");
    let launch = server_process(binary, free_loopback_address()?);
    let mut server = launch.start()?;
    let driver = ChromeDriver::start()?;
    let room = format!("reconnect-{}", std::process::id());
    let ada = Page::open(&driver, 900, 640, &server.page_url(&room)).await?;
    let bo = Page::open(&driver, 800, 600, &server.page_url(&room)).await?;
    for page in [&ada, &bo] {
        page.wait_for("both pages in the room", async |page| {
            page.headcount_is("2 people here").await
        })
        .await?;
    }

    // A reload comes back as the same user: same name and colour, same id.
    ada.move_pointer_to(0.3, 0.3).await?;
    let ada_id = bo
        .wait_for("ada's cursor", async |page| {
            Ok(page.cursor_ids().await?.pop())
        })
        .await?;
    let ada_before = own_line(&ada).await?;
    assert!(!ada_before.is_empty());
    ada.client.refresh().await?;
    ada.wait_for("the reloaded page back in the room", async |page| {
        page.headcount_is("2 people here").await
    })
    .await?;
    assert_eq!(
        own_line(&ada).await?,
        ada_before,
        "same name after a reload"
    );
    ada.move_pointer_to(0.6, 0.4).await?;
    bo.wait_for("ada's cursor after the reload", async |page| {
        Ok(page.cursor_ids().await?.contains(&ada_id).then_some(()))
    })
    .await?;
    assert_eq!(
        bo.cursor_ids().await?,
        std::slice::from_ref(&ada_id),
        "one cursor for ada, not two"
    );
    assert_eq!(
        bo.text("count").await?,
        "2 people here",
        "no duplicate user"
    );

    // The server is killed (no close frames): every page notices, says so,
    // and shows no stale cursor.
    server.kill();
    for page in [&ada, &bo] {
        page.wait_for("the page to notice", async |page| {
            Ok(matches!(
                page.connection_state().await?.as_str(),
                "reconnecting" | "connecting" | "offline"
            )
            .then_some(()))
        })
        .await?;
    }
    assert!(
        bo.text("status").await?.starts_with("reconnecting")
            || bo.connection_state().await? == "connecting"
    );
    assert!(
        bo.cursor_ids().await?.is_empty(),
        "no ghost cursors while disconnected"
    );

    // It comes back on the same port: the pages reconnect by themselves.
    let _server = launch.start()?;
    for page in [&ada, &bo] {
        page.wait_until_connected("reconnected").await?;
        page.wait_for("both back in the room", async |page| {
            page.headcount_is("2 people here").await
        })
        .await?;
    }
    ada.move_pointer_to(0.45, 0.7).await?;
    bo.wait_for("ada's cursor after the restart", async |page| {
        Ok(page.cursor_ids().await?.pop())
    })
    .await?;
    assert_eq!(bo.cursor_ids().await?.len(), 1, "exactly one remote cursor");
    // Ada's page offered its resume token, which the new server has never
    // seen: she comes back as a new user, not as a stale one.
    assert_ne!(
        bo.cursor_ids().await?,
        std::slice::from_ref(&ada_id),
        "an unknown token gives a fresh identity"
    );

    ada.close().await?;
    bo.close().await?;
    Ok(())
}

/// A server that closes a page over a policy says why, and the page shows
/// it: here the rate limit is set so low that ordinary pointer moves break
/// it for longer than the server tolerates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_close_shows_the_servers_reason() -> Result<()> {
    let server = cursors_e2e::Server::start_configured("127.0.0.1:0".parse()?, |config| {
        config.rate_limit = 2;
        config.rate_burst = 2;
        config.rate_abuse_secs = 1;
    })
    .await?;
    let driver = ChromeDriver::start()?;
    let room = format!("policy-{}", std::process::id());
    let page = Page::open(&driver, 800, 600, &server.page_url(&room)).await?;
    page.wait_until_connected("the page to connect").await?;
    // The retry can come within milliseconds, so the page records every
    // text its status shows rather than the test hoping to poll at the
    // right moment.
    page.eval(
        "const status = document.querySelector('[data-testid=status]');
         window.statusesSeen = [];
         new MutationObserver(() => window.statusesSeen.push(status.textContent))
           .observe(status, { subtree: true, childList: true, characterData: true });
         return null;",
        vec![],
    )
    .await?;
    // Sweep back and forth: each sweep is a few moves, well over 2 a second.
    let seen = |statuses: &serde_json::Value| {
        statuses.as_array().is_some_and(|statuses| {
            statuses.iter().any(|status| {
                status
                    .as_str()
                    .is_some_and(|text| text.starts_with("rate limit exceeded: reconnecting in"))
            })
        })
    };
    let mut statuses = serde_json::Value::Null;
    for sweep in 0..40 {
        let x = if sweep % 2 == 0 { 0.2 } else { 0.8 };
        page.move_pointer_to(x, 0.5).await?;
        statuses = page.eval("return window.statusesSeen;", vec![]).await?;
        if seen(&statuses) {
            break;
        }
    }
    assert!(
        seen(&statuses),
        "the page shows the server's reason, not only \"reconnecting\": {statuses}"
    );
    page.close().await?;
    Ok(())
}

/// A duplicated tab copies `sessionStorage`, resume token and all. The copy
/// must become someone new, and the original must keep its identity (it
/// used to be the other way round: the copy took the token, the server
/// superseded the original, and the original came back as a stranger).
/// The duplicate is made the way a browser makes one: a second tab of the
/// same browser whose `sessionStorage` holds the original's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_tab_is_someone_new_and_the_original_keeps_its_identity() -> Result<()> {
    let server = cursors_e2e::Server::start().await?;
    let driver = ChromeDriver::start()?;
    let room = format!("duplicate-{}", std::process::id());
    let page = Page::open(&driver, 900, 640, &server.page_url(&room)).await?;
    page.wait_until_connected("the page to connect").await?;
    let original_line = own_line(&page).await?;
    assert!(!original_line.is_empty());
    let key = serde_json::json!(format!("cursors.resume.{room}"));
    let token = page
        .eval(
            "return sessionStorage.getItem(arguments[0]);",
            vec![key.clone()],
        )
        .await?;
    assert!(token.is_string(), "the original holds a resume token");

    let original = page.client.window().await?;
    let duplicate = page.client.new_window(true).await?;
    page.client
        .switch_to_window(duplicate.handle.clone())
        .await?;
    // Same origin first, to seed the copied storage before the page starts.
    page.client
        .goto(&format!("http://{}/healthz", server.addr))
        .await?;
    page.eval(
        "sessionStorage.setItem(arguments[0], arguments[1]); return null;",
        vec![key, token],
    )
    .await?;
    page.client.goto(&server.page_url(&room)).await?;
    page.wait_for("the duplicate in the room", async |page| {
        page.headcount_is("2 people here").await
    })
    .await?;
    let duplicate_line = own_line(&page).await?;

    page.client.switch_to_window(original).await?;
    page.wait_for("the original sees two", async |page| {
        page.headcount_is("2 people here").await
    })
    .await?;
    assert_eq!(page.connection_state().await?, "connected");
    assert_eq!(
        own_line(&page).await?,
        original_line,
        "the original keeps its identity"
    );
    assert_ne!(
        duplicate_line, original_line,
        "the duplicate is someone new"
    );
    page.close().await?;
    Ok(())
}
