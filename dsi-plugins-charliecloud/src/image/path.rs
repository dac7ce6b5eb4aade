//! Path images (RUNFILE-1.1 §3): a SquashFS file pinned by the sha256 of
//! its bytes (V6) and/or by the tree digest of its contents (V5), or an
//! image directory pinned by its tree digest (V5). Never fetched or
//! modified; ch-image storage plays no part except that a directory inside
//! `S/img` is refused (run it by name).
//!
//! Checked in this order, before any step runs: the path resolves (E412
//! when absent), it has the right type (E412), a file is SquashFS (E414), a
//! directory is not in storage (E415), V6 (E413), V5 (E404). P in messages
//! is the path as the Runfile names it, joined to the context directory;
//! ch-run, the checks and the record use the path resolved once with
//! realpath ([`ResolvedImage::name`]).
//!
//! A SquashFS file's two digests are cached (module `digest_cache`) unless
//! [`ResolveOptions::full`]; a directory's tree digest is always computed
//! (a directory's times do not tell whether anything below changed).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::digest_cache::{DigestCache, DigestKind, FileKey};
use super::squashfs::{SquashFs, has_magic};
use super::{Acquisition, ResolveOptions, ResolvedImage, Storage, tree::rftree};
use crate::runfile::{Diagnostic, ImageRef, PathImageKind};

/// Resolves and verifies the path image `image` of the Runfile whose
/// `FROM` is at `from_line`, with relative paths against `context_dir`.
pub fn resolve_path(
    image: &ImageRef,
    from_line: usize,
    context_dir: &Path,
    storage: &Storage,
    opts: ResolveOptions,
) -> Result<ResolvedImage, Diagnostic> {
    let cache = if opts.full {
        None
    } else {
        DigestCache::from_env()
    };
    resolve_with_cache(image, from_line, context_dir, storage, cache.as_ref())
}

/// [`resolve_path`] with an explicit cache (`None`: compute everything).
pub fn resolve_with_cache(
    image: &ImageRef,
    from_line: usize,
    context_dir: &Path,
    storage: &Storage,
    cache: Option<&DigestCache>,
) -> Result<ResolvedImage, Diagnostic> {
    let err = |code, message: String| Diagnostic::error(from_line, 1, code, message);
    let ImageRef::Path {
        path,
        file_digest,
        tree,
    } = image
    else {
        return Err(err("E412", format!("not a path image: {image}")));
    };
    let (shown, resolved, meta) = locate(path, context_dir, from_line)?;
    let p = shown.display();
    if file_digest.is_some() && !meta.is_file() {
        return Err(err(
            "E412",
            format!("image path is not a regular file: {p}"),
        ));
    }
    if !meta.is_file() && !meta.is_dir() {
        return Err(err(
            "E412",
            format!("image path is not a directory or regular file: {p}"),
        ));
    }
    let kind = if meta.is_file() {
        let magic = has_magic(&resolved)
            .map_err(|e| err("E412", format!("image path cannot be read: {p}: {e}")))?;
        if !magic {
            return Err(err("E414", format!("not a SquashFS image: {p}")));
        }
        PathImageKind::SquashFs
    } else {
        if inside_storage(&resolved, storage) {
            return Err(err(
                "E415",
                format!("image directory is inside ch-image storage: {p}"),
            )
            .with_hint("run it by name: FROM --tree=… NAME"));
        }
        PathImageKind::Directory
    };
    let key = FileKey::of(&meta);
    let mut checks = Vec::new();
    let mut have_file = None;
    if let Some(pinned) = file_digest {
        let have = cached(cache, &resolved, key, DigestKind::File, || {
            sha256_file(&resolved)
        })
        .map_err(|e| err("E413", format!("cannot read {p}: {e}")))?;
        if &have != pinned {
            return Err(err(
                "E413",
                format!("file digest mismatch for {p}: have {have}"),
            ));
        }
        checks.push("V6");
        have_file = Some(have);
    }
    let mut have_tree = None;
    if let Some(pinned) = tree {
        let have = match kind {
            PathImageKind::Directory => rftree(&resolved).map_err(|e| {
                err(
                    "E404",
                    format!("cannot compute the tree digest of {p}: {e}"),
                )
            })?,
            PathImageKind::SquashFs => cached(cache, &resolved, key, DigestKind::Tree, || {
                SquashFs::open(&resolved)?.tree_digest()
            })
            .map_err(|e| err("E414", format!("not a SquashFS image: {p}: {e}")))?,
        };
        if &have != pinned {
            return Err(err(
                "E404",
                format!("tree digest mismatch for {p}: have {have}"),
            ));
        }
        checks.push("V5");
        have_tree = Some(have);
    }
    let name = resolved.to_string_lossy().into_owned();
    Ok(ResolvedImage {
        name,
        pinned_digest: None,
        manifest_digest: None,
        config_digest: None,
        tree_digest: have_tree,
        file_digest: have_file,
        path_kind: Some(kind),
        checks,
        acquisition: Acquisition::Present,
        image_dir: resolved,
        warnings: Vec::new(),
    })
}

/// A path image pinned: its digests and the `FROM` line naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedPath {
    /// SquashFS file or directory.
    pub kind: PathImageKind,
    /// `sha256:<hex>` of a SquashFS file's bytes.
    pub file_digest: Option<String>,
    /// `rftree1+sha256:<hex>` of the tree.
    pub tree: String,
    /// `FROM --tree=T P@sha256:H` (SquashFS) or `FROM --tree=T P`
    /// (directory), with P as given.
    pub from: String,
}

/// `dsi runfile pin P`: both digests of the SquashFS file (or the tree
/// digest of the directory) at `path`, relative paths against `cwd`, as a
/// `FROM` line; the digests go to the cache, so recording next reads the
/// file no more. Errors as at a FROM (line 1): E412, E414, E415, and the
/// static errors of an image path P cannot be (E249, E292).
pub fn pin_path(path: &str, cwd: &Path, storage: &Storage) -> Result<PinnedPath, Diagnostic> {
    let err = |code, message: String| Diagnostic::error(1, 1, code, message);
    // P must be what a Runfile accepts (absolute or `./…`, no `..`, no odd
    // characters): the parser says why not, before anything is read.
    let zeros = "0".repeat(64);
    crate::runfile::Runfile::parse_str(&format!(
        "FROM --tree=rftree1+sha256:{zeros} {path}\nCMD [\"true\"]\n"
    ))?;
    let (shown, resolved, meta) = locate(path, cwd, 1)?;
    let p = shown.display();
    let cache = DigestCache::from_env();
    let key = FileKey::of(&meta);
    let pinned = if meta.is_file() {
        if !has_magic(&resolved).unwrap_or(false) {
            return Err(err("E414", format!("not a SquashFS image: {p}")));
        }
        let sha = cached(cache.as_ref(), &resolved, key, DigestKind::File, || {
            sha256_file(&resolved)
        })
        .map_err(|e| err("E412", format!("cannot read {p}: {e}")))?;
        let tree = cached(cache.as_ref(), &resolved, key, DigestKind::Tree, || {
            SquashFs::open(&resolved)?.tree_digest()
        })
        .map_err(|e| err("E414", format!("not a SquashFS image: {p}: {e}")))?;
        PinnedPath {
            kind: PathImageKind::SquashFs,
            from: format!("FROM --tree={tree} {path}@{sha}"),
            file_digest: Some(sha),
            tree,
        }
    } else if meta.is_dir() {
        if inside_storage(&resolved, storage) {
            return Err(err(
                "E415",
                format!("image directory is inside ch-image storage: {p}"),
            )
            .with_hint("run it by name: dsi runfile pin NAME"));
        }
        let tree = rftree(&resolved).map_err(|e| {
            err(
                "E404",
                format!("cannot compute the tree digest of {p}: {e}"),
            )
        })?;
        PinnedPath {
            kind: PathImageKind::Directory,
            from: format!("FROM --tree={tree} {path}"),
            file_digest: None,
            tree,
        }
    } else {
        return Err(err(
            "E412",
            format!("image path is not a directory or regular file: {p}"),
        ));
    };
    Ok(pinned)
}

/// P as shown, resolved with realpath, and its metadata; E412 (at `line`)
/// when it is absent or cannot be resolved or read.
fn locate(
    path: &str,
    context_dir: &Path,
    line: usize,
) -> Result<(PathBuf, PathBuf, fs::Metadata), Diagnostic> {
    let err = |message: String| Diagnostic::error(line, 1, "E412", message);
    let shown = shown_path(path, context_dir);
    let p = shown.display();
    let resolved = fs::canonicalize(&shown).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => err(format!("image path not found: {p}")),
        _ => err(format!("image path cannot be resolved: {p}: {e}")),
    })?;
    let meta =
        fs::metadata(&resolved).map_err(|e| err(format!("image path cannot be read: {p}: {e}")))?;
    Ok((shown, resolved, meta))
}

/// P as the diagnostics show it: absolute as written, else joined to the
/// context directory (`./img/x.sqfs` → `C/img/x.sqfs`).
fn shown_path(path: &str, context_dir: &Path) -> PathBuf {
    if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        context_dir.join(path.strip_prefix("./").unwrap_or(path))
    }
}

/// Whether the directory `resolved` is `S/img` or below it.
fn inside_storage(resolved: &Path, storage: &Storage) -> bool {
    let img = storage.root().join("img");
    let img = fs::canonicalize(&img).unwrap_or(img);
    resolved.starts_with(img)
}

/// A digest from the cache, else computed and stored when the file did not
/// change meanwhile (its key is the same after as before).
fn cached(
    cache: Option<&DigestCache>,
    path: &Path,
    key: FileKey,
    kind: DigestKind,
    compute: impl FnOnce() -> io::Result<String>,
) -> io::Result<String> {
    if let Some(hit) = cache.and_then(|c| c.get(&key, kind)) {
        tracing::debug!("{}: {kind:?} digest from the cache", path.display());
        return Ok(hit);
    }
    let value = compute()?;
    if let Some(c) = cache
        && fs::metadata(path).is_ok_and(|m| FileKey::of(&m) == key)
    {
        c.put(&key, kind, &value);
    }
    Ok(value)
}

/// `sha256:<hex>` of a file's bytes.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_image(path: &str, file: Option<&str>, tree: Option<&str>) -> ImageRef {
        ImageRef::Path {
            path: path.to_owned(),
            file_digest: file.map(str::to_owned),
            tree: tree.map(str::to_owned),
        }
    }

    fn code(r: Result<ResolvedImage, Diagnostic>) -> (String, String) {
        let d = r.unwrap_err();
        (d.code.to_owned(), d.message)
    }

    #[test]
    fn type_magic_and_storage_errors_come_before_any_digest() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path();
        let storage = Storage::new(c.join("storage"));
        fs::create_dir_all(c.join("storage/img/x")).unwrap();
        fs::write(c.join("case7.yaml"), "a: 1\n").unwrap();
        fs::create_dir(c.join("dir")).unwrap();
        let sha = "sha256:b3ad000000000000000000000000000000000000000000000000000000000000";
        let tree =
            "rftree1+sha256:0000000000000000000000000000000000000000000000000000000000000000";
        let r = |img: ImageRef| resolve_with_cache(&img, 1, c, &storage, None);
        let (code_, msg) = code(r(path_image("./nonexistent.sqfs", Some(sha), None)));
        assert_eq!(code_, "E412");
        assert_eq!(
            msg,
            format!(
                "image path not found: {}",
                c.join("nonexistent.sqfs").display()
            )
        );
        let (code_, msg) = code(r(path_image("./dir", Some(sha), None)));
        assert_eq!(
            (code_.as_str(), msg),
            (
                "E412",
                format!(
                    "image path is not a regular file: {}",
                    c.join("dir").display()
                )
            )
        );
        let (code_, msg) = code(r(path_image("./case7.yaml", Some(sha), None)));
        assert_eq!(
            (code_.as_str(), msg),
            (
                "E414",
                format!("not a SquashFS image: {}", c.join("case7.yaml").display())
            )
        );
        let abs = c.join("storage/img/x").display().to_string();
        let (code_, msg) = code(r(path_image(&abs, None, Some(tree))));
        assert_eq!(
            (code_.as_str(), msg),
            (
                "E415",
                format!("image directory is inside ch-image storage: {abs}")
            )
        );
        let (code_, _) = code(r(path_image("./dir", None, Some(tree))));
        assert_eq!(code_, "E404");
    }

    #[test]
    fn a_directory_image_is_named_by_its_real_path_and_checked_by_tree() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path();
        fs::create_dir_all(c.join("img/app")).unwrap();
        fs::write(c.join("img/app/VERSION"), "1\n").unwrap();
        std::os::unix::fs::symlink("img", c.join("link")).unwrap();
        let tree = rftree(&c.join("img")).unwrap();
        let storage = Storage::new(c.join("storage"));
        let r = resolve_with_cache(
            &path_image("./link", None, Some(&tree)),
            3,
            c,
            &storage,
            None,
        )
        .unwrap();
        let real = fs::canonicalize(c.join("img")).unwrap();
        assert_eq!(r.name, real.display().to_string());
        assert_eq!(r.path_kind, Some(PathImageKind::Directory));
        assert_eq!(r.checks, ["V5"]);
        assert_eq!(r.tree_digest.as_deref(), Some(tree.as_str()));
    }
}
