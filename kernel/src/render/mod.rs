//! Rich outputs: tables (HTML with a plain-text fallback), charts
//! (Vega-Lite with an SVG fallback); the live table of running
//! trials is the binary's (it watches the runner) and renders through
//! [`table`].

pub mod chart;
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
