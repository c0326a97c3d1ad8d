//! Key files on disk (the master key file, the session key file): written whole or not at all,
//! and created or changed by one process at a time.
//!
//! A crash while writing must not leave half a key: the text goes to a temporary file in the
//! same directory, which is synced, renamed over the key file, and the directory synced so
//! the rename itself survives a power cut. Two processes starting on an empty data directory
//! at once must not each create a key (one would seal with a key the file no longer holds):
//! creating, and rotating, happen under an exclusive lock on `<key file>.lock`, and whoever
//! comes second finds the key the first one wrote.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Held while a key file is created or changed; released when dropped.
#[derive(Debug)]
pub struct KeyFileLock {
    file: File,
}

impl Drop for KeyFileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Waits for, and takes, the exclusive lock of the key file at `path`.
pub fn lock(path: &Path) -> io::Result<KeyFileLock> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(sibling(path, ".lock"))?;
    file.lock()?;
    Ok(KeyFileLock { file })
}

/// Replaces the file at `path` with `contents` (mode 0600), all or nothing. Call it with the
/// file's [`lock`] held.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    // A fresh name, created new: nothing planted at a predictable name (a link, a file with
    // other permissions) is ever written through.
    let mut nonce = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
        .map_err(|_| io::Error::other("no randomness for a temporary file name"))?;
    let suffix: String = nonce.iter().map(|byte| format!("{byte:02x}")).collect();
    let temporary = sibling(path, &format!(".{suffix}.tmp"));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    if let Err(err) = written.and_then(|()| fs::rename(&temporary, path)) {
        let _ = fs::remove_file(&temporary);
        return Err(err);
    }
    sync_directory(path)
}

/// Makes a rename in `path`'s directory durable.
fn sync_directory(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        File::open(directory)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_whole_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("session.key");
        let _lock = lock(&path).expect("lock");
        write_atomically(&path, b"first").expect("write");
        write_atomically(&path, b"second").expect("write");
        assert_eq!(fs::read(&path).expect("read"), b"second");
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .expect("list")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names, ["session.key", "session.key.lock"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn the_lock_is_held_by_one_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let held = lock(&path).expect("lock");
        let other = OpenOptions::new()
            .write(true)
            .open(sibling(&path, ".lock"))
            .expect("open");
        assert!(other.try_lock().is_err(), "taken while held");
        drop(held);
        other.try_lock().expect("free once released");
    }
}
