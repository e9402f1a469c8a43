//! The store on real files in a scratch directory.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("expman-blobs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

#[test]
fn the_same_file_in_ten_runs_is_one_blob_and_every_run_keeps_its_path() {
    let ws = scratch("dedup");
    let store = BlobStore::for_workspace(&ws);
    let checkpoint = vec![42u8; 300_000];
    let mut digests = Vec::new();
    for run in 0..10 {
        let file = ws.join(format!("runs/r{run}/checkpoints/model.pt"));
        write(&file, &checkpoint);
        let stored = store.absorb(&file).unwrap();
        assert_eq!(stored.new, run == 0);
        assert!(stored.linked && !stored.removed);
        assert_eq!(std::fs::read(&file).unwrap(), checkpoint, "run {run} still reads its checkpoint");
        digests.push(stored.sha256);
    }
    assert!(digests.iter().all(|d| d == &digests[0]));
    let blobs = store.list().unwrap();
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].links, 11, "the blob and ten run files are one inode");
    assert_eq!(blobs[0].size, 300_000);
    let blob = store.locate(&digests[0]).unwrap().unwrap().0;
    assert_eq!(std::fs::metadata(&blob).unwrap().permissions().mode() & 0o777, 0o444);
    // Absorbing again changes nothing.
    let again = store.absorb(&ws.join("runs/r3/checkpoints/model.pt")).unwrap();
    assert!(!again.new && again.linked);
    assert!(
        !ws.join("runs/r3/checkpoints")
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().contains("expman-link") })
    );
}

#[test]
fn put_copies_and_leaves_the_file_alone_and_read_to_checks() {
    let ws = scratch("put");
    let outside = scratch("put-outside").join("data.csv");
    write(&outside, b"a,b\n1,2\n");
    let store = BlobStore::for_workspace(&ws);
    let stored = store.put(&outside).unwrap();
    assert!(stored.new && !stored.linked);
    assert_eq!(std::fs::metadata(&outside).unwrap().nlink(), 1, "the original is not linked");
    assert!(!store.put(&outside).unwrap().new);
    let out = ws.join("back/data.csv");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    assert_eq!(store.read_to(&stored.sha256, &out, "data.csv").unwrap(), 8);
    assert_eq!(std::fs::read(&out).unwrap(), b"a,b\n1,2\n");

    // A blob changed on disk is refused, naming the artifact, and the
    // destination is left as it was.
    let blob = store.locate(&stored.sha256).unwrap().unwrap().0;
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&blob, b"a,b\n9,9\n").unwrap();
    let err = store.read_to(&stored.sha256, &out, "run abc/data.csv").unwrap_err();
    assert!(matches!(err, BlobError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("run abc/data.csv"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"a,b\n1,2\n");
    assert!(
        !out.parent().unwrap().read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("part"))
    );
}

#[test]
fn encrypted_blobs_round_trip_and_the_plaintext_leaves_the_workspace() {
    let ws = scratch("crypt");
    let key = Key::generate().unwrap();
    let store = BlobStore::for_workspace(&ws).with_key(Some(key.clone()));
    let file = ws.join("runs/r1/secret.bin");
    let data: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(&file, &data);
    let stored = store.absorb(&file).unwrap();
    assert!(stored.new && stored.removed && !file.exists());
    let (blob, encrypted) = store.locate(&stored.sha256).unwrap().unwrap();
    assert!(encrypted && blob.to_string_lossy().ends_with(".enc"));
    let on_disk = std::fs::read(&blob).unwrap();
    assert!(!on_disk.windows(64).any(|w| data.windows(64).next() == Some(w)), "no plaintext on disk");

    let out = ws.join("secret.out");
    assert_eq!(store.read_to(&stored.sha256, &out, "secret.bin").unwrap(), data.len() as u64);
    assert_eq!(std::fs::read(&out).unwrap(), data);

    let keyless = BlobStore::for_workspace(&ws);
    let err = keyless.verify(&stored.sha256, "run r1/secret.bin").unwrap_err().to_string();
    assert!(err.contains("EXPMAN_ARTIFACT_KEY") && err.contains("run r1/secret.bin"), "{err}");
    let wrong = BlobStore::for_workspace(&ws).with_key(Some(Key::generate().unwrap()));
    assert!(matches!(wrong.verify(&stored.sha256, "x"), Err(BlobError::Corrupt { .. })));

    let mut tampered = on_disk.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x40;
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&blob, &tampered).unwrap();
    let err = store.verify(&stored.sha256, "run r1/secret.bin").unwrap_err().to_string();
    assert!(err.contains("run r1/secret.bin"), "{err}");
}

#[test]
fn removing_and_listing_and_names_that_are_not_digests() {
    let ws = scratch("remove");
    let store = BlobStore::for_workspace(&ws);
    let a = ws.join("runs/a/x");
    let b = ws.join("runs/b/y");
    write(&a, b"one");
    write(&b, b"two");
    let sa = store.absorb(&a).unwrap().sha256;
    let sb = store.absorb(&b).unwrap().sha256;
    assert_eq!(store.list().unwrap().len(), 2);
    // Still linked from a run file: removing the blob frees nothing yet.
    assert_eq!(store.remove(&sa).unwrap(), 0);
    std::fs::remove_file(&b).unwrap();
    assert_eq!(store.remove(&sb).unwrap(), 3);
    assert!(store.list().unwrap().is_empty());
    assert_eq!(std::fs::read(&a).unwrap(), b"one");
    assert!(matches!(store.locate("../../etc/passwd"), Err(BlobError::BadDigest(_))));
    assert!(matches!(store.remove("ab"), Err(BlobError::BadDigest(_))));
    assert!(matches!(store.read_to(&sa, &ws.join("o"), "x"), Err(BlobError::Missing(_))));
}

/// A `file://` remote: what object_store does for every scheme, on disk.
#[cfg(feature = "remote")]
#[test]
fn a_file_remote_gets_each_blob_once_and_gives_it_back() {
    use crate::remote::{Pushed, Remote};
    let ws = scratch("remote-here");
    let there = scratch("remote-there");
    let bucket = scratch("remote-bucket");
    let store = BlobStore::for_workspace(&ws);
    let mut digests = Vec::new();
    for (i, data) in [&b"alpha"[..], b"beta", b"gamma"].iter().enumerate() {
        let file = ws.join(format!("runs/r{i}/f.txt"));
        write(&file, data);
        digests.push(store.absorb(&file).unwrap().sha256);
    }
    let config = RemoteConfig { url: format!("file://{}", bucket.display()), endpoint: None, region: None };
    let remote = Remote::open(&config, &store).unwrap();
    assert_eq!(remote.push(&store, &digests[0]).unwrap(), Pushed::Sent { bytes: 5, resumed_at: None });
    assert_eq!(remote.push(&store, &digests[0]).unwrap(), Pushed::Already);
    let many = remote.push_many(&store, &digests, 4);
    let sent = many.iter().filter(|(_, r)| matches!(r, Ok(Pushed::Sent { .. }))).count();
    assert_eq!((many.len(), sent), (3, 2), "{many:?}");
    assert!(bucket.join(&digests[1][..2]).join(&digests[1]).is_file());

    // Another workspace's store, the same remote: fetched, checked, kept.
    let other = BlobStore::for_workspace(&there);
    let remote_there = Remote::open(&config, &other).unwrap();
    assert_eq!(remote_there.fetch(&other, &digests[2]).unwrap(), 5);
    let out = there.join("gamma.txt");
    other.read_to(&digests[2], &out, "f.txt").unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"gamma");
    // A remote copy that was changed is refused, and nothing is kept.
    let object = bucket.join(&digests[1][..2]).join(&digests[1]);
    std::fs::write(&object, b"tampered").unwrap();
    assert!(matches!(remote_there.fetch(&other, &digests[1]), Err(BlobError::Corrupt { .. })));
    assert!(!other.contains(&digests[1]));
    assert!(remote_there.fetch(&other, &"0".repeat(64)).is_err());
}
