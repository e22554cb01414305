//! Frame-time benchmark: one real page in headless Chromium while 100
//! other users (real WebSocket clients) move their cursors in circles at
//! 30 Hz. Prints how long the page's animation frames take. A benchmark, not
//! a test: it measures and prints, and asserts nothing.
//!
//!   cargo run --release -p cursors-e2e --bin frame-bench
//!
//! Needs the release client in dist/ (scripts/build-client.sh) and
//! chromedriver (scripts/setup.sh --browser).

use std::time::Duration;

use anyhow::{Context, Result};
use cursors_e2e::{ChromeDriver, Page, Server};
use cursors_protocol::ClientMessage;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const USERS: usize = 100;
const MOVES_PER_SECOND: f64 = 30.0;
const MEASURE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let room = "frame-bench";
    let page = Page::open(&driver, 1280, 800, &server.page_url(room)).await?;
    page.wait_for("the page to connect", async |page| {
        Ok((page.connection_state().await? == "connected").then_some(()))
    })
    .await?;

    // The other users: each moves around its own circle, reading (and
    // discarding) what the server sends so it never stalls.
    let stop = tokio_util::sync::CancellationToken::new();
    for user in 0..USERS {
        let url = format!("ws://{}/ws?room={room}", server.addr);
        let stop = stop.clone();
        tokio::spawn(async move {
            let Ok((socket, _)) = tokio_tungstenite::connect_async(url).await else {
                return;
            };
            let (mut sink, mut stream) = socket.split();
            tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / MOVES_PER_SECOND));
            let (centre_x, centre_y) = (
                0.1 + 0.8 * ((user % 10) as f64 / 9.0),
                0.1 + 0.8 * ((user / 10) as f64 / 9.0),
            );
            let mut angle = user as f64;
            while !stop.is_cancelled() {
                tick.tick().await;
                angle += 0.2;
                let (x, y) = (centre_x + 0.04 * angle.cos(), centre_y + 0.04 * angle.sin());
                let text = ClientMessage::Move {
                    x: x.clamp(0.0, 1.0),
                    y: y.clamp(0.0, 1.0),
                }
                .to_json();
                if sink.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
        });
    }
    page.wait_for("100 cursors on the page", async |page| {
        Ok((page.cursors().await?.len() >= USERS).then_some(()))
    })
    .await?;

    // Frame intervals, from requestAnimationFrame timestamps in the page.
    let script = format!(
        "return await new Promise(done => {{
           const times = [];
           const end = performance.now() + {};
           function frame(t) {{ times.push(t); if (t < end) requestAnimationFrame(frame); else done(times); }}
           requestAnimationFrame(frame);
         }});",
        MEASURE.as_millis()
    );
    let times: Vec<f64> =
        serde_json::from_value(page.eval(&script, vec![]).await?).context("frame times")?;
    stop.cancel();
    let mut intervals: Vec<f64> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    intervals.sort_by(f64::total_cmp);
    let quantile = |q: f64| intervals[((intervals.len() - 1) as f64 * q).round() as usize];
    println!(
        "| remote cursors | moves/s each | frames | fps | frame p50 ms | p95 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {USERS} | {MOVES_PER_SECOND} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
        intervals.len(),
        intervals.len() as f64 / MEASURE.as_secs_f64(),
        quantile(0.5),
        quantile(0.95),
        quantile(0.99),
        intervals.last().copied().unwrap_or_default()
    );
    page.close().await?;
    Ok(())
}
