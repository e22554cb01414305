//! The pointer on a host page, as a position others can find again in
//! their own window: the element under it (by `data-cursor-anchor` or
//! `id`) and the spot in that element's box, with the spot in the whole
//! document as the fallback (PROTOCOL.md, "Anchors"). The arithmetic is
//! `cursors_client_core::embedding`; this module only measures.

use cursors_client_core::embedding::LayoutBox;
use cursors_protocol::{Anchor, Point};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Window};

/// What the embed sends for one pointer position.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// The spot as a fraction of the document's scrollable size: what an
    /// old client, or a receiver without the element, uses.
    pub document: Point,
    pub anchor: Option<Anchor>,
}

// ANCHOR: anchor-of-pointer
/// Where the pointer at `(client_x, client_y)` (viewport pixels) is, over
/// `target`, the element the browser says it is over.
pub fn position_at(
    window: &Window,
    target: Option<Element>,
    client_x: f64,
    client_y: f64,
) -> Option<Position> {
    let document = window.document()?;
    let (x, y) = document_box(window, &document)?.fraction_of(client_x, client_y)?;
    let anchor = target
        .and_then(|target| target.closest("[data-cursor-anchor],[id]").ok().flatten())
        .and_then(|element| {
            let id = anchor_name(&element)?;
            let (x, y) = layout_box(&element).fraction_of(client_x, client_y)?;
            Some(Anchor { id, x, y })
        });
    Some(Position {
        document: Point { x, y },
        anchor,
    })
}
// ANCHOR_END: anchor-of-pointer

// ANCHOR: spot-of-position
/// Where, in this window's viewport, a cursor at `document` (and over
/// `anchor`, if any) goes: over the same element at the same spot when
/// this page has it, else at the same fraction of the document.
pub fn spot_of(
    window: &Window,
    document_point: Point,
    anchor: Option<&Anchor>,
) -> Option<(f64, f64)> {
    let document = window.document()?;
    if let Some(anchor) = anchor
        && let Some(element) = find_anchor(&document, &anchor.id)
    {
        let area = layout_box(&element);
        if area.fraction_of(area.left, area.top).is_some() {
            return Some(area.point_at(anchor.x, anchor.y));
        }
    }
    Some(document_box(window, &document)?.point_at(document_point.x, document_point.y))
}
// ANCHOR_END: spot-of-position

/// The name an element is anchored by: its `data-cursor-anchor`, else its
/// `id`, if it is one the protocol carries.
fn anchor_name(element: &Element) -> Option<String> {
    let name = element
        .get_attribute("data-cursor-anchor")
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| element.id());
    Anchor::is_valid_id(&name).then_some(name)
}

/// The element anchored by `name` on this page, if there is one.
fn find_anchor(document: &Document, name: &str) -> Option<Element> {
    // Quotes and backslashes escaped, the name fits in a CSS string.
    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
    document
        .query_selector(&format!("[data-cursor-anchor=\"{quoted}\"]"))
        .ok()
        .flatten()
        .or_else(|| document.get_element_by_id(name))
}

/// An element's border box in viewport pixels.
fn layout_box(element: &Element) -> LayoutBox {
    let rect = element.get_bounding_client_rect();
    LayoutBox {
        left: rect.left(),
        top: rect.top(),
        width: rect.width(),
        height: rect.height(),
    }
}

/// The whole scrollable document in viewport pixels: it starts above and
/// left of the viewport by the scroll offsets.
fn document_box(window: &Window, document: &Document) -> Option<LayoutBox> {
    let root = document.document_element()?;
    Some(LayoutBox {
        left: -window.scroll_x().ok()?,
        top: -window.scroll_y().ok()?,
        width: f64::from(root.scroll_width()),
        height: f64::from(root.scroll_height()),
    })
}

/// The element an event happened on, if it is one.
pub fn target_element(event: &web_sys::Event) -> Option<Element> {
    event.target()?.dyn_into::<Element>().ok()
}
