//! Whom this page follows: one person picked in the presence list, whose
//! cursor the page highlights and whom the server keeps visible in a crowd
//! (`follow`, issue 18 and 19).
//!
//! The choice belongs to the person at this page, not to one connection, so
//! it lives here and not in the [`crate::roster`], which a reconnect wipes.
//! The server keeps it across a resume but forgets it on a fresh join; the
//! page cannot always tell which of the two the next `welcome` is, so it
//! says it again after every `welcome` (saying it twice costs one small
//! frame). The followed person reconnecting changes nothing: they come back
//! under the same id, and only their `left` (gone for good) ends the follow.
//! In a crowd, leaving this page's view is not leaving the room, and the
//! server does not let the followed person leave the view anyway.
//!
//! A reload keeps it too (the browser side keeps it per tab and room in
//! `sessionStorage`, like the resume token, and starts from it): the
//! server keeps a resumed user's follow, and a page that forgot it would
//! be shown someone it no longer marks as followed.
//!
//! Like the connection's [`crate::link`], this decides and does
//! not act: each rule returns the message to send, and the browser side
//! sends it.

use cursors_protocol::{ClientMessage, ServerMessage};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Follow {
    following: Option<String>,
}

impl Follow {
    /// Starts from the follow this tab kept before a reload, if any.
    pub fn remembering(following: Option<String>) -> Self {
        Self { following }
    }

    /// Whom this page follows, if anyone.
    pub fn following(&self) -> Option<&str> {
        self.following.as_deref()
    }

    /// The person picked `id` in the presence list: follow them, or stop if
    /// they were already followed (picking again unfollows). Following
    /// someone else replaces the previous one: one at a time.
    pub fn pick(&mut self, id: &str) -> ClientMessage {
        if self.following.as_deref() == Some(id) {
            self.following = None;
        } else {
            self.following = Some(id.to_owned());
        }
        self.message()
    }

    /// A message from the server arrived: what to send because of it.
    /// After a `welcome` (this page's own join or resume) the follow is
    /// said again; the followed person's `left` ends it (and nothing needs
    /// sending: the server forgets whom it cannot show).
    pub fn received(&mut self, message: &ServerMessage) -> Option<ClientMessage> {
        match message {
            ServerMessage::Welcome { .. } => self.following.is_some().then(|| self.message()),
            ServerMessage::Left { id } if self.following.as_deref() == Some(id.as_str()) => {
                self.following = None;
                None
            }
            _ => None,
        }
    }

    fn message(&self) -> ClientMessage {
        ClientMessage::Follow {
            id: self.following.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use cursors_protocol::{PeerInfo, PeerSnapshot};

    use super::*;

    fn welcome(peers: &[&str]) -> ServerMessage {
        ServerMessage::Welcome {
            verified: false,
            id: "me".into(),
            name: "Ada".into(),
            color: "#e5484d".into(),
            peers: peers
                .iter()
                .map(|id| PeerSnapshot {
                    verified: false,
                    anchor: None,
                    id: (*id).into(),
                    name: (*id).into(),
                    color: "#30a46c".into(),
                    x: None,
                    y: None,
                    away: false,
                })
                .collect(),
            resume: Some("token".into()),
            expires: None,
        }
    }

    fn follow(id: Option<&str>) -> ClientMessage {
        ClientMessage::Follow {
            id: id.map(str::to_owned),
        }
    }

    #[test]
    fn picking_follows_and_picking_again_unfollows() {
        let mut follow_state = Follow::default();
        assert_eq!(follow_state.pick("bo"), follow(Some("bo")));
        assert_eq!(follow_state.following(), Some("bo"));
        assert_eq!(follow_state.pick("bo"), follow(None));
        assert_eq!(follow_state.following(), None);
    }

    #[test]
    fn picking_someone_else_follows_them_instead() {
        let mut follow_state = Follow::default();
        follow_state.pick("bo");
        assert_eq!(follow_state.pick("cy"), follow(Some("cy")));
        assert_eq!(follow_state.following(), Some("cy"));
    }

    #[test]
    fn my_own_welcome_says_the_follow_again_even_if_they_are_not_listed() {
        let mut follow_state = Follow::default();
        assert_eq!(
            follow_state.received(&welcome(&["bo"])),
            None,
            "nothing to say when following nobody"
        );
        follow_state.pick("bo");
        // A resume (the server still knows) and a fresh join (it forgot):
        // the page cannot tell them apart, so it says it both times.
        assert_eq!(
            follow_state.received(&welcome(&["bo"])),
            Some(follow(Some("bo")))
        );
        // In a crowd the welcome lists only the first view: bo may be
        // elsewhere in the room, and the follow brings them into view.
        assert_eq!(
            follow_state.received(&welcome(&[])),
            Some(follow(Some("bo")))
        );
        assert_eq!(follow_state.following(), Some("bo"));
    }

    #[test]
    fn the_followed_person_reconnecting_or_leaving_the_view_keeps_the_follow() {
        let mut follow_state = Follow::default();
        follow_state.pick("bo");
        let exit = ServerMessage::View {
            enter: Vec::new(),
            exit: vec!["bo".into()],
        };
        assert_eq!(follow_state.received(&exit), None);
        // Their resume shows as nothing at all, or as them coming back
        // under the same id.
        let back = ServerMessage::Joined {
            peer: PeerInfo {
                verified: false,
                id: "bo".into(),
                name: "Bo".into(),
                color: "#30a46c".into(),
            },
        };
        assert_eq!(follow_state.received(&back), None);
        assert_eq!(follow_state.following(), Some("bo"));
    }

    #[test]
    fn a_follow_kept_from_before_a_reload_is_said_after_the_welcome() {
        let mut follow_state = Follow::remembering(Some("bo".into()));
        assert_eq!(follow_state.following(), Some("bo"));
        assert_eq!(
            follow_state.received(&welcome(&[])),
            Some(follow(Some("bo")))
        );
    }

    #[test]
    fn only_the_followed_persons_left_ends_the_follow() {
        let mut follow_state = Follow::default();
        follow_state.pick("bo");
        assert_eq!(
            follow_state.received(&ServerMessage::Left { id: "cy".into() }),
            None
        );
        assert_eq!(follow_state.following(), Some("bo"));
        assert_eq!(
            follow_state.received(&ServerMessage::Left { id: "bo".into() }),
            None
        );
        assert_eq!(follow_state.following(), None);
        assert_eq!(
            follow_state.received(&welcome(&[])),
            None,
            "a follow that ended is not said again"
        );
    }
}
