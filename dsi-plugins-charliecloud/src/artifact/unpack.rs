//! Unpacking an artifact tarball, safe against hostile input.
//!
//! Refused, each with a message naming the entry: absolute paths, `..`
//! components, paths that pass through a symlink, symlinks whose target is
//! absolute or leaves the target directory, hard links to anything outside
//! it or not yet unpacked, device, fifo and other special entries, duplicate
//! entries, more entries or more bytes than the [`Limits`], zstd frames
//! whose window exceeds the limit, and streams that expand more than the
//! limit's ratio (a decompression bomb is stopped after
//! [`RATIO_GRACE_BYTES`], not after `max_bytes`). Of `.git`, only what holds
//! history is taken ([`super::git_rules`]): hooks, submodule metadata,
//! `commondir`, `worktrees/`, alternates and nested `.git` directories are
//! refused, everything else that is not objects or refs is left out, and a
//! minimal config is written.
//!
//! The whole input is read, so a digest-verifying reader underneath checks
//! it. On a refusal the caller should discard the target directory: entries
//! before the bad one may already be there, but nothing is ever written
//! outside it.

use std::cell::Cell;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use super::git_rules::{self, GitEntry};

/// Decompressed bytes that are always accepted, whatever the compression
/// ratio (small repositories of very compressible text never hit
/// [`Limits::max_ratio`]).
pub const RATIO_GRACE_BYTES: u64 = 64 << 20;

/// Bounds on what an archive may unpack to, and on what dsi reads from the
/// repository afterwards (see `stored`: git objects are inflated after the
/// tar stream, so they have budgets of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries (files, directories, links).
    pub max_entries: u64,
    /// Most bytes of file content in total.
    pub max_bytes: u64,
    /// Largest zstd window, as a power of two (27 = 128 MiB).
    pub max_window_log: u32,
    /// Most decompressed (tar) bytes per compressed byte read, checked once
    /// more than [`RATIO_GRACE_BYTES`] have come out. Git objects are
    /// compressed already, so real repositories stay far below it; a
    /// zstd bomb (kilobytes that expand to gigabytes) is stopped early
    /// instead of filling the disk up to `max_bytes`.
    pub max_ratio: u64,
    /// Most bytes any one git object of the unpacked repository may inflate
    /// to when dsi reads it (the Runfile, trees, a commit to materialise).
    pub max_object_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_bytes: 64 << 30,
            max_window_log: 27,
            max_ratio: 1024,
            max_object_bytes: 1 << 30,
        }
    }
}

/// Why unpacking stopped.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The archive contains something refused.
    #[error("refusing archive entry '{entry}': {reason}")]
    Refused {
        /// The entry's path as written in the archive.
        entry: String,
        /// Why.
        reason: String,
    },
    /// The archive exceeds a limit.
    #[error("archive exceeds the limit of {limit}")]
    Limit {
        /// Which limit, e.g. `1000 entries`.
        limit: String,
    },
    /// The stream is not a valid zstd-compressed tar, or I/O failed.
    #[error("cannot unpack archive: {0}")]
    Io(#[from] io::Error),
    /// The stored bytes do not match their digest.
    #[error("{0}")]
    Corrupt(String),
    /// The repository's objects exceed their read budgets (see `stored`).
    #[error("{0}")]
    Hostile(String),
}

impl From<UnpackError> for dsi_core::Error {
    fn from(e: UnpackError) -> Self {
        match e {
            UnpackError::Corrupt(m) => dsi_core::Error::Corrupt(m),
            UnpackError::Io(io) if io.kind() == io::ErrorKind::InvalidData => {
                dsi_core::Error::InvalidData(format!("cannot unpack archive: {io}"))
            }
            UnpackError::Io(io) => dsi_core::Error::io("unpacking an archive", io),
            other => dsi_core::Error::InvalidData(other.to_string()),
        }
    }
}

/// What was unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnpackStats {
    /// Entries created.
    pub entries: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Compressed bytes read (the stored size).
    pub compressed: u64,
}

fn refused(entry: &Path, reason: impl Into<String>) -> UnpackError {
    UnpackError::Refused {
        entry: entry.display().to_string(),
        reason: reason.into(),
    }
}

/// The entry path as normal components only.
fn clean_path(raw: &Path) -> Result<PathBuf, UnpackError> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(refused(raw, "absolute path")),
            Component::ParentDir => return Err(refused(raw, "'..' in path")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(refused(raw, "empty path"));
    }
    Ok(out)
}

/// Whether a symlink at `link` (relative) pointing to `target` stays inside.
fn link_stays_inside(link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = link.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Whether a symlink target has a `..` after a normal component: `a/..`
/// resolves through `a`, which may itself be a symlink (`a -> .` makes
/// `b -> a/..` point at the parent of the target directory), so the lexical
/// check of [`link_stays_inside`] only holds for targets without it.
fn climbs_after_descending(target: &Path) -> bool {
    let mut descended = false;
    for c in target.components() {
        match c {
            Component::Normal(_) => descended = true,
            Component::ParentDir if descended => return true,
            _ => {}
        }
    }
    false
}

/// Refuses a path whose existing parents include a symlink, or that exists.
fn check_parents(root: &Path, rel: &Path, raw: &Path) -> Result<(), UnpackError> {
    let mut cur = root.to_path_buf();
    let comps: Vec<_> = rel.components().collect();
    for (i, c) in comps.iter().enumerate() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refused(raw, "path passes through a symlink"));
            }
            Ok(m) if i + 1 == comps.len() && !m.is_dir() => {
                return Err(refused(raw, "duplicate entry"));
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Counts the bytes read through it, and remembers whether reading failed
/// (so that the layers above can tell the input's errors from their own).
struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
    failed: Rc<Cell<bool>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.failed.set(true);
            }
        })?;
        self.count.set(self.count.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// The decompressed stream; fails (and sets `tripped`) once it has grown
/// past [`RATIO_GRACE_BYTES`] and more than `max_ratio` times the
/// compressed bytes read.
/// Errors of the decoder itself (not of the input) become `InvalidData`:
/// the archive is bad, not the disk.
struct RatioGuard<R> {
    inner: R,
    out: u64,
    compressed: Rc<Cell<u64>>,
    input_failed: Rc<Cell<bool>>,
    max_ratio: u64,
    tripped: Rc<Cell<bool>>,
}

impl<R: Read> Read for RatioGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            if self.input_failed.get() || e.kind() == io::ErrorKind::Interrupted {
                e
            } else {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad zstd stream: {e}"))
            }
        })?;
        self.out = self.out.saturating_add(n as u64);
        if self.out > RATIO_GRACE_BYTES
            && self.out > self.compressed.get().saturating_mul(self.max_ratio)
        {
            self.tripped.set(true);
            return Err(io::Error::other("decompression ratio limit exceeded"));
        }
        Ok(n)
    }
}

/// Unpacks a zstd-compressed tar stream into `target` (which must exist and
/// should be empty).
pub fn unpack(
    input: impl Read,
    target: &Path,
    limits: &Limits,
) -> Result<UnpackStats, UnpackError> {
    let _span = tracing::info_span!("unpacking repository", target = %target.display()).entered();
    let compressed = Rc::new(Cell::new(0));
    let tripped = Rc::new(Cell::new(false));
    let input_failed = Rc::new(Cell::new(false));
    let counted = Counted {
        inner: input,
        count: Rc::clone(&compressed),
        failed: Rc::clone(&input_failed),
    };
    let mut dec = zstd::stream::read::Decoder::new(counted)?;
    dec.window_log_max(limits.max_window_log)?;
    let guarded = RatioGuard {
        inner: dec,
        out: 0,
        compressed,
        input_failed: Rc::clone(&input_failed),
        max_ratio: limits.max_ratio.max(1),
        tripped: Rc::clone(&tripped),
    };
    let compressed = Rc::clone(&guarded.compressed);
    match unpack_tar(tar::Archive::new(guarded), target, limits, &input_failed) {
        Err(_) if tripped.get() => Err(UnpackError::Limit {
            limit: format!("a {}:1 compression ratio", limits.max_ratio.max(1)),
        }),
        Ok(stats) => Ok(UnpackStats {
            compressed: compressed.get(),
            ..stats
        }),
        result => result,
    }
}

fn unpack_tar(
    mut archive: tar::Archive<impl Read>,
    target: &Path,
    limits: &Limits,
    input_failed: &Cell<bool>,
) -> Result<UnpackStats, UnpackError> {
    // A malformed tar header is bad data too, unless reading the input failed.
    let bad_tar = |e: io::Error| {
        if input_failed.get() || e.kind() == io::ErrorKind::InvalidData {
            e
        } else {
            io::Error::new(io::ErrorKind::InvalidData, format!("bad tar stream: {e}"))
        }
    };
    let mut stats = UnpackStats::default();
    let mut saw_git = false;
    for entry in archive.entries()? {
        let mut entry = entry.map_err(bad_tar)?;
        let raw = entry.path()?.into_owned();
        stats.entries += 1;
        if stats.entries > limits.max_entries {
            return Err(UnpackError::Limit {
                limit: format!("{} entries", limits.max_entries),
            });
        }
        let kind = entry.header().entry_type();
        // `./` (the target itself, as `tar -C dir .` writes it) is no entry.
        if kind == tar::EntryType::Directory
            && raw.components().all(|c| matches!(c, Component::CurDir))
        {
            continue;
        }
        let rel = clean_path(&raw)?;
        // Git reads hooks and config through `.git`: a `.git` that is a
        // symlink (to another directory of the archive) or a file (`gitdir:
        // elsewhere`) would bring both in past the filter below.
        if rel.as_os_str() == ".git" && kind != tar::EntryType::Directory {
            return Err(refused(&raw, "'.git' must be a directory"));
        }
        let rel_text = rel.to_string_lossy();
        if git_rules::nested_git(&rel_text) {
            return Err(refused(
                &raw,
                "nested git metadata (a submodule's or an embedded repository's .git)",
            ));
        }
        if let Some(in_git) = rel_text
            .strip_prefix(".git/")
            .or((rel_text == ".git").then_some(""))
        {
            saw_git = true;
            let is_dir = kind == tar::EntryType::Directory;
            if !is_dir && !matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous) {
                return Err(refused(
                    &raw,
                    "only files and directories are accepted inside .git",
                ));
            }
            match git_rules::classify(in_git, is_dir) {
                GitEntry::Keep => {}
                GitEntry::Drop => continue,
                GitEntry::Refuse(why) => return Err(refused(&raw, why)),
            }
        }
        check_parents(target, &rel, &raw)?;
        let dest = target.join(&rel);
        match kind {
            tar::EntryType::Directory => {
                fs::create_dir_all(&dest)?;
                fs::set_permissions(&dest, fs::Permissions::from_mode(0o755))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size()?;
                if stats.bytes.saturating_add(size) > limits.max_bytes {
                    return Err(UnpackError::Limit {
                        limit: format!("{} bytes", limits.max_bytes),
                    });
                }
                if let Some(p) = dest.parent() {
                    fs::create_dir_all(p)?;
                }
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&dest)?;
                let n = io::copy(&mut (&mut entry).take(size), &mut f)?;
                stats.bytes += n;
                let exec = entry.header().mode().unwrap_or(0o644) & 0o111 != 0;
                fs::set_permissions(
                    &dest,
                    fs::Permissions::from_mode(if exec { 0o755 } else { 0o644 }),
                )?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()?
                    .ok_or_else(|| refused(&raw, "symlink without a target"))?;
                if climbs_after_descending(&link) {
                    return Err(refused(
                        &raw,
                        format!(
                            "symlink target '{}' has '..' after a name (it could leave the target directory through another symlink)",
                            link.display()
                        ),
                    ));
                }
                if !link_stays_inside(&rel, &link) {
                    return Err(refused(
                        &raw,
                        format!(
                            "symlink target '{}' leaves the target directory",
                            link.display()
                        ),
                    ));
                }
                if let Some(p) = dest.parent() {
                    fs::create_dir_all(p)?;
                }
                std::os::unix::fs::symlink(&link, &dest)?;
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name()?
                    .ok_or_else(|| refused(&raw, "hard link without a target"))?;
                let link_rel = clean_path(&link).map_err(|_| {
                    refused(
                        &raw,
                        format!(
                            "hard link target '{}' leaves the target directory",
                            link.display()
                        ),
                    )
                })?;
                let src = target.join(&link_rel);
                let ok = fs::symlink_metadata(&src).is_ok_and(|m| m.is_file());
                if !ok {
                    return Err(refused(
                        &raw,
                        format!(
                            "hard link target '{}' is not a file unpacked before it",
                            link.display()
                        ),
                    ));
                }
                check_parents(target, &link_rel, &raw).or_else(|e| match e {
                    // The target itself exists by construction; only symlinked parents matter.
                    UnpackError::Refused { ref reason, .. } if reason == "duplicate entry" => {
                        Ok(())
                    }
                    e => Err(e),
                })?;
                if let Some(p) = dest.parent() {
                    fs::create_dir_all(p)?;
                }
                fs::hard_link(&src, &dest)?;
            }
            tar::EntryType::Char => return Err(refused(&raw, "character device")),
            tar::EntryType::Block => return Err(refused(&raw, "block device")),
            tar::EntryType::Fifo => return Err(refused(&raw, "fifo")),
            other => return Err(refused(&raw, format!("unsupported entry type {other:?}"))),
        }
    }
    // Read the stream to its end, so that a verifying reader underneath sees
    // all of it (and checks its digest); bounded, since after the tar's end
    // marker a hostile stream could still expand to any size.
    let mut rest = archive.into_inner();
    let trailing = io::copy(
        &mut (&mut rest).take(limits.max_bytes.saturating_add(1)),
        &mut io::sink(),
    )?;
    if trailing > limits.max_bytes {
        return Err(UnpackError::Limit {
            limit: format!("{} bytes", limits.max_bytes),
        });
    }
    if saw_git {
        let cfg = super::pack::safe_config(0, None);
        fs::write(target.join(".git/config"), cfg)?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_containment_is_lexical_from_the_link() {
        assert!(link_stays_inside(Path::new("a/l"), Path::new("../b")));
        assert!(link_stays_inside(Path::new("l"), Path::new("b/c")));
        assert!(!link_stays_inside(Path::new("l"), Path::new("../x")));
        assert!(!link_stays_inside(Path::new("a/l"), Path::new("../../x")));
        assert!(!link_stays_inside(Path::new("l"), Path::new("/etc/passwd")));
        assert!(link_stays_inside(
            Path::new("a/b/l"),
            Path::new("../../c/d")
        ));
        assert!(climbs_after_descending(Path::new("../../c/../d")));
        assert!(climbs_after_descending(Path::new("a/..")));
        assert!(!climbs_after_descending(Path::new("../../c/./d")));
    }

    /// A zstd tar of raw entries (path, type, link target, content), written
    /// without the tar crate's path checks.
    fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, kind, link, data) in entries {
            let mut h = tar::Header::new_old();
            h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        zstd::encode_all(&out[..], 1).unwrap()
    }

    #[test]
    fn a_symlink_cannot_climb_out_through_another_symlink() {
        // Regression: `a -> .` then `.git -> a/..` passed the lexical check,
        // and the final `.git/config` write landed in the parent directory.
        use tar::EntryType::{Directory, Regular, Symlink};
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("t");
        fs::create_dir(&target).unwrap();
        let bad = raw_tar(&[("a", Symlink, ".", b""), ("b", Symlink, "a/..", b"")]);
        let e = unpack(&bad[..], &target, &Limits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "refusing archive entry 'b': symlink target 'a/..' has '..' after a name \
             (it could leave the target directory through another symlink)"
        );
        let names: Vec<_> = fs::read_dir(parent.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["t"]);

        // `.git` must be a real directory: as a symlink or a `gitdir:` file it
        // would bring in the hooks and config the filter leaves out.
        for (entries, reason) in [
            (
                raw_tar(&[("g", Directory, "", b""), (".git", Symlink, "g", b"")]),
                "refusing archive entry '.git': '.git' must be a directory",
            ),
            (
                raw_tar(&[(".git", Regular, "", b"gitdir: g\n")]),
                "refusing archive entry '.git': '.git' must be a directory",
            ),
            (
                raw_tar(&[
                    ("sub", Directory, "", b""),
                    ("sub/.git", Symlink, "../g", b""),
                ]),
                "refusing archive entry 'sub/.git': nested git metadata (a submodule's or an embedded repository's .git)",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let e = unpack(&entries[..], dir.path(), &Limits::default()).unwrap_err();
            assert_eq!(e.to_string(), reason);
        }
    }

    /// A tar whose one file is `frames` MiB of zeros, as concatenated zstd
    /// frames: a few hundred bytes per 64 MiB.
    fn zero_bomb(frames: usize) -> Vec<u8> {
        let size = (frames as u64) << 20;
        let mut h = tar::Header::new_gnu();
        h.set_path("big").unwrap();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut out = zstd::encode_all(&h.as_bytes()[..], 1).unwrap();
        let frame = zstd::encode_all(&vec![0u8; 1 << 20][..], 1).unwrap();
        for _ in 0..frames {
            out.extend_from_slice(&frame);
        }
        out.extend(zstd::encode_all(&[0u8; 1024][..], 1).unwrap());
        out
    }

    #[test]
    fn a_zstd_bomb_stops_at_the_ratio_limit_not_at_max_bytes() {
        // Regression: with only `max_bytes` (64 GiB by default), a stored
        // record of a few kilobytes could make checkout, show and replay
        // write gigabytes.
        let bomb = zero_bomb(256);
        assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
        let dir = tempfile::tempdir().unwrap();
        let e = unpack(&bomb[..], dir.path(), &Limits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "archive exceeds the limit of a 1024:1 compression ratio"
        );
        let written = fs::metadata(dir.path().join("big")).map_or(0, |m| m.len());
        assert!(written <= RATIO_GRACE_BYTES, "{written} bytes written");

        // Trailing data after the end of the archive is bounded the same way.
        let mut trailing = zstd::encode_all(&[0u8; 1024][..], 1).unwrap();
        let frame = zstd::encode_all(&vec![0u8; 1 << 20][..], 1).unwrap();
        for _ in 0..256 {
            trailing.extend_from_slice(&frame);
        }
        let dir = tempfile::tempdir().unwrap();
        let e = unpack(&trailing[..], dir.path(), &Limits::default()).unwrap_err();
        assert!(matches!(e, UnpackError::Limit { .. }), "{e}");

        // Below the grace, any ratio is accepted.
        let small = zero_bomb(2);
        let dir = tempfile::tempdir().unwrap();
        let stats = unpack(&small[..], dir.path(), &Limits::default()).unwrap();
        assert_eq!(stats.bytes, 2 << 20);
    }

    #[test]
    fn garbage_is_bad_data_not_an_io_error() {
        // Regression: a stored blob that is not a zstd tar was reported as
        // an I/O error (exit 74) with zstd's bare message.
        let dir = tempfile::tempdir().unwrap();
        let mut bad_sum = raw_tar(&[("f", tar::EntryType::Regular, "", b"x")]);
        bad_sum = zstd::decode_all(&bad_sum[..]).unwrap();
        bad_sum[148] ^= 1;
        let bad_sum = zstd::encode_all(&bad_sum[..], 1).unwrap();
        for (input, message) in [
            (
                b"not zstd at all".to_vec(),
                "cannot unpack archive: bad zstd stream: Unknown frame descriptor",
            ),
            (
                bad_sum,
                "cannot unpack archive: bad tar stream: archive header checksum mismatch",
            ),
        ] {
            let e = unpack(&input[..], dir.path(), &Limits::default()).unwrap_err();
            assert_eq!(e.to_string(), message);
            assert!(matches!(
                dsi_core::Error::from(e),
                dsi_core::Error::InvalidData(_)
            ));
        }
    }

    #[test]
    fn paths_must_be_relative_and_plain() {
        assert!(clean_path(Path::new("a/./b")).is_ok());
        assert!(clean_path(Path::new("/etc/x")).is_err());
        assert!(clean_path(Path::new("a/../../b")).is_err());
        assert!(clean_path(Path::new(".")).is_err());
    }
}
