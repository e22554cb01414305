//! The cursors client: a Leptos page (client-side rendered, built by Trunk)
//! that shows everyone's pointer on a shared board.
//!
//! The rules are not here: what the page decides without a browser (the
//! roster, the connection's link, motion, throttle, backoff, the crowd, the
//! follow, the social rules, contrast, the diagnostics' counters, which tab
//! holds a token, where to connect) is the crate `cursors-client-core`
//! (`client/core/`), shared with the embeddable client and unit-tested
//! natively. This crate is the browser side that carries them out:
//!
//! - [`app`] holds the components of the page, [`crowd_view`] draws the
//!   crowd beyond the cursors shown and [`social_view`] the social layer
//!   and its controls;
//! - [`scene`] puts the roster behind fine-grained signals and runs the
//!   animation, and [`social_scene`] does the same for the social layer;
//! - [`connection`] carries out its link's decisions to keep the link to
//!   the server alive across drops, through the WebSocket wrapper of
//!   `cursors-client-web` (`client/web/`, shared with the embed), and
//!   [`tabs`], the channel on which tabs ask who holds a resume token;
//! - [`board`] maps the pointer onto the board, [`scoped`] ends listeners
//!   and timers with the component that started them, [`timing`] times the
//!   page's own work and [`typing`] tells typing from the page's keys.
//!
//! Imports go one way, from the components down to the models they draw
//! (`tests/layering.rs` checks it): [`app`] → the views → [`connection`] →
//! [`scene`] → [`social_scene`] → the core's rules.

pub mod app;
pub mod board;
pub mod connection;
pub mod crowd_view;
pub mod scene;
pub mod scoped;
pub mod social_scene;
pub mod social_view;
pub mod tabs;
pub mod timing;
pub mod typing;
