//! The room as this page knows it: who I am, who else is here, and where
//! their cursors are. Built only from server messages, by [`Roster::apply`],
//! so the whole client-side view of the protocol is one pure function.
//!
//! Each message also says what it [`Changes`], because in a busy room almost
//! every message is a `cursors` frame that only moves a few cursors: the page
//! must then touch those cursors and nothing else (not the presence list, not
//! the other cursors), which it can only do if it knows what changed.
//!
//! In a crowd (issue 18) the server tells this page only about the people
//! in its view: `view` brings people in (with a snapshot) and takes them
//! out, which is not leaving the room, and `crowd` says how many are here
//! in all. The roster keeps that count ([`CrowdCount`]) beside the people
//! it knows.

use std::collections::BTreeMap;

use cursors_protocol::{Anchor, PeerSnapshot, Point, ServerMessage};

use crate::crowd::CrowdCount;

/// Another user of the room.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub id: String,
    pub name: String,
    pub color: String,
    /// `None` while their pointer is off the board.
    pub position: Option<Point>,
    /// The content under their cursor, if their page said (the embed):
    /// where a page that has that content draws it (see
    /// [`crate::embedding`]); `position` is the fallback.
    pub anchor: Option<Anchor>,
    /// Their cursor chat, if they are saying something.
    pub chat: Option<Chat>,
    /// When their last position arrived (`Date.now()` milliseconds).
    pub last_moved: f64,
    /// Their page is hidden or unfocused.
    pub away: bool,
    /// Their name comes from their room token.
    pub verified: bool,
}

impl Peer {
    /// Someone as a `welcome` or a `view` describes them, known at `now`.
    fn from_snapshot(snapshot: PeerSnapshot, now: f64) -> Self {
        Self {
            position: snapshot.position(),
            anchor: snapshot.anchor,
            verified: snapshot.verified,
            away: snapshot.away,
            id: snapshot.id,
            name: snapshot.name,
            color: snapshot.color,
            chat: None,
            last_moved: now,
        }
    }
}

/// A cursor that has not moved for this long is drawn dimmed (idle).
pub const IDLE_AFTER_MS: f64 = 8_000.0;

/// Whether a cursor last moved at `last_moved` is idle at `now`.
pub fn is_idle(last_moved: f64, now: f64) -> bool {
    now - last_moved >= IDLE_AFTER_MS
}

/// Cursor-chat text shown beside someone's cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Chat {
    pub text: String,
    /// They cleared it: the bubble is fading out and then goes.
    pub fading: bool,
}

/// This page's own identity, as the server assigned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Me {
    pub id: String,
    pub name: String,
    pub color: String,
    /// The name comes from the room token: not this page's to change.
    pub verified: bool,
}

/// One line of the presence list.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub color: String,
    pub is_me: bool,
    pub away: bool,
}

/// What one server message changed, so the page redraws only that.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Someone joined, left, was renamed, went away or came back, or this
    /// page was welcomed: the presence list and the head count.
    pub people: bool,
    /// A cursor came onto the board or left it: which cursors are drawn.
    pub board: bool,
    /// Cursors that were on the board and still are, with their new
    /// position. (A cursor that just appeared is not here: it is drawn where
    /// it is at once, never glided in from a stale spot.)
    pub moved: Vec<(String, Point)>,
    /// Whose chat bubble changed.
    pub chat: Option<String>,
    /// The crowd's count or heat changed, or the crowd began or ended.
    pub crowd: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roster {
    me: Option<Me>,
    peers: BTreeMap<String, Peer>,
    /// The room is a crowd: its last count (`None` outside a crowd).
    crowd: Option<CrowdCount>,
}

impl Roster {
    /// Updates the roster with one message from the server, received at
    /// `now` (`Date.now()` milliseconds), and says what changed. Messages
    /// that do not change it (`pong`, `error`, unknown ids) are ignored.
    pub fn apply_at(&mut self, message: ServerMessage, now: f64) -> Changes {
        let mut changes = Changes::default();
        match message {
            ServerMessage::Welcome {
                id,
                name,
                color,
                verified,
                peers,
                ..
            } => {
                // A welcome describes the whole room (in a crowd, this
                // page's first view of it): start over from it.
                self.peers = peers
                    .into_iter()
                    .map(|peer| {
                        let entry = Peer::from_snapshot(peer, now);
                        (entry.id.clone(), entry)
                    })
                    .collect();
                self.peers.remove(&id);
                self.me = Some(Me {
                    id,
                    name,
                    color,
                    verified,
                });
                // A crowd says so right after its welcome.
                changes.crowd = self.crowd.take().is_some();
                changes.people = true;
                changes.board = true;
            }
            ServerMessage::Joined { peer } => {
                if !self.is_me(&peer.id) {
                    changes.people = true;
                    let entry = Peer {
                        verified: peer.verified,
                        id: peer.id,
                        name: peer.name,
                        color: peer.color,
                        position: None,
                        anchor: None,
                        chat: None,
                        last_moved: now,
                        away: false,
                    };
                    // A rejoin under a known id replaces the old entry, cursor
                    // and all.
                    changes.board |= self
                        .peers
                        .insert(entry.id.clone(), entry)
                        .is_some_and(|old| old.position.is_some());
                }
            }
            ServerMessage::Renamed { id, name } => match &mut self.me {
                Some(me) if me.id == id => {
                    changes.people = me.name != name;
                    me.name = name;
                }
                _ => {
                    if let Some(peer) = self.peers.get_mut(&id) {
                        changes.people = peer.name != name;
                        peer.name = name;
                    }
                }
            },
            ServerMessage::Cursors { moves } => {
                for position in moves {
                    // Our own position comes back in shared frames: skip it.
                    if let Some(peer) = self.peers.get_mut(&position.id) {
                        let point = position.point();
                        peer.anchor = position.anchor;
                        match peer.position.replace(point) {
                            Some(_) => changes.moved.push((position.id, point)),
                            None => changes.board = true,
                        }
                        peer.last_moved = now;
                    }
                }
            }
            ServerMessage::Hidden { id } => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    changes.board = peer.position.take().is_some();
                }
            }
            ServerMessage::Left { id } => {
                if let Some(peer) = self.peers.remove(&id) {
                    changes.people = true;
                    changes.board = peer.position.is_some();
                }
            }
            ServerMessage::Said { id, text } => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    changes.chat = Some(id);
                    peer.chat = if !text.is_empty() {
                        Some(Chat {
                            text,
                            fading: false,
                        })
                    } else {
                        // Keep the last words on screen while they fade.
                        peer.chat.take().map(|chat| Chat {
                            fading: true,
                            ..chat
                        })
                    };
                }
            }
            ServerMessage::Presence { id, away } => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    changes.people = peer.away != away;
                    peer.away = away;
                    if away {
                        changes.board = peer.position.take().is_some();
                    }
                }
            }
            ServerMessage::Pong { .. }
            | ServerMessage::Refreshed { .. }
            | ServerMessage::Error { .. } => {}
            ServerMessage::View { enter, exit } => self.view(enter, exit, now, &mut changes),
            ServerMessage::Crowd {
                active,
                total,
                heat,
            } => {
                let count = active.then_some(CrowdCount { total, heat });
                // The head count and the "+N more" read the total.
                changes.people = self.crowd.as_ref().map(|crowd| crowd.total)
                    != count.as_ref().map(|crowd| crowd.total);
                changes.crowd = self.crowd != count;
                self.crowd = count;
            }
            // The social layer (issue 19) changes nobody's identity or place.
            ServerMessage::Reacted { .. }
            | ServerMessage::Pointed { .. }
            | ServerMessage::Laser { .. }
            | ServerMessage::Spotlight { .. } => {}
        }
        changes
    }

    /// People came into this page's view or went out of it. Out of view is
    /// not gone: no "left" (they are in the crowd's count still), only
    /// their cursor and their line in the list go.
    fn view(
        &mut self,
        enter: Vec<PeerSnapshot>,
        exit: Vec<String>,
        now: f64,
        changes: &mut Changes,
    ) {
        for id in exit {
            if let Some(peer) = self.peers.remove(&id) {
                changes.people = true;
                changes.board |= peer.position.is_some();
            }
        }
        for peer in enter {
            if self.is_me(&peer.id) {
                continue;
            }
            let entry = Peer::from_snapshot(peer, now);
            changes.people = true;
            changes.board |= entry.position.is_some();
            // Someone already known (a view that overlaps the welcome):
            // their cursor is placed again from the fresher snapshot.
            if let Some(old) = self.peers.insert(entry.id.clone(), entry) {
                changes.board |= old.position.is_some();
            }
        }
    }

    /// [`Roster::apply_at`] at time zero, for callers that do not track time.
    pub fn apply(&mut self, message: ServerMessage) -> Changes {
        self.apply_at(message, 0.0)
    }

    /// Drops a chat bubble that has finished fading; returns whether it did.
    pub fn forget_faded_chat(&mut self, id: &str) -> bool {
        if let Some(peer) = self.peers.get_mut(id)
            && peer.chat.as_ref().is_some_and(|chat| chat.fading)
        {
            peer.chat = None;
            return true;
        }
        false
    }

    pub fn me(&self) -> Option<&Me> {
        self.me.as_ref()
    }

    pub fn peer(&self, id: &str) -> Option<&Peer> {
        self.peers.get(id)
    }

    /// Ids of the peers whose cursor is on the board, in a stable order.
    pub fn visible_ids(&self) -> Vec<String> {
        self.peers
            .values()
            .filter(|peer| peer.position.is_some())
            .map(|peer| peer.id.clone())
            .collect()
    }

    /// Everyone in the room for the presence list: me first, then the
    /// others by name, case aside (ties by id, so the order is stable).
    pub fn people(&self) -> Vec<Person> {
        self.people_by(str::to_lowercase)
    }

    /// [`Roster::people`], with the lowercasing given: the page passes the
    /// browser's (`toLowerCase`, the same Unicode mapping), which spares its
    /// wasm Rust's case tables (about 15 KB).
    pub fn people_by(&self, lowercase: impl Fn(&str) -> String) -> Vec<Person> {
        let me = self.me.iter().map(|me| Person {
            id: me.id.clone(),
            name: me.name.clone(),
            color: me.color.clone(),
            is_me: true,
            away: false,
        });
        // Each name lowered once, not at every comparison.
        let mut others: Vec<(String, Person)> = self
            .peers
            .values()
            .map(|peer| {
                let person = Person {
                    id: peer.id.clone(),
                    name: peer.name.clone(),
                    color: peer.color.clone(),
                    is_me: false,
                    away: peer.away,
                };
                (lowercase(&person.name), person)
            })
            .collect();
        others.sort_by(|(a_key, a), (b_key, b)| a_key.cmp(b_key).then_with(|| a.id.cmp(&b.id)));
        me.chain(others.into_iter().map(|(_, person)| person))
            .collect()
    }

    /// People in the room, this page included once it has been welcomed.
    /// In a crowd, the crowd's total: most of them this page never hears of.
    pub fn headcount(&self) -> u64 {
        match &self.crowd {
            Some(crowd) => crowd.total,
            None => (self.peers.len() + usize::from(self.me.is_some())) as u64,
        }
    }

    /// The crowd's last count, while the room is a crowd.
    pub fn crowd(&self) -> Option<&CrowdCount> {
        self.crowd.as_ref()
    }

    fn is_me(&self, id: &str) -> bool {
        self.me.as_ref().is_some_and(|me| me.id == id)
    }
}

#[cfg(test)]
mod tests {
    use cursors_protocol::{CursorPosition, PeerInfo, PeerSnapshot};

    use super::*;

    fn welcomed() -> Roster {
        let mut roster = Roster::default();
        roster.apply(ServerMessage::Welcome {
            verified: false,
            id: "me".into(),
            name: "Ada".into(),
            color: "#e5484d".into(),
            peers: vec![
                PeerSnapshot {
                    verified: false,
                    anchor: None,
                    id: "bo".into(),
                    name: "Bo".into(),
                    color: "#30a46c".into(),
                    x: Some(0.5),
                    y: Some(0.25),
                    away: false,
                },
                PeerSnapshot {
                    verified: false,
                    anchor: None,
                    id: "cy".into(),
                    name: "Cy".into(),
                    color: "#0090ff".into(),
                    x: None,
                    y: None,
                    away: false,
                },
            ],
            resume: None,
            expires: None,
        });
        roster
    }

    fn cursors(moves: &[(&str, f64, f64)]) -> ServerMessage {
        ServerMessage::Cursors {
            moves: moves
                .iter()
                .map(|&(id, x, y)| CursorPosition {
                    anchor: None,
                    id: id.into(),
                    x,
                    y,
                })
                .collect(),
        }
    }

    #[test]
    fn welcome_sets_me_and_the_peers_with_their_positions() {
        let roster = welcomed();
        assert_eq!(roster.me().map(|me| me.name.as_str()), Some("Ada"));
        assert_eq!(roster.headcount(), 3);
        assert_eq!(
            roster.peer("bo").unwrap().position,
            Some(Point { x: 0.5, y: 0.25 })
        );
        assert_eq!(roster.visible_ids(), ["bo"], "cy's cursor is hidden");
    }

    #[test]
    fn cursors_move_peers_and_skip_my_own_position() {
        let mut roster = welcomed();
        roster.apply(cursors(&[
            ("me", 0.9, 0.9),
            ("cy", 0.1, 0.2),
            ("ghost", 0.3, 0.3),
        ]));
        assert_eq!(
            roster.peer("cy").unwrap().position,
            Some(Point { x: 0.1, y: 0.2 })
        );
        assert_eq!(roster.peer("me"), None, "I am not my own peer");
        assert_eq!(roster.peer("ghost"), None, "unknown ids are not invented");
        assert_eq!(roster.visible_ids(), ["bo", "cy"]);
    }

    #[test]
    fn joined_hidden_renamed_and_left() {
        let mut roster = welcomed();
        roster.apply(ServerMessage::Joined {
            peer: PeerInfo {
                verified: false,
                id: "di".into(),
                name: "Di".into(),
                color: "#f76b15".into(),
            },
        });
        assert_eq!(roster.headcount(), 4);
        assert_eq!(
            roster.peer("di").unwrap().position,
            None,
            "a newcomer has no cursor yet"
        );

        roster.apply(ServerMessage::Hidden { id: "bo".into() });
        assert!(roster.visible_ids().is_empty());

        roster.apply(ServerMessage::Renamed {
            id: "di".into(),
            name: "Diana".into(),
        });
        roster.apply(ServerMessage::Renamed {
            id: "me".into(),
            name: "Ada L.".into(),
        });
        assert_eq!(roster.peer("di").unwrap().name, "Diana");
        assert_eq!(roster.me().unwrap().name, "Ada L.");

        roster.apply(ServerMessage::Left { id: "bo".into() });
        assert_eq!(roster.peer("bo"), None);
        assert_eq!(roster.headcount(), 3);
    }

    #[test]
    fn the_presence_list_puts_me_first_then_the_others_by_name() {
        let mut roster = welcomed();
        roster.apply(ServerMessage::Renamed {
            id: "bo".into(),
            name: "zed".into(),
        });
        let people = roster.people();
        let names: Vec<(&str, bool)> = people
            .iter()
            .map(|person| (person.name.as_str(), person.is_me))
            .collect();
        assert_eq!(names, [("Ada", true), ("Cy", false), ("zed", false)]);
        assert!(Roster::default().people().is_empty());
    }

    #[test]
    fn cursor_chat_shows_updates_then_fades_when_cleared() {
        let mut roster = welcomed();
        let said = |text: &str| ServerMessage::Said {
            id: "bo".into(),
            text: text.into(),
        };
        roster.apply(said("hel"));
        roster.apply(said("hello"));
        assert_eq!(
            roster.peer("bo").unwrap().chat,
            Some(Chat {
                text: "hello".into(),
                fading: false
            })
        );
        roster.apply(said(""));
        assert_eq!(
            roster.peer("bo").unwrap().chat,
            Some(Chat {
                text: "hello".into(),
                fading: true
            })
        );
        roster.forget_faded_chat("bo");
        assert_eq!(roster.peer("bo").unwrap().chat, None);
        // Typing again before the fade ends revives the bubble, and the
        // late fade timer must not remove it.
        roster.apply(said("a"));
        roster.apply(said(""));
        roster.apply(said("again"));
        roster.forget_faded_chat("bo");
        assert_eq!(
            roster.peer("bo").unwrap().chat,
            Some(Chat {
                text: "again".into(),
                fading: false
            })
        );
    }

    #[test]
    fn a_cursor_that_stops_moving_turns_idle_and_wakes_on_its_next_move() {
        let mut roster = welcomed();
        roster.apply_at(cursors(&[("bo", 0.1, 0.1)]), 1_000.0);
        let last_moved = roster.peer("bo").unwrap().last_moved;
        assert!(!is_idle(last_moved, 1_000.0 + IDLE_AFTER_MS - 1.0));
        assert!(is_idle(last_moved, 1_000.0 + IDLE_AFTER_MS));
        roster.apply_at(cursors(&[("bo", 0.2, 0.1)]), 20_000.0);
        assert!(!is_idle(roster.peer("bo").unwrap().last_moved, 20_500.0));
    }

    #[test]
    fn away_hides_the_cursor_and_marks_the_presence_line() {
        let mut roster = welcomed();
        roster.apply(ServerMessage::Presence {
            id: "bo".into(),
            away: true,
        });
        assert!(
            roster.visible_ids().is_empty(),
            "an away user has no cursor"
        );
        assert!(
            roster
                .people()
                .iter()
                .any(|person| person.id == "bo" && person.away)
        );
        roster.apply(ServerMessage::Presence {
            id: "bo".into(),
            away: false,
        });
        assert!(!roster.peer("bo").unwrap().away);
    }

    #[test]
    fn a_cursors_frame_reports_only_the_cursors_it_moved() {
        let mut roster = welcomed();
        let changes = roster.apply(cursors(&[("bo", 0.6, 0.3), ("me", 0.9, 0.9)]));
        assert_eq!(
            changes,
            Changes {
                moved: vec![("bo".into(), Point { x: 0.6, y: 0.3 })],
                ..Changes::default()
            },
            "no presence or board change, and nothing for me or cy"
        );
        // cy's first position puts a new cursor on the board instead.
        let changes = roster.apply(cursors(&[("cy", 0.1, 0.1)]));
        assert!(changes.board && !changes.people && changes.moved.is_empty());
    }

    #[test]
    fn membership_names_away_and_chat_report_what_they_change() {
        let mut roster = welcomed();
        let joined = roster.apply(ServerMessage::Joined {
            peer: PeerInfo {
                verified: false,
                id: "di".into(),
                name: "Di".into(),
                color: "#f76b15".into(),
            },
        });
        assert!(joined.people && !joined.board, "no cursor yet");
        let renamed = roster.apply(ServerMessage::Renamed {
            id: "di".into(),
            name: "Diana".into(),
        });
        assert_eq!(
            renamed,
            Changes {
                people: true,
                ..Changes::default()
            }
        );
        let same_name = roster.apply(ServerMessage::Renamed {
            id: "di".into(),
            name: "Diana".into(),
        });
        assert_eq!(same_name, Changes::default());
        let said = roster.apply(ServerMessage::Said {
            id: "bo".into(),
            text: "hi".into(),
        });
        assert_eq!(said.chat.as_deref(), Some("bo"));
        assert!(!said.people && !said.board);
        let away = roster.apply(ServerMessage::Presence {
            id: "bo".into(),
            away: true,
        });
        assert!(away.people && away.board, "listed as away, cursor gone");
        let hidden_again = roster.apply(ServerMessage::Hidden { id: "bo".into() });
        assert_eq!(hidden_again, Changes::default(), "it was already off");
        let left = roster.apply(ServerMessage::Left { id: "di".into() });
        assert!(left.people && !left.board);
        assert_eq!(
            roster.apply(ServerMessage::Pong { id: 1 }),
            Changes::default()
        );
    }

    fn snapshot(id: &str, at: Option<(f64, f64)>) -> PeerSnapshot {
        PeerSnapshot {
            verified: false,
            anchor: None,
            id: id.into(),
            name: id.to_uppercase(),
            color: "#f76b15".into(),
            x: at.map(|(x, _)| x),
            y: at.map(|(_, y)| y),
            away: false,
        }
    }

    fn crowd(total: u64) -> ServerMessage {
        let mut heat = vec![0; 64];
        heat[27] = 3;
        ServerMessage::Crowd {
            active: true,
            total,
            heat,
        }
    }

    #[test]
    fn view_enter_adds_people_with_their_snapshot_and_exit_removes_them_silently() {
        let mut roster = welcomed();
        let entered = roster.apply_at(
            ServerMessage::View {
                enter: vec![snapshot("di", Some((0.9, 0.1))), snapshot("ed", None)],
                exit: vec![],
            },
            5_000.0,
        );
        assert!(entered.people && entered.board);
        assert_eq!(
            roster.peer("di").unwrap().position,
            Some(Point { x: 0.9, y: 0.1 }),
            "drawn where the snapshot says, at once"
        );
        assert_eq!(roster.peer("di").unwrap().last_moved, 5_000.0);
        assert_eq!(roster.visible_ids(), ["bo", "di"]);

        let exited = roster.apply(ServerMessage::View {
            enter: vec![],
            exit: vec!["di".into(), "cy".into(), "nobody".into()],
        });
        assert!(exited.people && exited.board);
        assert_eq!(roster.peer("di"), None);
        assert_eq!(roster.peer("cy"), None);
        assert_eq!(roster.visible_ids(), ["bo"]);
        let names: Vec<String> = roster.people().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["Ada", "Bo", "ED"]);

        // Going out of view without a cursor redraws no cursor.
        let exited = roster.apply(ServerMessage::View {
            enter: vec![],
            exit: vec!["ed".into()],
        });
        assert!(exited.people && !exited.board);
    }

    #[test]
    fn a_view_never_makes_me_my_own_peer() {
        let mut roster = welcomed();
        roster.apply(ServerMessage::View {
            enter: vec![snapshot("me", Some((0.5, 0.5)))],
            exit: vec![],
        });
        assert_eq!(roster.peer("me"), None);
        assert_eq!(roster.people().len(), 3);
    }

    #[test]
    fn the_crowd_count_sets_the_headcount_until_the_crowd_ends() {
        let mut roster = welcomed();
        assert_eq!(roster.crowd(), None);
        let began = roster.apply(crowd(300));
        assert!(began.people && began.crowd && !began.board);
        assert_eq!(roster.headcount(), 300, "the total, not the 3 known");
        assert_eq!(roster.crowd().unwrap().heat[27], 3);

        // Only the heat changed: the list stays, the heat is redrawn.
        let mut heat = vec![0; 64];
        heat[28] = 3;
        let warmer = roster.apply(ServerMessage::Crowd {
            active: true,
            total: 300,
            heat,
        });
        assert!(warmer.crowd && !warmer.people);
        // The same count again changes nothing.
        assert_eq!(
            roster.apply(crowd(300)),
            Changes {
                crowd: true,
                ..Changes::default()
            }
        );
        assert_eq!(roster.apply(crowd(300)), Changes::default());

        let ended = roster.apply(ServerMessage::Crowd {
            active: false,
            total: 40,
            heat: vec![],
        });
        assert!(ended.people && ended.crowd);
        assert_eq!(roster.crowd(), None);
        assert_eq!(roster.headcount(), 3, "counted from the people known again");
    }

    #[test]
    fn a_welcome_forgets_the_crowd_until_the_next_count() {
        let mut roster = welcomed();
        roster.apply(crowd(300));
        let welcomed_again = roster.apply(ServerMessage::Welcome {
            verified: false,
            id: "me".into(),
            name: "Ada".into(),
            color: "#e5484d".into(),
            peers: vec![snapshot("bo", Some((0.5, 0.5)))],
            resume: None,
            expires: None,
        });
        assert!(welcomed_again.crowd);
        assert_eq!(roster.crowd(), None);
        assert_eq!(roster.headcount(), 2);
    }

    #[test]
    fn a_new_welcome_replaces_everything() {
        let mut roster = welcomed();
        roster.apply(ServerMessage::Welcome {
            verified: false,
            id: "me2".into(),
            name: "Ada".into(),
            color: "#000".into(),
            peers: vec![],
            resume: None,
            expires: None,
        });
        assert_eq!(roster.headcount(), 1);
        assert!(roster.visible_ids().is_empty());
    }
}
