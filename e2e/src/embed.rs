//! The embed's side of the end-to-end tests and of `embed-bench`: a plain
//! host page (not ours) that carries the one tag, and the helpers that read
//! the embed through its shadow root and point at the host's elements.
//!
//! The host page holds a small inline script of the tests' own
//! (`window.testNotes`): the WebSockets the page opened and closed, every
//! `console.warn`, the globals before the embed, when the page loaded, when
//! the first cursor was drawn, and the layout shift seen. With these a test
//! tells "tried and was refused" from "never tried" without waiting an
//! arbitrary time, and the benchmark reads its figures from the page.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use serde_json::{Value, json};

use crate::Page;

/// How far apart (as a fraction of the element's box) the pointer's spot
/// and the drawn cursor's may be.
pub const TOLERANCE: f64 = 0.03;

/// A host page: ids on its headings and paragraphs, text that wraps
/// differently at each width, and enough of it to scroll.
pub fn host_page(server: SocketAddr, tag_attributes: &str) -> String {
    let filler = "Cursors that follow the content and not the window land on the same words \
                  however the text wraps. "
        .repeat(6);
    let sections: String = (1..=6)
        .map(|index| {
            format!(
                "<h2 id=\"heading-{index}\">Section {index}</h2>\n<p id=\"text-{index}\">{filler}</p>\n"
            )
        })
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>A host page</title>
<style>body {{ font: 18px/1.6 serif; margin: 0 auto; max-width: 60rem; padding: 1rem; }}</style>
<script>
  window.testNotes = {{
    opened: 0, closed: 0, warnings: [], globals: Object.getOwnPropertyNames(window),
    loadAt: null, firstCursorAt: null, layoutShift: 0,
  }};
  addEventListener("load", () => {{ window.testNotes.loadAt = performance.now(); }});
  new PerformanceObserver((list) => {{
    for (const shift of list.getEntries()) if (!shift.hadRecentInput) window.testNotes.layoutShift += shift.value;
  }}).observe({{ type: "layout-shift", buffered: true }});
  const watchForCursor = () => {{
    const host = document.querySelector("[data-testid=cursors-embed]");
    const drawn = host && host.shadowRoot && [...host.shadowRoot.querySelectorAll("[data-testid=cursor]")]
      .some((cursor) => cursor.getBoundingClientRect().width > 0);
    if (drawn) window.testNotes.firstCursorAt = performance.now();
    else requestAnimationFrame(watchForCursor);
  }};
  requestAnimationFrame(watchForCursor);
  const RealWebSocket = window.WebSocket;
  window.WebSocket = function (...args) {{
    const socket = new RealWebSocket(...args);
    socket.addEventListener("open", () => window.testNotes.opened++);
    socket.addEventListener("close", () => window.testNotes.closed++);
    return socket;
  }};
  window.WebSocket.prototype = RealWebSocket.prototype;
  Object.assign(window.WebSocket, {{ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 }});
  const realWarn = console.warn;
  console.warn = (...words) => {{ window.testNotes.warnings.push(words.join(" ")); realWarn(...words); }};
</script>
</head>
<body>
<main>
<h1 id="title">A plain page that is not ours</h1>
{sections}
</main>
<script src="http://{server}/embed.js" defer {tag_attributes}></script>
</body>
</html>"#
    )
}

/// Runs `script` in the embed's shadow root (`root`), or gives `null`
/// while there is none.
pub async fn in_embed(page: &Page, script: &str, args: Vec<Value>) -> Result<Value> {
    let body = format!(
        "const host = document.querySelector('[data-testid=cursors-embed]');
         if (!host || !host.shadowRoot) return null;
         const root = host.shadowRoot;
         {script}"
    );
    page.eval(&body, args).await
}

pub async fn embed_count(page: &Page) -> Result<Option<String>> {
    let text = in_embed(
        page,
        "return root.querySelector('[data-testid=embed-count]').textContent;",
        vec![],
    )
    .await?;
    Ok(text.as_str().map(str::to_owned))
}

pub async fn wait_for_count(page: &Page, expected: &str) -> Result<()> {
    page.wait_for(&format!("the badge to say {expected:?}"), async |page| {
        Ok((embed_count(page).await?.as_deref() == Some(expected)).then_some(()))
    })
    .await
}

/// The box of the host element `id`, in viewport pixels.
pub async fn element_box(page: &Page, id: &str) -> Result<[f64; 4]> {
    let rect = page
        .eval(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect();
             return [r.left, r.top, r.width, r.height];",
            vec![json!(id)],
        )
        .await?;
    serde_json::from_value(rect).context("element box")
}

/// Where the cursors drawn in the embed point (their tips), in viewport
/// pixels, visible ones only.
pub async fn drawn_cursors(page: &Page) -> Result<Vec<(f64, f64)>> {
    let found = in_embed(
        page,
        "return [...root.querySelectorAll('[data-testid=cursor]')]
           .map(c => c.getBoundingClientRect())
           .filter(r => r.width > 0)
           .map(r => [r.left, r.top]);",
        vec![],
    )
    .await?;
    if found.is_null() {
        return Ok(Vec::new());
    }
    serde_json::from_value(found).context("drawn cursors")
}

/// Moves the real pointer to `(x, y)` of element `id`'s box, in steps.
pub async fn point_at(page: &Page, id: &str, x: f64, y: f64) -> Result<()> {
    let [left, top, width, height] = element_box(page, id).await?;
    let mut mouse = MouseActions::new("mouse".into());
    for step in [0.9, 0.96, 1.0] {
        mouse = mouse.then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(30)),
            x: (left + x * width * step).round(),
            y: (top + y * height * step).round(),
        });
    }
    page.client.perform_actions(mouse).await?;
    Ok(())
}

/// A drawn cursor at `(x, y)` of element `id`'s box on `page`, if any.
pub async fn cursor_over(page: &Page, id: &str, x: f64, y: f64) -> Result<Option<(f64, f64)>> {
    let [left, top, width, height] = element_box(page, id).await?;
    Ok(drawn_cursors(page)
        .await?
        .into_iter()
        .map(|(cx, cy)| ((cx - left) / width, (cy - top) / height))
        .find(|(fx, fy)| (fx - x).abs() <= TOLERANCE && (fy - y).abs() <= TOLERANCE))
}

/// What the host page's own script noted (see the module doc).
pub async fn notes(page: &Page) -> Result<Value> {
    page.eval("return window.testNotes;", vec![]).await
}
