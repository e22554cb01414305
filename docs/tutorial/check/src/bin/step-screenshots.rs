//! Takes the screenshot of each Part 1 step that its chapter shows, by
//! doing what the chapter tells the reader to do, in headless Chromium
//! against the step's own server, and checking that the page then shows
//! what the chapter says it shows (an echo, a relayed move, a cursor, the
//! ghost of step 4, its absence in step 5).
//!
//! Run by `scripts/book-screenshots.sh`, which first builds each step's
//! server and page:
//!
//!     step-screenshots --servers DIR --out docs/tutorial/src/assets
//!
//! The steps' servers listen on 127.0.0.1, on the port `PORT` names (the
//! book's own way to move them off 3000), which the script picks free and
//! also builds the steps' pages with.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cursors_book::{anchors, tutorial_root};
use cursors_e2e::{Page, side_by_side};
use cursors_test_support::{ChromeDriver, wait_until_accepts, wait_until_refused};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use serde_json::json;
use tower_http::services::ServeDir;

/// Where every step's server listens: 127.0.0.1 and `PORT`, as the book's
/// servers read it (3000 when it is not set).
fn step_server() -> Result<SocketAddr> {
    let port = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .with_context(|| format!("PORT={port:?} is not a port number"))?,
        Err(_) => 3000,
    };
    Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
}

/// A step's server binary, running in the step's folder; killed on drop.
struct StepServer {
    process: Child,
    address: SocketAddr,
}

impl StepServer {
    fn start(servers: &Path, step: &str) -> Result<Self> {
        let binary = servers.join(format!("{step}-server"));
        let child = Command::new(&binary)
            .current_dir(tutorial_root().join("steps").join(step))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let server = Self {
            process: child,
            address: step_server()?,
        };
        wait_until_accepts(server.address, &format!("the {step} server"))?;
        Ok(server)
    }
}

impl Drop for StepServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        // The next step's server needs the port.
        let _ = wait_until_refused(self.address);
    }
}

/// Serves a step's built page (`client/dist`) the way `trunk serve` would,
/// on a free port of 127.0.0.1; the page then connects to the step's
/// server by itself (its port was built in from `PORT`).
async fn serve_page(step: &str) -> Result<String> {
    let dist = tutorial_root().join("steps").join(step).join("client/dist");
    if !dist.join("index.html").is_file() {
        bail!(
            "{} is not built: run scripts/book-screenshots.sh",
            dist.display()
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = axum::Router::new().fallback_service(ServeDir::new(dist));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}/"))
}

/// The lines of `console.js`'s anchor, as the chapter shows them.
fn snippet(step: &str, anchor: &str) -> Result<String> {
    let path = tutorial_root().join("steps").join(step).join("console.js");
    let text = std::fs::read_to_string(&path)?;
    let lines: Vec<&str> = text.lines().collect();
    let numbers = anchors::lines_of(&text, anchor)
        .with_context(|| format!("no anchor {anchor} in {}", path.display()))?;
    Ok(numbers
        .iter()
        .map(|number| lines[number - 1])
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Runs `code` as a classic script, as the console would: its top-level
/// `const` stays visible to the next snippet.
async fn run_in_console(page: &Page, code: &str) -> Result<()> {
    page.eval(
        "const script = document.createElement('script');
         script.textContent = arguments[0];
         document.head.append(script);",
        vec![json!(code)],
    )
    .await?;
    Ok(())
}

async fn body_text(page: &Page) -> Result<String> {
    let text = page.eval("return document.body.innerText;", vec![]).await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

async fn wait_for_text(page: &Page, expected: &str) -> Result<()> {
    page.wait_for(&format!("the page to show {expected:?}"), async |page| {
        Ok(body_text(page).await?.contains(expected).then_some(()))
    })
    .await
}

async fn cursor_count(page: &Page) -> Result<usize> {
    let count = page
        .eval(
            "return document.querySelectorAll('.cursor').length;",
            vec![],
        )
        .await?;
    Ok(count.as_u64().unwrap_or_default() as usize)
}

async fn wait_for_cursors(page: &Page, expected: usize) -> Result<()> {
    page.wait_for(&format!("{expected} cursor(s) on the page"), async |page| {
        Ok((cursor_count(page).await? == expected).then_some(()))
    })
    .await
}

/// Moves the real (WebDriver) pointer to `(x, y)`, as fractions of the
/// viewport.
async fn move_pointer(page: &Page, x: f64, y: f64) -> Result<()> {
    let size = page
        .eval("return [window.innerWidth, window.innerHeight];", vec![])
        .await?;
    let [width, height]: [f64; 2] = serde_json::from_value(size)?;
    let mouse = MouseActions::new("mouse".into()).then(PointerAction::MoveTo {
        duration: Some(Duration::from_millis(150)),
        x: (x * width).round(),
        y: (y * height).round(),
    });
    page.client.perform_actions(mouse).await?;
    Ok(())
}

const WIDTH: u32 = 560;
const HEIGHT: u32 = 480;

async fn open(driver: &ChromeDriver, url: &str) -> Result<Page> {
    Page::open(driver, WIDTH, HEIGHT, url).await
}

async fn connected(driver: &ChromeDriver, url: &str) -> Result<Page> {
    let page = open(driver, url).await?;
    wait_for_text(&page, "Socket: connected").await?;
    Ok(page)
}

async fn step_1(driver: &ChromeDriver, servers: &Path, out: &Path) -> Result<()> {
    let server = StepServer::start(servers, "01-echo")?;
    let page = open(driver, &format!("http://{}/", server.address)).await?;
    run_in_console(&page, &snippet("01-echo", "connect")?).await?;
    wait_for_open_socket(&page).await?;
    run_in_console(&page, &snippet("01-echo", "send")?).await?;
    wait_for_text(&page, "hello, server").await?;
    page.screenshot().await?.save(out.join("step-1.png"))?;
    page.close().await
}

async fn wait_for_open_socket(page: &Page) -> Result<()> {
    page.wait_for("the socket to open", async |page| {
        let state = page.eval("return socket.readyState;", vec![]).await?;
        Ok((state.as_u64() == Some(1)).then_some(()))
    })
    .await
}

async fn step_2(driver: &ChromeDriver, servers: &Path, out: &Path) -> Result<()> {
    let server = StepServer::start(servers, "02-relay")?;
    let url = format!("http://{}/", server.address);
    let (sender, receiver) = (open(driver, &url).await?, open(driver, &url).await?);
    for page in [&sender, &receiver] {
        run_in_console(page, &snippet("02-relay", "connect")?).await?;
        wait_for_open_socket(page).await?;
    }
    run_in_console(&sender, &snippet("02-relay", "send")?).await?;
    wait_for_text(&receiver, r#""type":"moved""#).await?;
    if body_text(&sender).await?.contains("moved") {
        bail!("step 2 sent the sender's own move back to it");
    }
    side_by_side(&[sender.screenshot().await?, receiver.screenshot().await?])
        .save(out.join("step-2.png"))?;
    sender.close().await?;
    receiver.close().await
}

async fn step_3(driver: &ChromeDriver, servers: &Path, out: &Path) -> Result<()> {
    let _server = StepServer::start(servers, "03-page")?;
    let page = connected(driver, &serve_page("03-page").await?).await?;
    move_pointer(&page, 0.59, 0.62).await?;
    wait_for_text(&page, "Your pointer: x").await?;
    page.screenshot().await?.save(out.join("step-3.png"))?;
    page.close().await
}

async fn step_4(driver: &ChromeDriver, servers: &Path, out: &Path) -> Result<()> {
    let _server = StepServer::start(servers, "04-cursors")?;
    let url = serve_page("04-cursors").await?;
    let (ada, bo) = (
        connected(driver, &url).await?,
        connected(driver, &url).await?,
    );
    move_pointer(&ada, 0.36, 0.65).await?;
    wait_for_cursors(&bo, 1).await?;
    side_by_side(&[ada.screenshot().await?, bo.screenshot().await?])
        .save(out.join("step-4.png"))?;
    // Ada's tab closes; give her departure every chance to show.
    ada.close().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    if cursor_count(&bo).await? != 1 {
        bail!("step 4 was meant to leave the closed page's cursor behind");
    }
    bo.screenshot().await?.save(out.join("step-4-ghost.png"))?;
    bo.close().await
}

async fn step_5(driver: &ChromeDriver, servers: &Path, out: &Path) -> Result<()> {
    let _server = StepServer::start(servers, "05-leaving")?;
    let url = serve_page("05-leaving").await?;
    let ada = connected(driver, &url).await?;
    let bo = connected(driver, &url).await?;
    let cy = connected(driver, &url).await?;
    move_pointer(&ada, 0.27, 0.59).await?;
    move_pointer(&cy, 0.71, 0.74).await?;
    wait_for_cursors(&bo, 2).await?;
    ada.close().await?;
    wait_for_cursors(&bo, 1).await?;
    side_by_side(&[bo.screenshot().await?, cy.screenshot().await?]).save(out.join("step-5.png"))?;
    bo.close().await?;
    cy.close().await
}

async fn step_6(driver: &ChromeDriver, servers: &Path, out: &Path) -> Result<()> {
    let server = StepServer::start(servers, "06-one-server")?;
    // The page now comes from the step's server itself.
    let url = format!("http://{}/", server.address);
    let (ada, bo) = (
        connected(driver, &url).await?,
        connected(driver, &url).await?,
    );
    move_pointer(&ada, 0.32, 0.68).await?;
    move_pointer(&bo, 0.68, 0.59).await?;
    wait_for_cursors(&ada, 1).await?;
    wait_for_cursors(&bo, 1).await?;
    side_by_side(&[ada.screenshot().await?, bo.screenshot().await?])
        .save(out.join("step-6.png"))?;
    ada.close().await?;
    bo.close().await
}

fn argument(name: &str) -> Result<PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|pair| pair[0] == name)
        .map(|pair| PathBuf::from(&pair[1]))
        .with_context(|| format!("missing {name} DIR"))
}

#[tokio::main]
async fn main() -> Result<()> {
    // Absolute: each server starts in its own step folder.
    let servers = argument("--servers")?.canonicalize()?;
    let out = argument("--out")?;
    std::fs::create_dir_all(&out)?;
    let address = step_server()?;
    if StdTcpListener::bind(address).is_err() {
        bail!("{address} is in use, and the steps' servers listen there: set PORT to a free port");
    }
    let driver = ChromeDriver::start()?;
    step_1(&driver, &servers, &out).await.context("step 1")?;
    step_2(&driver, &servers, &out).await.context("step 2")?;
    step_3(&driver, &servers, &out).await.context("step 3")?;
    step_4(&driver, &servers, &out).await.context("step 4")?;
    step_5(&driver, &servers, &out).await.context("step 5")?;
    step_6(&driver, &servers, &out).await.context("step 6")?;
    println!("screenshots of every step saved in {}", out.display());
    Ok(())
}
