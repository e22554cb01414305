//! Harness for the end-to-end tests: a real server serving the release
//! client from `dist/`, and one headless Chromium per page, each in its own
//! window size. The processes (ChromeDriver, a server process, Redis) come
//! from `cursors-test-support`, shared with the server's own tests.
//!
//! Nothing here is mocked. Waits poll the real page until a condition holds,
//! bounded by a generous limit so a broken build fails instead of hanging;
//! no test asserts on how long anything took.

pub mod embed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use cursors_test_support::{ChromeDriver, ServerLaunch, TempDir, temp_dir};
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MOUSE_BUTTON_LEFT, MouseActions, PointerAction,
};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Upper bound on any wait for the page to reach a state.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The workspace root (where `dist/` is built).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// The real server, in this process, serving the release build.
pub struct Server {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Server {
    pub async fn start() -> Result<Self> {
        Self::start_on("127.0.0.1:0".parse()?).await
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr) -> Result<Self> {
        Self::start_configured(addr, |_| {}).await
    }

    /// Starts on `addr` with the defaults changed by `adjust` (the frame
    /// benchmark lets more than the default 256 connections come from
    /// 127.0.0.1).
    pub async fn start_configured(
        addr: SocketAddr,
        adjust: impl FnOnce(&mut cursors_server::Config),
    ) -> Result<Self> {
        let dist = workspace_root().join("dist");
        if !dist.join("index.html").is_file() {
            bail!(
                "{} has no built client: run scripts/build-client.sh (scripts/test.sh does)",
                dist.display()
            );
        }
        let mut config = cursors_server::Config::defaults();
        config.static_dir = dist;
        adjust(&mut config);
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        tokio::spawn(cursors_server::serve(listener, config, shutdown.clone()));
        Ok(Self { addr, shutdown })
    }

    pub fn page_url(&self, room: &str) -> String {
        format!("http://{}/?room={room}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// How to start the real server as a separate process serving the release
/// build, which a test can kill outright and start again on `addr`.
/// `binary` is the test's `env!("CARGO_BIN_EXE_server-process")`.
pub fn server_process(binary: &str, addr: SocketAddr) -> ServerLaunch {
    ServerLaunch::new(binary, addr).static_dir(workspace_root().join("dist"))
}

/// One page in its own headless Chromium window.
pub struct Page {
    pub client: Client,
    _profile: TempDir,
}

impl Page {
    pub async fn open(driver: &ChromeDriver, width: u32, height: u32, url: &str) -> Result<Self> {
        let profile = temp_dir("cursors-e2e-profile")?;
        let chromium =
            std::env::var("CURSORS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        // The flags that make Chromium behave on a machine with no network
        // beyond loopback (see ../shared/TOOLCHAIN.md).
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .context("cannot start a Chromium session")?;
        client.goto(url).await?;
        Ok(Self {
            client,
            _profile: profile,
        })
    }

    /// Runs `script` (a function body) with `args` and returns its result.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    /// The connection state the page shows (`data-state` of the status).
    pub async fn connection_state(&self) -> Result<String> {
        let state = self
            .eval(
                "return document.querySelector('[data-testid=status]').dataset.state;",
                vec![],
            )
            .await?;
        Ok(state.as_str().unwrap_or_default().to_owned())
    }

    pub async fn text(&self, test_id: &str) -> Result<String> {
        let selector = format!("[data-testid={test_id}]");
        Ok(self
            .client
            .find(Locator::Css(&selector))
            .await?
            .text()
            .await?)
    }

    /// `Some(())` once the head count reads `expected` (for [`Page::wait_for`]).
    pub async fn headcount_is(&self, expected: &str) -> Result<Option<()>> {
        Ok((self.text("count").await? == expected).then_some(()))
    }

    /// The presence list's lines, as text ("Ada (you)", "Bo", ...).
    pub async fn presence_lines(&self) -> Result<Vec<String>> {
        let lines = self
            .eval(
                "return [...document.querySelectorAll('[data-testid=presence-item]')].map(i => i.textContent.trim());",
                vec![],
            )
            .await?;
        serde_json::from_value(lines).context("presence lines")
    }

    /// Ids of the remote cursors on this page.
    pub async fn cursor_ids(&self) -> Result<Vec<String>> {
        Ok(self
            .cursors()
            .await?
            .into_iter()
            .map(|(id, ..)| id)
            .collect())
    }

    /// The board's box in viewport pixels: left, top, width, height.
    pub async fn board_rect(&self) -> Result<[f64; 4]> {
        let rect = self
            .eval(
                "const r = document.querySelector('[data-testid=board]').getBoundingClientRect();
                 return [r.left, r.top, r.width, r.height];",
                vec![],
            )
            .await?;
        serde_json::from_value(rect).context("board rect")
    }

    /// Moves the real (WebDriver) mouse pointer to `(x, y)` of the board,
    /// as fractions of its width and height, in a few steps like a hand would.
    pub async fn move_pointer_to(&self, x: f64, y: f64) -> Result<()> {
        let [left, top, width, height] = self.board_rect().await?;
        let target = (left + x * width, top + y * height);
        let mut mouse = MouseActions::new("mouse".into());
        for step in 1..=4 {
            let fraction = f64::from(step) / 4.0;
            mouse = mouse.then(PointerAction::MoveTo {
                duration: Some(Duration::from_millis(30)),
                x: (left + width / 2.0 + (target.0 - left - width / 2.0) * fraction).round(),
                y: (top + height / 2.0 + (target.1 - top - height / 2.0) * fraction).round(),
            });
        }
        self.client.perform_actions(mouse).await?;
        Ok(())
    }

    /// Presses and releases one key, as a keyboard would (to the page, not
    /// to any field).
    pub async fn press_key(&self, key: char) -> Result<()> {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await?;
        Ok(())
    }

    /// Holds Shift down while `during` runs, then lets it go.
    pub async fn holding_shift(&self, during: impl AsyncFnOnce(&Self) -> Result<()>) -> Result<()> {
        const SHIFT: char = '\u{E008}';
        let down = KeyActions::new("keyboard".into()).then(KeyAction::Down { value: SHIFT });
        self.client.perform_actions(down).await?;
        let result = during(self).await;
        let up = KeyActions::new("keyboard".into()).then(KeyAction::Up { value: SHIFT });
        self.client.perform_actions(up).await?;
        result
    }

    /// Clicks the board at `(x, y)` (fractions of its width and height)
    /// without moving between press and release: a click, not a drag.
    pub async fn click_board_at(&self, x: f64, y: f64) -> Result<()> {
        let [left, top, width, height] = self.board_rect().await?;
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveTo {
                duration: Some(Duration::from_millis(30)),
                x: (left + x * width).round(),
                y: (top + y * height).round(),
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(mouse).await?;
        Ok(())
    }

    /// The centres of the elements with `test_id` (and `data-peer` if
    /// given), as fractions of the board.
    pub async fn spots(&self, test_id: &str, peer: Option<&str>) -> Result<Vec<(f64, f64)>> {
        let found = self
            .eval(
                "const board = document.querySelector('[data-testid=board]').getBoundingClientRect();
                 const selector = `[data-testid=${arguments[0]}]` + (arguments[1] ? `[data-peer=\"${arguments[1]}\"]` : '');
                 return [...document.querySelectorAll(selector)].map(e => {
                   const r = e.getBoundingClientRect();
                   return [(r.left + r.width / 2 - board.left) / board.width, (r.top + r.height / 2 - board.top) / board.height];
                 });",
                vec![json!(test_id), json!(peer)],
            )
            .await?;
        serde_json::from_value(found).context("spots")
    }

    /// How many elements match `selector` on this page.
    pub async fn count(&self, selector: &str) -> Result<usize> {
        let count = self
            .eval(
                "return document.querySelectorAll(arguments[0]).length;",
                vec![json!(selector)],
            )
            .await?;
        Ok(count.as_u64().unwrap_or_default() as usize)
    }

    /// Runs axe-core (the npm package that `scripts/setup.sh` installs into
    /// `.tools/`) on the page as it is, and returns its violations, each as
    /// "rule: the nodes it found". Empty means no violation.
    pub async fn accessibility_violations(&self) -> Result<Vec<String>> {
        let path = workspace_root().join(".tools/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is missing: run scripts/setup.sh (it installs axe-core)",
                path.display()
            )
        })?;
        self.eval(&source, vec![])
            .await
            .context("injecting axe-core")?;
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(results => done(results.violations.map(v =>
                     `${v.id} (${v.impact}): ${v.help} — ` + v.nodes.map(n => n.target.join(' ')).join(', '))))
                   .catch(error => done([`axe failed: ${error}`]));",
                vec![],
            )
            .await?;
        serde_json::from_value(found).context("axe violations")
    }

    /// Every remote cursor on this page: peer id and the tip's position as
    /// fractions of the board.
    pub async fn cursors(&self) -> Result<Vec<(String, f64, f64)>> {
        let found = self
            .eval(
                "const board = document.querySelector('[data-testid=board]').getBoundingClientRect();
                 return [...document.querySelectorAll('[data-testid=cursor]')].map(c => {
                   const r = c.getBoundingClientRect();
                   return [c.dataset.peer, (r.left - board.left) / board.width, (r.top - board.top) / board.height];
                 });",
                vec![],
            )
            .await?;
        serde_json::from_value(found).context("cursor list")
    }

    /// Polls `check` until it returns `Some`, or fails after [`PATIENCE`].
    pub async fn wait_for<T>(
        &self,
        what: &str,
        mut check: impl AsyncFnMut(&Self) -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut last_error = None;
        loop {
            match check(self).await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(error) => last_error = Some(error),
            }
            if tokio::time::Instant::now() > deadline {
                return Err(anyhow!(
                    "gave up waiting for {what} (last error: {last_error:?})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page shows it is connected (`what` names the wait in
    /// the error if it never is).
    pub async fn wait_until_connected(&self, what: &str) -> Result<()> {
        self.wait_for(what, async |page| {
            Ok((page.connection_state().await? == "connected").then_some(()))
        })
        .await
    }

    pub async fn screenshot(&self) -> Result<image::RgbaImage> {
        let png = self.client.screenshot().await?;
        Ok(image::load_from_memory_with_format(&png, image::ImageFormat::Png)?.to_rgba8())
    }

    /// Sends a Chrome DevTools Protocol command to the page (through
    /// ChromeDriver's `goog/cdp/execute`) and returns its result. The frame
    /// benchmark reads the renderer's own accounting of main-thread time
    /// with it (`Performance.getMetrics`), which no script in the page
    /// could measure without adding to it.
    pub async fn devtools(&self, command: &str, params: Value) -> Result<Value> {
        let result = self
            .client
            .issue_cmd(DevToolsCommand {
                command: command.to_owned(),
                params,
            })
            .await
            .with_context(|| format!("DevTools command {command}"))?;
        Ok(result)
    }

    /// Ends the session: Chromium closes, and with it the page's socket.
    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

/// A DevTools Protocol command, as ChromeDriver's vendor endpoint takes it.
#[derive(Debug)]
struct DevToolsCommand {
    command: String,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevToolsCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.command, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Opens two pages (`ada` and `bo`, 900×600 and 1000×640) in a fresh room
/// named from `prefix`, and waits until each counts two people.
pub async fn two_pages_in_a_room(
    driver: &ChromeDriver,
    server: &Server,
    prefix: &str,
) -> Result<(Page, Page)> {
    let room = format!("{prefix}-{}", std::process::id());
    let ada = Page::open(driver, 900, 600, &server.page_url(&room)).await?;
    let bo = Page::open(driver, 1000, 640, &server.page_url(&room)).await?;
    for page in [&ada, &bo] {
        page.wait_for("both pages in the room", async |page| {
            page.headcount_is("2 people here").await
        })
        .await?;
    }
    Ok((ada, bo))
}

/// Puts screenshots side by side on a light grey background.
pub fn side_by_side(images: &[image::RgbaImage]) -> image::RgbaImage {
    const GAP: u32 = 24;
    let width =
        images.iter().map(|image| image.width()).sum::<u32>() + GAP * (images.len() as u32 + 1);
    let height = images.iter().map(|image| image.height()).max().unwrap_or(0) + 2 * GAP;
    let mut canvas = image::RgbaImage::from_pixel(width, height, image::Rgba([224, 225, 230, 255]));
    let mut left = GAP;
    for image in images {
        image::imageops::overlay(&mut canvas, image, i64::from(left), i64::from(GAP));
        left += image.width() + GAP;
    }
    canvas
}
