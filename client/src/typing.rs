//! Whether a key press is someone typing into a text field. The page's
//! keys (react, spotlight, quiet, the chat's `/`, the diagnostics' `d`)
//! stand aside then, so a name or a chat line can contain any letter.

use leptos::wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;

/// Whether a key press is typing into a text field (so not a shortcut).
pub fn typing_in_a_field(event: &KeyboardEvent) -> bool {
    event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|element| matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA"))
}
