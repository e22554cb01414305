//! The board as a grid of cells: which cell a point is in, where a cell's
//! centre is, and which cell a *receiver* belongs to as its pointer moves.
//!
//! Receivers of one cell share one view and therefore one frame per flush,
//! so the grid is what turns "everyone sees their own set" into a bounded
//! number of distinct frames: at most one per cell (64). A pointer that
//! hovers on a border must not make its page swap views back and forth, so
//! a receiver changes cell only once it is a quarter of a cell past the
//! border ([`Cell::for_receiver`]).

use cursors_protocol::Point;

/// Cells per side of the board's grid.
pub const GRID: usize = 8;
/// Cells in the grid.
pub const CELLS: usize = GRID * GRID;

/// How far past a border (in cells) a receiver's pointer must go before it
/// belongs to the next cell.
const RECEIVER_HYSTERESIS: f64 = 0.25;

/// One cell of the grid, numbered row by row from the top left: the index
/// of its count in a `crowd` frame's `heat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell(usize);

impl Cell {
    /// The cell of the board's centre: where a receiver that never moved
    /// belongs.
    pub const CENTRE: Cell = Cell((GRID / 2) * GRID + GRID / 2);

    /// Every cell, in `heat` order.
    pub fn all() -> impl Iterator<Item = Cell> {
        (0..CELLS).map(Cell)
    }

    /// The cell `point` lies in (points on the right or bottom edge belong
    /// to the last cell).
    pub fn of(point: Point) -> Cell {
        Cell(index(point.y) * GRID + index(point.x))
    }

    pub fn index(self) -> usize {
        self.0
    }

    /// The centre of the cell, in board coordinates.
    pub fn centre(self) -> Point {
        let cell = 1.0 / GRID as f64;
        Point {
            x: ((self.0 % GRID) as f64 + 0.5) * cell,
            y: ((self.0 / GRID) as f64 + 0.5) * cell,
        }
    }

    // ANCHOR: for_receiver
    /// The cell a receiver belongs to once its pointer is at `point`, given
    /// the cell it belonged to: the same one until the pointer is a quarter
    /// of a cell past its border, so a hovering hand does not flip views.
    pub fn for_receiver(current: Cell, point: Point) -> Cell {
        let column = (current.0 % GRID) as f64;
        let row = (current.0 / GRID) as f64;
        let (x, y) = (point.x * GRID as f64, point.y * GRID as f64);
        let inside = |position: f64, start: f64| {
            position >= start - RECEIVER_HYSTERESIS && position < start + 1.0 + RECEIVER_HYSTERESIS
        };
        if inside(x, column) && inside(y, row) {
            current
        } else {
            Cell::of(point)
        }
    }
    // ANCHOR_END: for_receiver
}

/// The row or column of a coordinate in `[0, 1]`.
fn index(coordinate: f64) -> usize {
    ((coordinate * GRID as f64) as usize).min(GRID - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64) -> Point {
        Point { x, y }
    }

    #[test]
    fn cells_are_numbered_row_by_row_and_the_edges_belong_to_the_last_one() {
        assert_eq!(Cell::of(point(0.0, 0.0)), Cell(0));
        assert_eq!(Cell::of(point(0.99, 0.0)), Cell(7));
        assert_eq!(Cell::of(point(0.0, 0.13)), Cell(8));
        assert_eq!(Cell::of(point(1.0, 1.0)), Cell(63));
        assert_eq!(Cell::of(point(0.5, 0.5)), Cell::CENTRE);
        assert_eq!(Cell::all().count(), CELLS);
    }

    #[test]
    fn a_centre_lies_in_its_own_cell() {
        for cell in Cell::all() {
            assert_eq!(Cell::of(cell.centre()), cell);
        }
        assert_eq!(Cell(0).centre(), point(0.0625, 0.0625));
    }

    #[test]
    fn a_receiver_changes_cell_only_a_quarter_cell_past_the_border() {
        let start = Cell::of(point(0.05, 0.05)); // cell 0: x and y in [0, 0.125)
        // Just past the right border: still cell 0.
        assert_eq!(Cell::for_receiver(start, point(0.15, 0.05)), start);
        // A quarter of a cell (0.03125) past it: the next cell.
        let next = Cell::for_receiver(start, point(0.16, 0.05));
        assert_eq!(next, Cell(1));
        // Coming back just over the border does not flip it back...
        assert_eq!(Cell::for_receiver(next, point(0.11, 0.05)), next);
        // ...only going a quarter cell into cell 0 does.
        assert_eq!(Cell::for_receiver(next, point(0.09, 0.05)), Cell(0));
        // A jump far away lands in the pointer's own cell.
        assert_eq!(Cell::for_receiver(start, point(0.9, 0.9)), Cell(63));
    }
}
