//! Query answers (polars frames) as the kernel's [`TableView`]s: each
//! column keeps its name, its type and whether it is numeric, each cell is
//! formatted as people read it.

use expman_kernel::view::{TableView, ViewColumn};
use expman_query::format_cell;
use polars::prelude::{DataFrame, DataType};

/// The first `max_rows` rows of `frame`.
pub fn table_view(frame: &DataFrame, max_rows: usize) -> TableView {
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

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    #[test]
    fn types_alignment_and_shape() {
        let frame =
            df!("trial" => ["a", "b", "c"], "loss" => [Some(0.5), None, Some(0.25)], "epoch" => [1i64, 2, 3]).unwrap();
        let view = table_view(&frame, 2);
        assert_eq!(
            view.columns.iter().map(|c| (c.name.as_str(), c.numeric)).collect::<Vec<_>>(),
            [("trial", false), ("loss", true), ("epoch", true)]
        );
        assert_eq!(view.rows, [vec!["a", "0.5", "1"], vec!["b", "", "2"]]);
        assert_eq!(view.shape(), "3 rows × 3 columns (first 2 shown)");
    }
}
