//! Byte spans to LSP ranges and back. LSP counts columns in UTF-16 code
//! units; expman's spans are byte offsets. The line index handles non-ASCII
//! text, tabs (one unit each) and CRLF line ends.

use expman_schema::{LineIndex, Span};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};

/// A document's text with its line index.
#[derive(Clone, Debug)]
pub struct Text {
    pub text: std::sync::Arc<str>,
    pub lines: LineIndex,
}

impl Text {
    pub fn new(text: impl Into<std::sync::Arc<str>>) -> Text {
        let text = text.into();
        let lines = LineIndex::new(&text);
        Text { text, lines }
    }

    pub fn position(&self, offset: u32) -> Position {
        let (line, character) = self.lines.utf16_position(&self.text, offset);
        Position { line, character }
    }

    pub fn range(&self, span: Span) -> Range {
        Range { start: self.position(span.start), end: self.position(span.end.max(span.start)) }
    }

    pub fn offset(&self, position: Position) -> u32 {
        self.lines.offset_of_utf16(&self.text, position.line, position.character)
    }
}

/// Applies one `didChange` change to a document's text: a range (UTF-16
/// positions, clamped to the text; an end before the start is the start)
/// replaced by the change's text, or the whole text when there is no range.
pub fn apply_change(text: &mut String, change: &TextDocumentContentChangeEvent) {
    match change.range {
        Some(range) => {
            let current = Text::new(text.as_str());
            let start = current.offset(range.start) as usize;
            let end = (current.offset(range.end) as usize).max(start);
            text.replace_range(start..end, &change.text);
        }
        None => text.clone_from(&change.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_crlf_and_tabs() {
        let t = Text::new("a: \"😀\"\r\nb:\tx\r\n");
        let b = t.text.find('b').unwrap() as u32;
        assert_eq!(t.position(b), Position { line: 1, character: 0 });
        let x = t.text.find('x').unwrap() as u32;
        assert_eq!(t.position(x), Position { line: 1, character: 3 });
        let quote_end = t.text.rfind('"').unwrap() as u32;
        assert_eq!(t.position(quote_end), Position { line: 0, character: 6 }, "the emoji is two UTF-16 units");
        assert_eq!(t.offset(Position { line: 0, character: 6 }), quote_end);
    }
}
