//! Two (and three) real Chromium windows of different sizes on the release
//! build: the pointer moved in one shows as a cursor in the other at the
//! same spot of the board, follows, and disappears when the page closes;
//! another room sees nothing.

use anyhow::Result;
use cursors_e2e::{Page, Server, side_by_side, workspace_root};
use cursors_test_support::ChromeDriver;

/// Largest accepted distance between where A's pointer is and where B draws
/// it, as a fraction of the board (the 2%).
const TOLERANCE: f64 = 0.02;

async fn cursor_near(page: &Page, x: f64, y: f64) -> Result<Option<(String, f64, f64)>> {
    let cursors = page.cursors().await?;
    Ok(cursors
        .into_iter()
        .find(|(_, cx, cy)| (cx - x).abs() <= TOLERANCE && (cy - y).abs() <= TOLERANCE))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pointer_in_one_window_is_a_cursor_in_the_other() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let room = format!("e2e-{}", std::process::id());
    let big = Page::open(&driver, 1280, 800, &server.page_url(&room)).await?;
    let small = Page::open(&driver, 720, 560, &server.page_url(&room)).await?;
    let elsewhere = Page::open(&driver, 720, 560, &server.page_url("somewhere-else")).await?;

    for page in [&big, &small] {
        page.wait_for("both pages in the room", async |page| {
            page.headcount_is("2 people here").await
        })
        .await?;
        page.wait_for("connected", async |page| {
            Ok((page.text("status").await? == "connected").then_some(()))
        })
        .await?;
    }
    elsewhere
        .wait_for("the other room to be joined", async |page| {
            page.headcount_is("just you here").await
        })
        .await?;

    // The big window's pointer shows in the small one at the same board spot.
    big.move_pointer_to(0.25, 0.4).await?;
    let (big_id, ..) = small
        .wait_for("the big page's cursor at (0.25, 0.4)", async |page| {
            cursor_near(page, 0.25, 0.4).await
        })
        .await?;
    // ...and follows it.
    big.move_pointer_to(0.7, 0.65).await?;
    let (followed, ..) = small
        .wait_for("the cursor to follow to (0.7, 0.65)", async |page| {
            cursor_near(page, 0.7, 0.65).await
        })
        .await?;
    assert_eq!(followed, big_id);
    assert_eq!(
        small.cursors().await?.len(),
        1,
        "one remote cursor, not a trail"
    );

    // The other way round, from the small window into the big one.
    small.move_pointer_to(0.6, 0.3).await?;
    big.wait_for("the small page's cursor at (0.6, 0.3)", async |page| {
        cursor_near(page, 0.6, 0.3).await
    })
    .await?;

    // The page in another room saw none of it.
    assert!(elsewhere.cursors().await?.is_empty());
    assert_eq!(elsewhere.text("count").await?, "just you here");

    // The README's picture: the two windows side by side, each showing the
    // other's cursor, with a reaction from the small window rising on the
    // big one and a "look here" ring from the big window on the small one.
    small.press_key('3').await?;
    big.click_board_at(0.45, 0.55).await?;
    big.wait_for("the small page's reaction", async |page| {
        Ok((!page.spots("reaction", None).await?.is_empty()).then_some(()))
    })
    .await?;
    small
        .wait_for("the big page's ring", async |page| {
            Ok((!page.spots("ping", None).await?.is_empty()).then_some(()))
        })
        .await?;
    // Caught mid-way: the ring has grown and the reaction risen a little.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let picture = side_by_side(&[big.screenshot().await?, small.screenshot().await?]);
    let target = workspace_root().join("target/e2e");
    std::fs::create_dir_all(&target)?;
    picture.save(target.join("two-windows.png"))?;
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        picture.save(workspace_root().join("assets/screenshot.png"))?;
    }

    // Closing the big window removes its cursor from the small one.
    big.close().await?;
    small
        .wait_for("the closed page's cursor to vanish", async |page| {
            Ok(page.cursors().await?.is_empty().then_some(()))
        })
        .await?;
    small
        .wait_for("the head count to drop", async |page| {
            page.headcount_is("just you here").await
        })
        .await?;

    small.close().await?;
    elsewhere.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_touch_shows_the_cursor_while_the_finger_is_down() -> Result<()> {
    use std::time::Duration;

    use fantoccini::actions::{InputSource, PointerAction, TouchActions};

    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let room = format!("touch-{}", std::process::id());
    let phone = Page::open(&driver, 420, 800, &server.page_url(&room)).await?;
    let desk = Page::open(&driver, 1000, 640, &server.page_url(&room)).await?;
    desk.wait_for("both in the room", async |page| {
        page.headcount_is("2 people here").await
    })
    .await?;

    let [left, top, width, height] = phone.board_rect().await?;
    let at = |x: f64, y: f64| ((left + x * width).round(), (top + y * height).round());
    let ((x0, y0), (x1, y1)) = (at(0.3, 0.3), at(0.6, 0.5));
    // One gesture (chromedriver forgets a touch between action calls):
    // press, drag, hold for two seconds, lift. It runs in a task while this
    // test watches the other page.
    let gesture = TouchActions::new("finger".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: x0,
            y: y0,
        })
        .then(PointerAction::Down { button: 0 })
        .then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(150)),
            x: x1,
            y: y1,
        })
        .then(PointerAction::Pause {
            duration: Duration::from_secs(2),
        })
        .then(PointerAction::Up { button: 0 });
    let finger = phone.client.clone();
    let touching = tokio::spawn(async move { finger.perform_actions(gesture).await });
    desk.wait_for("the finger's cursor at (0.6, 0.5)", async |page| {
        cursor_near(page, 0.6, 0.5).await
    })
    .await?;
    touching.await??;
    desk.wait_for("the cursor to hide when the finger lifts", async |page| {
        Ok(page.cursors().await?.is_empty().then_some(()))
    })
    .await?;
    assert_eq!(
        desk.text("count").await?,
        "2 people here",
        "hidden, not gone"
    );

    phone.close().await?;
    desk.close().await?;
    Ok(())
}
