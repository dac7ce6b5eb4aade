//! The file-digest cache of path images (RUNFILE-1.1 §3): a SquashFS
//! file's sha256 and tree digest, keyed by (device, inode, size, mtime_ns,
//! ctime_ns), so that a replay of a 100 GiB image does not read it again
//! while the file is unchanged.
//!
//! One small file per (key, kind) under `$XDG_CACHE_HOME/dsi/digests`
//! (else `~/.cache/dsi/digests`; a [`dsi_core::file_cache::FileCache`]),
//! written to a temporary file and renamed,
//! so concurrent replays on one node never see half an entry. A value that
//! is not a well-formed digest is ignored. Any write to the file changes
//! its ctime, which the caller cannot set back, so a stale entry is never
//! found; a digest computed while the file changed (its key differs before
//! and after) is not stored. `--full` ([`super::ResolveOptions::full`])
//! ignores the cache. Nothing here is ever an error: without a usable cache
//! directory the digests are computed each time.

use std::path::{Path, PathBuf};

use dsi_core::file_cache::FileCache;
pub use dsi_core::file_cache::FileKey;

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
    files: FileCache,
}

impl DigestCache {
    /// The cache under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DigestCache {
            files: FileCache::new(dir),
        }
    }

    /// `$XDG_CACHE_HOME/dsi/digests`, else `$HOME/.cache/dsi/digests`; none
    /// without either (absolute paths only, as the XDG specification says).
    pub fn from_env() -> Option<Self> {
        FileCache::user("digests").map(|files| DigestCache { files })
    }

    /// The cached digest of `kind` for the file with `key`.
    pub fn get(&self, key: &FileKey, kind: DigestKind) -> Option<String> {
        self.files
            .get(key, kind.suffix())
            .filter(|v| kind.well_formed(v))
    }

    /// Stores `value` (a digest of `kind`) for `key`; failures are ignored
    /// (logged at debug level).
    pub fn put(&self, key: &FileKey, kind: DigestKind, value: &str) {
        if kind.well_formed(value) {
            self.files.put(key, kind.suffix(), value);
        }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        self.files.dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;

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
            cache.dir().join(key.entry_name(DigestKind::Tree.suffix())),
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
