//! The rules of a page that is not ours: which room a host page is, and
//! where a cursor goes on content laid out differently in every window.
//!
//! The embed (`client/embed/`) draws over other people's pages, whose
//! layout depends on each visitor's window width, zoom and fonts. A cursor
//! given as a fraction of the window would land on other words in a
//! narrower window, so a position is told by the content under it: the
//! nearest element with an `id` (or `data-cursor-anchor`) and the spot
//! within that element's box, with the fraction of the whole document as
//! the fallback for a receiver that lacks the element (PROTOCOL.md,
//! "Anchors"). The arithmetic is here, apart from the DOM, so it is tested
//! natively; the embed measures the boxes and moves the elements.

use cursors_protocol::{MAX_ROOM_CHARS, RoomName};

// ANCHOR: box
/// A box on the page, in CSS pixels: an element's border box, or the whole
/// document, in the same coordinates as the pointer (the viewport's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayoutBox {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl LayoutBox {
    /// Where the point `(x, y)` is within this box, each axis as a fraction
    /// in `[0, 1]` (clamped: a pointer on the border counts as inside). A
    /// box without area has no inside: `None`.
    pub fn fraction_of(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let usable = |length: f64| length.is_finite() && length > 0.0;
        if !usable(self.width) || !usable(self.height) {
            return None;
        }
        let along = |offset: f64, length: f64| (offset / length).clamp(0.0, 1.0);
        let fraction = (
            along(x - self.left, self.width),
            along(y - self.top, self.height),
        );
        (fraction.0.is_finite() && fraction.1.is_finite()).then_some(fraction)
    }

    /// The point at `(fraction_x, fraction_y)` of this box: the inverse of
    /// [`LayoutBox::fraction_of`], so the same spot of the same element whatever
    /// its size in this window.
    pub fn point_at(&self, fraction_x: f64, fraction_y: f64) -> (f64, f64) {
        (
            self.left + fraction_x * self.width,
            self.top + fraction_y * self.height,
        )
    }
}
// ANCHOR_END: box

// ANCHOR: room-for-path
/// The room of a host page: its path, written in the characters a room
/// name may hold. The server puts the page's origin in front, so two sites
/// never share a room whatever their paths.
///
/// The spelling is one-to-one, so two paths never share a room: letters
/// and digits stay, `/` becomes `_`, and every other byte (`_` and `-`
/// included) becomes `-` and two hex digits (`/docs/intro.html` →
/// `_docs_intro-2ehtml`). A path too long for a room name keeps its start
/// and ends with a hash of the whole path.
pub fn room_for_path(path: &str) -> RoomName {
    let mut name = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => name.push(char::from(byte)),
            b'/' => name.push('_'),
            other => name.push_str(&format!("-{other:02x}")),
        }
    }
    if name.is_empty() {
        name.push('_');
    }
    if name.len() > MAX_ROOM_CHARS {
        let hash = format!("-{:016x}", fnv1a(path.as_bytes()));
        name.truncate(MAX_ROOM_CHARS - hash.len());
        name.push_str(&hash);
    }
    RoomName::parse(Some(&name)).expect("only letters, digits, '_' and '-', and short enough")
}
// ANCHOR_END: room-for-path

/// FNV-1a, 64 bits: a small, fixed hash (the same in every browser and
/// build), enough to tell long paths apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_becomes_a_readable_room_name() {
        assert_eq!(room_for_path("/").as_str(), "_");
        assert_eq!(room_for_path("").as_str(), "_");
        assert_eq!(
            room_for_path("/docs/intro.html").as_str(),
            "_docs_intro-2ehtml"
        );
    }

    #[test]
    fn paths_that_differ_get_different_rooms() {
        let paths = [
            "/a_b", "/a-b", "/a/b", "/a.b", "/a%20b", "/a b", "/A/b", "/a/b/",
        ];
        let rooms: std::collections::BTreeSet<_> =
            paths.iter().map(|path| room_for_path(path)).collect();
        assert_eq!(rooms.len(), paths.len(), "{rooms:?}");
    }

    #[test]
    fn a_long_path_is_cut_and_told_apart_by_its_hash() {
        let one = format!("/guide/{}/one", "chapter".repeat(20));
        let two = format!("/guide/{}/two", "chapter".repeat(20));
        let (room_one, room_two) = (room_for_path(&one), room_for_path(&two));
        assert_eq!(room_one.as_str().len(), MAX_ROOM_CHARS);
        assert!(room_one.as_str().starts_with("_guide_chapter"));
        assert_ne!(room_one, room_two);
        assert_eq!(
            room_for_path(&one),
            room_one,
            "the same path, the same room"
        );
    }

    #[test]
    fn a_spot_in_a_box_is_the_same_spot_in_the_box_resized() {
        let wide = LayoutBox {
            left: 100.0,
            top: 50.0,
            width: 800.0,
            height: 40.0,
        };
        let (fx, fy) = wide.fraction_of(300.0, 60.0).unwrap();
        assert_eq!((fx, fy), (0.25, 0.25));
        // In a narrower window the paragraph wraps: narrower and taller.
        let narrow = LayoutBox {
            left: 10.0,
            top: 400.0,
            width: 300.0,
            height: 120.0,
        };
        assert_eq!(narrow.point_at(fx, fy), (85.0, 430.0));
    }

    #[test]
    fn outside_is_clamped_and_an_empty_box_has_no_inside() {
        let area = LayoutBox {
            left: 0.0,
            top: 0.0,
            width: 10.0,
            height: 10.0,
        };
        assert_eq!(area.fraction_of(-5.0, 20.0), Some((0.0, 1.0)));
        let flat = LayoutBox {
            left: 0.0,
            top: 0.0,
            width: 10.0,
            height: 0.0,
        };
        assert_eq!(flat.fraction_of(1.0, 0.0), None);
        let broken = LayoutBox {
            left: 0.0,
            top: 0.0,
            width: f64::NAN,
            height: 1.0,
        };
        assert_eq!(broken.fraction_of(1.0, 0.0), None);
    }
}
