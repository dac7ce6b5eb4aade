//! Reading a repository that came from a store (or a remote) within
//! budgets, and materialising its commits without links that leave the
//! target.
//!
//! The tar stream of a packed repository is bounded by [`Limits`] while it
//! unpacks, but git objects are inflated afterwards, when dsi reads them:
//! a few kilobytes of packed deltas can describe gigabytes. Every object
//! dsi reads through [`BoundedRepo`] is sized from its header first
//! (`git_odb_read_header`, which does not inflate it) and counts against
//!
//! * a **per-object** limit: at most [`Limits::max_object_bytes`], and at
//!   most `max_ratio` times the stored (compressed) size of the repository,
//!   but never less than [`RATIO_GRACE_BYTES`];
//! * a **total** budget for everything read in one session: the same
//!   ratio times the stored size (at least the grace), at most
//!   [`Limits::max_bytes`].
//!
//! Exceeding either is "corrupt or hostile repository" ([`ReadError`],
//! exit 65), before the object is inflated, so memory stays flat.
//!
//! [`BoundedRepo::materialize`] writes a commit's tree into a fresh
//! directory after checking the whole tree: no entry named `.git`, no
//! symlink whose target is absolute, climbs out of the directory, or has
//! `..` after a name (it could leave through another link), no
//! `.gitmodules` that is a link; blobs within the budget. Symlinks that
//! stay inside are written as symlinks. So a replay's context directory
//! never reaches the host through the commit.

use std::cell::Cell;
use std::path::{Component, Path};

use git2::{ObjectType, Oid, Repository};

use super::unpack::{Limits, RATIO_GRACE_BYTES};

/// Why a read from a stored repository was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// An object or the session exceeds its budget.
    #[error(
        "corrupt or hostile repository: {what} inflates to {size} bytes, over the limit of {limit} bytes"
    )]
    OverBudget {
        /// The object (`object <oid>`) or `the objects read so far`.
        what: String,
        /// Its inflated size.
        size: u64,
        /// The limit it exceeds.
        limit: u64,
    },
    /// A tree entry that materialising would turn into an escape.
    #[error("refusing to materialise commit {commit}: {path}: {reason}")]
    Unsafe {
        /// The commit.
        commit: String,
        /// The tree entry's path.
        path: String,
        /// Why.
        reason: String,
    },
    /// git could not read what it needed.
    #[error("{0}")]
    Git(String),
}

impl From<ReadError> for dsi_core::Error {
    fn from(e: ReadError) -> Self {
        dsi_core::Error::InvalidData(e.to_string())
    }
}

fn git(what: &str) -> impl Fn(git2::Error) -> ReadError + '_ {
    move |e| ReadError::Git(format!("{what}: {}", e.message()))
}

/// A repository whose object reads are budgeted.
pub struct BoundedRepo<'r> {
    repo: &'r Repository,
    per_object: u64,
    total: u64,
    spent: Cell<u64>,
}

impl std::fmt::Debug for BoundedRepo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedRepo")
            .field("path", &self.repo.path())
            .field("per_object", &self.per_object)
            .field("total", &self.total)
            .field("spent", &self.spent.get())
            .finish()
    }
}

/// One commit of a repository's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LogEntry {
    /// The commit hash.
    pub commit: String,
    /// The first line of its message.
    pub summary: String,
    /// The author's name.
    pub author: String,
    /// The author's time, seconds since the Unix epoch.
    pub time: i64,
}

impl<'r> BoundedRepo<'r> {
    /// Budgets for a repository that was stored as `stored_bytes` of packed
    /// archive (see the module documentation).
    pub fn stored(repo: &'r Repository, stored_bytes: u64, limits: &Limits) -> Self {
        let by_ratio = stored_bytes
            .saturating_mul(limits.max_ratio.max(1))
            .max(RATIO_GRACE_BYTES);
        BoundedRepo {
            repo,
            per_object: by_ratio.min(limits.max_object_bytes),
            total: by_ratio.min(limits.max_bytes),
            spent: Cell::new(0),
        }
    }

    /// Budgets for a repository on the local file system (a user's own, or
    /// a fresh clone): the absolute limits only.
    pub fn local(repo: &'r Repository, limits: &Limits) -> Self {
        BoundedRepo {
            repo,
            per_object: limits.max_object_bytes,
            total: limits.max_bytes,
            spent: Cell::new(0),
        }
    }

    /// The repository (for operations that read no object content).
    pub fn repo(&self) -> &'r Repository {
        self.repo
    }

    /// Charges an object against the budgets before it is read; returns
    /// its type.
    fn charge(&self, oid: Oid) -> Result<ObjectType, ReadError> {
        let odb = self
            .repo
            .odb()
            .map_err(git("opening the object database"))?;
        let (size, kind) = odb
            .read_header(oid)
            .map_err(git(&format!("reading object {oid}")))?;
        let size = size as u64;
        if size > self.per_object {
            return Err(ReadError::OverBudget {
                what: format!("object {oid}"),
                size,
                limit: self.per_object,
            });
        }
        let spent = self.spent.get().saturating_add(size);
        if spent > self.total {
            return Err(ReadError::OverBudget {
                what: "the objects read so far".into(),
                size: spent,
                limit: self.total,
            });
        }
        self.spent.set(spent);
        Ok(kind)
    }

    /// A commit, charged.
    pub fn commit(&self, oid: Oid) -> Result<git2::Commit<'r>, ReadError> {
        self.charge(oid)?;
        self.repo
            .find_commit(oid)
            .map_err(git("reading the commit"))
    }

    /// The tree of a commit, charged.
    pub fn tree_of(&self, commit: Oid) -> Result<git2::Tree<'r>, ReadError> {
        let c = self.commit(commit)?;
        self.charge(c.tree_id())?;
        c.tree().map_err(git("reading the commit's tree"))
    }

    /// The bytes of `path` in `commit`'s tree, if present and a file, at
    /// most `max` bytes (a larger file is an error naming it).
    pub fn read_file(
        &self,
        commit: Oid,
        path: &Path,
        max: u64,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        let mut tree = self.tree_of(commit)?;
        let comps: Vec<&std::ffi::OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        for (i, name) in comps.iter().enumerate() {
            let Some(entry) = tree.get_name(&name.to_string_lossy()) else {
                return Ok(None);
            };
            let (id, kind, mode) = (entry.id(), entry.kind(), entry.filemode());
            drop(entry);
            let last = i + 1 == comps.len();
            match (kind, last) {
                (Some(ObjectType::Tree), false) => {
                    self.charge(id)?;
                    tree = self.repo.find_tree(id).map_err(git("reading a tree"))?;
                }
                (Some(ObjectType::Blob), true) if mode != 0o120000 => {
                    let odb = self
                        .repo
                        .odb()
                        .map_err(git("opening the object database"))?;
                    let (size, _) = odb
                        .read_header(id)
                        .map_err(git(&format!("reading object {id}")))?;
                    if size as u64 > max {
                        return Err(ReadError::Git(format!(
                            "{} at {commit} is {size} bytes, over the limit of {max}",
                            path.display()
                        )));
                    }
                    self.charge(id)?;
                    let blob = self.repo.find_blob(id).map_err(git("reading a file"))?;
                    return Ok(Some(blob.content().to_vec()));
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The newest `n` commits reachable from `from`, newest first.
    pub fn log(&self, from: Oid, n: usize) -> Result<Vec<LogEntry>, ReadError> {
        let mut walk = self.repo.revwalk().map_err(git("walking the history"))?;
        walk.push(from).map_err(git("walking the history"))?;
        let mut out = Vec::new();
        for id in walk.take(n) {
            let id = id.map_err(git("walking the history"))?;
            let c = self.commit(id)?;
            out.push(LogEntry {
                commit: id.to_string(),
                summary: c.summary().ok().flatten().unwrap_or_default().to_owned(),
                author: c.author().name().unwrap_or_default().to_owned(),
                time: c.author().when().seconds(),
            });
        }
        Ok(out)
    }

    /// Checks every entry of `commit`'s tree (see the module documentation)
    /// and charges its objects, without writing anything.
    pub fn check_tree(&self, commit: Oid) -> Result<(), ReadError> {
        self.walk_tree(commit, true)
    }

    /// Charges every object of `commit`'s tree; with `check_links`, also
    /// refuses what [`BoundedRepo::materialize`] must not write.
    fn walk_tree(&self, commit: Oid, check_links: bool) -> Result<(), ReadError> {
        let tree = self.tree_of(commit)?;
        let mut stack = vec![(String::new(), tree)];
        while let Some((prefix, tree)) = stack.pop() {
            for entry in tree.iter() {
                let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
                let path = format!("{prefix}{name}");
                let unsafe_entry = |reason: &str| ReadError::Unsafe {
                    commit: commit.to_string(),
                    path: dsi_core::text::for_terminal(&path).into_owned(),
                    reason: reason.to_owned(),
                };
                if check_links && name.eq_ignore_ascii_case(".git") {
                    return Err(unsafe_entry("a tree entry named .git"));
                }
                match entry.kind() {
                    Some(ObjectType::Tree) => {
                        self.charge(entry.id())?;
                        let sub = self
                            .repo
                            .find_tree(entry.id())
                            .map_err(git("reading a tree"))?;
                        stack.push((format!("{path}/"), sub));
                    }
                    Some(ObjectType::Blob) if check_links && entry.filemode() == 0o120000 => {
                        if name.eq_ignore_ascii_case(".gitmodules") {
                            return Err(unsafe_entry(".gitmodules is a symlink"));
                        }
                        self.charge(entry.id())?;
                        let blob = self
                            .repo
                            .find_blob(entry.id())
                            .map_err(git("reading a symlink"))?;
                        let target = String::from_utf8_lossy(blob.content()).into_owned();
                        if let Some(reason) = link_escapes(&path, &target) {
                            return Err(unsafe_entry(&format!(
                                "symlink to '{}' {reason}",
                                dsi_core::text::for_terminal(&target)
                            )));
                        }
                    }
                    Some(ObjectType::Blob) => {
                        self.charge(entry.id())?;
                    }
                    // A submodule (gitlink) is written as an empty directory.
                    Some(ObjectType::Commit) => {}
                    _ => return Err(unsafe_entry("an entry of unknown type")),
                }
            }
        }
        Ok(())
    }

    /// Rebuilds the index of an unpacked repository from HEAD (so that `git
    /// status` is clean; the index is not packed), charging HEAD's tree.
    pub fn rebuild_index(&self) -> Result<(), ReadError> {
        let Ok(head) = self.repo.head().and_then(|h| h.peel_to_commit()) else {
            return Ok(()); // an empty repository has nothing to index
        };
        self.walk_tree(head.id(), false)?;
        let tree = head.tree().map_err(git("reading HEAD's tree"))?;
        let mut index = self.repo.index().map_err(git("opening the index"))?;
        index
            .read_tree(&tree)
            .map_err(git("reading HEAD into the index"))?;
        index.write().map_err(git("writing the index"))
    }

    /// Writes the tree of `commit` into `dest` (created if missing, should
    /// be empty) after [`BoundedRepo::check_tree`]; never touches the
    /// repository's own work tree.
    pub fn materialize(&self, commit: Oid, dest: &Path) -> Result<(), ReadError> {
        self.check_tree(commit)?;
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(git("reading the commit's tree"))?;
        std::fs::create_dir_all(dest)
            .map_err(|e| ReadError::Git(format!("creating {}: {e}", dest.display())))?;
        let mut co = git2::build::CheckoutBuilder::new();
        co.target_dir(dest).force().recreate_missing(true);
        self.repo
            .checkout_tree(tree.as_object(), Some(&mut co))
            .map_err(|e| {
                ReadError::Git(format!(
                    "writing commit {commit} to {}: {}",
                    dest.display(),
                    e.message()
                ))
            })
    }
}

/// Why a symlink at `link` (a tree path) pointing to `target` would leave
/// the directory it is written into, or `None` if it stays inside.
pub fn link_escapes(link: &str, target: &str) -> Option<&'static str> {
    let t = Path::new(target);
    if target.is_empty() || target.contains('\0') {
        return Some("is empty or holds NUL");
    }
    if t.is_absolute() {
        return Some("is absolute");
    }
    let mut depth: i64 = Path::new(link).components().count() as i64 - 1;
    let mut descended = false;
    for c in t.components() {
        match c {
            Component::Normal(_) => {
                depth += 1;
                descended = true;
            }
            Component::ParentDir if descended => {
                return Some("has '..' after a name (it could leave through another link)");
            }
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Some("leaves the directory");
                }
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Some("is absolute"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_that_leave_are_named() {
        assert_eq!(link_escapes("a", "b"), None);
        assert_eq!(link_escapes("d/a", "../b"), None);
        assert_eq!(link_escapes("inputs", "/scratch/data"), Some("is absolute"));
        assert_eq!(link_escapes("a", "../b"), Some("leaves the directory"));
        assert!(link_escapes("a", "x/../../b").is_some());
        assert!(link_escapes("a", "").is_some());
    }

    fn repo_with(files: &[(&str, &[u8], bool)]) -> (tempfile::TempDir, Repository, Oid) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let c = {
            let mut tb = repo.treebuilder(None).unwrap();
            for (name, content, link) in files {
                let id = repo.blob(content).unwrap();
                tb.insert(name, id, if *link { 0o120000 } else { 0o100644 })
                    .unwrap();
            }
            let tree = repo.find_tree(tb.write().unwrap()).unwrap();
            let sig = git2::Signature::now("t", "t@h").unwrap();
            repo.commit(Some("HEAD"), &sig, &sig, "m", &tree, &[])
                .unwrap()
        };
        (dir, repo, c)
    }

    #[test]
    fn materialise_refuses_links_out_of_the_target() {
        let (_d, repo, c) = repo_with(&[("Runfile", b"x", false), ("inputs", b"/etc", true)]);
        let out = tempfile::tempdir().unwrap();
        let b = BoundedRepo::local(&repo, &Limits::default());
        let e = b.materialize(c, &out.path().join("t")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("refusing to materialise commit {c}: inputs: symlink to '/etc' is absolute")
        );
        assert!(!out.path().join("t/inputs").exists());

        let (_d, repo, c) = repo_with(&[("Runfile", b"x", false), ("in", b"Runfile", true)]);
        let b = BoundedRepo::local(&repo, &Limits::default());
        b.materialize(c, &out.path().join("ok")).unwrap();
        assert_eq!(std::fs::read(out.path().join("ok/in")).unwrap(), b"x");
    }

    #[test]
    fn objects_over_budget_are_refused_before_they_are_read() {
        let big = vec![b'a'; 200_000];
        let (_d, repo, c) = repo_with(&[("Runfile", &big, false)]);
        let limits = Limits {
            max_ratio: 1,
            max_object_bytes: 100_000,
            ..Limits::default()
        };
        let b = BoundedRepo::local(&repo, &limits);
        let e = b
            .read_file(c, Path::new("Runfile"), 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("corrupt or hostile repository: object "),
            "{e}"
        );
        assert!(
            e.ends_with("inflates to 200000 bytes, over the limit of 100000 bytes"),
            "{e}"
        );
        let small = BoundedRepo::local(&repo, &Limits::default());
        let e = small.read_file(c, Path::new("Runfile"), 1000).unwrap_err();
        assert!(e.to_string().contains("over the limit of 1000"), "{e}");
    }
}
