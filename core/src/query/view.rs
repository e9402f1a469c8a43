//! Frames as tables of display text, for front ends that do not link
//! polars (the kernel's HTML tables, the CLI's terminal tables): each
//! column keeps its name, its type and whether it is numeric (right
//! aligned), each cell is formatted as people read it.

use polars::prelude::{DataFrame, DataType};

use super::frames::format_cell;

/// One column of a [`TableView`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewColumn {
    pub name: String,
    /// The polars type, short (`i64`, `f64`, `str`, `datetime[ms]`, ...).
    pub dtype: String,
    /// Numbers: right-aligned.
    pub numeric: bool,
}

/// The first rows of a frame, formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableView {
    pub columns: Vec<ViewColumn>,
    /// At most the `max_rows` asked for.
    pub rows: Vec<Vec<String>>,
    /// Rows in the frame (the view may show fewer).
    pub height: usize,
}

impl TableView {
    /// The first `max_rows` rows of `frame`.
    pub fn of(frame: &DataFrame, max_rows: usize) -> TableView {
        let columns = frame
            .columns()
            .iter()
            .map(|c| ViewColumn {
                name: c.name().to_string(),
                dtype: c.dtype().to_string(),
                numeric: c.dtype().is_primitive_numeric() || matches!(c.dtype(), DataType::Duration(_)),
            })
            .collect();
        let shown = frame.height().min(max_rows);
        let rows = (0..shown)
            .map(|i| frame.columns().iter().map(|c| c.get(i).map(|v| format_cell(&v)).unwrap_or_default()).collect())
            .collect();
        TableView { columns, rows, height: frame.height() }
    }

    /// A view of rows built by hand (summaries, live tables).
    pub fn from_rows(columns: Vec<ViewColumn>, rows: Vec<Vec<String>>) -> TableView {
        let height = rows.len();
        TableView { columns, rows, height }
    }

    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// `381 rows × 69 columns`, with `(first 200 shown)` when cut.
    pub fn shape(&self) -> String {
        let mut s = format!(
            "{} row{} × {} column{}",
            self.height,
            if self.height == 1 { "" } else { "s" },
            self.width(),
            if self.width() == 1 { "" } else { "s" }
        );
        if self.rows.len() < self.height {
            s.push_str(&format!(" (first {} shown)", self.rows.len()));
        }
        s
    }
}

impl ViewColumn {
    /// A column of a hand-built table (no type shown), left-aligned.
    pub fn text(name: &str) -> ViewColumn {
        ViewColumn { name: name.to_string(), dtype: String::new(), numeric: false }
    }

    /// A column of a hand-built table (no type shown) of numbers or
    /// quantities (`14.5 MiB`, `0.3s`), right-aligned.
    pub fn number(name: &str) -> ViewColumn {
        ViewColumn { name: name.to_string(), dtype: String::new(), numeric: true }
    }
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    #[test]
    fn types_alignment_and_shape() {
        let frame =
            df!("trial" => ["a", "b", "c"], "loss" => [Some(0.5), None, Some(0.25)], "epoch" => [1i64, 2, 3]).unwrap();
        let view = TableView::of(&frame, 2);
        assert_eq!(
            view.columns.iter().map(|c| (c.name.as_str(), c.numeric)).collect::<Vec<_>>(),
            [("trial", false), ("loss", true), ("epoch", true)]
        );
        assert_eq!(view.rows, [vec!["a", "0.5", "1"], vec!["b", "", "2"]]);
        assert_eq!(view.shape(), "3 rows × 3 columns (first 2 shown)");
    }
}
