//! Window listeners, timers and observers that end with the component that
//! started them.
//!
//! Leptos hands back a handle for each window listener, interval and
//! timeout and leaves removing it to the caller; a component that forgets
//! keeps a listener for the page's whole life, or a timer that writes into
//! signals already gone. Each function here registers that removal with
//! the current component (`on_cleanup`) once, so a component only says what
//! to listen to or when to run. [`TimerSlot`] adds what the countdown and
//! the chat's linger need: at most one timer at a time, replaced by the
//! next one, stoppable early.
//!
//! Why our own and not `leptos-use`, which has all of these: we need four
//! small things, and that crate is a large dependency (dozens of modules
//! and their features) that every fresh clone would compile for them, on a
//! path whose wait we are cutting. Everything here is a thin layer over
//! Leptos's own handles.

use std::time::Duration;

use leptos::ev::EventDescriptor;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, ResizeObserver};

/// Listens to `event` on the window until the component goes.
pub fn listen_on_window<E>(event: E, handler: impl Fn(E::EventType) + 'static)
where
    E: EventDescriptor + 'static,
    E::EventType: JsCast,
{
    let listener = window_event_listener(event, handler);
    on_cleanup(move || listener.remove());
}

/// Runs `tick` every `period` until the component goes.
pub fn every(period: Duration, tick: impl Fn() + 'static) {
    if let Ok(interval) = set_interval_with_handle(tick, period) {
        on_cleanup(move || interval.clear());
    }
}

#[derive(Clone, Copy)]
enum Running {
    Timeout(TimeoutHandle),
    Interval(IntervalHandle),
}

impl Running {
    fn stop(self) {
        match self {
            Running::Timeout(timeout) => timeout.clear(),
            Running::Interval(interval) => interval.clear(),
        }
    }
}

/// At most one timer (a timeout or an interval): starting one stops the
/// one before, and the component's end stops the last.
#[derive(Clone, Copy)]
pub struct TimerSlot(StoredValue<Option<Running>>);

impl Default for TimerSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl TimerSlot {
    /// An empty slot, belonging to the current component.
    pub fn new() -> Self {
        let slot = Self(StoredValue::new(None));
        on_cleanup(move || slot.stop());
        slot
    }

    /// Runs `then` once after `after`, unless stopped or replaced first.
    /// Does nothing once the component is gone (a promise that resolves
    /// after the page moved on must not start a timer nobody can stop).
    pub fn start_timeout(&self, after: Duration, then: impl FnOnce() + 'static) {
        if self.is_disposed() {
            return;
        }
        self.stop();
        let slot = self.0;
        let started = set_timeout_with_handle(
            move || {
                // Done: nothing left to stop.
                slot.try_set_value(None);
                then();
            },
            after,
        );
        self.0.set_value(started.ok().map(Running::Timeout));
    }

    /// Runs `tick` every `period` until stopped or replaced.
    /// Does nothing once the component is gone, like [`Self::start_timeout`].
    pub fn start_interval(&self, period: Duration, tick: impl Fn() + 'static) {
        if self.is_disposed() {
            return;
        }
        self.stop();
        let started = set_interval_with_handle(tick, period);
        self.0.set_value(started.ok().map(Running::Interval));
    }

    pub fn stop(&self) {
        if let Some(running) = self.0.try_update_value(Option::take).flatten() {
            running.stop();
        }
    }

    fn is_disposed(&self) -> bool {
        self.0.try_with_value(|_| ()).is_none()
    }

    pub fn is_running(&self) -> bool {
        self.0.try_with_value(Option::is_some).unwrap_or(false)
    }
}

/// The observer and the callback it calls, which must live as long.
type Observing = (ResizeObserver, Closure<dyn FnMut()>);

/// A `ResizeObserver` that calls `on_resize` for the elements it is told
/// to watch, disconnected when the component goes. A `Copy` key to it, so
/// a `NodeRef`'s `on_load` can hand it the element.
#[derive(Clone, Copy)]
pub struct SizeWatch(StoredValue<Option<Observing>, LocalStorage>);

impl SizeWatch {
    pub fn new(on_resize: impl FnMut() + 'static) -> Self {
        let on_resize = Closure::<dyn FnMut()>::new(on_resize);
        let observer = ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok();
        let watch = Self(StoredValue::new_local(
            observer.map(|observer| (observer, on_resize)),
        ));
        on_cleanup(move || {
            if let Some((observer, _)) = watch.0.try_update_value(Option::take).flatten() {
                observer.disconnect();
            }
        });
        watch
    }

    pub fn observe(&self, element: &Element) {
        self.0.try_with_value(|watching| {
            if let Some((observer, _)) = watching {
                observer.observe(element);
            }
        });
    }
}
