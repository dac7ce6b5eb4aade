//! The file-digest cache of path images (RUNFILE-1.1 §3): a SquashFS
//! file's sha256 and tree digest, keyed by (device, inode, size, mtime_ns,
//! ctime_ns), so that a replay of a 100 GiB image does not read it again
//! while the file is unchanged.
//!
//! One small file per (key, kind) under `$XDG_CACHE_HOME/dsi/digests`
//! (else `~/.cache/dsi/digests`), written to a temporary file and renamed,
//! so concurrent replays on one node never see half an entry. A value that
//! is not a well-formed digest is ignored. Any write to the file changes
//! its ctime, which the caller cannot set back, so a stale entry is never
//! found; a digest computed while the file changed (its key differs before
//! and after) is not stored. `--full` ([`super::ResolveOptions::full`])
//! ignores the cache. Nothing here is ever an error: without a usable cache
//! directory the digests are computed each time.

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

    fn file_name(&self, kind: DigestKind) -> String {
        format!(
            "{}-{}-{}-{}-{}.{}",
            self.dev,
            self.ino,
            self.size,
            self.mtime_ns,
            self.ctime_ns,
            kind.suffix()
        )
    }
}

/// Which digest an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestKind {
    /// `sha256:<hex>` of the file's bytes (V6).
    File,
    /// `rftree1+sha256:<hex>` of a SquashFS file's contents (V5).
    Tree,
    /// Whether a `ch-run` binary has `--feature=extglob` (`yes`, `no`): a
    /// property of the binary, so keyed like a digest of it.
    ChRunExtglob,
}

impl DigestKind {
    fn suffix(self) -> &'static str {
        match self {
            DigestKind::File => "sha256",
            DigestKind::Tree => "rftree1",
            DigestKind::ChRunExtglob => "extglob",
        }
    }

    fn well_formed(self, value: &str) -> bool {
        let prefix = match self {
            DigestKind::File => "sha256:",
            DigestKind::Tree => super::TREE_PREFIX,
            DigestKind::ChRunExtglob => return matches!(value, "yes" | "no"),
        };
        value.strip_prefix(prefix).is_some_and(|h| {
            h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
    }
}

/// A digest cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCache {
    dir: PathBuf,
}

impl DigestCache {
    /// The cache under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DigestCache { dir: dir.into() }
    }

    /// `$XDG_CACHE_HOME/dsi/digests`, else `$HOME/.cache/dsi/digests`; none
    /// without either (absolute paths only, as the XDG specification says).
    pub fn from_env() -> Option<Self> {
        let abs = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
        let base = std::env::var_os("XDG_CACHE_HOME")
            .and_then(abs)
            .or_else(|| {
                std::env::var_os("HOME")
                    .and_then(abs)
                    .map(|h| h.join(".cache"))
            })?;
        Some(DigestCache::new(base.join("dsi").join("digests")))
    }

    /// The cached digest of `kind` for the file with `key`.
    pub fn get(&self, key: &FileKey, kind: DigestKind) -> Option<String> {
        let text = fs::read_to_string(self.dir.join(key.file_name(kind))).ok()?;
        let value = text.trim_end();
        kind.well_formed(value).then(|| value.to_owned())
    }

    /// Stores `value` (a digest of `kind`) for `key`; failures are ignored
    /// (logged at debug level).
    pub fn put(&self, key: &FileKey, kind: DigestKind, value: &str) {
        if !kind.well_formed(value) {
            return;
        }
        if let Err(e) = self.try_put(key, kind, value) {
            tracing::debug!("digest cache {}: {e}", self.dir.display());
        }
    }

    fn try_put(&self, key: &FileKey, kind: DigestKind, value: &str) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        writeln!(tmp, "{value}")?;
        tmp.persist(self.dir.join(key.file_name(kind)))
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

    const H: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn entries_follow_the_file_and_reject_malformed_values() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("img.sqfs");
        fs::write(&f, b"hsqs").unwrap();
        let cache = DigestCache::new(d.path().join("cache"));
        let key = FileKey::of(&fs::metadata(&f).unwrap());
        assert_eq!(cache.get(&key, DigestKind::File), None);
        cache.put(&key, DigestKind::File, H);
        assert_eq!(cache.get(&key, DigestKind::File).as_deref(), Some(H));
        assert_eq!(cache.get(&key, DigestKind::Tree), None);
        // A malformed value is neither stored nor returned.
        cache.put(&key, DigestKind::Tree, "rftree1+sha256:xyz");
        assert_eq!(cache.get(&key, DigestKind::Tree), None);
        fs::write(
            cache.dir().join(key.file_name(DigestKind::Tree)),
            "rftree1+sha256:../../etc\n",
        )
        .unwrap();
        assert_eq!(cache.get(&key, DigestKind::Tree), None);
        // Appending a byte changes the key (size, mtime, ctime).
        fs::OpenOptions::new()
            .append(true)
            .open(&f)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        let changed = FileKey::of(&fs::metadata(&f).unwrap());
        assert_ne!(changed, key);
        assert_eq!(cache.get(&changed, DigestKind::File), None);
    }
}
