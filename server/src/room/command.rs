//! What connections say to a room task, and what it answers to a join:
//! the messages on a room's command channel, shared by the hub (which
//! sends them), the directory (which holds the channels) and the task
//! (which receives them).

use std::sync::Arc;

use tokio::sync::oneshot;

use super::encode::Encoding;
use super::state::{Action, ConnectionKey};
use crate::mailbox::Mailbox;

/// Commands a room accepts from its members' connections.
#[derive(Debug)]
pub enum RoomCommand {
    Join {
        encoding: Encoding,
        resume: Option<String>,
        /// When the socket's room token ends (Unix seconds), for its welcome.
        expires: Option<u64>,
        /// The token's `name` claim: the user's name, verified.
        verified_name: Option<String>,
        reply: oneshot::Sender<Admission>,
    },
    Act {
        from: ConnectionKey,
        action: Action,
    },
}

/// What the room answers to a `Join`.
#[derive(Debug)]
pub struct Admission {
    pub connection: ConnectionKey,
    pub id: String,
    pub mailbox: Arc<Mailbox>,
}
