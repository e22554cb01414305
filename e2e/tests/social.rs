//! The social layer in real headless Chromium, two windows of different
//! sizes in one room: a reaction rises at the sender's cursor on the other
//! page and goes; a click shows a ring at the same board spot on both; a
//! held Shift leaves a trail that fades; spotlight shows a banner that can
//! be dismissed; quiet mode hides the cursor but keeps the name listed, and
//! survives a reload; and axe-core finds no accessibility violation on the
//! page with two people in the room.

use anyhow::Result;
use cursors_e2e::{Page, Server, two_pages_in_a_room};
use cursors_test_support::ChromeDriver;

/// How far a drawn thing may be from where it should be, as a fraction of
/// the board (the cursor tests' 2%).
const TOLERANCE: f64 = 0.02;

fn near(spot: (f64, f64), x: f64, y: f64) -> bool {
    (spot.0 - x).abs() <= TOLERANCE && (spot.1 - y).abs() <= TOLERANCE
}

/// Moves `mover`'s pointer to `(x, y)` and waits until `watcher` draws
/// it there; returns the mover's id as the watcher knows it.
async fn cursor_seen(mover: &Page, watcher: &Page, x: f64, y: f64) -> Result<String> {
    mover.move_pointer_to(x, y).await?;
    let (id, ..) = watcher
        .wait_for("the other page's cursor", async |page| {
            Ok(page
                .cursors()
                .await?
                .into_iter()
                .find(|(_, cx, cy)| near((*cx, *cy), x, y)))
        })
        .await?;
    Ok(id)
}

/// The `style` left/top of the first element with `test_id` from `peer`,
/// in fractions: where it was placed, whatever its animation does.
async fn placed_at(page: &Page, test_id: &str, peer: &str) -> Result<Option<(f64, f64)>> {
    let placed = page
        .eval(
            "const e = document.querySelector(`[data-testid=${arguments[0]}][data-peer=\"${arguments[1]}\"]`);
             return e ? [parseFloat(e.style.left) / 100, parseFloat(e.style.top) / 100] : null;",
            vec![test_id.into(), peer.into()],
        )
        .await?;
    Ok(serde_json::from_value(placed)?)
}

// ANCHOR: reaction-e2e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_rises_at_the_senders_cursor_on_the_other_page_and_goes() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "react").await?;
    let ada_id = cursor_seen(&ada, &bo, 0.3, 0.6).await?;

    ada.press_key('3').await?;
    let (x, y) = bo
        .wait_for("Ada's reaction on Bo's page", async |page| {
            placed_at(page, "reaction", &ada_id).await
        })
        .await?;
    assert!(near((x, y), 0.3, 0.6), "placed at ({x}, {y})");
    assert_eq!(bo.text("reaction").await?, "😂");
    // The sender sees it too, without the server sending it back.
    assert_eq!(ada.count("[data-testid=reaction]").await?, 1);
    // It goes by itself.
    bo.wait_for("the reaction to go", async |page| {
        Ok((page.count("[data-testid=reaction]").await? == 0).then_some(()))
    })
    .await?;
    // A held key sends no more than the limit: at most its burst at once.
    for _ in 0..12 {
        ada.press_key('1').await?;
    }
    let shown = bo
        .wait_for("the held key's reactions", async |page| {
            let shown = page.count("[data-testid=reaction]").await?;
            Ok((shown > 0).then_some(shown))
        })
        .await?;
    assert!(shown <= 8, "{shown} reactions from 12 presses");
    Ok(())
}
// ANCHOR_END: reaction-e2e

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_rings_at_the_same_board_spot_on_both_window_sizes() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "ping").await?;
    let ada_id = cursor_seen(&ada, &bo, 0.5, 0.5).await?;

    ada.click_board_at(0.7, 0.25).await?;
    for page in [&ada, &bo] {
        let spot = page
            .wait_for("a ring", async |page| {
                Ok(page.spots("ping", None).await?.first().copied())
            })
            .await?;
        assert!(near(spot, 0.7, 0.25), "ring at {spot:?}");
    }
    assert!(
        placed_at(&bo, "ping", &ada_id).await?.is_some(),
        "the ring is in Ada's name"
    );
    bo.wait_for("the ring to go", async |page| {
        Ok((page.count("[data-testid=ping]").await? == 0).then_some(()))
    })
    .await?;

    // A drag is not a point.
    ada.move_pointer_to(0.2, 0.2).await?;
    ada.move_pointer_to(0.4, 0.4).await?;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(bo.count("[data-testid=ping]").await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_shift_leaves_a_trail_that_fades() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "laser").await?;
    let ada_id = cursor_seen(&ada, &bo, 0.2, 0.5).await?;
    let trail = format!("[data-testid=trail][data-peer=\"{ada_id}\"] line");

    ada.holding_shift(async |ada| {
        ada.move_pointer_to(0.5, 0.5).await?;
        ada.move_pointer_to(0.8, 0.3).await?;
        bo.wait_for("Ada's trail", async |page| {
            Ok((page.count(&trail).await? > 0).then_some(()))
        })
        .await?;
        // She sees her own trail too, drawn from her pointer.
        ada.move_pointer_to(0.6, 0.4).await?;
        ada.wait_for("Ada's own trail", async |page| {
            Ok((page.count("[data-testid=trail] line").await? > 0).then_some(()))
        })
        .await?;
        Ok(())
    })
    .await?;
    // Within about a second of the last move, nothing is left of it.
    bo.wait_for("the trail to fade", async |page| {
        Ok((page.count("[data-testid=trail]").await? == 0).then_some(()))
    })
    .await?;
    // Without Shift, moving draws no trail.
    ada.move_pointer_to(0.3, 0.7).await?;
    cursor_seen(&ada, &bo, 0.6, 0.6).await?;
    assert_eq!(bo.count("[data-testid=trail]").await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spotlight_shows_a_banner_that_can_be_dismissed() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "spot").await?;
    let ada_id = cursor_seen(&ada, &bo, 0.4, 0.4).await?;
    let lit = format!("[data-testid=cursor][data-peer=\"{ada_id}\"].spotlit");

    ada.press_key('s').await?;
    bo.wait_for("the spotlight banner", async |page| {
        Ok((page.count("[data-testid=spotlight]").await? == 1).then_some(()))
    })
    .await?;
    assert!(
        bo.text("spotlight")
            .await?
            .contains("asks for everyone's attention"),
        "{}",
        bo.text("spotlight").await?
    );
    assert_eq!(bo.count(&lit).await?, 1, "Ada's cursor stands out");
    assert_eq!(
        ada.count("[data-testid=spotlight]").await?,
        0,
        "not to herself"
    );

    bo.client
        .find(fantoccini::Locator::Css("[data-testid=spotlight-dismiss]"))
        .await?
        .click()
        .await?;
    bo.wait_for("the banner to go", async |page| {
        Ok((page.count("[data-testid=spotlight]").await? == 0).then_some(()))
    })
    .await?;
    assert_eq!(
        bo.count(&lit).await?,
        1,
        "still standing out until she stops"
    );

    ada.press_key('s').await?;
    bo.wait_for("the spotlight to end", async |page| {
        Ok((page.count(&lit).await? == 0).then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_mode_hides_the_cursor_keeps_the_name_and_survives_a_reload() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "quiet").await?;
    cursor_seen(&ada, &bo, 0.4, 0.4).await?;

    ada.client
        .find(fantoccini::Locator::Css("[data-testid=quiet-toggle]"))
        .await?
        .click()
        .await?;
    bo.wait_for("Ada's cursor to hide", async |page| {
        Ok(page.cursors().await?.is_empty().then_some(()))
    })
    .await?;
    assert_eq!(bo.text("count").await?, "2 people here");
    ada.move_pointer_to(0.6, 0.6).await?;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(bo.cursors().await?.is_empty(), "moves are not sent");

    // A reload comes back quiet.
    ada.client.refresh().await?;
    ada.wait_until_connected("Ada back after the reload")
        .await?;
    ada.move_pointer_to(0.3, 0.3).await?;
    ada.move_pointer_to(0.35, 0.3).await?;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        bo.cursors().await?.is_empty(),
        "still quiet after the reload"
    );
    assert_eq!(bo.text("count").await?, "2 people here");
    let pressed = ada
        .eval(
            "return document.querySelector('[data-testid=quiet-toggle]').getAttribute('aria-pressed');",
            vec![],
        )
        .await?;
    assert_eq!(pressed, "true");

    // And back: the cursor shows again.
    ada.press_key('q').await?;
    cursor_seen(&ada, &bo, 0.5, 0.5).await?;
    Ok(())
}

// ANCHOR: axe-e2e
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_core_finds_no_violation_with_two_people_in_the_room() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "axe").await?;
    // Each sees the other's cursor and name label on the board.
    cursor_seen(&ada, &bo, 0.4, 0.4).await?;
    cursor_seen(&bo, &ada, 0.6, 0.5).await?;
    for page in [&ada, &bo] {
        let violations = page.accessibility_violations().await?;
        assert!(violations.is_empty(), "{violations:#?}");
    }
    Ok(())
}
// ANCHOR_END: axe-e2e
