//! SHA-256 of files, as the store names blobs: 64 lowercase hex digits.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::BlobError;

/// Bytes read at a time, hashing or copying.
pub(crate) const BUFFER: usize = 1 << 20;

/// The size and SHA-256 of a file.
pub fn hash_file(path: &Path) -> Result<(u64, String), BlobError> {
    let mut file = std::fs::File::open(path).map_err(|e| BlobError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| BlobError::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex(&hasher.finalize())))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Whether `s` is a digest as the store writes them (so it can be a file
/// name under the store, and nothing else).
pub fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_lowercase_hex_of_64() {
        let empty = hex(&Sha256::digest(b""));
        assert_eq!(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert!(is_digest(&empty));
        assert!(!is_digest(&empty.to_uppercase()));
        assert!(!is_digest("../../etc/passwd"));
        assert!(!is_digest(&empty[..63]));
    }
}
