//! Frame-time benchmark: one real page in headless Chromium while other
//! users (real WebSocket clients) move their cursors in circles, and once
//! while they all keep still. A benchmark, not a test: it measures and
//! prints, and asserts nothing.
//!
//!   cargo run --release -p cursors-e2e --bin frame-bench
//!
//! Needs the release client in dist/ (scripts/build-client.sh) and
//! chromedriver (scripts/setup.sh --browser).
//!
//! The first three rooms stay below the server's crowd threshold (their
//! server is started with it out of reach), so they measure the page
//! drawing everyone. The last is a crowd (issue 18): 300 users, one in ten
//! moving, on a server with the default `--crowd-threshold` and
//! `--visible-cursors` (50 and 50), so the page is sent at most 49 of them
//! and draws the rest as the crowd's count and heat.
//!
//! `FRAME_BENCH_ONLY=300` runs only the scenarios with that many remote
//! cursors (`still` for the still room, `crowd` for the crowd), to repeat
//! one quickly.
//!
//! With `FRAME_BENCH_SCREENSHOTS=DIR`, the page opens with the diagnostics
//! overlay shown (`&debug`) and each scenario saves a screenshot of it
//! into DIR at the end of its measurement.
//!
//! For each scenario it prints:
//! - the page's frame rate and frame intervals, from `requestAnimationFrame`
//!   timestamps in the page (moving scenarios only: the measuring loop is
//!   itself per-frame work, which the still room must not have);
//! - the renderer's main-thread time per second, all tasks (*busy*) and
//!   script alone, from Chromium's own accounting (DevTools
//!   `Performance.getMetrics`: `TaskDuration`, `ScriptDuration`, and
//!   `RecalcStyleDuration` + `LayoutDuration`);
//! - what the page counts itself (`window.cursorsDiagnostics()`, absent from
//!   builds before it existed): `cursors` frames handled per second,
//!   positions per second, and the time to handle one frame, its redrawing
//!   included.
//!
//! The other users, the server and Chromium share the machine, so the
//! largest scenario measures the machine as much as the page; the users
//! take `cursors` frames in the binary encoding to spend less on reading.

use std::time::Duration;

use anyhow::{Context, Result};
use cursors_e2e::{Page, Server};
use cursors_protocol::ClientMessage;
use cursors_protocol::binary::BINARY_SUBPROTOCOL;
use cursors_test_support::ChromeDriver;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_util::sync::CancellationToken;

const MEASURE: Duration = Duration::from_secs(5);
/// A still room is measured for longer: its few events (a ping and its
/// pong, every 30 s once nothing moves) would make a short window all noise.
const MEASURE_STILL: Duration = Duration::from_secs(20);
/// Time for the page to settle once every cursor is on it.
const WARM_UP: Duration = Duration::from_secs(1);
/// A still room is measured once its cursors have dimmed (after 8 s
/// without a move, then a 0.6 s fade) and nothing is left to animate.
const STILL_SETTLE: Duration = Duration::from_secs(10);

struct Scenario {
    users: usize,
    /// Moves per second per moving user; 0 for a room where nobody moves
    /// (each user moves once, to put a cursor on the board, then keeps
    /// still).
    moves_per_second: f64,
    /// One user in this many moves (1: all of them); the others move once
    /// and keep still.
    moving_one_in: usize,
    /// Whether the server makes the room a crowd (its default threshold
    /// and visible cursors) or never does.
    crowd: bool,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        users: 100,
        moves_per_second: 30.0,
        moving_one_in: 1,
        crowd: false,
    },
    Scenario {
        users: 300,
        moves_per_second: 60.0,
        moving_one_in: 1,
        crowd: false,
    },
    Scenario {
        users: 100,
        moves_per_second: 0.0,
        moving_one_in: 1,
        crowd: false,
    },
    Scenario {
        users: 300,
        moves_per_second: 30.0,
        moving_one_in: 10,
        crowd: true,
    },
];

/// A crowd threshold no scenario reaches, for the rooms that measure the
/// page drawing everyone.
const NEVER_A_CROWD: usize = 1_000_000;

#[tokio::main]
async fn main() -> Result<()> {
    let driver = ChromeDriver::start()?;
    println!(
        "| remote cursors | moves/s each | frames | fps | frame p50 ms | p95 ms | p99 ms | max ms \
         | busy ms/s | script ms/s | style ms/s | layout ms/s | page: frames in/s | positions/s \
         | ms per frame in |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let only = std::env::var("FRAME_BENCH_ONLY").ok();
    let chosen = |scenario: &Scenario| match only.as_deref() {
        None | Some("") => true,
        Some("still") => scenario.moves_per_second == 0.0,
        Some("crowd") => scenario.crowd,
        Some(users) => {
            scenario.moves_per_second > 0.0
                && !scenario.crowd
                && users == scenario.users.to_string()
        }
    };
    for scenario in SCENARIOS.iter().filter(|scenario| chosen(scenario)) {
        // A server per scenario: whether its rooms become crowds differs.
        let server = Server::start_configured("127.0.0.1:0".parse()?, |config| {
            config.max_connections_per_ip = 1_000;
            if !scenario.crowd {
                config.crowd_threshold = NEVER_A_CROWD;
            }
        })
        .await?;
        let row = run(&server, &driver, scenario).await?;
        println!("{row}");
    }
    Ok(())
}

async fn run(server: &Server, driver: &ChromeDriver, scenario: &Scenario) -> Result<String> {
    let room = format!(
        "frame-bench-{}-{}{}",
        scenario.users,
        scenario.moves_per_second,
        if scenario.crowd { "-crowd" } else { "" }
    );
    let screenshots = std::env::var_os("FRAME_BENCH_SCREENSHOTS").map(std::path::PathBuf::from);
    let mut url = server.page_url(&room);
    if screenshots.is_some() {
        url.push_str("&debug");
    }
    let page = Page::open(driver, 1280, 800, &url).await?;
    page.wait_until_connected("the page to connect").await?;
    page.devtools("Performance.enable", json!({})).await?;

    let stop = CancellationToken::new();
    for user in 0..scenario.users {
        let moving = user % scenario.moving_one_in == 0;
        tokio::spawn(move_in_circles(
            format!("ws://{}/ws?room={room}", server.addr),
            user,
            if moving {
                scenario.moves_per_second
            } else {
                0.0
            },
            stop.clone(),
        ));
    }
    // In a crowd the page is sent at most K - 1 others (it follows
    // nobody), and its top bar counts everyone.
    let expected = if scenario.crowd {
        scenario
            .users
            .min(cursors_server::Config::defaults().visible_cursors - 1)
    } else {
        scenario.users
    };
    // Counted, not located: locating 300 cursors on a busy page is slow.
    let mut drawn = 0;
    let deadline = tokio::time::Instant::now() + 3 * cursors_e2e::PATIENCE;
    while drawn < expected {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "only {drawn} of {expected} cursors reached the page",
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        drawn = page
            .eval(
                "return document.querySelectorAll('[data-testid=cursor]').length;",
                vec![],
            )
            .await?
            .as_u64()
            .unwrap_or_default() as usize;
    }
    if scenario.crowd {
        let total = format!("{} here", scenario.users + 1);
        page.wait_for("the crowd's total on the page", async |page| {
            Ok(page.text("count").await?.starts_with(&total).then_some(()))
        })
        .await?;
    }
    let still = scenario.moves_per_second == 0.0;
    tokio::time::sleep(if still { STILL_SETTLE } else { WARM_UP }).await;

    let counters_before = page_counters(&page).await?;
    let metrics_before = main_thread(&page).await?;
    let intervals = if still {
        tokio::time::sleep(MEASURE_STILL).await;
        Vec::new()
    } else {
        frame_intervals(&page).await?
    };
    let metrics_after = main_thread(&page).await?;
    let counters_after = page_counters(&page).await?;
    if let Some(directory) = screenshots {
        std::fs::create_dir_all(&directory)?;
        page.screenshot()
            .await?
            .save(directory.join(format!("{room}.png")))?;
    }
    stop.cancel();
    page.close().await?;

    let seconds = metrics_after.timestamp - metrics_before.timestamp;
    let busy = (metrics_after.task - metrics_before.task) * 1000.0 / seconds;
    let script = (metrics_after.script - metrics_before.script) * 1000.0 / seconds;
    let style = (metrics_after.style - metrics_before.style) * 1000.0 / seconds;
    let layout = (metrics_after.layout - metrics_before.layout) * 1000.0 / seconds;
    let frames = if intervals.is_empty() {
        "– | – | – | – | – | –".to_owned()
    } else {
        let quantile = |q: f64| intervals[((intervals.len() - 1) as f64 * q).round() as usize];
        format!(
            "{} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2}",
            intervals.len(),
            intervals.len() as f64 / MEASURE.as_secs_f64(),
            quantile(0.5),
            quantile(0.95),
            quantile(0.99),
            intervals.last().copied().unwrap_or_default()
        )
    };
    let own = match (counters_before, counters_after) {
        (Some(before), Some(after)) => {
            let seconds = if still { MEASURE_STILL } else { MEASURE }.as_secs_f64();
            let frames_in = after.cursor_frames - before.cursor_frames;
            let per_frame = if frames_in > 0.0 {
                format!(
                    "{:.3}",
                    (after.cursor_frame_ms - before.cursor_frame_ms) / frames_in
                )
            } else {
                "–".to_owned()
            };
            format!(
                "{:.0} | {:.0} | {per_frame}",
                frames_in / seconds,
                (after.positions - before.positions) / seconds
            )
        }
        _ => "n/a | n/a | n/a".to_owned(),
    };
    let moves = if still {
        "0 (still)".to_owned()
    } else if scenario.moving_one_in > 1 {
        format!(
            "{} (one in {} moving)",
            scenario.moves_per_second, scenario.moving_one_in
        )
    } else {
        format!("{}", scenario.moves_per_second)
    };
    let users = if scenario.crowd {
        format!("{} in a crowd, {drawn} drawn", scenario.users)
    } else {
        scenario.users.to_string()
    };
    Ok(format!(
        "| {users} | {moves} | {frames} | {busy:.1} | {script:.1} | {style:.1} | {layout:.1} | {own} |"
    ))
}

/// One other user: moves around its own circle at `moves_per_second` (or
/// once, if it is 0), reading and discarding what the server sends so it
/// never stalls, until `stop`.
async fn move_in_circles(url: String, user: usize, moves_per_second: f64, stop: CancellationToken) {
    let Ok(mut request) = url.into_client_request() else {
        return;
    };
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(BINARY_SUBPROTOCOL),
    );
    let Ok((socket, _)) = tokio_tungstenite::connect_async(request).await else {
        return;
    };
    let (mut sink, mut stream) = socket.split();
    let reader_stop = stop.clone();
    tokio::spawn(async move {
        while !reader_stop.is_cancelled() {
            tokio::select! {
                message = stream.next() => if !matches!(message, Some(Ok(_))) { return },
                () = reader_stop.cancelled() => return,
            }
        }
    });
    // A grid of circles: 10 wide for 100 users, 20 wide for 300.
    let columns = if user < 100 { 10 } else { 20 };
    let rows = 15;
    let (centre_x, centre_y) = (
        0.05 + 0.9 * ((user % columns) as f64 / (columns - 1) as f64),
        0.05 + 0.9 * ((user / columns % rows) as f64 / (rows - 1) as f64),
    );
    let period = Duration::from_secs_f64(1.0 / moves_per_second.max(1.0));
    let mut tick = tokio::time::interval(period);
    let mut angle = user as f64;
    while !stop.is_cancelled() {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        angle += 0.2;
        let (x, y) = (centre_x + 0.03 * angle.cos(), centre_y + 0.03 * angle.sin());
        let text = ClientMessage::Move {
            anchor: None,
            x: x.clamp(0.0, 1.0),
            y: y.clamp(0.0, 1.0),
        }
        .to_json();
        if sink.send(Message::text(text)).await.is_err() {
            return;
        }
        if moves_per_second == 0.0 {
            // Keep the connection (and the cursor) until the end.
            stop.cancelled().await;
            return;
        }
    }
}

/// Intervals between the page's animation frames over [`MEASURE`], sorted.
async fn frame_intervals(page: &Page) -> Result<Vec<f64>> {
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
    let mut intervals: Vec<f64> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    intervals.sort_by(f64::total_cmp);
    Ok(intervals)
}

/// The renderer's cumulative main-thread time, in seconds.
struct MainThread {
    timestamp: f64,
    task: f64,
    script: f64,
    style: f64,
    layout: f64,
}

async fn main_thread(page: &Page) -> Result<MainThread> {
    let result = page.devtools("Performance.getMetrics", json!({})).await?;
    let metric = |name: &str| -> Result<f64> {
        result["metrics"]
            .as_array()
            .and_then(|metrics| metrics.iter().find(|metric| metric["name"] == name))
            .and_then(|metric| metric["value"].as_f64())
            .with_context(|| format!("no {name} in {result}"))
    };
    Ok(MainThread {
        timestamp: metric("Timestamp")?,
        task: metric("TaskDuration")?,
        script: metric("ScriptDuration")?,
        style: metric("RecalcStyleDuration")?,
        layout: metric("LayoutDuration")?,
    })
}

/// What the page counted itself, if this build counts.
struct PageCounters {
    cursor_frames: f64,
    positions: f64,
    cursor_frame_ms: f64,
}

async fn page_counters(page: &Page) -> Result<Option<PageCounters>> {
    let text = page
        .eval(
            "return window.cursorsDiagnostics ? window.cursorsDiagnostics() : null;",
            vec![],
        )
        .await?;
    let Some(text) = text.as_str() else {
        return Ok(None);
    };
    let counters: Value = serde_json::from_str(text).context("the page's counters")?;
    let number = |name: &str| counters[name].as_f64().unwrap_or_default();
    Ok(Some(PageCounters {
        cursor_frames: number("cursor_frames"),
        positions: number("positions"),
        cursor_frame_ms: number("cursor_frame_ms"),
    }))
}
