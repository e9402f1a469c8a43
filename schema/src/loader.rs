//! How the config layer reaches files and the environment: the [`Loader`]
//! trait. Parsing itself never touches the disk; the CLI and runner use
//! [`FsLoader`], the language server a loader that prefers the editor's open
//! (possibly unsaved) documents, tests a map.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::interp::EnvLookup;

/// Access to config files and environment variables.
pub trait Loader {
    /// The text of a file.
    fn read(&self, path: &Path) -> std::io::Result<String>;
    fn is_file(&self, path: &Path) -> bool;
    fn is_dir(&self, path: &Path) -> bool;
    /// An environment variable, for `${env:...}`.
    fn env_var(&self, name: &str) -> Option<String>;
}

/// Adapts a [`Loader`] to the interpolation layer's [`EnvLookup`].
pub(crate) struct LoaderEnv<'a>(pub &'a dyn Loader);

impl EnvLookup for LoaderEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.0.env_var(name)
    }
}

/// A file that is not UTF-8 text: [`Loader::read`]'s error for it (inside
/// an `io::Error` of kind `InvalidData`), with the text as it can be read
/// (each bad byte as U+FFFD) so that the problem can be shown in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotUtf8 {
    /// The text, bad bytes replaced.
    pub text: String,
    /// Where the first bad byte is in `text` (its replacement starts there).
    pub offset: usize,
    /// The first bad byte.
    pub byte: u8,
    /// Bytes that are not UTF-8, in all.
    pub count: usize,
}

impl NotUtf8 {
    pub fn of(bytes: &[u8], first: std::str::Utf8Error) -> NotUtf8 {
        let offset = first.valid_up_to();
        let text = String::from_utf8_lossy(bytes).into_owned();
        let count = bytes.utf8_chunks().map(|c| c.invalid().len()).sum();
        NotUtf8 { text, offset, byte: bytes[offset], count }
    }
}

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not UTF-8 text: byte 0x{:02X}", self.byte)?;
        if self.count > 1 {
            write!(f, " (and {} more bytes that are not UTF-8)", self.count - 1)?;
        }
        Ok(())
    }
}

impl std::error::Error for NotUtf8 {}

/// Files from the file system, variables from the process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsLoader;

#[allow(clippy::disallowed_methods)] // The one place this crate touches the OS.
impl Loader for FsLoader {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        let bytes = std::fs::read(path)?;
        String::from_utf8(bytes).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, NotUtf8::of(e.as_bytes(), e.utf8_error()))
        })
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Files and variables from memory (tests, notebook cells).
#[derive(Clone, Debug, Default)]
pub struct MemoryLoader {
    pub files: HashMap<PathBuf, String>,
    pub env: HashMap<String, String>,
}

impl MemoryLoader {
    pub fn new() -> MemoryLoader {
        MemoryLoader::default()
    }

    pub fn with_file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemoryLoader {
        self.files.insert(normalize(&path.into()), text.into());
        self
    }

    pub fn with_env(mut self, name: &str, value: &str) -> MemoryLoader {
        self.env.insert(name.into(), value.into());
        self
    }
}

impl Loader for MemoryLoader {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(&normalize(path))
    }

    fn is_dir(&self, path: &Path) -> bool {
        let path = normalize(path);
        self.files.keys().any(|f| f.starts_with(&path) && *f != path)
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}

/// Removes `.` and resolves `..` without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
