//! Encryption at rest: XChaCha20-Poly1305 in chunks (the STREAM
//! construction), so a blob of any size is encrypted and checked with
//! bounded memory, and a chunk cut, swapped or changed fails to open.
//!
//! A blob file is `MAGIC`, a random 19-byte nonce prefix, then chunks of
//! `CHUNK` plaintext bytes (the last one shorter, possibly empty), each
//! followed by its 16-byte tag. Chunk `i`'s nonce is the prefix, `i` as a
//! 32-bit big-endian number and a byte that is 1 on the last chunk only.
//! Every chunk is authenticated with the blob's name (the plaintext's
//! SHA-256) as associated data, so a blob renamed to another's digest does
//! not open either.
//!
//! The key is 32 bytes given as 64 hexadecimal digits
//! (`EXPMAN_ARTIFACT_KEY`, or a key file); it is never written anywhere
//! by expman.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::BlobError;
use crate::hash::hex;

pub(crate) const MAGIC: &[u8; 12] = b"expman-xc20\x01";
const PREFIX: usize = 19;
const CHUNK: usize = 256 << 10;
const TAG: usize = 16;

/// An artifact key (32 bytes).
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A key from 64 hexadecimal digits (spaces and newlines around them
    /// ignored); `source` names where it came from, for the error.
    pub fn from_hex(text: &str, source: &str) -> Result<Key, BlobError> {
        let text = text.trim();
        let bad = || {
            BlobError::Key(format!(
                "{source}: an artifact key is 64 hexadecimal digits (32 bytes); `expman artifacts keygen` makes one"
            ))
        };
        if text.len() != 64 {
            return Err(bad());
        }
        let mut key = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let digits = std::str::from_utf8(pair).map_err(|_| bad())?;
            key[i] = u8::from_str_radix(digits, 16).map_err(|_| bad())?;
        }
        Ok(Key(key))
    }

    /// A new random key.
    pub fn generate() -> Result<Key, BlobError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| BlobError::Key(format!("no randomness for a key: {e}")))?;
        Ok(Key(key))
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

fn nonce(prefix: &[u8; PREFIX], index: u32, last: bool) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX].copy_from_slice(prefix);
    n[PREFIX..PREFIX + 4].copy_from_slice(&index.to_be_bytes());
    n[23] = u8::from(last);
    n.into()
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Encrypts `input` (whose SHA-256 is `digest`) into `output`.
pub(crate) fn encrypt(
    key: &Key,
    digest: &str,
    input: &mut impl Read,
    output: &mut impl Write,
    out_path: &Path,
) -> Result<(), BlobError> {
    let io = |e| BlobError::io(out_path, e);
    let mut prefix = [0u8; PREFIX];
    getrandom::fill(&mut prefix).map_err(|e| BlobError::Key(format!("no randomness for a nonce: {e}")))?;
    output.write_all(MAGIC).map_err(io)?;
    output.write_all(&prefix).map_err(io)?;
    let cipher = key.cipher();
    let mut reader = BufReader::with_capacity(CHUNK, input);
    let mut chunk = vec![0u8; CHUNK];
    let mut index: u32 = 0;
    loop {
        let n = read_full(&mut reader, &mut chunk).map_err(io)?;
        let last = n < CHUNK || reader.fill_buf().map_err(io)?.is_empty();
        let sealed = cipher
            .encrypt(&nonce(&prefix, index, last), Payload { msg: &chunk[..n], aad: digest.as_bytes() })
            .map_err(|_| BlobError::Key("encryption failed".into()))?;
        output.write_all(&sealed).map_err(io)?;
        if last {
            return Ok(());
        }
        index = index.checked_add(1).ok_or_else(|| BlobError::Key("artifact too large to encrypt".into()))?;
    }
}

/// Decrypts a blob named `digest` from `input` into `output`; checks every
/// chunk, that none is missing at the end, and the plaintext's SHA-256.
/// Returns the plaintext's size. `what` names the artifact in errors.
pub(crate) fn decrypt(
    key: &Key,
    digest: &str,
    input: &mut impl Read,
    output: &mut impl Write,
    what: &str,
    out_path: &Path,
) -> Result<u64, BlobError> {
    let corrupt = |why: &str| BlobError::Corrupt { what: what.to_string(), why: why.to_string() };
    let mut header = [0u8; 12 + PREFIX];
    let n = read_full(input, &mut header).map_err(|e| BlobError::io(out_path, e))?;
    if n < header.len() || &header[..12] != MAGIC {
        return Err(corrupt("not an expman encrypted blob"));
    }
    let mut prefix = [0u8; PREFIX];
    prefix.copy_from_slice(&header[12..]);
    let cipher = key.cipher();
    let mut reader = BufReader::with_capacity(CHUNK + TAG, input);
    let mut sealed = vec![0u8; CHUNK + TAG];
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut index: u32 = 0;
    loop {
        let n = read_full(&mut reader, &mut sealed).map_err(|e| BlobError::io(out_path, e))?;
        let last = n < CHUNK + TAG || reader.fill_buf().map_err(|e| BlobError::io(out_path, e))?.is_empty();
        if n < TAG {
            return Err(corrupt("it is cut short"));
        }
        let plain = cipher
            .decrypt(&nonce(&prefix, index, last), Payload { msg: &sealed[..n], aad: digest.as_bytes() })
            .map_err(|_| {
                corrupt("it does not decrypt with this key (a wrong EXPMAN_ARTIFACT_KEY, or the blob was changed)")
            })?;
        hasher.update(&plain);
        size += plain.len() as u64;
        output.write_all(&plain).map_err(|e| BlobError::io(out_path, e))?;
        if last {
            break;
        }
        index = index.checked_add(1).ok_or_else(|| corrupt("too many chunks"))?;
    }
    if hex(&hasher.finalize()) != digest {
        return Err(corrupt("its content does not match its SHA-256"));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(data: &[u8]) -> String {
        hex(&Sha256::digest(data))
    }

    fn roundtrip(data: &[u8]) {
        let key = Key::generate().unwrap();
        let d = digest(data);
        let mut sealed = Vec::new();
        encrypt(&key, &d, &mut &data[..], &mut sealed, Path::new("x")).unwrap();
        let chunks = data.len().div_ceil(CHUNK).max(1);
        assert_eq!(sealed.len(), 12 + PREFIX + data.len() + TAG * chunks);
        let mut back = Vec::new();
        assert_eq!(decrypt(&key, &d, &mut &sealed[..], &mut back, "a", Path::new("x")).unwrap(), data.len() as u64);
        assert_eq!(back, data);
    }

    #[test]
    fn round_trips_at_chunk_boundaries() {
        roundtrip(b"");
        roundtrip(b"hello");
        roundtrip(&vec![7u8; CHUNK]);
        roundtrip(&vec![9u8; 2 * CHUNK + 5]);
    }

    #[test]
    fn a_wrong_key_a_changed_byte_a_cut_or_a_renamed_blob_fail() {
        let data = vec![3u8; CHUNK + 100];
        let d = digest(&data);
        let key = Key::generate().unwrap();
        let mut sealed = Vec::new();
        encrypt(&key, &d, &mut &data[..], &mut sealed, Path::new("x")).unwrap();
        let open = |key: &Key, d: &str, bytes: &[u8]| {
            decrypt(key, d, &mut &bytes[..], &mut Vec::new(), "m.pt", Path::new("x"))
        };
        assert!(open(&Key::generate().unwrap(), &d, &sealed).is_err());
        let mut changed = sealed.clone();
        changed[40] ^= 1;
        assert!(matches!(open(&key, &d, &changed), Err(BlobError::Corrupt { .. })));
        // Cut after the first chunk: it was not the last one.
        assert!(open(&key, &d, &sealed[..12 + PREFIX + CHUNK + TAG]).is_err());
        assert!(open(&key, &digest(b"other"), &sealed).is_err());
        let err = open(&key, &d, &changed).unwrap_err().to_string();
        assert!(err.contains("m.pt"), "{err}");
    }

    #[test]
    fn keys_are_64_hex_digits() {
        let k = Key::generate().unwrap();
        assert_eq!(Key::from_hex(&format!(" {}\n", k.to_hex()), "env").unwrap().0, k.0);
        let err = Key::from_hex("abc", "EXPMAN_ARTIFACT_KEY").unwrap_err().to_string();
        assert!(err.contains("EXPMAN_ARTIFACT_KEY") && err.contains("64 hexadecimal"), "{err}");
        assert!(Key::from_hex(&"zz".repeat(32), "f").is_err());
    }
}
