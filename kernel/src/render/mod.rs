//! Rich outputs: tables (HTML with a plain-text fallback), charts
//! (Vega-Lite with an SVG fallback) and the live table of running trials.

pub mod chart;
pub mod live;
pub mod table;

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
