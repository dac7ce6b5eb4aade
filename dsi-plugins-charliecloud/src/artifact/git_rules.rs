//! What of a `.git` directory travels in a packed repository: the one rule
//! used when packing (record) and when unpacking (checkout, show, export,
//! replay, fsck, push).
//!
//! A stored repository is untrusted input. Whoever can write a record could
//! otherwise run code as every user who checks it out (hooks, `core.fsmonitor`
//! in any config, including `modules/*/config`), redirect their commits to
//! another repository on the host (`commondir`, `worktrees/`), or make git
//! read objects from any host path (`objects/info/alternates`). So a stored
//! repository is **rebuilt, not trusted**: only what holds history is kept —
//!
//! * objects: loose (`objects/XX/YYYY…`) and packs (`objects/pack/pack-H.pack`
//!   with its `.idx`; the pair is validated when opened);
//! * refs: `HEAD`, `refs/**`, `packed-refs`, and `shallow` (the grafts of a
//!   shallow clone's history, hex lines);
//!
//! a fresh minimal `config` is written, and every other file of `.git` is
//! left out. Entries that only a hostile or foreign archive has — hooks,
//! submodule metadata (`modules/`), `commondir`, `worktrees/`, alternates,
//! `info/grafts`, a `.git` anywhere but at the top — are refused with an
//! error naming them. Inside `.git` only regular files and directories are
//! accepted (no symlinks, no hard links).

/// What to do with a path inside `.git` (relative to it, `/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitEntry {
    /// Part of the history: kept.
    Keep,
    /// Harmless but not needed (or replaced, like `config`): left out.
    Drop,
    /// Only a hostile or foreign archive has it: refuse the archive.
    Refuse(&'static str),
}

fn hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A SHA-1 or SHA-256 object name.
fn object_name(s: &str) -> bool {
    hex(s, 40) || hex(s, 64)
}

/// Classifies a path inside `.git` (`HEAD`, `refs/heads/main`, `objects/ab/…`).
/// `is_dir` says whether the entry is a directory.
pub fn classify(rel: &str, is_dir: bool) -> GitEntry {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => GitEntry::Keep,
        ["hooks", ..] => GitEntry::Refuse("hooks would run on the recipient's machine"),
        ["modules", ..] => {
            GitEntry::Refuse("submodule metadata (its config may name commands or credentials)")
        }
        ["commondir"] => GitEntry::Refuse("commondir makes git use another repository"),
        ["gitdir"] => GitEntry::Refuse("gitdir points at another repository"),
        ["worktrees", ..] => GitEntry::Refuse("worktree metadata points at other directories"),
        ["objects", "info", "alternates" | "http-alternates"] => {
            GitEntry::Refuse("alternates make git read objects from host paths")
        }
        ["info", "grafts"] => GitEntry::Refuse("grafts rewrite history"),
        ["HEAD" | "packed-refs" | "shallow"] if !is_dir => GitEntry::Keep,
        ["refs", ..] => GitEntry::Keep,
        ["objects"] if is_dir => GitEntry::Keep,
        ["objects", d] if is_dir && hex(d, 2) => GitEntry::Keep,
        ["objects", d, f] if !is_dir && hex(d, 2) && (hex(f, 38) || hex(f, 62)) => GitEntry::Keep,
        ["objects", "pack"] if is_dir => GitEntry::Keep,
        ["objects", "pack", f] if !is_dir => {
            match f.strip_prefix("pack-").and_then(|f| f.rsplit_once('.')) {
                Some((name, "pack" | "idx")) if object_name(name) => GitEntry::Keep,
                _ => GitEntry::Drop,
            }
        }
        _ => GitEntry::Drop,
    }
}

/// Whether a work-tree path (relative to the repository root) names a
/// nested `.git` (a submodule's or an embedded repository's metadata),
/// which never travels: a `.git` component anywhere but first.
pub fn nested_git(rel: &str) -> bool {
    rel.split('/')
        .skip(1)
        .any(|p| p.eq_ignore_ascii_case(".git"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_kept_and_everything_that_runs_or_redirects_is_refused() {
        for keep in [
            "HEAD",
            "packed-refs",
            "shallow",
            "refs/heads/main",
            "refs/tags",
            "objects/ab/cdef0123456789abcdef0123456789abcdef01",
            "objects/pack/pack-0123456789abcdef0123456789abcdef01234567.pack",
            "objects/pack/pack-0123456789abcdef0123456789abcdef01234567.idx",
        ] {
            assert_eq!(classify(keep, false), GitEntry::Keep, "{keep}");
        }
        for dir in [
            "",
            "objects",
            "objects/ab",
            "objects/pack",
            "refs",
            "refs/heads",
        ] {
            assert_eq!(classify(dir, true), GitEntry::Keep, "{dir}/");
        }
        for refuse in [
            "hooks/post-checkout",
            "modules/sub/config",
            "modules/sub/hooks/pre-commit",
            "commondir",
            "worktrees/w/gitdir",
            "objects/info/alternates",
            "info/grafts",
        ] {
            assert!(
                matches!(classify(refuse, false), GitEntry::Refuse(_)),
                "{refuse}"
            );
        }
        for drop in [
            "config",
            "description",
            "info/exclude",
            "index",
            "FETCH_HEAD",
            "logs/HEAD",
            "objects/info/packs",
            "objects/pack/pack-x.keep",
            "objects/ab/not-an-object",
        ] {
            assert_eq!(classify(drop, false), GitEntry::Drop, "{drop}");
        }
        assert!(nested_git("sub/.git"));
        assert!(nested_git("a/b/.GIT/config"));
        assert!(!nested_git(".git/config"));
        assert!(!nested_git("docs/.gitignore"));
    }
}
