//! Packing a repository directory into a deterministic tar + zstd stream.
//!
//! Entries are sorted by path bytes; times are 0, owner and group 0 with no
//! names, modes normalised (directories 0755, files 0755 if executable else
//! 0644, symlinks 0777). Of `.git` only what holds history is packed
//! ([`super::git_rules`]: objects, refs, `HEAD`, `packed-refs`, `shallow`):
//! no index, logs, hooks, submodule metadata (whose config may carry
//! credentials) or other files, and `config` is replaced by a minimal one
//! (no remote URLs, no commands such as `core.fsmonitor`). A repository
//! that borrows objects from another (alternates, `commondir`) or is a
//! linked worktree is refused: its record would lose history when the other
//! repository moves. In the working tree, files git ignores and nested
//! repositories (submodule work trees) are left out. So packing the same
//! repository twice gives the same bytes, stored once.
//!
//! Memory use is one read buffer plus the encoder's window, whatever the size
//! of the repository.

use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dsi_core::BlobRef;
use dsi_core::blob::HashingWriter;

use super::git_rules::{self, GitEntry};

/// zstd level used for artifacts (fast, good ratio on git objects).
pub const ZSTD_LEVEL: i32 = 3;

/// The `.git/config` every packed repository carries.
pub(crate) fn safe_config(format_version: i64, object_format: Option<&str>) -> String {
    let mut c = format!(
        "[core]\n\trepositoryformatversion = {format_version}\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n"
    );
    if let Some(f) = object_format {
        c.push_str(&format!("[extensions]\n\tobjectformat = {f}\n"));
    }
    c
}

/// Whether a path inside `.git` is packed: only what holds history (see
/// [`git_rules`]). Hooks, submodule metadata (whose config may carry
/// credentials), linked-worktree metadata and everything else are left
/// out; what would make the packed repository depend on another one
/// (alternates, `commondir`) is refused.
fn packed_in_git(rel_in_git: &str, is_dir: bool) -> io::Result<bool> {
    if rel_in_git.ends_with(".lock") {
        return Ok(false);
    }
    match git_rules::classify(rel_in_git, is_dir) {
        GitEntry::Keep => Ok(true),
        GitEntry::Drop => Ok(false),
        GitEntry::Refuse(_) => match rel_in_git.split('/').next() {
            Some("hooks" | "modules" | "worktrees" | "info") => Ok(false),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the repository is not self-contained (.git/{rel_in_git}): it borrows objects or metadata from another repository; \
                     make a full copy first (git repack -a -d && rm -f .git/objects/info/alternates, or git clone --no-local)"
                ),
            )),
        },
    }
}

struct Entry {
    rel: Vec<u8>,
    path: PathBuf,
    meta: fs::Metadata,
}

fn collect(
    root: &Path,
    repo: Option<&git2::Repository>,
    exclude: &[PathBuf],
) -> io::Result<Vec<Entry>> {
    if fs::symlink_metadata(root.join(".git")).is_ok_and(|m| !m.is_dir()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a linked git worktree or a submodule (its .git is a file): dsi records a repository with its own history; record from the main repository, or from a clone (git clone {} COPY)",
                root.display(),
                root.display()
            ),
        ));
    }
    // What makes a repository borrow from another: refused before anything
    // is read (the directories holding them are not packed, so the walk
    // below would not see them).
    for borrowed in [
        "objects/info/alternates",
        "objects/info/http-alternates",
        "commondir",
    ] {
        if fs::symlink_metadata(root.join(".git").join(borrowed)).is_ok() {
            packed_in_git(borrowed, false)?;
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let dir = root.join(&rel_dir);
        for e in fs::read_dir(&dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
        {
            let e = e?;
            let rel = rel_dir.join(e.file_name());
            let rel_bytes = rel.as_os_str().as_bytes().to_vec();
            if !exclude.is_empty()
                && let Ok(full) = fs::canonicalize(e.path())
                && exclude.iter().any(|x| full.starts_with(x))
            {
                continue;
            }
            let meta = fs::symlink_metadata(e.path())?;
            let rel_text = String::from_utf8_lossy(&rel_bytes);
            let in_git = rel_text.strip_prefix(".git/");
            if let Some(g) = in_git
                && !packed_in_git(g, meta.is_dir())?
            {
                continue;
            }
            // A nested repository or submodule work tree is not part of
            // this repository's history: left out whole.
            if in_git.is_none()
                && rel_bytes != b".git"
                && meta.is_dir()
                && fs::symlink_metadata(e.path().join(".git")).is_ok()
            {
                continue;
            }
            if git_rules::nested_git(&rel_text) {
                continue;
            }
            let is_git = rel_bytes == b".git" || in_git.is_some();
            if !is_git
                && let Some(r) = repo
                && r.status_should_ignore(&rel).unwrap_or(false)
            {
                continue;
            }
            if meta.is_dir() {
                stack.push(rel.clone());
            }
            out.push(Entry {
                rel: rel_bytes,
                path: e.path(),
                meta,
            });
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Writes the deterministic tar + zstd stream of `root` to `out`.
pub fn pack_to(root: &Path, out: impl Write) -> io::Result<()> {
    pack_excluding_to(root, out, &[])
}

/// Like [`pack_to`], leaving out the files and directories under any of
/// `exclude` (absolute, canonical paths: dsi's own store files).
pub fn pack_excluding_to(root: &Path, out: impl Write, exclude: &[PathBuf]) -> io::Result<()> {
    let repo = git2::Repository::open(root).ok();
    let entries = collect(root, repo.as_ref(), exclude)?;
    let mut enc = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
    enc.include_checksum(true)?;
    let mut tar = tar::Builder::new(enc);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut wrote_config = false;
    let config = repo.as_ref().map(|r| {
        let cfg = r.config().ok();
        let version = cfg
            .as_ref()
            .and_then(|c| c.get_i64("core.repositoryformatversion").ok())
            .unwrap_or(0);
        let format = cfg
            .as_ref()
            .and_then(|c| c.get_string("extensions.objectformat").ok());
        safe_config(version, format.as_deref())
    });
    for e in &entries {
        // Insert the synthesised config where `.git/config` sorts.
        if let Some(cfg) = &config
            && !wrote_config
            && e.rel.as_slice() > b".git/config".as_slice()
        {
            append_config(&mut tar, cfg)?;
            wrote_config = true;
        }
        let rel = Path::new(std::ffi::OsStr::from_bytes(&e.rel));
        let ft = e.meta.file_type();
        if ft.is_dir() {
            let mut h = header(tar::EntryType::Directory, 0o755, 0);
            tar.append_data(&mut h, rel, io::empty())?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&e.path)?;
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut h, rel, &target)?;
        } else if ft.is_file() {
            let exec = e.meta.permissions().mode() & 0o111 != 0;
            let mut h = header(
                tar::EntryType::Regular,
                if exec { 0o755 } else { 0o644 },
                e.meta.len(),
            );
            let f = fs::File::open(&e.path)?;
            tar.append_data(&mut h, rel, f)?;
        }
        // Sockets, fifos and devices have no place in a repository: skipped.
    }
    if let Some(cfg) = &config
        && !wrote_config
    {
        append_config(&mut tar, cfg)?;
    }
    let enc = tar.into_inner()?;
    enc.finish()?.flush()
}

fn append_config<W: Write>(tar: &mut tar::Builder<W>, cfg: &str) -> io::Result<()> {
    let mut h = header(tar::EntryType::Regular, 0o644, cfg.len() as u64);
    tar.append_data(&mut h, ".git/config", cfg.as_bytes())
}

/// A packed repository in a temporary file (deleted when dropped).
#[derive(Debug)]
pub struct PackedRepo {
    /// Digest and length of the packed bytes.
    pub blob: BlobRef,
    /// The temporary file holding them.
    pub file: tempfile::TempPath,
}

/// Packs `root` into a temporary file in `tmp_dir` (or the system default),
/// hashing as it writes.
pub fn pack(root: &Path, tmp_dir: Option<&Path>) -> io::Result<PackedRepo> {
    pack_excluding(root, tmp_dir, &[])
}

/// Like [`pack`], leaving out what is under any of `exclude` (see
/// [`pack_excluding_to`]).
pub fn pack_excluding(
    root: &Path,
    tmp_dir: Option<&Path>,
    exclude: &[PathBuf],
) -> io::Result<PackedRepo> {
    let _span = tracing::info_span!("packing repository", dir = %root.display()).entered();
    let tmp = match tmp_dir {
        Some(d) => tempfile::NamedTempFile::new_in(d)?,
        None => tempfile::NamedTempFile::new()?,
    };
    let (file, path) = tmp.into_parts();
    let mut w = HashingWriter::new(io::BufWriter::with_capacity(1 << 16, file));
    pack_excluding_to(root, &mut w, exclude)?;
    let (inner, blob) = w.finish();
    inner
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;
    Ok(PackedRepo { blob, file: path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_history_is_packed_and_borrowed_objects_are_refused() {
        assert!(!packed_in_git("index", false).unwrap());
        assert!(!packed_in_git("logs/HEAD", false).unwrap());
        assert!(!packed_in_git("refs/heads/main.lock", false).unwrap());
        assert!(!packed_in_git("hooks/pre-commit.sample", false).unwrap());
        assert!(!packed_in_git("modules/sub/config", false).unwrap());
        assert!(packed_in_git("HEAD", false).unwrap());
        assert!(packed_in_git("refs/heads/main", false).unwrap());
        let e = packed_in_git("objects/info/alternates", false).unwrap_err();
        assert!(e.to_string().contains("not self-contained"), "{e}");
        assert!(packed_in_git("commondir", false).is_err());
    }
}
