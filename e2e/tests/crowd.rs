//! The page in a crowd (issue 18) and follow (issue 19), in real Chromium
//! against a real server started with a small crowd threshold, with a few
//! dozen real WebSocket users in the room.
//!
//! The server makes a room of more than 5 a crowd and shows each receiver
//! at most 4 others: both pages must say how many are here in all, draw no
//! more than 4 cursors, and keep the one they follow in view (highlighted)
//! wherever that person goes, across that person's reconnect.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use cursors_e2e::{Page, Server, two_pages_in_a_room};
use cursors_protocol::{ClientMessage, ServerMessage};
use cursors_test_support::ChromeDriver;
use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const THRESHOLD: usize = 5;
const VISIBLE: usize = 4;
/// Users from the test besides the two pages: a crowd several times over.
const USERS: usize = 24;

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// One user of the room on a real WebSocket, from the test: it moves where
/// it is told and reads (and drops) whatever the server sends, so it never
/// stalls the room.
struct User {
    id: String,
    token: String,
    sink: Sink,
    reader: JoinHandle<()>,
}

impl User {
    /// Joins `room` (as a new user, or as the one `resume` names).
    async fn join(server: &Server, room: &str, resume: Option<&str>) -> Result<Self> {
        let mut url = format!("ws://{}/ws?room={room}", server.addr);
        if let Some(token) = resume {
            url.push_str(&format!("&resume={token}"));
        }
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        let (sink, mut stream) = socket.split();
        let welcome = loop {
            match stream.next().await.context("closed before its welcome")?? {
                Message::Text(text) => break ServerMessage::parse(&text)?,
                _ => continue,
            }
        };
        let ServerMessage::Welcome {
            id,
            resume: Some(token),
            ..
        } = welcome
        else {
            bail!("expected a welcome with a token, got {welcome:?}");
        };
        let reader = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
        Ok(Self {
            id,
            token,
            sink,
            reader,
        })
    }

    async fn move_to(&mut self, x: f64, y: f64) -> Result<()> {
        let text = ClientMessage::Move { x, y, anchor: None }.to_json();
        self.sink.send(Message::text(text)).await?;
        Ok(())
    }

    /// The connection drops without a goodbye (no close frame): the
    /// server keeps the user for its resume grace.
    fn drop_connection(self) -> String {
        self.reader.abort();
        drop(self.sink);
        self.token
    }
}

/// Where the `index`-th of the crowd stands: a ring around the board's
/// middle, each a different spot, none in the corners.
fn spot(index: usize) -> (f64, f64) {
    let angle = index as f64 * std::f64::consts::TAU / USERS as f64;
    let radius = 0.12 + 0.2 * (index % 3) as f64 / 2.0;
    (0.5 + radius * angle.cos(), 0.5 + radius * angle.sin())
}

async fn crowd_server() -> Result<Server> {
    Server::start_configured("127.0.0.1:0".parse()?, |config| {
        config.crowd_threshold = THRESHOLD;
        config.visible_cursors = VISIBLE;
    })
    .await
}

/// The follow button of `id`'s line in `page`'s presence list, and whether
/// it is pressed (`None` while that line is not listed).
async fn follow_pressed(page: &Page, id: &str) -> Result<Option<bool>> {
    let pressed = page
        .eval(
            "const b = document.querySelector(`[data-testid=presence-item][data-peer='${arguments[0]}'] [data-testid=follow]`);
             return b ? b.getAttribute('aria-pressed') : null;",
            vec![id.into()],
        )
        .await?;
    Ok(pressed.as_str().map(|pressed| pressed == "true"))
}

/// `id`'s cursor on `page`: where its tip is (fractions of the board) and
/// whether it is drawn as followed.
async fn cursor_of(page: &Page, id: &str) -> Result<Option<(f64, f64, bool)>> {
    let found = page
        .eval(
            "const board = document.querySelector('[data-testid=board]').getBoundingClientRect();
             const c = document.querySelector(`[data-testid=cursor][data-peer='${arguments[0]}']`);
             if (!c) return null;
             const r = c.getBoundingClientRect();
             return [(r.left - board.left) / board.width, (r.top - board.top) / board.height,
                     c.classList.contains('followed')];",
            vec![id.into()],
        )
        .await?;
    Ok(serde_json::from_value(found)?)
}

fn near(found: (f64, f64), expected: (f64, f64)) -> bool {
    (found.0 - expected.0).abs() < 0.03 && (found.1 - expected.1).abs() < 0.03
}

/// Waits until `page` draws `id`'s cursor near `point`; returns it as
/// [`cursor_of`] does.
async fn cursor_drawn_near(
    page: &Page,
    what: &str,
    id: &str,
    point: (f64, f64),
) -> Result<(f64, f64, bool)> {
    page.wait_for(what, async |page| {
        Ok(cursor_of(page, id)
            .await?
            .filter(|&(x, y, _)| near((x, y), point)))
    })
    .await
}

/// Counts `page`'s cursors a few times over a second and a half; fails if
/// any count is above `most`. Returns the largest count seen.
async fn never_more_cursors_than(page: &Page, most: usize) -> Result<usize> {
    let mut largest = 0;
    for _ in 0..6 {
        let count = page.cursor_ids().await?.len();
        assert!(
            count <= most,
            "{count} cursors drawn, at most {most} allowed"
        );
        largest = largest.max(count);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(largest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_in_a_crowd_show_the_total_at_most_k_cursors_and_whom_they_follow() -> Result<()>
{
    let server = crowd_server().await?;
    let driver = ChromeDriver::start()?;
    let room = format!("crowd-{}", std::process::id());

    // The one the page will follow stands at the very middle, where both
    // pages (whose pointers never move) look first.
    let mut guide = User::join(&server, &room, None).await?;
    guide.move_to(0.56, 0.56).await?;
    let ada = Page::open(&driver, 900, 600, &server.page_url(&room)).await?;
    let bo = Page::open(&driver, 1000, 640, &server.page_url(&room)).await?;
    let mut crowd = Vec::new();
    for index in 0..USERS - 1 {
        let mut user = User::join(&server, &room, None).await?;
        let (x, y) = spot(index);
        user.move_to(x, y).await?;
        crowd.push(user);
    }
    let total = USERS + 2;

    // Both pages count everyone, and draw some of them but never more
    // than K.
    for page in [&ada, &bo] {
        page.wait_for("the crowd's total in the top bar", async |page| {
            let count = page.text("count").await?;
            Ok(count
                .starts_with(&format!("{total} here · "))
                .then_some(count))
        })
        .await?;
        page.wait_for("some of the crowd drawn", async |page| {
            Ok((!page.cursor_ids().await?.is_empty()).then_some(()))
        })
        .await?;
        let most = never_more_cursors_than(page, VISIBLE).await?;
        assert!(most > 0);
        // The list names those the page knows; the rest of the total is
        // counted.
        page.wait_for("the rest of the total counted", async |page| {
            let more = page.text("presence-more").await?;
            let listed = page.presence_lines().await?.len();
            Ok((more == format!("+{} more", total - listed)).then_some(()))
        })
        .await?;
        // The crowd's 8 x 8 heat is drawn, warm where the crowd stands.
        let heat = page
            .eval(
                "return [...document.querySelectorAll('[data-testid=crowd-heat] .heat-cell')]
                   .map(cell => parseFloat(getComputedStyle(cell).opacity));",
                vec![],
            )
            .await?;
        let heat: Vec<f64> = serde_json::from_value(heat)?;
        assert_eq!(heat.len(), 64);
        assert!(heat.iter().any(|&level| level > 0.0), "{heat:?}");
        assert_eq!(heat[0], 0.0, "nobody in the top-left corner: {heat:?}");
    }

    // Ada follows the guide by picking them in her presence list, once
    // they are in her view: the guide moves about the middle until then
    // (the view prefers the near and active, and keeps whom it shows for
    // a while, so standing still near the middle is not enough).
    let mut step = 0;
    ada.wait_for("the guide in ada's list", async |page| {
        step += 1;
        let wiggle = 0.01 * f64::from(step % 2);
        guide.move_to(0.56 + wiggle, 0.56).await?;
        follow_pressed(page, &guide.id).await
    })
    .await?;
    let selector = format!(
        "[data-testid=presence-item][data-peer='{}'] [data-testid=follow]",
        guide.id
    );
    ada.client
        .find(Locator::Css(&selector))
        .await?
        .click()
        .await?;
    ada.wait_for("ada's follow pressed and the cursor ringed", async |page| {
        let pressed = follow_pressed(page, &guide.id).await? == Some(true);
        let ringed = cursor_of(page, &guide.id)
            .await?
            .is_some_and(|(.., followed)| followed);
        Ok((pressed && ringed).then_some(()))
    })
    .await?;

    // The guide walks off to a far corner. Bo, who follows nobody, loses
    // sight of them (three of the crowd are nearer bo's cell); ada keeps
    // them, ringed. The server chooses views again only when something
    // moves, and keeps whom it just showed for 2 s: one of the crowd on
    // the far side keeps stirring, so a choice comes after that dwell.
    let corner = (0.95, 0.95);
    guide.move_to(corner.0, corner.1).await?;
    let stirrer = crowd.last_mut().context("a crowd")?;
    let (stir_x, stir_y) = spot(USERS - 2);
    let mut step = 0;
    bo.wait_for("bo losing sight of the guide", async |page| {
        step += 1;
        stirrer
            .move_to(stir_x, stir_y + 0.01 * f64::from(step % 2))
            .await?;
        Ok(cursor_of(page, &guide.id).await?.is_none().then_some(()))
    })
    .await?;
    let (x, y, followed) =
        cursor_drawn_near(&ada, "the guide far away on ada's page", &guide.id, corner).await?;
    assert!(followed, "still ringed at ({x}, {y})");
    never_more_cursors_than(&ada, VISIBLE).await?;
    // To look at what the two pages show: CROWD_SCREENSHOTS=DIR.
    if let Some(directory) = std::env::var_os("CROWD_SCREENSHOTS") {
        let directory = std::path::PathBuf::from(directory);
        std::fs::create_dir_all(&directory)?;
        cursors_e2e::side_by_side(&[ada.screenshot().await?, bo.screenshot().await?])
            .save(directory.join("crowd-follow.png"))?;
    }

    // The guide's connection drops and comes back with its token: same
    // id, and ada still follows them, to wherever they go next.
    let id = guide.id.clone();
    let token = guide.drop_connection();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut guide = User::join(&server, &room, Some(&token)).await?;
    assert_eq!(guide.id, id, "the resume keeps the id");
    let elsewhere = (0.92, 0.08);
    guide.move_to(elsewhere.0, elsewhere.1).await?;
    let (.., followed) = cursor_drawn_near(
        &ada,
        "the guide back, far away, on ada's page",
        &guide.id,
        elsewhere,
    )
    .await?;
    assert!(followed, "highlighted again after their reconnect");
    assert_eq!(follow_pressed(&ada, &guide.id).await?, Some(true));
    assert_eq!(
        cursor_of(&bo, &guide.id).await?,
        None,
        "bo, following nobody, does not see them there"
    );

    // Picking again unfollows: the ring goes.
    ada.client
        .find(Locator::Css(&selector))
        .await?
        .click()
        .await?;
    ada.wait_for("the follow released", async |page| {
        Ok((follow_pressed(page, &guide.id).await? == Some(false)).then_some(()))
    })
    .await?;

    drop(crowd);
    ada.close().await?;
    bo.close().await?;
    Ok(())
}

async fn press(page: &Page, key: char) -> Result<()> {
    let actions = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    page.client.perform_actions(actions).await?;
    Ok(())
}

/// Presses Tab until a follow button has the focus, and checks that the
/// focus shows.
async fn tab_to_a_follow_button(page: &Page) -> Result<()> {
    for _ in 0..10 {
        press(page, TAB).await?;
        let focused = page
            .eval(
                "const e = document.activeElement;
                 return e && e.dataset.testid === 'follow'
                   && e.matches(':focus-visible') && getComputedStyle(e).outlineStyle !== 'none';",
                vec![],
            )
            .await?;
        if focused.as_bool() == Some(true) {
            return Ok(());
        }
    }
    bail!("no follow button took a visible keyboard focus")
}

/// WebDriver's codes for Tab and Enter.
const TAB: char = '\u{E004}';
const ENTER: char = '\u{E007}';

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_works_by_keyboard_with_a_visible_focus() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "follow-keys").await?;
    bo.move_pointer_to(0.3, 0.6).await?;
    let bo_id = ada
        .wait_for("bo's cursor on ada's page", async |page| {
            Ok(page.cursor_ids().await?.pop())
        })
        .await?;

    // Tab reaches bo's line in the presence list, with a visible focus.
    tab_to_a_follow_button(&ada).await?;
    press(&ada, ENTER).await?;
    ada.wait_for("bo followed by Enter", async |page| {
        let ringed = cursor_of(page, &bo_id)
            .await?
            .is_some_and(|(.., followed)| followed);
        Ok((follow_pressed(page, &bo_id).await? == Some(true) && ringed).then_some(()))
    })
    .await?;
    // Announced politely, through the page's one live region, which speaks
    // at most once a second (a join just before may come first).
    ada.wait_for("the follow announced politely", async |page| {
        let said = page
            .eval(
                "return document.querySelector('[data-testid=announcer]').textContent;",
                vec![],
            )
            .await?;
        Ok(said
            .as_str()
            .is_some_and(|said| said.contains("Following "))
            .then_some(()))
    })
    .await?;

    // A reload keeps the follow (the server keeps it for the resumed
    // user, so the page must still say so).
    ada.client.refresh().await?;
    ada.wait_for("bo still followed after a reload", async |page| {
        let ringed = cursor_of(page, &bo_id)
            .await?
            .is_some_and(|(.., followed)| followed);
        Ok((follow_pressed(page, &bo_id).await? == Some(true) && ringed).then_some(()))
    })
    .await?;

    tab_to_a_follow_button(&ada).await?;
    press(&ada, ' ').await?;
    ada.wait_for("bo unfollowed by Space", async |page| {
        let ringed = cursor_of(page, &bo_id)
            .await?
            .is_some_and(|(.., followed)| followed);
        Ok((follow_pressed(page, &bo_id).await? == Some(false) && !ringed).then_some(()))
    })
    .await?;

    ada.close().await?;
    bo.close().await?;
    Ok(())
}
