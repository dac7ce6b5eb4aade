//! Unpacking an artifact tarball, safe against hostile input.
//!
//! Refused, each with a message naming the entry: absolute paths, `..`
//! components, paths that pass through a symlink, symlinks whose target is
//! absolute or leaves the target directory, hard links to anything outside
//! it or not yet unpacked, device, fifo and other special entries, duplicate
//! entries, more entries or more bytes than the [`Limits`], and zstd frames
//! whose window exceeds the limit. Inside `.git`, `hooks/` and `config` are
//! never taken from the archive: hooks would run on the recipient's machine
//! and a config can name commands; a minimal config is written instead.
//!
//! The whole input is read, so a digest-verifying reader underneath checks
//! it. On a refusal the caller should discard the target directory: entries
//! before the bad one may already be there, but nothing is ever written
//! outside it.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Bounds on what an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries (files, directories, links).
    pub max_entries: u64,
    /// Most bytes of file content in total.
    pub max_bytes: u64,
    /// Largest zstd window, as a power of two (27 = 128 MiB).
    pub max_window_log: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_bytes: 64 << 30,
            max_window_log: 27,
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

fn in_git(rel: &Path, first: &str) -> bool {
    let mut c = rel.components();
    c.next().is_some_and(|x| x.as_os_str() == ".git")
        && c.next().is_some_and(|x| x.as_os_str() == first)
}

/// Unpacks a zstd-compressed tar stream into `target` (which must exist and
/// should be empty).
pub fn unpack(
    input: impl Read,
    target: &Path,
    limits: &Limits,
) -> Result<UnpackStats, UnpackError> {
    let _span = tracing::info_span!("unpacking repository", target = %target.display()).entered();
    let mut dec = zstd::stream::read::Decoder::new(input)?;
    dec.window_log_max(limits.max_window_log)?;
    let mut archive = tar::Archive::new(dec);
    let mut stats = UnpackStats::default();
    let mut saw_git = false;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        stats.entries += 1;
        if stats.entries > limits.max_entries {
            return Err(UnpackError::Limit {
                limit: format!("{} entries", limits.max_entries),
            });
        }
        let rel = clean_path(&raw)?;
        if rel.as_os_str() == ".git" {
            saw_git = true;
        }
        if in_git(&rel, "hooks") || in_git(&rel, "config") {
            continue;
        }
        check_parents(target, &rel, &raw)?;
        let dest = target.join(&rel);
        let kind = entry.header().entry_type();
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
    let trailing = io::copy(&mut (&mut rest).take(limits.max_bytes + 1), &mut io::sink())?;
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
            Path::new("../../c/../d")
        ));
    }

    #[test]
    fn paths_must_be_relative_and_plain() {
        assert!(clean_path(Path::new("a/./b")).is_ok());
        assert!(clean_path(Path::new("/etc/x")).is_err());
        assert!(clean_path(Path::new("a/../../b")).is_err());
        assert!(clean_path(Path::new(".")).is_err());
    }
}
