//! Tables for the terminal (fitted to its width), CSV and JSON.

use comfy_table::{ContentArrangement, Table, TableComponent, presets};

/// A table of text cells; numbers right-aligned.
pub struct TextTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl TextTable {
    pub fn new(header: Vec<String>) -> TextTable {
        TextTable { header, rows: Vec::new() }
    }

    /// Rendered for a terminal, fitted to its width.
    pub fn render(&self) -> String {
        let mut table = Table::new();
        // No borders, no lines between rows: one rule under the header.
        table
            .load_preset(presets::NOTHING)
            .set_style(TableComponent::HeaderLines, '─')
            .set_style(TableComponent::MiddleHeaderIntersections, '─')
            .set_style(TableComponent::LeftHeaderIntersection, '─')
            .set_style(TableComponent::RightHeaderIntersection, '─')
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(self.header.clone());
        for row in &self.rows {
            table.add_row(row.clone());
        }
        for (i, column) in table.column_iter_mut().enumerate() {
            let numeric = self.rows.iter().all(|r| r.get(i).is_none_or(|c| looks_numeric(c)));
            if numeric && !self.rows.is_empty() {
                column.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
        table.to_string()
    }
}

fn looks_numeric(cell: &str) -> bool {
    let c = cell.trim();
    c.is_empty() || c.split(" ± ").all(|p| p.parse::<f64>().is_ok())
}
