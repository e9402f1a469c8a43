//! The kernel's own view of a table: text cells under named columns, each
//! column with its type and whether it is numeric (right aligned). The
//! binary turns query answers (polars frames) and live runs into these;
//! the kernel links no polars and no database.

/// One column of a [`TableView`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewColumn {
    pub name: String,
    /// The column's type, short (`i64`, `f64`, `str`, `datetime[ms]`, ...).
    pub dtype: String,
    /// Numbers: right-aligned.
    pub numeric: bool,
}

/// The first rows of a table, formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableView {
    pub columns: Vec<ViewColumn>,
    /// At most the `max_rows` asked for.
    pub rows: Vec<Vec<String>>,
    /// Rows in the table (the view may show fewer).
    pub height: usize,
}

impl TableView {
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
