//! The diagnostics overlay in real Chromium: opened by `?debug` on one page
//! and by the `d` key on the other, its counters move when the other page's
//! pointer moves.

use anyhow::Result;
use cursors_e2e::{Page, Server, side_by_side, workspace_root};
use cursors_test_support::ChromeDriver;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};

/// The overlay's figure `test_id` on `page`: the shown value and, where it
/// has one, the running total (`data-total`). `None` while the overlay is
/// closed.
async fn figure(page: &Page, test_id: &str) -> Result<Option<(String, Option<u64>)>> {
    let found = page
        .eval(
            "const f = document.querySelector(`[data-testid=${arguments[0]}]`);
             return f && [f.textContent, f.dataset.total ? Number(f.dataset.total) : null];",
            vec![test_id.into()],
        )
        .await?;
    Ok(serde_json::from_value(found)?)
}

/// The shown per-second rate of `test_id`, as a number.
async fn rate(page: &Page, test_id: &str) -> Result<f64> {
    let (shown, _) = figure(page, test_id).await?.unwrap_or_default();
    Ok(shown.trim().parse().unwrap_or(0.0))
}

async fn press_d(page: &Page) -> Result<()> {
    let d = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: 'd' })
        .then(KeyAction::Up { value: 'd' });
    page.client.perform_actions(d).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overlay_counts_what_arrives_when_the_other_page_moves() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let room = format!("diagnostics-{}", std::process::id());
    let ada = Page::open(
        &driver,
        900,
        600,
        &format!("{}&debug", server.page_url(&room)),
    )
    .await?;
    let bo = Page::open(&driver, 1000, 640, &server.page_url(&room)).await?;
    for page in [&ada, &bo] {
        page.wait_for("both pages in the room", async |page| {
            page.headcount_is("2 people here").await
        })
        .await?;
    }

    // `?debug` opened ada's overlay; bo's is closed until `d`.
    assert!(figure(&ada, "diag-connection").await?.is_some());
    assert!(figure(&bo, "diag-connection").await?.is_none());
    press_d(&bo).await?;
    let (state, _) = bo
        .wait_for("bo's overlay", async |page| {
            figure(page, "diag-connection").await
        })
        .await?;
    assert_eq!(state, "connected");
    let (_, positions_before) = figure(&bo, "diag-positions").await?.unwrap_or_default();

    // Ada moves: bo's overlay counts frames and positions coming in (at a
    // rate above zero), ada's counts moves going out, and bo draws her.
    let mut spot = 0;
    bo.wait_for("positions arriving at bo", async |page| {
        spot += 1;
        let x = if spot % 2 == 0 { 0.3 } else { 0.7 };
        ada.move_pointer_to(x, 0.5).await?;
        let (_, total) = figure(page, "diag-positions").await?.unwrap_or_default();
        let arriving = rate(page, "diag-positions").await? > 0.0
            && rate(page, "diag-frames").await? > 0.0
            && total > positions_before;
        Ok(arriving.then_some(()))
    })
    .await?;
    ada.wait_for("moves leaving ada", async |page| moves_sent(page).await)
        .await?;
    // The picture for the README and the report: both overlays while ada moves.
    let picture = side_by_side(&[ada.screenshot().await?, bo.screenshot().await?]);
    let target = workspace_root().join("target/e2e");
    std::fs::create_dir_all(&target)?;
    picture.save(target.join("diagnostics.png"))?;
    assert_eq!(
        figure(&bo, "diag-cursors").await?.map(|(shown, _)| shown),
        Some("1".to_owned())
    );
    // The round trip is measured every few seconds.
    bo.wait_for("a round trip", async |page| {
        let (shown, _) = figure(page, "diag-rtt").await?.unwrap_or_default();
        Ok(shown.ends_with(" ms").then_some(()))
    })
    .await?;

    // `d` again closes it.
    press_d(&bo).await?;
    bo.wait_for("bo's overlay to close", async |page| {
        Ok(figure(page, "diag-connection")
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;

    ada.close().await?;
    bo.close().await?;
    Ok(())
}

/// `Some(())` once `page`'s overlay shows moves sent, in total and per
/// second (moving its pointer again while waiting, so that the rate has
/// moves to show).
async fn moves_sent(page: &Page) -> Result<Option<()>> {
    page.move_pointer_to(0.2, 0.2).await?;
    page.move_pointer_to(0.8, 0.8).await?;
    let (_, total) = figure(page, "diag-moves").await?.unwrap_or_default();
    Ok((total.unwrap_or(0) > 0 && rate(page, "diag-moves").await? > 0.0).then_some(()))
}
