//! Tables: HTML for notebooks (typed header, sticky, numbers right-aligned,
//! the shape under it) and aligned plain text for everything else.

use crate::view::TableView;

use super::escape;
use crate::cell::Bundle;

/// Widest a plain-text cell gets before it is cut with `…`.
const TEXT_CELL_MAX: usize = 40;

const STYLE: &str = "<style>\
.expman-table{max-height:32em;overflow:auto;display:inline-block;max-width:100%}\
.expman-table table{border-collapse:collapse;font-size:12px;font-family:var(--jp-code-font-family,monospace)}\
.expman-table th{position:sticky;top:0;z-index:1;background:var(--jp-layout-color1,#fff);\
border-bottom:1px solid var(--jp-border-color1,#bbb);padding:2px 8px;white-space:nowrap}\
.expman-table th small{color:var(--jp-ui-font-color2,#888);font-weight:normal;display:block}\
.expman-table td{padding:2px 8px;white-space:nowrap;border-bottom:1px solid var(--jp-border-color3,#eee)}\
.expman-table td,.expman-table th{text-align:left!important}\
.expman-table td.n,.expman-table th.n{text-align:right!important;font-variant-numeric:tabular-nums}\
.expman-shape{font-size:11px;color:var(--jp-ui-font-color2,#777);margin-top:2px}\
</style>";

/// The view as HTML and text.
pub fn bundle(view: &TableView) -> Bundle {
    Bundle::text(text(view)).with_html(html(view))
}

/// A scrollable HTML table with a sticky, typed header.
pub fn html(view: &TableView) -> String {
    let mut out = String::from(STYLE);
    out.push_str("<div class=\"expman-table\"><table><thead><tr>");
    for c in &view.columns {
        let class = if c.numeric { " class=\"n\"" } else { "" };
        let dtype = if c.dtype.is_empty() { String::new() } else { format!("<small>{}</small>", escape(&c.dtype)) };
        out.push_str(&format!("<th{class}>{}{dtype}</th>", escape(&c.name)));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &view.rows {
        out.push_str("<tr>");
        for (cell, c) in row.iter().zip(&view.columns) {
            let class = if c.numeric { " class=\"n\"" } else { "" };
            out.push_str(&format!("<td{class}>{}</td>", escape(cell)));
        }
        out.push_str("</tr>");
    }
    out.push_str(&format!("</tbody></table></div><div class=\"expman-shape\">{}</div>", escape(&view.shape())));
    out
}

/// Columns padded to their widest cell, numbers right-aligned, long cells
/// cut; the shape last.
pub fn text(view: &TableView) -> String {
    let cut = |s: &str| -> String {
        if s.chars().count() > TEXT_CELL_MAX {
            let mut t: String = s.chars().take(TEXT_CELL_MAX - 1).collect();
            t.push('…');
            t
        } else {
            s.to_string()
        }
    };
    let rows: Vec<Vec<String>> = view.rows.iter().map(|r| r.iter().map(|c| cut(c)).collect()).collect();
    let widths: Vec<usize> = view
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
                .max(c.name.chars().count())
        })
        .collect();
    let pad = |s: &str, w: usize, right: bool| {
        let fill = " ".repeat(w.saturating_sub(s.chars().count()));
        if right { format!("{fill}{s}") } else { format!("{s}{fill}") }
    };
    let mut out = String::new();
    if !view.columns.is_empty() && view.height > 0 {
        let header: Vec<String> = view.columns.iter().zip(&widths).map(|(c, w)| pad(&c.name, *w, c.numeric)).collect();
        out.push_str(header.join("  ").trim_end());
        out.push('\n');
        out.push_str(&widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().join("──"));
        out.push('\n');
        for row in &rows {
            let cells: Vec<String> =
                row.iter().zip(&widths).zip(&view.columns).map(|((s, w), c)| pad(s, *w, c.numeric)).collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
    }
    out.push_str(&view.shape());
    out
}

#[cfg(test)]
mod tests {
    use crate::view::{TableView, ViewColumn};
    use expect_test::expect;

    use super::*;

    fn view() -> TableView {
        TableView::from_rows(
            vec![ViewColumn::text("trial"), ViewColumn::number("val_loss")],
            vec![vec!["base<line>".into(), "0.25".into()], vec!["small_model".into(), "0.5".into()]],
        )
    }

    #[test]
    fn plain_text_aligns_numbers_right() {
        expect![[r#"
            trial        val_loss
            ─────────────────────
            base<line>       0.25
            small_model       0.5
            2 rows × 2 columns"#]]
        .assert_eq(&text(&view()));
    }

    #[test]
    fn html_escapes_and_marks_numeric_columns() {
        let html = html(&view());
        assert!(html.contains("<td>base&lt;line&gt;</td><td class=\"n\">0.25</td>"), "{html}");
        assert!(html.contains("<th class=\"n\">val_loss</th>"), "hand-built columns have no type");
        assert!(html.contains("2 rows × 2 columns"));
    }
}
