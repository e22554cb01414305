//! Names and the presence list, seen from another page in real Chromium.

use std::time::{Duration, Instant};

use anyhow::Result;
use cursors_e2e::{Page, Server, two_pages_in_a_room};
use cursors_test_support::ChromeDriver;
use fantoccini::Locator;

/// `Some(())` once whether anyone in `page`'s presence list is away equals
/// `expected` (for [`Page::wait_for`]).
async fn anyone_away_is(page: &Page, expected: bool) -> Result<Option<()>> {
    let anyone = page
        .presence_lines()
        .await?
        .iter()
        .any(|line| line.ends_with("(away)"));
    Ok((anyone == expected).then_some(()))
}

/// Hides or shows `page`'s tab the way a browser does: `document.hidden`
/// and a bubbling `visibilitychange`.
async fn set_tab_hidden(page: &Page, hidden: bool) -> Result<()> {
    let script = format!(
        "Object.defineProperty(document, 'hidden', {{ value: {hidden}, configurable: true }});
         document.dispatchEvent(new Event('visibilitychange', {{ bubbles: true }}));"
    );
    page.eval(&script, vec![]).await?;
    Ok(())
}

async fn type_name(page: &Page, name: &str) -> Result<()> {
    let field = page.client.find(Locator::Css("[data-testid=name]")).await?;
    field.clear().await?;
    // U+E007 is WebDriver's Enter key, which commits the field.
    field.send_keys(&format!("{name}\u{E007}")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_name_shows_in_the_others_presence_list_and_on_the_cursor() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let room = format!("names-{}", std::process::id());
    let ada = Page::open(&driver, 1000, 640, &server.page_url(&room)).await?;
    let bo = Page::open(&driver, 1000, 640, &server.page_url(&room)).await?;
    for page in [&ada, &bo] {
        page.wait_for("two people listed", async |page| {
            Ok((page.presence_lines().await?.len() == 2).then_some(()))
        })
        .await?;
    }

    type_name(&ada, "  Ada Lovelace ").await?;
    ada.wait_for("ada's own line", async |page| {
        Ok(page
            .presence_lines()
            .await?
            .contains(&"Ada Lovelace (you)".to_owned())
            .then_some(()))
    })
    .await?;
    bo.wait_for("ada in bo's list", async |page| {
        Ok(page
            .presence_lines()
            .await?
            .contains(&"Ada Lovelace".to_owned())
            .then_some(()))
    })
    .await?;
    let bo_lines = bo.presence_lines().await?;
    assert_eq!(bo_lines.len(), 2, "{bo_lines:?}");
    assert!(bo_lines[0].ends_with("(you)"), "me first: {bo_lines:?}");

    // The cursor carries the name too.
    ada.move_pointer_to(0.5, 0.5).await?;
    let label = bo
        .wait_for("ada's cursor", async |page| {
            let label = page.eval("const c = document.querySelector('[data-testid=cursor] .label'); return c && c.textContent;", vec![]).await?;
            Ok(label.as_str().map(str::to_owned))
        })
        .await?;
    assert_eq!(label, "Ada Lovelace");

    // A name that breaks the rules is refused on the page, not sent.
    type_name(&ada, "   ").await?;
    ada.wait_for("a visible problem", async |page| {
        let problem = page
            .eval(
                "return document.querySelector('.name-problem').textContent;",
                vec![],
            )
            .await?;
        Ok(problem
            .as_str()
            .is_some_and(|text| !text.is_empty())
            .then_some(()))
    })
    .await?;
    assert!(
        bo.presence_lines()
            .await?
            .contains(&"Ada Lovelace".to_owned())
    );

    // The name is remembered: after a reload the field and the list keep it.
    ada.client.refresh().await?;
    ada.wait_for("the name after a reload", async |page| {
        let value = page
            .eval(
                "return document.querySelector('[data-testid=name]').value;",
                vec![],
            )
            .await?;
        Ok((value.as_str() == Some("Ada Lovelace")).then_some(()))
    })
    .await?;
    bo.wait_for("still ada in bo's list", async |page| {
        Ok(page
            .presence_lines()
            .await?
            .contains(&"Ada Lovelace".to_owned())
            .then_some(()))
    })
    .await?;

    ada.close().await?;
    bo.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_chat_shows_beside_the_cursor_for_others_then_fades() -> Result<()> {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};

    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "chat").await?;
    ada.move_pointer_to(0.4, 0.4).await?;
    bo.wait_for("ada's cursor", async |page| {
        Ok(page.cursor_ids().await?.pop())
    })
    .await?;

    // "/" opens the chat input at the cursor; typing shows live for bo.
    let slash = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: '/' })
        .then(KeyAction::Up { value: '/' });
    ada.client.perform_actions(slash).await?;
    let field = ada
        .wait_for("the chat input", async |page| {
            Ok(page
                .client
                .find(Locator::Css("[data-testid=chat-input]"))
                .await
                .ok())
        })
        .await?;
    field.send_keys("hello there").await?;
    let bubble_text = async |page: &Page| -> Result<Option<String>> {
        let text = page
            .eval("const b = document.querySelector('[data-testid=cursor-chat]'); return b && b.textContent;", vec![])
            .await?;
        Ok(text.as_str().map(str::to_owned))
    };
    bo.wait_for("the words beside ada's cursor", async |page| {
        Ok(bubble_text(page)
            .await?
            .filter(|text| text == "hello there"))
    })
    .await?;

    let picture = cursors_e2e::side_by_side(&[ada.screenshot().await?, bo.screenshot().await?]);
    let target = cursors_e2e::workspace_root().join("target/e2e");
    std::fs::create_dir_all(&target)?;
    picture.save(target.join("cursor-chat.png"))?;

    // Enter closes the input; a few seconds later the bubble fades and goes.
    field.send_keys("\u{E007}").await?;
    ada.wait_for("the input to close", async |page| {
        Ok(page
            .client
            .find(Locator::Css("[data-testid=chat-input]"))
            .await
            .is_err()
            .then_some(()))
    })
    .await?;
    bo.wait_for("the bubble to go", async |page| {
        Ok(bubble_text(page).await?.is_none().then_some(()))
    })
    .await?;

    ada.close().await?;
    bo.close().await?;
    Ok(())
}

/// How long the page keeps a message after Enter before clearing it
/// (`CHAT_LINGER` in client/src/app.rs), and how long the bubble then takes
/// to fade and go (`CHAT_FADE` in client/src/connection/link.rs).
const CHAT_LINGER: Duration = Duration::from_secs(4);
const CHAT_FADE: Duration = Duration::from_millis(600);

/// Presses `/` on `page` and returns the chat input once it is open.
async fn open_chat(page: &Page) -> Result<fantoccini::elements::Element> {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let slash = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: '/' })
        .then(KeyAction::Up { value: '/' });
    page.client.perform_actions(slash).await?;
    page.wait_for("the chat input", async |page| {
        Ok(page
            .client
            .find(Locator::Css("[data-testid=chat-input]"))
            .await
            .ok())
    })
    .await
}

/// The text of the first chat bubble on `page`, and whether it is fading.
async fn chat_bubble(page: &Page) -> Result<Option<(String, bool)>> {
    let bubble = page
        .eval(
            "const b = document.querySelector('[data-testid=cursor-chat]');
             return b && [b.textContent, b.classList.contains('fading')];",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(bubble)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatting_again_soon_after_enter_keeps_the_new_words_for_the_others() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "chat-again").await?;
    ada.move_pointer_to(0.4, 0.4).await?;
    bo.wait_for("ada's cursor", async |page| {
        Ok(page.cursor_ids().await?.pop())
    })
    .await?;

    // Ada says something and presses Enter: it will be cleared in a while.
    let field = open_chat(&ada).await?;
    field.send_keys("first\u{E007}").await?;
    let entered = Instant::now();
    bo.wait_for("the first words", async |page| {
        Ok(chat_bubble(page).await?.filter(|(text, _)| text == "first"))
    })
    .await?;

    // She opens the chat again at once and says something new.
    let field = open_chat(&ada).await?;
    field.send_keys("second").await?;
    bo.wait_for("the new words", async |page| {
        Ok(chat_bubble(page)
            .await?
            .filter(|(text, fading)| text == "second" && !fading))
    })
    .await?;
    anyhow::ensure!(
        entered.elapsed() < CHAT_LINGER,
        "reopening took longer than the linger time, so this run cannot tell"
    );

    // Past the moment the first message's clearing was due (and its fade):
    // the new words must still be there, not fading.
    tokio::time::sleep_until((entered + CHAT_LINGER + CHAT_FADE + Duration::from_secs(1)).into())
        .await;
    assert_eq!(
        chat_bubble(&bo).await?,
        Some(("second".to_owned(), false)),
        "the first message's timer cleared the new words"
    );

    ada.close().await?;
    bo.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_stops_moving_dims_then_wakes() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "idle").await?;
    let is_idle = async |page: &Page| -> Result<Option<bool>> {
        let idle = page
            .eval("const c = document.querySelector('[data-testid=cursor]'); return c && c.classList.contains('idle');", vec![])
            .await?;
        Ok(idle.as_bool())
    };

    ada.move_pointer_to(0.5, 0.5).await?;
    bo.wait_for("an active cursor", async |page| {
        Ok(is_idle(page).await?.filter(|idle| !idle))
    })
    .await?;
    // Eight seconds without a move: dimmed, and still there.
    bo.wait_for("the cursor to turn idle", async |page| {
        Ok(is_idle(page).await?.filter(|idle| *idle))
    })
    .await?;
    assert_eq!(bo.cursors().await?.len(), 1);
    ada.move_pointer_to(0.6, 0.5).await?;
    bo.wait_for("the cursor to wake", async |page| {
        Ok(is_idle(page).await?.filter(|idle| !idle))
    })
    .await?;

    ada.close().await?;
    bo.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_link_can_be_copied_and_a_new_room_made() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let room = format!("share-{}", std::process::id());
    let page = Page::open(&driver, 900, 600, &server.page_url(&room)).await?;
    page.wait_for("the room", async |page| {
        page.headcount_is("just you here").await
    })
    .await?;

    page.client
        .find(Locator::Css("[data-testid=share]"))
        .await?
        .click()
        .await?;
    page.wait_for("the copy to be confirmed", async |page| {
        Ok((page.text("share").await? == "Link copied").then_some(()))
    })
    .await?;
    let copied = page
        .eval("return await navigator.clipboard.readText();", vec![])
        .await;
    if let Ok(copied) = copied {
        // Reading back needs a permission headless Chromium may not grant;
        // when it does, the link must be this room's.
        assert_eq!(copied.as_str(), Some(server.page_url(&room).as_str()));
    }

    page.client
        .find(Locator::Css("[data-testid=new-room]"))
        .await?
        .click()
        .await?;
    let new_room = page
        .wait_for("a new room", async |page| {
            let url = page.client.current_url().await?;
            let room = url
                .query_pairs()
                .find(|(key, _)| key == "room")
                .map(|(_, value)| value.into_owned());
            Ok(room.filter(|name| name.starts_with("room-")))
        })
        .await?;
    assert_ne!(new_room, room);
    page.wait_for("alone in the new room", async |page| {
        page.headcount_is("just you here").await
    })
    .await?;
    page.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_loses_focus_or_is_hidden_shows_as_away_then_back() -> Result<()> {
    let server = Server::start().await?;
    let driver = ChromeDriver::start()?;
    let (ada, bo) = two_pages_in_a_room(&driver, &server, "away").await?;
    ada.move_pointer_to(0.5, 0.5).await?;
    bo.wait_for("ada's cursor", async |page| {
        Ok(page.cursor_ids().await?.pop())
    })
    .await?;

    // The window loses focus (as when another window is brought forward).
    ada.eval("window.dispatchEvent(new Event('blur'));", vec![])
        .await?;
    bo.wait_for("ada shown away", async |page| {
        anyone_away_is(page, true).await
    })
    .await?;
    assert!(
        bo.cursor_ids().await?.is_empty(),
        "an away user's cursor is hidden"
    );
    assert_eq!(bo.presence_lines().await?.len(), 2, "still listed");

    ada.eval("window.dispatchEvent(new Event('focus'));", vec![])
        .await?;
    bo.wait_for("ada back", async |page| anyone_away_is(page, false).await)
        .await?;

    // A hidden tab (switched away from) counts as away too.
    set_tab_hidden(&ada, true).await?;
    bo.wait_for("ada away while her tab is hidden", async |page| {
        anyone_away_is(page, true).await
    })
    .await?;
    set_tab_hidden(&ada, false).await?;
    bo.wait_for("ada back when her tab shows", async |page| {
        anyone_away_is(page, false).await
    })
    .await?;

    ada.close().await?;
    bo.close().await?;
    Ok(())
}
