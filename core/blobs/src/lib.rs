//! expman-blobs: a workspace's artifact store, content-addressed.
//!
//! Every artifact a run reports is kept once, named by the SHA-256 of its
//! content, under `<workspace>/.expman/blobs/` (`ab/abcdef…`, the first two
//! digits as a folder). When a run ends its artifact files are *absorbed*:
//! a file whose content is already stored becomes a hard link to that blob
//! (the same checkpoint in ten runs takes the room of one), a new one
//! becomes the blob itself (linked, not copied: no second read, no second
//! copy on disk). Blobs are made read-only. Files outside the workspace are
//! copied in and left as they are ([`BlobStore::put`]).
//!
//! With a [`Key`] the store encrypts instead ([`crypt`]): a blob is written
//! as `<digest>.enc` and the plaintext file leaves the run's directory;
//! [`BlobStore::read_to`] gives it back to whoever has the key.
//!
//! Reading always checks: a blob whose content no longer hashes to its
//! name is an error that names the artifact, never a silent wrong file.
//! Which blobs are still wanted is the record's business (the runs'
//! artifact rows); [`BlobStore::list`] and [`BlobStore::remove`] let the
//! caller collect the rest.
//!
//! With the `remote` feature, [`remote::Remote`] keeps a copy of the store
//! in S3, GCS, Azure Blob or a directory: each blob sent once, resumably.
//!
//! Invariant: a path under the store is only ever built from a digest that
//! [`is_digest`] accepted, so no name from a record can point outside it.

pub mod crypt;
mod error;
mod hash;
#[cfg(feature = "remote")]
pub mod remote;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use crypt::Key;
pub use error::BlobError;
pub use hash::{hash_file, is_digest};

/// A remote copy of the store, as `env.yaml`'s `artifacts` names it
/// (credentials are never part of it: they come from the environment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteConfig {
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`
    /// or `file:///dir`.
    pub url: String,
    /// An S3-compatible server's endpoint (`http://127.0.0.1:9000`).
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

/// Where a workspace keeps its blobs, relative to its root.
pub const STORE_DIR: &str = ".expman/blobs";

/// A workspace's artifact store.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
    key: Option<Key>,
}

/// What storing a file did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
    /// The blob was not in the store before.
    pub new: bool,
    /// The file given is now a link to the blob (it was absorbed).
    pub linked: bool,
    /// The file given was removed (absorbed into an encrypted store).
    pub removed: bool,
}

/// A blob on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub sha256: String,
    /// Bytes on disk (with encryption's overhead).
    pub size: u64,
    pub encrypted: bool,
    /// Names on disk for this content (the blob and the run files linked
    /// to it).
    pub links: u64,
}

impl BlobStore {
    /// The store of the workspace at `workspace`.
    pub fn for_workspace(workspace: &Path) -> BlobStore {
        BlobStore { root: workspace.join(STORE_DIR), key: None }
    }

    /// The store at `root` itself.
    pub fn at(root: PathBuf) -> BlobStore {
        BlobStore { root, key: None }
    }

    /// Encrypts what it stores from now on, and can read encrypted blobs.
    pub fn with_key(mut self, key: Option<Key>) -> BlobStore {
        self.key = key;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn encrypts(&self) -> bool {
        self.key.is_some()
    }

    fn checked(sha256: &str) -> Result<&str, BlobError> {
        if is_digest(sha256) { Ok(sha256) } else { Err(BlobError::BadDigest(sha256.to_string())) }
    }

    pub(crate) fn plain_path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }

    pub(crate) fn sealed_path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(format!("{sha256}.enc"))
    }

    /// The blob's file and whether it is encrypted, if it is stored.
    pub fn locate(&self, sha256: &str) -> Result<Option<(PathBuf, bool)>, BlobError> {
        let sha256 = Self::checked(sha256)?;
        let plain = self.plain_path(sha256);
        if plain.is_file() {
            return Ok(Some((plain, false)));
        }
        let sealed = self.sealed_path(sha256);
        Ok(sealed.is_file().then_some((sealed, true)))
    }

    /// Whether `file` already is blob `sha256` (absorbed before: the same
    /// inode), so storing it again can skip reading it.
    pub fn is_linked(&self, sha256: &str, file: &Path) -> bool {
        let Ok(sha256) = Self::checked(sha256) else { return false };
        match (std::fs::metadata(self.plain_path(sha256)), std::fs::metadata(file)) {
            (Ok(blob), Ok(here)) => (blob.dev(), blob.ino()) == (here.dev(), here.ino()),
            _ => false,
        }
    }

    pub fn contains(&self, sha256: &str) -> bool {
        matches!(self.locate(sha256), Ok(Some(_)))
    }

    pub(crate) fn tmp_file(&self) -> Result<(PathBuf, File), BlobError> {
        let dir = self.root.join("tmp");
        std::fs::create_dir_all(&dir).map_err(|e| BlobError::io(&dir, e))?;
        for attempt in 0u32.. {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let path = dir.join(format!("{}-{}-{attempt}.part", std::process::id(), nanos.as_nanos()));
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((path, file)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => continue,
                Err(e) => return Err(BlobError::io(&path, e)),
            }
        }
        unreachable!("the loop returns")
    }

    fn make_dir_for(&self, blob: &Path) -> Result<(), BlobError> {
        let dir = blob.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(|e| BlobError::io(dir, e))
    }

    /// Moves a finished temporary file to its blob name (unless the blob
    /// appeared meanwhile); whether it is new.
    pub(crate) fn settle(&self, tmp: &Path, blob: &Path) -> Result<bool, BlobError> {
        if blob.exists() {
            let _ = std::fs::remove_file(tmp);
            return Ok(false);
        }
        self.make_dir_for(blob)?;
        read_only(tmp);
        std::fs::rename(tmp, blob).map_err(|e| BlobError::io(blob, e))?;
        Ok(true)
    }

    /// Stores a file of the workspace and makes it part of the store: with
    /// the store's content already there, the file becomes a link to it;
    /// new content becomes the blob. Encrypting, the file is encrypted into
    /// the store and removed. For files the workspace does not own, see
    /// [`BlobStore::put`].
    pub fn absorb(&self, file: &Path) -> Result<Stored, BlobError> {
        let (size, sha256) = hash_file(file)?;
        if self.key.is_some() {
            let mut stored = self.put_hashed(file, size, &sha256)?;
            std::fs::remove_file(file).map_err(|e| BlobError::io(file, e))?;
            stored.removed = true;
            return Ok(stored);
        }
        let blob = self.plain_path(&sha256);
        let stored = |new, linked| Stored { sha256: sha256.clone(), size, new, linked, removed: false };
        if let Ok(existing) = std::fs::metadata(&blob) {
            let here = std::fs::metadata(file).map_err(|e| BlobError::io(file, e))?;
            if (here.dev(), here.ino()) == (existing.dev(), existing.ino()) {
                return Ok(stored(false, true));
            }
            let linked = replace_with_link(&blob, file)?;
            return Ok(stored(false, linked));
        }
        if self.sealed_path(&sha256).is_file() {
            // Stored encrypted before; this plaintext copy stays as it is.
            return Ok(stored(false, false));
        }
        self.make_dir_for(&blob)?;
        match std::fs::hard_link(file, &blob) {
            Ok(()) => {
                read_only(&blob);
                Ok(stored(true, true))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Another run stored the same content a moment ago.
                let linked = replace_with_link(&blob, file)?;
                Ok(stored(false, linked))
            }
            Err(e) => {
                // No hard links here (another file system): a copy.
                tracing::debug!("cannot link {} into the store ({e}); copying", file.display());
                let mut stored = self.put_hashed(file, size, &sha256)?;
                stored.linked = false;
                Ok(stored)
            }
        }
    }

    /// Copies a file into the store (encrypted with a key), leaving the
    /// file as it is; hashed while copied, so what is stored is what was
    /// read.
    pub fn put(&self, file: &Path) -> Result<Stored, BlobError> {
        if self.key.is_some() {
            let (size, sha256) = hash_file(file)?;
            return self.put_hashed(file, size, &sha256);
        }
        let mut input = File::open(file).map_err(|e| BlobError::io(file, e))?;
        let (tmp, mut output) = self.tmp_file()?;
        let copied = copy_hashing(&mut input, &mut output, file, &tmp);
        let (size, sha256) = match copied.and_then(|d| output.sync_all().map(|_| d).map_err(|e| BlobError::io(&tmp, e)))
        {
            Ok(d) => d,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let exists = self.locate(&sha256)?.is_some();
        let new = if exists {
            let _ = std::fs::remove_file(&tmp);
            false
        } else {
            self.settle(&tmp, &self.plain_path(&sha256))?
        };
        Ok(Stored { sha256, size, new, linked: false, removed: false })
    }

    /// [`BlobStore::put`] of a file already hashed.
    fn put_hashed(&self, file: &Path, size: u64, sha256: &str) -> Result<Stored, BlobError> {
        let stored = |new| Stored { sha256: sha256.to_string(), size, new, linked: false, removed: false };
        if self.locate(sha256)?.is_some() {
            return Ok(stored(false));
        }
        let mut input = File::open(file).map_err(|e| BlobError::io(file, e))?;
        let (tmp, mut output) = self.tmp_file()?;
        let written = match &self.key {
            Some(key) => crypt::encrypt(key, sha256, &mut input, &mut output, &tmp),
            None => copy_hashing(&mut input, &mut output, file, &tmp).and_then(|(_, got)| {
                if got == sha256 {
                    Ok(())
                } else {
                    Err(BlobError::Corrupt {
                        what: file.display().to_string(),
                        why: "it changed while it was stored".into(),
                    })
                }
            }),
        }
        .and_then(|()| output.sync_all().map_err(|e| BlobError::io(&tmp, e)));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let blob = if self.key.is_some() { self.sealed_path(sha256) } else { self.plain_path(sha256) };
        Ok(stored(self.settle(&tmp, &blob)?))
    }

    /// Writes the content of blob `sha256` to `dest` (through a temporary
    /// file beside it, so `dest` is whole or untouched), checking it on
    /// the way; its size. `what` names the artifact in errors.
    pub fn read_to(&self, sha256: &str, dest: &Path, what: &str) -> Result<u64, BlobError> {
        let (blob, encrypted) = self.locate(sha256)?.ok_or_else(|| BlobError::Missing(sha256.to_string()))?;
        let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.expman-part-{}",
            dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id()
        ));
        let result = (|| {
            let mut output = File::create(&tmp).map_err(|e| BlobError::io(&tmp, e))?;
            let size = self.read_into(&blob, encrypted, sha256, &mut output, what, &tmp)?;
            output.sync_all().map_err(|e| BlobError::io(&tmp, e))?;
            Ok(size)
        })();
        match result {
            Ok(size) => {
                std::fs::rename(&tmp, dest).map_err(|e| BlobError::io(dest, e))?;
                Ok(size)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Writes blob `sha256`'s content to `output` (standard output, a
    /// socket), checked; a failed check comes at the end, after the bytes
    /// (callers that must not show unchecked bytes use [`BlobStore::read_to`]).
    pub fn copy_out(&self, sha256: &str, output: &mut impl Write, what: &str) -> Result<u64, BlobError> {
        let (blob, encrypted) = self.locate(sha256)?.ok_or_else(|| BlobError::Missing(sha256.to_string()))?;
        self.read_into(&blob, encrypted, sha256, output, what, Path::new("<output>"))
    }

    /// Checks a blob without writing it anywhere; its content's size.
    pub fn verify(&self, sha256: &str, what: &str) -> Result<u64, BlobError> {
        self.copy_out(sha256, &mut std::io::sink(), what)
    }

    fn read_into(
        &self,
        blob: &Path,
        encrypted: bool,
        sha256: &str,
        output: &mut impl Write,
        what: &str,
        out_path: &Path,
    ) -> Result<u64, BlobError> {
        let mut input = File::open(blob).map_err(|e| BlobError::io(blob, e))?;
        if encrypted {
            let key = self.key.as_ref().ok_or_else(|| {
                BlobError::Key(format!(
                    "{what} is stored encrypted: set EXPMAN_ARTIFACT_KEY (or `artifacts.key_file` in env.yaml) to the key it was stored with"
                ))
            })?;
            return crypt::decrypt(key, sha256, &mut input, output, what, out_path);
        }
        let (size, got) = copy_hashing(&mut input, output, blob, out_path)?;
        if got != sha256 {
            return Err(BlobError::Corrupt {
                what: what.to_string(),
                why: format!("its stored copy {} no longer has the content it was stored with", blob.display()),
            });
        }
        Ok(size)
    }

    /// Every blob on disk, in digest order.
    pub fn list(&self) -> Result<Vec<BlobInfo>, BlobError> {
        let mut out = Vec::new();
        let top = match std::fs::read_dir(&self.root) {
            Ok(top) => top,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(BlobError::io(&self.root, e)),
        };
        for dir in top.flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            if name.len() != 2 || !dir.path().is_dir() {
                continue;
            }
            let entries = std::fs::read_dir(dir.path()).map_err(|e| BlobError::io(&dir.path(), e))?;
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let (digest, encrypted) = match file.strip_suffix(".enc") {
                    Some(d) => (d.to_string(), true),
                    None => (file.clone(), false),
                };
                if !is_digest(&digest) || !digest.starts_with(&name) {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                out.push(BlobInfo { sha256: digest, size: meta.len(), encrypted, links: meta.nlink() });
            }
        }
        out.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        Ok(out)
    }

    /// Removes blob `sha256` (both forms); the bytes freed. Run files
    /// linked to it keep their content: a hard link is a name, not a copy.
    pub fn remove(&self, sha256: &str) -> Result<u64, BlobError> {
        let sha256 = Self::checked(sha256)?;
        let mut freed = 0;
        for path in [self.plain_path(sha256), self.sealed_path(sha256)] {
            if let Ok(meta) = std::fs::metadata(&path) {
                std::fs::remove_file(&path).map_err(|e| BlobError::io(&path, e))?;
                freed += if meta.nlink() <= 1 { meta.len() } else { 0 };
            }
        }
        Ok(freed)
    }

    /// Removes temporary files older than `age` left by interrupted
    /// stores; how many.
    pub fn clean_tmp(&self, age: std::time::Duration) -> usize {
        let dir = self.root.join("tmp");
        let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|e| e > age);
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// Replaces `file` with a hard link to `blob` (atomically: a link beside
/// it renamed over it); false when links are not possible here (the file
/// then stays as it is).
fn replace_with_link(blob: &Path, file: &Path) -> Result<bool, BlobError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.expman-link-{}",
        file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    if let Err(e) = std::fs::hard_link(blob, &tmp) {
        tracing::debug!("cannot link {} to {} ({e}); it keeps its own copy", file.display(), blob.display());
        return Ok(false);
    }
    if let Err(e) = std::fs::rename(&tmp, file) {
        let _ = std::fs::remove_file(&tmp);
        return Err(BlobError::io(file, e));
    }
    Ok(true)
}

/// Blobs are never written in place: read-only for everyone (which also
/// covers the run files linked to them).
fn read_only(path: &Path) {
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)) {
        tracing::debug!("cannot make {} read-only: {e}", path.display());
    }
}

/// Copies `input` to `output`, hashing; the size and digest.
fn copy_hashing(
    input: &mut impl Read,
    output: &mut impl Write,
    in_path: &Path,
    out_path: &Path,
) -> Result<(u64, String), BlobError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; hash::BUFFER];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BlobError::io(in_path, e)),
        };
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).map_err(|e| BlobError::io(out_path, e))?;
        size += n as u64;
    }
    Ok((size, hash::hex(&hasher.finalize())))
}

#[cfg(test)]
mod tests;
