//! A per-user cache of facts about files — a SquashFS image's digests, what
//! a program's binary answers about itself — keyed by the file's (device,
//! inode, size, mtime_ns, ctime_ns), so that a fact is reused only while
//! the file is unchanged.
//!
//! One small file per (key, kind) under `$XDG_CACHE_HOME/dsi/NAME` (else
//! `~/.cache/dsi/NAME`), written to a temporary file and renamed, so
//! concurrent processes on one node never see half an entry. Any write to a
//! file changes its ctime, which its owner cannot set back, so a stale entry
//! is never found; a package upgrade replaces a program's file (a new inode)
//! and its answers are asked again. Nothing here is ever an error: without a
//! usable cache directory the facts are computed each time.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The identity of a file's content as the file system states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileKey {
    /// The key of `meta` (of the resolved file, not a link).
    pub fn of(meta: &fs::Metadata) -> Self {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The name of this key's entry of `kind` in a cache directory.
    pub fn entry_name(&self, kind: &str) -> String {
        format!(
            "{}-{}-{}-{}-{}.{kind}",
            self.dev, self.ino, self.size, self.mtime_ns, self.ctime_ns
        )
    }
}

/// Whether `kind` may name entries: a short word of `[a-z0-9-]`.
fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= 64
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Largest entry read back, in bytes; a larger file is no entry of ours.
const MAX_ENTRY: u64 = 64 << 10;

/// A cache directory of facts about files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCache {
    dir: PathBuf,
}

impl FileCache {
    /// The cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileCache { dir: dir.into() }
    }

    /// `$XDG_CACHE_HOME/dsi/NAME`, else `$HOME/.cache/dsi/NAME`; none
    /// without either (absolute paths only, as the XDG specification says).
    pub fn user(name: &str) -> Option<Self> {
        let abs = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
        let base = std::env::var_os("XDG_CACHE_HOME")
            .and_then(abs)
            .or_else(|| {
                std::env::var_os("HOME")
                    .and_then(abs)
                    .map(|h| h.join(".cache"))
            })?;
        Some(FileCache::new(base.join("dsi").join(name)))
    }

    /// The entry of `kind` for the file with `key`, as stored.
    pub fn get(&self, key: &FileKey, kind: &str) -> Option<String> {
        if !valid_kind(kind) {
            return None;
        }
        let path = self.dir.join(key.entry_name(kind));
        if fs::metadata(&path).ok()?.len() > MAX_ENTRY {
            return None;
        }
        let text = fs::read_to_string(path).ok()?;
        // Written with one final line feed.
        text.strip_suffix('\n').map(str::to_owned)
    }

    /// Stores `value` as the entry of `kind` for `key`; failures are
    /// ignored (logged at debug level).
    pub fn put(&self, key: &FileKey, kind: &str, value: &str) {
        if !valid_kind(kind) || value.len() as u64 >= MAX_ENTRY {
            return;
        }
        if let Err(e) = self.try_put(key, kind, value) {
            tracing::debug!("cache {}: {e}", self.dir.display());
        }
    }

    fn try_put(&self, key: &FileKey, kind: &str, value: &str) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        writeln!(tmp, "{value}")?;
        tmp.persist(self.dir.join(key.entry_name(kind)))
            .map_err(|e| e.error)?;
        Ok(())
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_the_file() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("prog");
        fs::write(&f, b"#!").unwrap();
        let cache = FileCache::new(d.path().join("cache"));
        let key = FileKey::of(&fs::metadata(&f).unwrap());
        assert_eq!(cache.get(&key, "answer"), None);
        cache.put(&key, "answer", "line 1\nline 2");
        assert_eq!(cache.get(&key, "answer").as_deref(), Some("line 1\nline 2"));
        assert_eq!(cache.get(&key, "other"), None);
        // Kinds that could leave the directory are neither written nor read.
        cache.put(&key, "../x", "v");
        assert_eq!(cache.get(&key, "../x"), None);
        assert!(!d.path().join("x").exists());
        // An entry cut short (no final line feed) is not an entry.
        fs::write(cache.dir().join(key.entry_name("cut")), "half").unwrap();
        assert_eq!(cache.get(&key, "cut"), None);
        // Appending a byte changes the key (size, mtime, ctime).
        fs::OpenOptions::new()
            .append(true)
            .open(&f)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        let changed = FileKey::of(&fs::metadata(&f).unwrap());
        assert_ne!(changed, key);
        assert_eq!(cache.get(&changed, "answer"), None);
    }
}
