//! The cursors client's rules, without a browser: what a page of the
//! shared board decides, apart from how it draws or talks to the browser.
//!
//! Two pages share them: the Leptos page (`cursors-client`, in `client/`)
//! and the embeddable client for other sites, drawn with plain `web-sys`.
//! Whatever draws the board, the rules are the same, so they live here
//! once. Nothing here depends on `leptos`, `web-sys`, `wasm-bindgen` or
//! `js-sys`: the time, the random draws and what the browser reported are
//! arguments, and every rule is unit-tested natively (`cargo test -p
//! cursors-client-core`).
//!
//! - the room: [`roster`] applies server messages and says what changed,
//!   [`crowd`] what is drawn and said of a crowd, [`follow`] whom the page
//!   follows;
//! - the link: [`link`] is the connection's state machine (reconnect,
//!   resume, ping, what to send), with [`backoff`] for when to retry,
//!   [`status`] for what the top bar says, [`throttle`] for sending moves
//!   and [`tabs`] for which tab answers for a resume token; [`address`]
//!   says where to connect;
//! - drawing: [`motion`] glides remote cursors, [`contrast`] picks a
//!   readable label colour, [`social`] holds the rules of reactions,
//!   points, trails, spotlight and announcements;
//! - [`embedding`] says which room a host page is and where a cursor goes
//!   on content laid out differently in each window (the embed);
//! - [`diagnostics`] counts the page's own work and turns it into rates,
//!   and [`decimal`] writes numbers as `format!` does, with less code in
//!   the wasm.

pub mod address;
pub mod backoff;
pub mod contrast;
pub mod crowd;
pub mod decimal;
pub mod diagnostics;
pub mod embedding;
pub mod follow;
pub mod link;
pub mod motion;
pub mod roster;
pub mod social;
pub mod status;
pub mod tabs;
pub mod throttle;
