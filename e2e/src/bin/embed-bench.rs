//! The embed as a visitor meets it: its weight, how long after the host
//! page's `load` the first cursor is drawn, and how much the host page's
//! layout shifts (it should not). A benchmark, not a test: it measures and
//! prints, and asserts nothing.
//!
//!   cargo run --release -p cursors-e2e --bin embed-bench
//!
//! Needs the release build in dist/ (scripts/build-client.sh) and
//! chromedriver (scripts/setup.sh --browser).
//!
//! The weight is what a browser downloads: the `.gz` files that
//! scripts/build-client.sh wrote beside the loader, the glue and the wasm.
//! For the timing, one window stays in the room with its pointer over a
//! paragraph; then, `EMBED_BENCH_RUNS` times (5 by default), a fresh
//! Chromium window opens the host page and the host page's own script
//! notes when `load` fired and when the first cursor appeared in the
//! embed's shadow root (checked every animation frame), and sums the
//! `layout-shift` entries the page saw. Everything runs on this machine,
//! on loopback: the figures are the embed's own start-up (the loader's
//! check, loading and compiling 92 KB of wasm, the socket, the welcome),
//! not a network's.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::Router;
use axum::response::Html;
use axum::routing::get;
use cursors_e2e::embed::{host_page, notes, point_at, wait_for_count};
use cursors_e2e::{Page, Server, workspace_root};
use cursors_test_support::ChromeDriver;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<()> {
    let runs: usize = std::env::var("EMBED_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(5);
    print_weight()?;

    let host_listener = TcpListener::bind("127.0.0.1:0").await?;
    let host_addr: SocketAddr = host_listener.local_addr()?;
    let host_origin = format!("http://{host_addr}");
    let server = Server::start_configured("127.0.0.1:0".parse()?, |config| {
        config.embed_origins = vec![host_origin.clone()];
    })
    .await?;
    let page = host_page(server.addr, "");
    let app = Router::new().fallback(get(move || {
        let page = page.clone();
        async move { Html(page) }
    }));
    tokio::spawn(async move { axum::serve(host_listener, app).await });

    let driver = ChromeDriver::start()?;
    let url = format!("{host_origin}/guide");
    let resident = Page::open(&driver, 1100, 800, &url).await?;
    wait_for_count(&resident, "1 person here").await?;
    point_at(&resident, "text-1", 0.4, 0.5).await?;

    println!("\nfrom the host page's load to the first cursor drawn, {runs} fresh windows:");
    println!(
        "{:>4} {:>12} {:>16} {:>13}",
        "run", "load (ms)", "first cursor", "layout shift"
    );
    let mut waits = Vec::new();
    for run in 1..=runs {
        let visitor = Page::open(&driver, 900, 700, &url).await?;
        let drawn = visitor
            .wait_for("the resident's cursor", async |page| {
                let notes = notes(page).await?;
                Ok(notes["firstCursorAt"].as_f64().map(|_| notes))
            })
            .await?;
        let load = drawn["loadAt"].as_f64().context("load noted")?;
        let first = drawn["firstCursorAt"].as_f64().context("cursor noted")?;
        let shift = drawn["layoutShift"].as_f64().unwrap_or_default();
        println!(
            "{run:>4} {load:>12.0} {:>13.0} ms {shift:>13.4}",
            first - load
        );
        waits.push(first - load);
        visitor.close().await?;
    }
    waits.sort_by(f64::total_cmp);
    println!(
        "median {:.0} ms, fastest {:.0} ms, slowest {:.0} ms",
        waits[waits.len() / 2],
        waits[0],
        waits[waits.len() - 1]
    );
    resident.close().await?;
    Ok(())
}

/// The gzipped sizes of the loader, the glue and the wasm in dist/.
fn print_weight() -> Result<()> {
    let dist = workspace_root().join("dist");
    let mut files = vec![dist.join("embed.js.gz")];
    for entry in std::fs::read_dir(dist.join("embed")).context("dist/embed: build the client")? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "gz") {
            files.push(path);
        }
    }
    files.sort();
    let mut total = 0;
    println!("the embed's weight, gzipped:");
    for file in &files {
        let bytes = std::fs::metadata(file)?.len();
        total += bytes;
        println!("{bytes:>9} B  {}", file.strip_prefix(&dist)?.display());
    }
    println!("{total:>9} B  in all ({:.1} KiB)", total as f64 / 1024.0);
    Ok(())
}
