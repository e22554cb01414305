//! Several servers, one room, in real Chromium: two pages on two server
//! processes that share a real Redis see each other's cursors.

use anyhow::Result;
use cursors_e2e::{Page, server_process};
use cursors_test_support::{ChromeDriver, Logs, Redis, free_loopback_address};

/// Waits until `page` draws a remote cursor near (`x`, `y`) of its board.
async fn cursor_near(page: &Page, x: f64, y: f64) -> Result<String> {
    page.wait_for("a remote cursor at the spot", async |page| {
        Ok(page
            .cursors()
            .await?
            .into_iter()
            .find(|(_, at_x, at_y)| (at_x - x).abs() < 0.02 && (at_y - y).abs() < 0.02)
            .map(|(id, _, _)| id))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_on_two_servers_see_each_others_cursors() -> Result<()> {
    let redis = Redis::start(Logs::Discard)?;
    let binary = env!("CARGO_BIN_EXE_server-process");
    let flags = ["--redis-url", &redis.url()];
    let one = server_process(binary, free_loopback_address()?)
        .flags(&flags)
        .start()?;
    let two = server_process(binary, free_loopback_address()?)
        .flags(&flags)
        .start()?;
    let driver = ChromeDriver::start()?;
    let room = format!("cluster-{}", std::process::id());
    let ada = Page::open(&driver, 900, 640, &one.page_url(&room)).await?;
    let bo = Page::open(&driver, 800, 600, &two.page_url(&room)).await?;
    for page in [&ada, &bo] {
        page.wait_for("both pages in the room", async |page| {
            page.headcount_is("2 people here").await
        })
        .await?;
    }
    ada.move_pointer_to(0.3, 0.4).await?;
    let ada_id = cursor_near(&bo, 0.3, 0.4).await?;
    bo.move_pointer_to(0.7, 0.2).await?;
    let bo_id = cursor_near(&ada, 0.7, 0.2).await?;
    assert_ne!(ada_id, bo_id);
    // Ada's cursor follows her on the other server.
    ada.move_pointer_to(0.55, 0.65).await?;
    assert_eq!(cursor_near(&bo, 0.55, 0.65).await?, ada_id);
    ada.close().await?;
    bo.close().await?;
    Ok(())
}
