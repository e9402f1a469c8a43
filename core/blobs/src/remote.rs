//! Remote copies of the store (feature `remote`): each blob uploaded once
//! to `s3://`, `gs://`, `az://` or `file://`, and fetched back on demand.
//!
//! Objects are named as blobs are, under the URL's prefix
//! (`<prefix>/ab/<digest>`, `.enc` when encrypted). What was sent is marked
//! in the store (`pushed/<remote>/<digest>`, written once the remote has
//! the whole object), so a blob is never sent twice; before sending, a
//! `HEAD` finds objects another machine sent. Blobs from 16 MiB up go in
//! 8 MiB parts whose progress is kept in `uploads/` after every part: an
//! upload cut off (the server down, the process killed) goes on from the
//! next part, and only a remote that forgot the upload starts it again.
//! Credentials come from the environment as the cloud SDKs read them
//! (`AWS_ACCESS_KEY_ID`, `GOOGLE_APPLICATION_CREDENTIALS`,
//! `AZURE_STORAGE_ACCOUNT_KEY`, ...); nothing here writes them anywhere.
//!
//! The API is blocking: a small tokio runtime of its own runs each call.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};
use sha2::{Digest, Sha256};

use crate::{BlobError, BlobStore, RemoteConfig};

/// Blobs from this size up are sent in parts (resumable).
pub const MULTIPART_FROM: u64 = 16 << 20;
/// The size of each part but the last.
pub const PART_SIZE: u64 = 8 << 20;

/// A remote copy of a workspace's store.
pub struct Remote {
    url: String,
    prefix: ObjectPath,
    store: Arc<dyn ObjectStore>,
    parts: Option<Arc<dyn MultipartStore>>,
    runtime: tokio::runtime::Runtime,
    /// `<store>/pushed/<remote id>/`: one empty file per blob sent.
    marks: PathBuf,
    /// `<store>/uploads/`: parts sent so far of uploads under way.
    uploads: PathBuf,
    id: String,
    /// Said with every error: credentials missing from the environment.
    hint: Option<String>,
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The remote had it (sent before, here or by another machine).
    Already,
    /// Sent now: its bytes, and from which part it went on (`Some(k)` when
    /// `k` parts had been sent before this call).
    Sent { bytes: u64, resumed_at: Option<usize> },
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Remote {
    /// Connects (lazily: nothing is sent yet) to the remote `config` names,
    /// for the `local` store.
    pub fn open(config: &RemoteConfig, local: &BlobStore) -> Result<Remote, BlobError> {
        let url = config.url.trim_end_matches('/').to_string();
        let bad = |why: &str| BlobError::Remote(format!("`artifacts.store: {url}`: {why}"));
        let (scheme, rest) =
            url.split_once("://").ok_or_else(|| bad("write s3://BUCKET/PREFIX (or gs://, az://, file://)"))?;
        let (bucket, prefix) = match rest.split_once('/') {
            Some((b, p)) => (b.to_string(), p.to_string()),
            None => (rest.to_string(), String::new()),
        };
        let http = config.endpoint.as_deref().is_some_and(|e| e.starts_with("http://"));
        let options = ClientOptions::new()
            .with_allow_http(http)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(120));
        // A remote that is down fails a call within about half a minute;
        // the caller decides when to try again.
        let retry = RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(30), ..Default::default() };
        let (store, parts): (Arc<dyn ObjectStore>, Option<Arc<dyn MultipartStore>>) = match scheme {
            "s3" => {
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(&bucket)
                    .with_client_options(options)
                    .with_retry(retry);
                if let Some(endpoint) = &config.endpoint {
                    b = b.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
                }
                if let Some(region) = &config.region {
                    b = b.with_region(region);
                }
                let s = Arc::new(b.build().map_err(|e| bad(&e.to_string()))?);
                (s.clone(), Some(s))
            }
            "gs" => {
                let b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&bucket)
                    .with_client_options(options)
                    .with_retry(retry);
                let s = Arc::new(b.build().map_err(|e| bad(&e.to_string()))?);
                (s.clone(), Some(s))
            }
            "az" | "azure" => {
                let b = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(&bucket)
                    .with_client_options(options)
                    .with_retry(retry);
                let s = Arc::new(b.build().map_err(|e| bad(&e.to_string()))?);
                (s.clone(), Some(s))
            }
            "file" => {
                let dir = Path::new("/").join(rest);
                std::fs::create_dir_all(&dir).map_err(|e| BlobError::io(&dir, e))?;
                let s = object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(&e.to_string()))?;
                (Arc::new(s), None)
            }
            other => return Err(bad(&format!("`{other}://` is not a store expman knows (s3, gs, az, file)"))),
        };
        let prefix = if scheme == "file" { ObjectPath::default() } else { ObjectPath::from(prefix.as_str()) };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| BlobError::Remote(format!("cannot start the upload runtime: {e}")))?;
        let id = crate::hash::hex(&Sha256::digest(url.as_bytes()))[..16].to_string();
        let missing = |vars: &[&str]| vars.iter().all(|v| std::env::var_os(v).is_none_or(|x| x.is_empty()));
        let hint = match scheme {
            "s3" if missing(&["AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]) => {
                Some("no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment; expman reads credentials only from there (or an EC2 instance's role)".to_string())
            }
            "gs" if missing(&["GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT_PATH"]) => {
                Some("no GOOGLE_APPLICATION_CREDENTIALS in the environment".to_string())
            }
            _ => None,
        };
        Ok(Remote {
            marks: local.root().join("pushed").join(&id),
            uploads: local.root().join("uploads"),
            url,
            prefix,
            store,
            parts,
            runtime,
            id,
            hint,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// An error of the remote, with a hint when the environment lacks the
    /// credentials (the S3 client then asks the EC2 instance metadata
    /// service, whose refusal says little).
    fn error(&self, e: impl std::fmt::Display) -> BlobError {
        let mut text = format!("{}: {e}", self.url);
        if let Some(hint) = &self.hint {
            text.push_str(&format!(" ({hint})"));
        }
        BlobError::Remote(text)
    }

    fn object(&self, sha256: &str, encrypted: bool) -> ObjectPath {
        let name = if encrypted { format!("{sha256}.enc") } else { sha256.to_string() };
        let mut parts: Vec<String> = self.prefix.parts().map(|p| p.as_ref().to_string()).collect();
        parts.push(sha256[..2].to_string());
        parts.push(name);
        ObjectPath::from_iter(parts)
    }

    /// Whether blob `sha256` was sent from here.
    pub fn is_pushed(&self, sha256: &str) -> bool {
        crate::is_digest(sha256) && self.marks.join(sha256).exists()
    }

    fn mark(&self, sha256: &str) -> Result<(), BlobError> {
        std::fs::create_dir_all(&self.marks).map_err(|e| BlobError::io(&self.marks, e))?;
        let mark = self.marks.join(sha256);
        std::fs::write(&mark, b"").map_err(|e| BlobError::io(&mark, e))
    }

    /// Sends blob `sha256` unless the remote has it.
    pub fn push(&self, store: &BlobStore, sha256: &str) -> Result<Pushed, BlobError> {
        if self.is_pushed(sha256) {
            return Ok(Pushed::Already);
        }
        let (file, encrypted) = store.locate(sha256)?.ok_or_else(|| BlobError::Missing(sha256.to_string()))?;
        let size = std::fs::metadata(&file).map_err(|e| BlobError::io(&file, e))?.len();
        let object = self.object(sha256, encrypted);
        let state = self.uploads.join(format!("{}-{sha256}.json", self.id));
        let there = self.runtime.block_on(self.store.head(&object));
        match there {
            Ok(meta) if meta.size == size => {
                let _ = std::fs::remove_file(&state);
                self.mark(sha256)?;
                return Ok(Pushed::Already);
            }
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.error(e)),
        }
        let resumed_at = match (&self.parts, size >= MULTIPART_FROM) {
            (Some(parts), true) => self.send_in_parts(parts.as_ref(), &file, size, &object, &state)?,
            _ => {
                let bytes = std::fs::read(&file).map_err(|e| BlobError::io(&file, e))?;
                self.runtime.block_on(self.store.put(&object, PutPayload::from(bytes))).map_err(|e| self.error(e))?;
                None
            }
        };
        self.mark(sha256)?;
        Ok(Pushed::Sent { bytes: size, resumed_at })
    }

    /// Sends many blobs: those under [`MULTIPART_FROM`] `concurrency` at a
    /// time (one PUT each, no HEAD first: a blob's name is its content, so
    /// sending it again changes nothing), larger ones one after the other
    /// as [`Remote::push`] does. Each blob's outcome, in no set order.
    pub fn push_many(
        &self,
        store: &BlobStore,
        digests: &[String],
        concurrency: usize,
    ) -> Vec<(String, Result<Pushed, BlobError>)> {
        let mut small = Vec::new();
        let mut out = Vec::new();
        for digest in digests {
            if self.is_pushed(digest) {
                out.push((digest.clone(), Ok(Pushed::Already)));
                continue;
            }
            match store.locate(digest) {
                Ok(Some((file, encrypted))) => match std::fs::metadata(&file) {
                    Ok(meta) if meta.len() < MULTIPART_FROM => {
                        small.push((digest.clone(), file, encrypted, meta.len()))
                    }
                    Ok(_) => out.push((digest.clone(), self.push(store, digest))),
                    Err(e) => out.push((digest.clone(), Err(BlobError::io(&file, e)))),
                },
                Ok(None) => out.push((digest.clone(), Err(BlobError::Missing(digest.clone())))),
                Err(e) => out.push((digest.clone(), Err(e))),
            }
        }
        let sends = futures_util::stream::iter(small.into_iter().map(|(digest, file, encrypted, size)| async move {
            let object = self.object(&digest, encrypted);
            let sent = match std::fs::read(&file) {
                Ok(bytes) => self
                    .store
                    .put(&object, PutPayload::from(bytes))
                    .await
                    .map_err(|e| self.error(e))
                    .and_then(|_| self.mark(&digest))
                    .map(|()| Pushed::Sent { bytes: size, resumed_at: None }),
                Err(e) => Err(BlobError::io(&file, e)),
            };
            (digest, sent)
        }))
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>();
        out.extend(self.runtime.block_on(sends));
        out
    }

    /// A multipart upload, its progress saved after every part; `Some(k)`
    /// when it went on from part `k` of an earlier try.
    fn send_in_parts(
        &self,
        parts: &dyn MultipartStore,
        file: &Path,
        size: u64,
        object: &ObjectPath,
        state: &Path,
    ) -> Result<Option<usize>, BlobError> {
        let saved: Option<Upload> = std::fs::read_to_string(state).ok().and_then(|t| Upload::parse(&t));
        let (mut upload, resumed) = match saved.filter(|u| u.part_size == PART_SIZE) {
            Some(u) => {
                let at = u.parts.len();
                (u, Some(at))
            }
            None => {
                let id = self.runtime.block_on(parts.create_multipart(object)).map_err(|e| self.error(e))?;
                let u = Upload { id, part_size: PART_SIZE, parts: Vec::new() };
                u.save(state)?;
                (u, None)
            }
        };
        let count = size.div_ceil(PART_SIZE) as usize;
        let mut input = std::fs::File::open(file).map_err(|e| BlobError::io(file, e))?;
        let mut buf = vec![0u8; PART_SIZE as usize];
        while upload.parts.len() < count {
            let index = upload.parts.len();
            let offset = index as u64 * PART_SIZE;
            let len = (size - offset).min(PART_SIZE) as usize;
            input.seek(SeekFrom::Start(offset)).map_err(|e| BlobError::io(file, e))?;
            input.read_exact(&mut buf[..len]).map_err(|e| BlobError::io(file, e))?;
            let payload = PutPayload::from(buf[..len].to_vec());
            match self.runtime.block_on(parts.put_part(object, &upload.id, index, payload)) {
                Ok(part) => {
                    upload.parts.push(part.content_id);
                    upload.save(state)?;
                }
                Err(object_store::Error::NotFound { .. }) if resumed.is_some() => {
                    // The remote forgot the upload (restarted without its
                    // data): start it again, once.
                    let _ = std::fs::remove_file(state);
                    return self.send_in_parts(parts, file, size, object, state).map(|_| None);
                }
                Err(e) => return Err(self.error(e)),
            }
        }
        let ids = upload.parts.iter().map(|c| PartId { content_id: c.clone() }).collect();
        self.runtime.block_on(parts.complete_multipart(object, &upload.id, ids)).map_err(|e| self.error(e))?;
        let _ = std::fs::remove_file(state);
        Ok(resumed)
    }

    /// Brings blob `sha256` from the remote into the local store, streamed
    /// to a temporary file and checked (a plain blob against its digest; an
    /// encrypted one when it is read, with the key); its size on disk.
    pub fn fetch(&self, store: &BlobStore, sha256: &str) -> Result<u64, BlobError> {
        if !crate::is_digest(sha256) {
            return Err(BlobError::BadDigest(sha256.to_string()));
        }
        for encrypted in [false, true] {
            let object = self.object(sha256, encrypted);
            let (tmp, mut file) = store.tmp_file()?;
            let result = self.runtime.block_on(async {
                let got = self.store.get(&object).await?;
                let mut stream = got.into_stream();
                let mut hasher = Sha256::new();
                let mut size = 0u64;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    hasher.update(&chunk);
                    size += chunk.len() as u64;
                    file.write_all(&chunk)
                        .map_err(|e| object_store::Error::Generic { store: "local file", source: Box::new(e) })?;
                }
                Ok::<_, object_store::Error>((size, crate::hash::hex(&hasher.finalize())))
            });
            let (size, digest) = match result {
                Ok(done) => done,
                Err(object_store::Error::NotFound { .. }) => {
                    let _ = std::fs::remove_file(&tmp);
                    continue;
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(self.error(e));
                }
            };
            if !encrypted && digest != sha256 {
                let _ = std::fs::remove_file(&tmp);
                return Err(BlobError::Corrupt {
                    what: format!("blob {sha256} from {}", self.url),
                    why: "its content does not match its SHA-256".into(),
                });
            }
            file.sync_all().map_err(|e| BlobError::io(&tmp, e))?;
            let blob = if encrypted { store.sealed_path(sha256) } else { store.plain_path(sha256) };
            store.settle(&tmp, &blob)?;
            self.mark(sha256)?;
            return Ok(size);
        }
        Err(BlobError::Remote(format!("{}: has no blob {sha256}", self.url)))
    }
}

/// An upload under way, as saved between parts.
struct Upload {
    id: String,
    part_size: u64,
    parts: Vec<String>,
}

impl Upload {
    fn parse(text: &str) -> Option<Upload> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(Upload {
            id: v["id"].as_str()?.to_string(),
            part_size: v["part_size"].as_u64()?,
            parts: v["parts"].as_array()?.iter().map(|p| p.as_str().map(str::to_string)).collect::<Option<_>>()?,
        })
    }

    fn save(&self, path: &Path) -> Result<(), BlobError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| BlobError::io(dir, e))?;
        }
        let text = serde_json::json!({"id": self.id, "part_size": self.part_size, "parts": self.parts}).to_string();
        let tmp = path.with_extension("json.part");
        std::fs::write(&tmp, text).map_err(|e| BlobError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| BlobError::io(path, e))
    }
}
