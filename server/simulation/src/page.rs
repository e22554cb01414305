//! What one page knows of its room, built only from the messages it was
//! sent, the way a real client's roster is. The simulation compares it
//! with the truth after every step: a page that still shows someone who
//! left holds a ghost, one that shows an old position missed a flush.

use std::collections::BTreeMap;

use cursors_protocol::{CursorPosition, PeerSnapshot, Point, ServerMessage};

/// One person as a page shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub name: String,
    pub position: Option<Point>,
}

/// What a page was told: who is shown, where, and whether the room is a
/// crowd. Its own entry is never kept (a `cursors` frame may carry it).
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub own_id: String,
    pub shown: BTreeMap<String, Shown>,
    pub crowd: bool,
}

/// Something a page was told that no correct server tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum Surprise {
    /// A position for someone the page does not show.
    PositionOfStranger(String),
    /// `view` added someone already shown, or removed someone not shown.
    ViewOutOfStep(String),
}

impl Page {
    /// A page that just received its `welcome`.
    pub fn welcomed(welcome: &ServerMessage) -> Option<Self> {
        let ServerMessage::Welcome { id, peers, .. } = welcome else {
            return None;
        };
        let mut page = Page {
            own_id: id.clone(),
            ..Page::default()
        };
        for peer in peers {
            page.enter(peer);
        }
        Some(page)
    }

    /// Applies one message; returns the positions it delivered (for the
    /// order check) and anything a correct server would not have sent.
    pub fn apply(&mut self, message: &ServerMessage) -> (Vec<CursorPosition>, Vec<Surprise>) {
        let mut delivered = Vec::new();
        let mut surprises = Vec::new();
        match message {
            ServerMessage::Joined { peer } if peer.id != self.own_id => {
                self.shown.entry(peer.id.clone()).or_insert(Shown {
                    name: peer.name.clone(),
                    position: None,
                });
            }
            ServerMessage::Renamed { id, name } => {
                if let Some(shown) = self.shown.get_mut(id) {
                    shown.name = name.clone();
                }
            }
            ServerMessage::Cursors { moves } => {
                for position in moves {
                    if position.id == self.own_id {
                        continue;
                    }
                    match self.shown.get_mut(&position.id) {
                        Some(shown) => {
                            shown.position = Some(Point {
                                x: position.x,
                                y: position.y,
                            });
                            delivered.push(position.clone());
                        }
                        None => surprises.push(Surprise::PositionOfStranger(position.id.clone())),
                    }
                }
            }
            ServerMessage::Hidden { id } => {
                if let Some(shown) = self.shown.get_mut(id) {
                    shown.position = None;
                }
            }
            ServerMessage::Left { id } => {
                self.shown.remove(id);
            }
            ServerMessage::Crowd { active, .. } => self.crowd = *active,
            // Shared by a cell, a `view` may name this page's own id
            // (PROTOCOL.md): skipped, as by a real page.
            ServerMessage::View { enter, exit } => {
                let own_id = self.own_id.clone();
                for id in exit.iter().filter(|id| **id != own_id) {
                    if self.shown.remove(id).is_none() {
                        surprises.push(Surprise::ViewOutOfStep(id.clone()));
                    }
                }
                for peer in enter.iter().filter(|peer| peer.id != own_id) {
                    if self.shown.contains_key(&peer.id) {
                        surprises.push(Surprise::ViewOutOfStep(peer.id.clone()));
                    }
                    self.enter(peer);
                    if let (Some(x), Some(y)) = (peer.x, peer.y) {
                        delivered.push(CursorPosition {
                            anchor: None,
                            id: peer.id.clone(),
                            x,
                            y,
                        });
                    }
                }
            }
            _ => {}
        }
        (delivered, surprises)
    }

    fn enter(&mut self, peer: &PeerSnapshot) {
        if peer.id == self.own_id {
            return;
        }
        let position = match (peer.x, peer.y) {
            (Some(x), Some(y)) => Some(Point { x, y }),
            _ => None,
        };
        self.shown.insert(
            peer.id.clone(),
            Shown {
                name: peer.name.clone(),
                position,
            },
        );
    }
}
