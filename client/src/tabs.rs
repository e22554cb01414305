//! The browser side of one identity per tab: this tab's end of the
//! `BroadcastChannel` on which the tabs of this origin ask each other who
//! holds a resume token.
//!
//! What to answer to what, and how long to wait, are the rules of
//! [`cursors_client_core::tabs`]; [`Tabs`] only opens the channel, moves
//! their messages, and starts the timer.

use std::cell::RefCell;
use std::rc::Rc;

use cursors_client_core::tabs::{ASK_WAIT, CHANNEL, TabMessage};
use leptos::prelude::set_timeout;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BroadcastChannel, MessageEvent};

/// A question this tab asked, and whether another tab claimed the token.
struct Question {
    token: String,
    claimed: bool,
}

/// This tab's side of the channel.
pub struct Tabs {
    channel: BroadcastChannel,
    /// The token this tab answers for (see [`Tabs::hold`]).
    held: Rc<RefCell<Option<String>>>,
    /// The token this tab is asking about, and whether someone claimed it.
    asking: Rc<RefCell<Option<Question>>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Tabs {
    /// `None` where the browser has no `BroadcastChannel`: stored tokens are
    /// then used without asking, as before.
    pub fn open() -> Option<Self> {
        let channel = BroadcastChannel::new(CHANNEL).ok()?;
        let held = Rc::new(RefCell::new(None::<String>));
        let asking = Rc::new(RefCell::new(None::<Question>));
        let on_message = {
            let (held, asking, reply) = (held.clone(), asking.clone(), channel.clone());
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let Some(message) = event
                    .data()
                    .as_string()
                    .and_then(|text| TabMessage::from_text(&text))
                else {
                    return;
                };
                if let Some(answer) = message.answer(held.borrow().as_deref()) {
                    let _ = reply.post_message(&answer.to_text().into());
                }
                if let Some(question) = asking.borrow_mut().as_mut()
                    && message.claims(&question.token)
                {
                    question.claimed = true;
                }
            })
        };
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Self {
            channel,
            held,
            asking,
            _on_message: on_message,
        })
    }

    /// `token` is this tab's (it decided to use it, or the server gave it):
    /// answer for it from now on.
    pub fn hold(&self, token: &str) {
        *self.held.borrow_mut() = Some(token.to_owned());
    }

    /// Asks whether another tab holds `token`; `then(claimed)` runs after
    /// [`ASK_WAIT`].
    pub fn ask(&self, token: &str, then: impl FnOnce(bool) + 'static) {
        *self.asking.borrow_mut() = Some(Question {
            token: token.to_owned(),
            claimed: false,
        });
        let _ = self
            .channel
            .post_message(&TabMessage::Ask(token.to_owned()).to_text().into());
        let asking = self.asking.clone();
        set_timeout(
            move || {
                let claimed = asking
                    .borrow_mut()
                    .take()
                    .is_some_and(|question| question.claimed);
                then(claimed);
            },
            ASK_WAIT,
        );
    }
}

impl Drop for Tabs {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
