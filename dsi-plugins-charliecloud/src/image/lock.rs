//! dsi's own per-image locks, so that the processes of a job array share
//! one storage safely.
//!
//! `ch-image` has one lock for its whole storage and fails at once when
//! another process holds it; two processes acquiring the same image race
//! (`undelete` of an image that the other just restored fails with "image
//! exists"). dsi therefore serialises everything it does to one image with
//! a lock file of its own, **next to** the storage (ch-image's storage root
//! holds only ch-image's files): `S.dsi-locks/F.lock` for storage `S` and
//! image path name `F` (`$TMPDIR/dsi-locks-UID/…` when `S`'s parent is not
//! writable).
//!
//! * Checking and running an image take the lock **shared**: any number of
//!   replays verify and run it at once, and a replay holds its share until
//!   its container has finished ([`ImageLease`]).
//! * Acquiring or repairing (`undelete`, `pull`, `delete`) takes it
//!   **exclusive**, then checks again: the first process acquires, the
//!   others wait, find the image present and verified, and proceed. A
//!   repair therefore never deletes an image that a dsi replay is running;
//!   it waits for those replays to end.
//!
//! Waiting is bounded by `DSI_IMAGE_LOCK_TIMEOUT` (seconds, default 1800);
//! after one second a message says what is waited for. The locks are
//! `flock(2)` locks (through `std::fs::File::lock`): released when the
//! process ends, however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Storage;

/// The default longest wait for an image lock.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Checking or running the image.
    Shared,
    /// Acquiring or repairing it.
    Exclusive,
}

/// A held image lock (shared or exclusive); released on drop.
#[derive(Debug, Clone, Default)]
pub struct ImageLease {
    file: Option<Arc<File>>,
}

impl ImageLease {
    /// Whether a lock is held.
    pub fn is_held(&self) -> bool {
        self.file.is_some()
    }

    /// Turns an exclusive lock into a shared one (`flock(LOCK_SH)` on the
    /// same file; never blocks, as no one else can hold the lock).
    pub(crate) fn downgrade(&self) -> std::io::Result<()> {
        match &self.file {
            Some(f) => f.lock_shared(),
            None => Ok(()),
        }
    }
}

/// Leases carry no data of their own: any two compare equal, so that
/// results holding one compare by their content.
impl PartialEq for ImageLease {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ImageLease {}

/// The longest wait, from `DSI_IMAGE_LOCK_TIMEOUT`.
pub(crate) fn timeout() -> Duration {
    std::env::var("DSI_IMAGE_LOCK_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
}

/// The lock directory for a storage: `S.dsi-locks`, else a private one
/// under the temporary directory keyed by `S`'s path.
fn lock_dir(storage: &Storage) -> std::io::Result<PathBuf> {
    let root = std::path::absolute(storage.root())?;
    let mut sibling = root.as_os_str().to_owned();
    sibling.push(".dsi-locks");
    let sibling = PathBuf::from(sibling);
    if std::fs::create_dir_all(&sibling).is_ok() {
        return Ok(sibling);
    }
    let key = {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(root.as_os_str().as_encoded_bytes())[..8])
    };
    let uid = rustix_uid();
    let dir = std::env::temp_dir()
        .join(format!("dsi-locks-{uid}"))
        .join(key);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn rustix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// The lock file of an image (its path name, or a digest of a long one).
fn lock_file(dir: &Path, for_path: &str) -> PathBuf {
    let name = if for_path.len() <= 200 {
        for_path.to_owned()
    } else {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(for_path.as_bytes()))
    };
    dir.join(format!("{name}.lock"))
}

/// Why a lock could not be had.
#[derive(Debug)]
pub(crate) enum LockError {
    /// The lock file could not be created or locked.
    Io(PathBuf, std::io::Error),
    /// Another process held it for longer than the timeout.
    Timeout(PathBuf, Duration),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Io(p, e) => write!(f, "cannot lock {}: {e}", p.display()),
            LockError::Timeout(p, t) => write!(
                f,
                "waited {} s for {} (another dsi process is acquiring, repairing or running this image); raise DSI_IMAGE_LOCK_TIMEOUT to wait longer",
                t.as_secs(),
                p.display()
            ),
        }
    }
}

/// Takes the lock of image `for_path` in `storage`, waiting up to
/// `timeout`.
pub(crate) fn lock(
    storage: &Storage,
    for_path: &str,
    name: &str,
    mode: Mode,
    timeout: Duration,
) -> Result<ImageLease, LockError> {
    let dir = lock_dir(storage).map_err(|e| LockError::Io(storage.root().to_path_buf(), e))?;
    let path = lock_file(&dir, for_path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LockError::Io(path.clone(), e))?;
    let start = Instant::now();
    let mut said = false;
    let mut delay = Duration::from_millis(20);
    loop {
        let tried = match mode {
            Mode::Shared => file.try_lock_shared(),
            Mode::Exclusive => file.try_lock(),
        };
        match tried {
            Ok(()) => {
                if said {
                    tracing::info!(
                        "image {name}: lock obtained after {:.1} s",
                        start.elapsed().as_secs_f64()
                    );
                }
                return Ok(ImageLease {
                    file: Some(Arc::new(file)),
                });
            }
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(LockError::Io(path, e)),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(LockError::Timeout(path, timeout));
        }
        if !said && waited >= Duration::from_secs(1) {
            said = true;
            tracing::info!(
                "image {name}: waiting for another dsi process ({}) — {}",
                match mode {
                    Mode::Shared => "it is acquiring or repairing the image",
                    Mode::Exclusive => "it is checking or running the image",
                },
                path.display()
            );
        }
        std::thread::sleep(delay.min(timeout.saturating_sub(waited)));
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_coexist_and_exclusive_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path().join("s"));
        let t = Duration::from_millis(200);
        let a = lock(&storage, "img", "img", Mode::Shared, t).unwrap();
        let b = lock(&storage, "img", "img", Mode::Shared, t).unwrap();
        assert!(a.is_held() && b.is_held());
        let e = lock(&storage, "img", "img", Mode::Exclusive, t).unwrap_err();
        assert!(matches!(e, LockError::Timeout(..)), "{e}");
        assert!(e.to_string().contains("DSI_IMAGE_LOCK_TIMEOUT"), "{e}");
        // Another image is independent.
        lock(&storage, "other", "other", Mode::Exclusive, t).unwrap();
        drop((a, b));
        let x = lock(&storage, "img", "img", Mode::Exclusive, t).unwrap();
        assert!(lock(&storage, "img", "img", Mode::Shared, t).is_err());
        drop(x);
        assert!(dir.path().join("s.dsi-locks/img.lock").is_file());
        assert!(
            !dir.path().join("s").exists(),
            "the storage root is not touched"
        );
    }

    #[test]
    fn a_waiting_exclusive_lock_gets_it_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path().join("s"));
        let held = lock(&storage, "img", "img", Mode::Shared, DEFAULT_TIMEOUT).unwrap();
        let s2 = storage.clone();
        let waiter = std::thread::spawn(move || {
            lock(&s2, "img", "img", Mode::Exclusive, Duration::from_secs(10)).map(|l| l.is_held())
        });
        std::thread::sleep(Duration::from_millis(150));
        drop(held);
        assert!(waiter.join().unwrap().unwrap());
    }

    #[test]
    fn long_names_are_hashed() {
        let long = "x".repeat(300);
        let p = lock_file(Path::new("/d"), &long);
        assert_eq!(p.file_name().unwrap().len(), 64 + 5);
    }
}
