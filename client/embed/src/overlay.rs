//! What the embed draws, and nothing else: one host element at the end of
//! the host page's `<body>` with an open shadow root, so no style leaks in
//! or out and the host page keeps its own `html`, `body` and globals.
//!
//! The host element is fixed over the viewport and lets the pointer
//! through (`pointer-events: none`), so the page under it works as before;
//! only the bar of controls (the toggle, the count, the visitor's name)
//! takes clicks and keyboard focus. Being fixed and out of the flow, it
//! moves nothing on the page when it appears: no layout shift.

use std::collections::HashMap;
use std::rc::Rc;

use cursors_client_core::contrast::label_colors;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Document, Element, HtmlElement, HtmlInputElement, ShadowRootInit, ShadowRootMode};

/// The style of everything inside the shadow root. `:host` resets what
/// the host page's styles could pass down by inheritance.
const STYLE: &str = "\
:host{all:initial;position:fixed;inset:0;pointer-events:none;z-index:2147483647;overflow:hidden;font:13px/1.3 system-ui,sans-serif}\
[hidden]{display:none!important}\
.cursor{position:absolute;left:0;top:0;transition:transform 90ms linear;will-change:transform}\
.cursor svg{display:block;width:18px;height:18px;fill:var(--color);stroke:#fff;stroke-width:1.5}\
.name{position:absolute;left:14px;top:16px;padding:1px 6px;border-radius:4px;white-space:nowrap;background:var(--label);color:var(--ink)}\
.bar{position:absolute;left:12px;bottom:12px;display:flex;gap:6px;align-items:center;padding:4px 6px;border-radius:8px;background:#1c2024;color:#fff;pointer-events:auto;box-shadow:0 1px 4px rgba(0,0,0,.3)}\
[data-testid=embed-count]{min-width:8.5em}\
button,input{font:inherit;color:#fff;background:#2f3640;border:1px solid #8b95a1;border-radius:6px;padding:2px 8px;margin:0}\
button{cursor:pointer}\
input{width:10em}\
:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}\
@media (prefers-reduced-motion:reduce){.cursor{transition:none}}";

/// An arrow pointing up-left, filled with the person's colour.
const ARROW: &str =
    r#"<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M1 1l5.5 14 2-6 6-2z"/></svg>"#;

/// What the visitor did with the controls.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Show or hide the cursors.
    Toggle,
    /// Take this display name.
    Rename(String),
}

/// One cursor to draw: who, and where in the viewport (`None`: not now).
pub struct Drawn<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub color: &'a str,
    /// The name comes from their room token: shown with a check mark.
    pub verified: bool,
    pub spot: Option<(f64, f64)>,
}

pub struct Overlay {
    host: Element,
    layer: Element,
    count: Element,
    name_button: HtmlElement,
    toggle: Element,
    cursors: std::cell::RefCell<HashMap<String, Element>>,
    _listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Overlay {
    /// Builds the overlay at the end of `document`'s body; `on_control`
    /// hears what the visitor does with the bar.
    pub fn mount(document: &Document, on_control: Rc<dyn Fn(Control)>) -> Result<Self, String> {
        let failed = |what: &str| format!("cursors: cannot {what}");
        let create = |tag: &str| {
            document
                .create_element(tag)
                .map_err(|_| failed("create an element"))
        };
        let host = create("div")?;
        host.set_attribute("data-testid", "cursors-embed").ok();
        let shadow = host
            .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
            .map_err(|_| failed("attach a shadow root"))?;
        let style = create("style")?;
        style.set_text_content(Some(STYLE));
        let layer = create("div")?;
        layer.set_attribute("aria-hidden", "true").ok();
        // A landmark of its own (complementary), so that a screen reader
        // finds the controls, and the host page's content outside its own
        // landmarks is not blamed on us (axe's `region` rule).
        let bar = create("aside")?;
        bar.set_class_name("bar");
        bar.set_attribute("aria-label", "Live cursors").ok();
        let count = create("span")?;
        count.set_attribute("data-testid", "embed-count").ok();
        count.set_attribute("role", "status").ok();
        let name_button: HtmlElement = create("button")?.unchecked_into();
        name_button.set_attribute("type", "button").ok();
        name_button.set_attribute("data-testid", "embed-name").ok();
        let name_form = create("form")?;
        name_form.set_attribute("hidden", "").ok();
        let name_input: HtmlInputElement = create("input")?.unchecked_into();
        name_input
            .set_attribute("aria-label", "Your name on this page")
            .ok();
        name_input.set_attribute("maxlength", "32").ok();
        name_input
            .set_attribute("data-testid", "embed-name-input")
            .ok();
        let toggle = create("button")?;
        toggle.set_attribute("type", "button").ok();
        toggle.set_attribute("data-testid", "embed-toggle").ok();
        name_form.append_child(&name_input).ok();
        // Anchored at its left edge, with what changes width last (the
        // count keeps a width that fits its texts, the name comes last):
        // when the count or the name changes, nothing in the bar moves,
        // which browsers would count as a layout shift of the host page.
        for child in [&toggle, &count, name_button.as_ref(), &name_form] {
            bar.append_child(child).ok();
        }
        for child in [&style, &layer, &bar] {
            shadow.append_child(child).ok();
        }
        let body = document
            .body()
            .ok_or_else(|| failed("find the page's body"))?;
        body.append_child(&host)
            .map_err(|_| failed("add the overlay"))?;

        let mut listeners = Vec::new();
        let mut listen =
            |target: &web_sys::EventTarget, kind: &str, handler: Box<dyn FnMut(web_sys::Event)>| {
                let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
                target
                    .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())
                    .ok();
                listeners.push(closure);
            };
        let control = on_control.clone();
        listen(
            &toggle,
            "click",
            Box::new(move |_| control(Control::Toggle)),
        );
        {
            let (button, form, input) =
                (name_button.clone(), name_form.clone(), name_input.clone());
            listen(
                &name_button,
                "click",
                Box::new(move |_| {
                    input.set_value(&button.dataset().get("name").unwrap_or_default());
                    button.set_hidden(true);
                    form.remove_attribute("hidden").ok();
                    input.focus().ok();
                    input.select();
                }),
            );
        }
        {
            let (button, form, input) =
                (name_button.clone(), name_form.clone(), name_input.clone());
            let control = on_control.clone();
            listen(
                &name_form,
                "submit",
                Box::new(move |event| {
                    event.prevent_default();
                    control(Control::Rename(input.value()));
                    form.set_attribute("hidden", "").ok();
                    button.set_hidden(false);
                    button.focus().ok();
                }),
            );
        }
        {
            let (button, form) = (name_button.clone(), name_form.clone());
            listen(
                &name_input,
                "keydown",
                Box::new(move |event| {
                    let escape = event
                        .dyn_ref::<web_sys::KeyboardEvent>()
                        .is_some_and(|key| key.key() == "Escape");
                    if escape {
                        form.set_attribute("hidden", "").ok();
                        button.set_hidden(false);
                        button.focus().ok();
                    }
                }),
            );
        }
        let overlay = Self {
            host,
            layer,
            count,
            name_button,
            toggle,
            cursors: Default::default(),
            _listeners: listeners,
        };
        overlay.set_count(0);
        // Never empty: an empty button is lower than one with a name, and
        // the bar growing when the name arrives would shift it.
        overlay.name_button.set_text_content(Some("…"));
        overlay.set_hidden(false);
        Ok(overlay)
    }

    /// The head count in the bar (announced politely when it changes).
    pub fn set_count(&self, people: u64) {
        let text = match people {
            0 => "Connecting…".to_owned(),
            1 => "1 person here".to_owned(),
            many => format!("{many} people here"),
        };
        if self.count.text_content().as_deref() != Some(&text) {
            self.count.set_text_content(Some(&text));
        }
    }

    /// The visitor's own name, on the button that changes it; a name
    /// vouched for by the room token shows a check mark and cannot change.
    pub fn set_name(&self, name: &str, verified: bool) {
        let shown = if verified {
            format!("{name} ✓")
        } else {
            name.to_owned()
        };
        self.name_button.set_text_content(Some(&shown));
        self.name_button.dataset().set("name", name).ok();
        let label = if verified {
            format!("Your name: {name}, verified")
        } else {
            format!("Your name: {name}. Change it")
        };
        self.name_button.set_attribute("aria-label", &label).ok();
        self.name_button
            .toggle_attribute_with_force("disabled", verified)
            .ok();
    }

    /// Hides or shows the cursors (the bar stays, to show them again).
    pub fn set_hidden(&self, hidden: bool) {
        self.layer
            .toggle_attribute_with_force("hidden", hidden)
            .ok();
        self.toggle.set_text_content(Some(if hidden {
            "Show cursors"
        } else {
            "Hide cursors"
        }));
        self.toggle
            .set_attribute("aria-pressed", if hidden { "true" } else { "false" })
            .ok();
    }

    /// Draws exactly these cursors: new ones are made, gone ones removed,
    /// the others moved.
    pub fn draw(&self, document: &Document, drawn: &[Drawn<'_>]) {
        let mut cursors = self.cursors.borrow_mut();
        cursors.retain(|id, element| {
            let keep = drawn.iter().any(|cursor| cursor.id == id);
            if !keep {
                element.remove();
            }
            keep
        });
        for cursor in drawn {
            let element = match cursors.get(cursor.id) {
                Some(element) => element.clone(),
                None => {
                    let Some(element) = make_cursor(document) else {
                        continue;
                    };
                    self.layer.append_child(&element).ok();
                    cursors.insert(cursor.id.to_owned(), element.clone());
                    element
                }
            };
            label(&element, cursor);
            let style = element.unchecked_ref::<HtmlElement>().style();
            match cursor.spot {
                Some((x, y)) => {
                    style
                        .set_property("transform", &format!("translate({x:.1}px,{y:.1}px)"))
                        .ok();
                    element.remove_attribute("hidden").ok();
                }
                None => {
                    element.set_attribute("hidden", "").ok();
                }
            }
        }
    }

    /// Takes the overlay off the page.
    pub fn unmount(&self) {
        self.host.remove();
    }
}

fn make_cursor(document: &Document) -> Option<Element> {
    let element = document.create_element("div").ok()?;
    element.set_class_name("cursor");
    element.set_attribute("data-testid", "cursor").ok();
    element.set_inner_html(ARROW);
    let name = document.create_element("span").ok()?;
    name.set_class_name("name");
    element.append_child(&name).ok();
    Some(element)
}

/// Writes the name and colours of `cursor` onto its element, if changed.
fn label(element: &Element, cursor: &Drawn<'_>) {
    if element.get_attribute("data-id").as_deref() != Some(cursor.id) {
        element.set_attribute("data-id", cursor.id).ok();
    }
    if element.get_attribute("data-color").as_deref() != Some(cursor.color) {
        let (background, ink) = label_colors(cursor.color);
        let style = element.unchecked_ref::<HtmlElement>().style();
        style.set_property("--color", cursor.color).ok();
        style.set_property("--label", &background).ok();
        style.set_property("--ink", ink).ok();
        element.set_attribute("data-color", cursor.color).ok();
    }
    let shown = if cursor.verified {
        format!("{} ✓", cursor.name)
    } else {
        cursor.name.to_owned()
    };
    if let Some(name) = element.last_element_child()
        && name.text_content().as_deref() != Some(shown.as_str())
    {
        name.set_text_content(Some(&shown));
    }
}
