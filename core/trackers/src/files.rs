//! Files that local trackers append to, exactly once: each is opened at
//! the length its tracker last acknowledged (in its memo) and cut back to
//! it, so that what was written but not acknowledged (expman died between
//! the two) is written again, never twice.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{Memo, TrackerError};

/// A file being appended to.
pub struct Appender {
    file: std::io::BufWriter<File>,
    path: PathBuf,
    len: u64,
}

impl Appender {
    /// Opens `path` (creating it and its directory), cut back to `len`.
    pub fn open(path: &Path, len: u64) -> Result<Appender, TrackerError> {
        let io = |e: std::io::Error| TrackerError::retry(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        let actual = file.metadata().map_err(io)?.len();
        // Shorter than acknowledged: someone removed it; start it again.
        let len = if actual < len { 0 } else { len };
        file.set_len(len).map_err(io)?;
        file.seek(SeekFrom::Start(len)).map_err(io)?;
        Ok(Appender { file: std::io::BufWriter::new(file), path: path.to_path_buf(), len })
    }

    /// The length before anything was appended in this session.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), TrackerError> {
        self.file.write_all(bytes).map_err(|e| TrackerError::retry(format!("{}: {e}", self.path.display())))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Flushes; the new length to acknowledge.
    pub fn finish(mut self) -> Result<u64, TrackerError> {
        self.file.flush().map_err(|e| TrackerError::retry(format!("{}: {e}", self.path.display())))?;
        Ok(self.len)
    }
}

/// A tracker's memo as a JSON object.
pub fn memo_object(memo: &Memo) -> Map<String, Value> {
    memo.as_deref()
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// Writes `object` back as the memo.
pub fn set_memo(memo: &mut Memo, object: Map<String, Value>) {
    *memo = Some(Value::Object(object).to_string());
}

/// Writes a whole file atomically (a temporary file renamed over it).
pub fn write_atomically(path: &Path, text: &str) -> Result<(), TrackerError> {
    let io = |e: std::io::Error| TrackerError::retry(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appending_resumes_at_the_acknowledged_length() {
        let dir = std::env::temp_dir().join(format!("expman-appender-{}", std::process::id()));
        let path = dir.join("a/log.txt");
        let mut a = Appender::open(&path, 0).unwrap();
        a.write(b"one\n").unwrap();
        let acknowledged = a.finish().unwrap();
        // Written, but the acknowledgement was lost.
        let mut b = Appender::open(&path, acknowledged).unwrap();
        b.write(b"two\n").unwrap();
        b.finish().unwrap();
        let mut c = Appender::open(&path, acknowledged).unwrap();
        c.write(b"two\n").unwrap();
        assert_eq!(c.finish().unwrap(), 8);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        let _ = std::fs::remove_dir_all(dir);
    }
}
