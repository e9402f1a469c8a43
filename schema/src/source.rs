//! Source files and positions: the [`Sources`] table, byte [`Span`]s, and the
//! [`LineIndex`] that turns byte offsets into 1-based lines and columns (in
//! characters for humans, in UTF-16 code units for LSP clients).

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in a [`Sources`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

impl FileId {
    /// The id used for values that come from no file (built-ins, defaults).
    pub const NONE: FileId = FileId(u32::MAX);
}

/// A byte range in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// A span that points into no file.
    pub const NONE: Span = Span { file: FileId::NONE, start: 0, end: 0 };

    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: start as u32, end: end.max(start) as u32 }
    }

    /// Whether this span points into a real file.
    pub fn is_real(&self) -> bool {
        self.file != FileId::NONE
    }

    /// Whether `offset` lies inside the span (the end is inclusive, as a cursor
    /// right after a word still belongs to it).
    pub fn contains(&self, offset: u32) -> bool {
        self.start <= offset && offset <= self.end
    }

    /// The smallest span covering both (same file assumed).
    pub fn cover(self, other: Span) -> Span {
        if !self.is_real() {
            return other;
        }
        if !other.is_real() || other.file != self.file {
            return self;
        }
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// A 1-based line and column (column counted in Unicode scalar values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: u32,
    pub col: u32,
}

/// Line starts of a text, for offset <-> position conversions.
#[derive(Clone, Debug)]
pub struct LineIndex {
    /// Byte offset of the start of each line.
    line_starts: Vec<u32>,
    ascii: bool,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => line_starts.push(i as u32 + 1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => line_starts.push(i as u32 + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex { line_starts, ascii: text.is_ascii() }
    }

    /// Number of lines (a text ending in a newline has an empty last line).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// 0-based line holding the byte `offset`.
    pub fn line_of(&self, offset: u32) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// Byte range of a 0-based line, without its line terminator.
    pub fn line_range(&self, text: &str, line: usize) -> (usize, usize) {
        let start = self.line_starts[line] as usize;
        let mut end = self.line_starts.get(line + 1).map(|&s| s as usize).unwrap_or(text.len());
        let bytes = text.as_bytes();
        while end > start && matches!(bytes[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        (start, end)
    }

    /// 1-based line and character column of a byte offset.
    pub fn line_col(&self, text: &str, offset: u32) -> LineCol {
        let offset = (offset as usize).min(text.len());
        let line = self.line_of(offset as u32);
        let start = self.line_starts[line] as usize;
        let col =
            if self.ascii { offset - start } else { text[start..floor_char_boundary(text, offset)].chars().count() };
        LineCol { line: line as u32 + 1, col: col as u32 + 1 }
    }

    /// 0-based line and UTF-16 column of a byte offset, as LSP wants them.
    pub fn utf16_position(&self, text: &str, offset: u32) -> (u32, u32) {
        let offset = (offset as usize).min(text.len());
        let line = self.line_of(offset as u32);
        let start = self.line_starts[line] as usize;
        let col = if self.ascii {
            offset - start
        } else {
            text[start..floor_char_boundary(text, offset)].chars().map(char::len_utf16).sum()
        };
        (line as u32, col as u32)
    }

    /// Byte offset of a 0-based line and UTF-16 column; positions past the end
    /// of a line clamp to its end, as the LSP specification asks.
    pub fn offset_of_utf16(&self, text: &str, line: u32, col: u32) -> u32 {
        let line = line as usize;
        if line >= self.line_starts.len() {
            return text.len() as u32;
        }
        let (start, end) = self.line_range(text, line);
        let mut units = 0u32;
        for (i, ch) in text[start..end].char_indices() {
            if units >= col {
                return (start + i) as u32;
            }
            units += ch.len_utf16() as u32;
        }
        end as u32
    }

    /// Byte offset of a 0-based line and 0-based character column.
    pub fn offset_of_char(&self, text: &str, line: usize, col: usize) -> usize {
        if line >= self.line_starts.len() {
            return text.len();
        }
        let (start, end) = self.line_range(text, line);
        if self.ascii {
            return (start + col).min(end);
        }
        text[start..end].char_indices().nth(col).map(|(i, _)| start + i).unwrap_or(end)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// One source text with its name and line index.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
    pub lines: LineIndex,
}

impl SourceFile {
    pub fn line_col(&self, offset: u32) -> LineCol {
        self.lines.line_col(&self.text, offset)
    }

    /// The text of a 1-based line, without its terminator.
    pub fn line_text(&self, line: u32) -> &str {
        let (s, e) = self.lines.line_range(&self.text, (line as usize).saturating_sub(1));
        &self.text[s..e]
    }

    pub fn slice(&self, span: Span) -> &str {
        let start = (span.start as usize).min(self.text.len());
        let end = (span.end as usize).clamp(start, self.text.len());
        self.text.get(start..end).unwrap_or("")
    }
}

/// All texts a load read, addressed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Adds a text and returns its id.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> FileId {
        let text = text.into();
        let lines = LineIndex::new(&text);
        self.files.push(SourceFile { path: path.into(), text, lines });
        FileId(self.files.len() as u32 - 1)
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The id of a file already added under `path`.
    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path).map(|i| FileId(i as u32))
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }

    /// `path:line:col` of a span's start, or `<none>` for spans into no file.
    pub fn describe(&self, span: Span) -> String {
        match self.get(span.file) {
            Some(file) => {
                let lc = file.line_col(span.start);
                format!("{}:{}:{}", file.path.display(), lc.line, lc.col)
            }
            None => "<built-in>".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_and_handles_crlf() {
        let text = "a: 1\r\nnäme: é\r\nx: 2";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_count(), 3);
        let off = text.find('é').unwrap() as u32;
        assert_eq!(idx.line_col(text, off), LineCol { line: 2, col: 7 });
        let x = text.find('x').unwrap() as u32;
        assert_eq!(idx.line_col(text, x), LineCol { line: 3, col: 1 });
    }

    #[test]
    fn utf16_round_trip_with_astral_characters() {
        let text = "k: \"😀x\"\n";
        let idx = LineIndex::new(text);
        let x = text.find('x').unwrap() as u32;
        assert_eq!(idx.utf16_position(text, x), (0, 6));
        assert_eq!(idx.offset_of_utf16(text, 0, 6), x);
        // Past the end of the line clamps to its end.
        assert_eq!(idx.offset_of_utf16(text, 0, 99), 10);
    }
}
