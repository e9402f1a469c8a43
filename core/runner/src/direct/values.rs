//! What a run started from code may report, checked call by call: names
//! that fit the record and every tracker, finite numbers, text of a sane
//! size. A value that fails is refused with an error naming its key; it
//! never becomes a row.

use super::DirectError;

/// The longest metric, param or tag name (MLflow's limit, so that every
/// name reaches every tracker).
pub const MAX_KEY_BYTES: usize = 250;

/// The longest param or tag value, as text.
pub const MAX_TEXT_BYTES: usize = 64 << 10;

/// What a checked name is of, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Metric,
    Param,
    Tag,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Metric => "metric",
            Kind::Param => "param",
            Kind::Tag => "tag",
        }
    }
}

/// A name as the record keeps it: not empty, at most [`MAX_KEY_BYTES`],
/// no control characters.
pub fn check_key(kind: Kind, key: &str) -> Result<(), DirectError> {
    // The common case, checked byte by byte: printable ASCII, not blank.
    let plain = |b: &u8| (0x21..0x7f).contains(b);
    if !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && key.as_bytes().first().is_some_and(plain)
        && key.bytes().all(|b| b == b' ' || plain(&b))
    {
        return Ok(());
    }
    let why = if key.trim().is_empty() {
        "an empty name"
    } else if key.len() > MAX_KEY_BYTES {
        "a name longer than 250 bytes"
    } else if key.chars().any(char::is_control) {
        "a name with a control character"
    } else {
        return Ok(());
    };
    Err(DirectError::BadKey { kind: kind.as_str(), key: shorten(key), why })
}

/// A metric value: a finite number (NaN and the infinities are refused:
/// a diverged loss is a reason to stop, not a point to plot).
pub fn check_number(key: &str, value: f64) -> Result<(), DirectError> {
    if value.is_finite() { Ok(()) } else { Err(DirectError::NotFinite { key: shorten(key), value }) }
}

/// A param or tag value as text: at most [`MAX_TEXT_BYTES`].
pub fn check_text(kind: Kind, key: &str, text: &str) -> Result<(), DirectError> {
    if text.len() <= MAX_TEXT_BYTES {
        Ok(())
    } else {
        Err(DirectError::TooLong { kind: kind.as_str(), key: shorten(key), bytes: text.len() })
    }
}

/// A name fit for a message: at most 80 characters.
fn shorten(key: &str) -> String {
    if key.chars().count() <= 80 { key.to_string() } else { format!("{}...", key.chars().take(77).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_and_values_are_refused_with_their_key() {
        assert!(check_key(Kind::Metric, "train/loss").is_ok());
        let e = check_key(Kind::Param, " ").unwrap_err().to_string();
        assert_eq!(e, "param ` `: an empty name");
        let long = "k".repeat(300);
        let e = check_key(Kind::Metric, &long).unwrap_err().to_string();
        assert!(e.contains("longer than 250 bytes") && e.contains("kkk...") && e.len() < 200, "{e}");
        assert!(check_key(Kind::Tag, "a\nb").unwrap_err().to_string().contains("control character"));
        let e = check_number("loss", f64::NAN).unwrap_err().to_string();
        assert_eq!(e, "metric `loss`: NaN is not a finite number (NaN and infinities are not recorded)");
        assert!(check_number("loss", f64::NEG_INFINITY).is_err());
        assert!(check_number("loss", 1e308).is_ok());
        let e = check_text(Kind::Tag, "notes", &"x".repeat(MAX_TEXT_BYTES + 1)).unwrap_err().to_string();
        assert!(e.contains("tag `notes`") && e.contains("65537 bytes"), "{e}");
    }
}
