//! Tables for the terminal, fitted to its width without breaking a cell:
//! numbers right-aligned, one rule under the header. When the columns do
//! not fit, long text cells (trial names, commands) are shortened with `…`
//! first, then columns on the right are left out, and a line says which.
//! Ids, statuses and numbers are never cut or wrapped.

/// A table of text cells.
pub struct TextTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Text columns are shortened down to this many characters, no further.
const MIN_TEXT_WIDTH: usize = 12;
/// Between columns.
const GAP: usize = 2;

impl TextTable {
    pub fn new(header: Vec<String>) -> TextTable {
        TextTable { header, rows: Vec::new() }
    }

    /// Rendered for the terminal on stdout (its width; unlimited when stdout
    /// is not a terminal, e.g. piped into a file).
    pub fn render(&self) -> String {
        self.render_within(terminal_width())
    }

    /// Rendered to fit `width` characters (no limit for `None`).
    pub fn render_within(&self, width: Option<usize>) -> String {
        let n = self.header.len();
        let cell = |row: &Vec<String>, i: usize| row.get(i).map(String::as_str).unwrap_or("").to_string();
        let numeric: Vec<bool> =
            (0..n).map(|i| !self.rows.is_empty() && self.rows.iter().all(|r| looks_numeric(&cell(r, i)))).collect();
        let mut widths: Vec<usize> = (0..n)
            .map(|i| {
                let header = chars(&self.header[i]);
                self.rows.iter().map(|r| chars(&cell(r, i))).max().unwrap_or(0).max(header)
            })
            .collect();
        let mut shown = n;
        if let Some(limit) = width {
            let total = |widths: &[usize], shown: usize| -> usize {
                widths[..shown].iter().sum::<usize>() + GAP * shown.saturating_sub(1)
            };
            // Shorten the widest text columns, one character at a time.
            while total(&widths, shown) > limit {
                let candidate = (0..shown)
                    .filter(|&i| !numeric[i] && !is_identity(&self.header[i]))
                    .filter(|&i| widths[i] > MIN_TEXT_WIDTH.max(chars(&self.header[i])))
                    .max_by_key(|&i| widths[i]);
                match candidate {
                    Some(i) => widths[i] -= 1,
                    None => break,
                }
            }
            // Then leave columns out from the right (never the first).
            while shown > 1 && total(&widths, shown) > limit {
                shown -= 1;
            }
        }
        let mut out = String::new();
        let line = |cells: Vec<String>, out: &mut String| {
            let mut text = String::new();
            for (i, c) in cells.iter().enumerate().take(shown) {
                if i > 0 {
                    text.push_str(&" ".repeat(GAP));
                }
                let c = fit(c, widths[i]);
                let pad = " ".repeat(widths[i] - chars(&c));
                if numeric[i] {
                    text.push_str(&pad);
                    text.push_str(&c);
                } else {
                    text.push_str(&c);
                    text.push_str(&pad);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(self.header.clone(), &mut out);
        let rule = widths[..shown].iter().sum::<usize>() + GAP * shown.saturating_sub(1);
        out.push_str(&"─".repeat(rule));
        out.push('\n');
        for row in &self.rows {
            line((0..n).map(|i| cell(row, i)).collect(), &mut out);
        }
        if shown < n {
            let hidden = &self.header[shown..];
            let names = if hidden.len() <= 4 {
                hidden.join(", ")
            } else {
                format!("{}, ... ({} in all)", hidden[..3].join(", "), hidden.len())
            };
            out.push_str(&format!(
                "({} more column{} not shown: {names}; widen the terminal, or use --columns or --format csv)\n",
                hidden.len(),
                if hidden.len() == 1 { "" } else { "s" }
            ));
        }
        out.trim_end_matches('\n').to_string()
    }
}

/// Columns that name a row and are never shortened.
fn is_identity(header: &str) -> bool {
    matches!(header, "id" | "run" | "status" | "repeat")
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if chars(text) <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn looks_numeric(cell: &str) -> bool {
    let c = cell.trim();
    c.is_empty() || c.split(" ± ").all(|p| p.parse::<f64>().is_ok())
}

/// The width of the terminal stdout is, if it is one (`COLUMNS` wins).
fn terminal_width() -> Option<usize> {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(columns);
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0 as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TextTable {
        let mut t =
            TextTable::new(["id", "trial", "status", "metrics.val_loss", "metrics.val_acc"].map(String::from).to_vec());
        t.rows.push(
            ["k3x9f2m1", "lr_sweep[training.lr=0.1,model.l2=0.01]", "EARLY_STOPPED", "0.3377", "0.87"]
                .map(String::from)
                .to_vec(),
        );
        t.rows.push(["p0q8z7a2", "baseline", "SUCCESS", "0.3121", "0.875"].map(String::from).to_vec());
        t
    }

    #[test]
    fn wide_enough_shows_everything_aligned() {
        let text = table().render_within(None);
        expect_test::expect![[r#"
            id        trial                                    status         metrics.val_loss  metrics.val_acc
            ───────────────────────────────────────────────────────────────────────────────────────────────────
            k3x9f2m1  lr_sweep[training.lr=0.1,model.l2=0.01]  EARLY_STOPPED            0.3377             0.87
            p0q8z7a2  baseline                                 SUCCESS                  0.3121            0.875"#]]
        .assert_eq(&text);
    }

    #[test]
    fn narrow_terminals_shorten_text_then_leave_columns_out_never_breaking_cells() {
        let text = table().render_within(Some(60));
        expect_test::expect![[r#"
            id        trial         status         metrics.val_loss
            ───────────────────────────────────────────────────────
            k3x9f2m1  lr_sweep[tr…  EARLY_STOPPED            0.3377
            p0q8z7a2  baseline      SUCCESS                  0.3121
            (1 more column not shown: metrics.val_acc; widen the terminal, or use --columns or --format csv)"#]]
        .assert_eq(&text);
        for line in text.lines().take(4) {
            assert!(line.chars().count() <= 60, "{line}");
        }
    }
}
