//! The cursors client: a Leptos page (client-side rendered, built by Trunk)
//! that shows everyone's pointer on a shared board.
//!
//! The split matters for testing: the modules with pure logic
//! ([`board`], [`throttle`], [`roster`], [`address`], [`backoff`],
//! [`motion`], [`diagnostics`], [`crowd`], [`follow`], the rule of
//! [`tabs`], and the connection's rules in [`connection::link`] and
//! [`connection::status`]) know nothing
//! of the browser and have native unit tests; [`app`] holds the
//! components, [`scene`] puts the roster behind fine-grained signals and
//! runs the animation, [`social_scene`] does the same for the social layer
//! that [`social_view`] draws, [`crowd_view`] draws the crowd beyond the cursors
//! shown, [`connection`] carries out its link's decisions to
//! keep the link to the server alive across drops, [`socket`] wraps the
//! browser WebSocket, [`tabs`] keeps a duplicated tab from taking over the
//! original's identity, and [`scoped`] ends listeners and timers with the
//! component that started them; [`timing`] and [`typing`] are small
//! helpers for them all.
//!
//! Imports go one way, from the components down to the models they draw
//! (`tests/layering.rs` checks it): [`app`] → the views → [`connection`] →
//! [`scene`] → [`social_scene`] → the rules.

pub mod address;
pub mod app;
pub mod backoff;
pub mod board;
pub mod connection;
pub mod contrast;
pub mod crowd;
pub mod crowd_view;
pub mod diagnostics;
pub mod follow;
pub mod motion;
pub mod roster;
pub mod scene;
pub mod scoped;
pub mod social;
pub mod social_scene;
pub mod social_view;
pub mod socket;
pub mod tabs;
pub mod throttle;
pub mod timing;
pub mod typing;
