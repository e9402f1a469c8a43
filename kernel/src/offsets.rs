//! The protocol counts cursor positions in Unicode code points; Rust
//! strings in bytes.

/// The byte offset of code point `index` (the end when past it).
pub fn byte_of_char(text: &str, index: usize) -> usize {
    text.char_indices().nth(index).map_or(text.len(), |(b, _)| b)
}

/// The code-point index of byte offset `byte` (rounded down to a character).
pub fn char_of_byte(text: &str, byte: usize) -> usize {
    let byte = byte.min(text.len());
    text.char_indices().take_while(|(b, _)| *b < byte).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_non_ascii() {
        let text = "é%expman 😀 runs";
        for i in 0..=text.chars().count() {
            assert_eq!(char_of_byte(text, byte_of_char(text, i)), i);
        }
        assert_eq!(byte_of_char(text, 1), 2);
        assert_eq!(byte_of_char(text, 99), text.len());
    }
}
