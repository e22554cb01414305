//! Coordinate mapping between the page and the shared board.
//!
//! Positions travel normalised to `[0, 1]` on each axis of the board, so the
//! same point of the board is the same number in a small window and a big
//! one. On screen they turn back into pixels of this window's board: a
//! remote cursor moves by `transform` (which the compositor applies without
//! laying the page out again), the chat input by percentages.

use cursors_client_core::decimal::{fixed, plain};
use cursors_protocol::Point;

/// The board's box in viewport pixels, as `getBoundingClientRect` reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoardRect {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl From<&web_sys::DomRect> for BoardRect {
    fn from(rect: &web_sys::DomRect) -> Self {
        Self {
            left: rect.left(),
            top: rect.top(),
            width: rect.width(),
            height: rect.height(),
        }
    }
}

// ANCHOR: to-board
/// Maps a pointer position in viewport pixels to board coordinates.
///
/// Pointer events can report positions a pixel outside the element (and
/// captured pointers anywhere), so the result is clamped onto the board.
/// A board with no area yet (not laid out) maps everything to `None`.
pub fn to_board(client_x: f64, client_y: f64, rect: BoardRect) -> Option<Point> {
    if !(rect.width > 0.0 && rect.height > 0.0) {
        return None;
    }
    let x = ((client_x - rect.left) / rect.width).clamp(0.0, 1.0);
    let y = ((client_y - rect.top) / rect.height).clamp(0.0, 1.0);
    (x.is_finite() && y.is_finite()).then_some(Point { x, y })
}
// ANCHOR_END: to-board

/// The CSS `left`/`top` that put an element's top-left corner on `point`.
pub fn to_css_position(point: Point) -> String {
    format!(
        "left: {}%; top: {}%;",
        plain(point.x * 100.0),
        plain(point.y * 100.0)
    )
}

// ANCHOR: to-css-transform
/// The CSS `transform` that moves an element whose top-left corner sits at
/// the board's top-left corner onto `point`, on a board of `width` ×
/// `height` pixels. Tenths of a pixel are plenty and keep the string short.
/// ([`fixed`] writes what `format!("{:.1}")` would, with less code.)
pub fn to_css_transform(point: Point, width: f64, height: f64) -> String {
    format!(
        "translate3d({}px, {}px, 0)",
        fixed(point.x * width, 1),
        fixed(point.y * height, 1)
    )
}
// ANCHOR_END: to-css-transform

#[cfg(test)]
mod tests {
    use super::*;

    const RECT: BoardRect = BoardRect {
        left: 100.0,
        top: 50.0,
        width: 800.0,
        height: 400.0,
    };

    #[test]
    fn corners_and_centre_map_to_the_unit_square() {
        assert_eq!(to_board(100.0, 50.0, RECT), Some(Point { x: 0.0, y: 0.0 }));
        assert_eq!(to_board(900.0, 450.0, RECT), Some(Point { x: 1.0, y: 1.0 }));
        assert_eq!(to_board(500.0, 250.0, RECT), Some(Point { x: 0.5, y: 0.5 }));
    }

    #[test]
    fn the_same_board_spot_is_the_same_point_in_any_window() {
        let small = BoardRect {
            left: 0.0,
            top: 40.0,
            width: 400.0,
            height: 300.0,
        };
        let large = BoardRect {
            left: 0.0,
            top: 40.0,
            width: 1600.0,
            height: 900.0,
        };
        let in_small = to_board(100.0, 40.0 + 75.0, small).unwrap();
        let in_large = to_board(400.0, 40.0 + 225.0, large).unwrap();
        assert_eq!(in_small, in_large);
        assert_eq!(in_small, Point { x: 0.25, y: 0.25 });
    }

    #[test]
    fn positions_off_the_board_are_clamped() {
        assert_eq!(to_board(0.0, 1000.0, RECT), Some(Point { x: 0.0, y: 1.0 }));
    }

    #[test]
    fn an_unlaid_board_maps_nothing() {
        let empty = BoardRect { width: 0.0, ..RECT };
        assert_eq!(to_board(10.0, 10.0, empty), None);
    }

    #[test]
    fn css_position_is_a_percentage_of_the_board() {
        assert_eq!(
            to_css_position(Point { x: 0.25, y: 1.0 }),
            "left: 25%; top: 100%;"
        );
    }

    #[test]
    fn css_transform_is_in_pixels_of_this_board() {
        assert_eq!(
            to_css_transform(Point { x: 0.25, y: 1.0 }, 800.0, 400.0),
            "translate3d(200.0px, 400.0px, 0)"
        );
        assert_eq!(
            to_css_transform(
                Point {
                    x: 1.0 / 3.0,
                    y: 0.0
                },
                1000.0,
                600.0
            ),
            "translate3d(333.3px, 0.0px, 0)"
        );
    }
}
