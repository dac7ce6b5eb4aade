//! The git side of an artifact (git2): committing a Runfile, cloning,
//! refusing remote-helper URLs, and the URL redaction every message goes
//! through (materialising a commit is done in `artifact::stored`).

use std::path::Path;

use git2::{Oid, Repository, Signature};

/// A git failure with what was being done (URLs already redacted).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GitError(pub String);

fn git_err(what: &str, e: &git2::Error, secrets: &[&str]) -> GitError {
    GitError(redact(&format!("{what}: {}", e.message()), secrets))
}

pub use dsi_core::text::strip_credentials;

/// The secret parts of a URL (the user-info, and the password alone), which
/// must never appear in output.
pub fn url_secrets(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return Vec::new();
    };
    let userinfo = &authority[..at];
    let mut s = vec![userinfo.to_owned()];
    if let Some((_, pw)) = userinfo.split_once(':')
        && !pw.is_empty()
    {
        s.push(pw.to_owned());
    }
    s
}

/// Replaces every secret in `text` with `***`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s, "***");
    }
    out
}

/// Runs the `git` program for a network operation (never through a shell):
/// it brings the user's whole git setup — ssh through the agent and
/// `~/.ssh/config`, https through credential helpers, proxies, certificate
/// settings — without dsi linking TLS or ssh code of its own. Prompts are
/// disabled (no terminal input); stderr is returned redacted on failure.
pub(crate) fn git_network(
    dir: Option<&Path>,
    args: &[&str],
    secrets: &[&str],
) -> Result<String, GitError> {
    let out = git_network_output(dir, args, secrets)?;
    if out.success {
        Ok(out.stdout)
    } else {
        Err(GitError(out.reason))
    }
}

/// What a `git` run printed, redacted.
pub(crate) struct GitOutput {
    /// Whether it exited 0.
    pub(crate) success: bool,
    /// Its standard output (redacted).
    pub(crate) stdout: String,
    /// Its last `fatal:`/`error:` line, or all of stderr (redacted).
    pub(crate) reason: String,
}

/// Like [`git_network`], returning stdout also on failure (`git push
/// --porcelain` reports rejected refs there).
pub(crate) fn git_network_output(
    dir: Option<&Path>,
    args: &[&str],
    secrets: &[&str],
) -> Result<GitOutput, GitError> {
    let mut cmd = std::process::Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    let out = cmd
        .args(args)
        // Only transports that move data: never `ext::` (runs a command)
        // or `fd::` (waits on a file descriptor), whatever a URL says.
        .env("GIT_ALLOW_PROTOCOL", ALLOWED_PROTOCOLS)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| GitError(format!("cannot run git: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // git's last `fatal:`/`error:` line says what went wrong.
    let reason = stderr
        .lines()
        .rev()
        .find_map(|l| {
            l.strip_prefix("fatal: ")
                .or_else(|| l.strip_prefix("error: "))
        })
        .unwrap_or_else(|| stderr.trim());
    Ok(GitOutput {
        success: out.status.success(),
        stdout: redact(&String::from_utf8_lossy(&out.stdout), secrets),
        reason: redact(reason.trim(), secrets),
    })
}

/// The transports dsi lets git use for a remote (`GIT_ALLOW_PROTOCOL`).
pub const ALLOWED_PROTOCOLS: &str = "file:git:http:https:ssh";

/// Checks a remote URL before git sees it: a scheme dsi allows, or a local
/// path, or scp-like `[user@]host:path`. Remote-helper syntax
/// (`transport::address`, e.g. `ext::sh -c …` or `fd::3`) is refused: it
/// names a command or a file descriptor, not a place.
pub fn check_remote_url(url: &str) -> Result<(), GitError> {
    let shown = strip_credentials(url);
    if url.starts_with('-') {
        return Err(GitError(format!("remote '{shown}' starts with '-'")));
    }
    if let Some((scheme, _)) = url.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        return match scheme.as_str() {
            "file" | "git" | "http" | "https" | "ssh" | "git+ssh" | "ssh+git" => Ok(()),
            _ => Err(GitError(format!(
                "remote '{shown}': transport '{scheme}' is not allowed (use https, ssh, git, file or a path)"
            ))),
        };
    }
    if let Some((helper, _)) = url.split_once("::") {
        return Err(GitError(format!(
            "remote '{shown}': the remote-helper transport '{helper}::' is not allowed (use https, ssh, git, file or a path)"
        )));
    }
    Ok(())
}

/// The author and committer for commits dsi makes: git's configuration
/// (`user.name`, `user.email`), else `moniker <moniker@host>`.
pub fn signature(
    repo: &Repository,
    moniker: &str,
    host: &str,
) -> Result<Signature<'static>, GitError> {
    if let Ok(s) = repo.signature() {
        return Ok(s.to_owned());
    }
    Signature::now(moniker, &format!("{moniker}@{host}"))
        .map_err(|e| git_err("creating a commit signature", &e, &[]))
}

/// Opens the repository at `dir`, or creates it (and `dir`) if absent.
pub fn open_or_init(dir: &Path) -> Result<Repository, GitError> {
    match Repository::open(dir) {
        Ok(r) => Ok(r),
        Err(_) if !dir.join(".git").exists() => {
            let mut opts = git2::RepositoryInitOptions::new();
            opts.initial_head("main").mkpath(true);
            Repository::init_opts(dir, &opts).map_err(|e| {
                git_err(
                    &format!("creating a repository in {}", dir.display()),
                    &e,
                    &[],
                )
            })
        }
        Err(e) => Err(git_err(
            &format!("opening the repository {}", dir.display()),
            &e,
            &[],
        )),
    }
}

/// Paths with uncommitted changes (modified, staged or untracked; ignored
/// files do not count).
pub fn uncommitted(repo: &Repository) -> Result<Vec<String>, GitError> {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let st = repo
        .statuses(Some(&mut opts))
        .map_err(|e| git_err("reading the repository status", &e, &[]))?;
    Ok(st
        .iter()
        .filter_map(|s| s.path().ok().map(str::to_owned))
        .collect())
}

/// Writes `content` to `rel` in the work tree and commits it on HEAD.
/// Returns the new commit, or HEAD unchanged if the content already is
/// what HEAD holds.
pub fn commit_file(
    repo: &Repository,
    rel: &Path,
    content: &[u8],
    message: &str,
    sig: &Signature<'_>,
) -> Result<Oid, GitError> {
    let workdir = repo
        .workdir()
        .ok_or_else(|| GitError("the repository is bare; dsi needs a work tree".into()))?;
    let e = |what: &'static str| move |err: git2::Error| git_err(what, &err, &[]);
    let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    if let Some(h) = &head
        && let Ok(entry) = h.tree().and_then(|t| t.get_path(rel))
        && let Ok(blob) = repo.find_blob(entry.id())
        && blob.content() == content
    {
        return Ok(h.id());
    }
    let dest = workdir.join(rel);
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p)
            .map_err(|err| GitError(format!("creating {}: {err}", p.display())))?;
    }
    std::fs::write(&dest, content)
        .map_err(|err| GitError(format!("writing {}: {err}", dest.display())))?;
    let mut index = repo.index().map_err(e("opening the index"))?;
    index.add_path(rel).map_err(e("staging the Runfile"))?;
    index.write().map_err(e("writing the index"))?;
    let tree_id = index.write_tree().map_err(e("writing the tree"))?;
    let tree = repo.find_tree(tree_id).map_err(e("reading the tree"))?;
    let parents: Vec<&git2::Commit<'_>> = head.iter().collect();
    repo.commit(Some("HEAD"), sig, sig, message, &tree, &parents)
        .map_err(e("committing"))
}

/// Clones `url` into `dir` with the `git` program. Errors never contain the
/// URL's credentials.
pub fn clone(url: &str, dir: &Path) -> Result<Repository, GitError> {
    check_remote_url(url)?;
    let secrets = url_secrets(url);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let target = dir.to_string_lossy();
    git_network(
        None,
        &["clone", "--quiet", "--no-hardlinks", "--", url, &target],
        &secrets,
    )
    .map_err(|e| GitError(format!("cloning {}: {}", strip_credentials(url), e.0)))?;
    Repository::open(dir).map_err(|e| {
        git_err(
            &format!("opening the clone of {}", strip_credentials(url)),
            &e,
            &secrets,
        )
    })
}

/// Clones `url` into `dir` keeping every remote branch as a local branch,
/// with the remote forgotten (no URL in the config). When the remote's
/// HEAD names a branch it does not have (a bare repository made with
/// another default branch), its only branch, or `main`/`master`, becomes
/// HEAD; with several others the error lists them.
pub fn clone_all_branches(url: &str, dir: &Path) -> Result<Repository, GitError> {
    let r = clone(url, dir)?;
    let shown = strip_credentials(url);
    let e = |what: &'static str| move |err: git2::Error| git_err(what, &err, &[]);
    let mut branches = Vec::new();
    for b in r
        .branches(Some(git2::BranchType::Remote))
        .map_err(e("listing the remote's branches"))?
        .flatten()
    {
        let (branch, _) = b;
        if let (Ok(Some(name)), Ok(commit)) = (branch.name(), branch.get().peel_to_commit())
            && let Some(short) = name.split_once('/').map(|(_, s)| s.to_owned())
            && short != "HEAD"
        {
            branches.push((short, commit.id()));
        }
    }
    for (name, id) in &branches {
        if r.find_branch(name, git2::BranchType::Local).is_err() {
            let commit = r.find_commit(*id).map_err(e("reading a branch"))?;
            r.branch(name, &commit, false)
                .map_err(e("creating a branch"))?;
        }
    }
    r.remote_delete("origin")
        .map_err(e("forgetting the remote"))?;
    if r.head().and_then(|h| h.peel_to_commit()).is_err() {
        let names: Vec<&str> = branches.iter().map(|(n, _)| n.as_str()).collect();
        let pick = match names.as_slice() {
            [] => return Err(GitError(format!("remote {shown} has no commits"))),
            [one] => (*one).to_owned(),
            _ => ["main", "master"]
                .iter()
                .find(|b| names.contains(b))
                .map(|b| (*b).to_owned())
                .ok_or_else(|| {
                    GitError(format!(
                        "remote {shown}: its HEAD names a branch that does not exist; its branches are {}",
                        names.join(", ")
                    ))
                })?,
        };
        r.set_head(&format!("refs/heads/{pick}"))
            .map_err(e("setting HEAD"))?;
        let mut co = git2::build::CheckoutBuilder::new();
        co.force();
        r.checkout_head(Some(&mut co))
            .map_err(e("checking out HEAD"))?;
    }
    Ok(r)
}

/// Resolves a full or abbreviated hexadecimal commit hash.
pub fn resolve_commit(repo: &Repository, spec: &str) -> Result<Oid, GitError> {
    let hex_ok = (4..=64).contains(&spec.len()) && spec.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex_ok {
        return Err(GitError(format!(
            "'{spec}' is not a commit hash (4 to 40 hexadecimal digits)"
        )));
    }
    let obj = repo.revparse_single(spec).map_err(|e| match e.code() {
        git2::ErrorCode::Ambiguous => {
            GitError(format!("commit '{spec}' is ambiguous; give more digits"))
        }
        git2::ErrorCode::NotFound => {
            GitError(format!("commit '{spec}' not found in the repository"))
        }
        _ => git_err(&format!("resolving '{spec}'"), &e, &[]),
    })?;
    match obj.kind() {
        Some(git2::ObjectType::Commit) => Ok(obj.id()),
        Some(k) => Err(GitError(format!("'{spec}' is a {k}, not a commit"))),
        None => Err(GitError(format!("'{spec}' is not a commit"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_stripped_and_redacted() {
        let url = "https://alice:s3cret@git.example.org/lab/run.git";
        assert_eq!(
            strip_credentials(url),
            "https://git.example.org/lab/run.git"
        );
        assert_eq!(
            strip_credentials("git@host:lab/run.git"),
            "git@host:lab/run.git"
        );
        assert_eq!(strip_credentials("file:///tmp/r"), "file:///tmp/r");
        let s = url_secrets(url);
        assert_eq!(s, ["alice:s3cret", "s3cret"]);
        let refs: Vec<&str> = s.iter().map(String::as_str).collect();
        assert_eq!(
            redact("failed for https://alice:s3cret@x and s3cret", &refs),
            "failed for https://***@x and ***"
        );
    }

    #[test]
    fn remote_helpers_and_odd_schemes_are_refused() {
        for ok in [
            "https://h/r.git",
            "ssh://git@h/r",
            "git://127.0.0.1:9/r",
            "file:///tmp/r",
            "/tmp/r",
            "git@h:lab/r.git",
        ] {
            assert!(check_remote_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "fd::3",
            "ext::sh -c touch% /tmp/pwned",
            "--upload-pack=x",
            "gopher://h/r",
        ] {
            assert!(check_remote_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_remote_url("fd::3").unwrap_err().to_string(),
            "remote 'fd::3': the remote-helper transport 'fd::' is not allowed (use https, ssh, git, file or a path)"
        );
    }

    #[test]
    fn commits_resolve_by_prefix_and_refuse_non_commits() {
        let dir = tempfile::tempdir().unwrap();
        let repo = open_or_init(dir.path()).unwrap();
        let sig = Signature::now("t", "t@h").unwrap();
        let c1 = commit_file(&repo, Path::new("Runfile"), b"one\n", "one", &sig).unwrap();
        let same = commit_file(&repo, Path::new("Runfile"), b"one\n", "again", &sig).unwrap();
        assert_eq!(c1, same, "unchanged content makes no commit");
        let c2 = commit_file(&repo, Path::new("Runfile"), b"two\n", "two", &sig).unwrap();
        assert_ne!(c1, c2);
        assert_eq!(resolve_commit(&repo, &c1.to_string()[..8]).unwrap(), c1);
        let tree = repo.find_commit(c2).unwrap().tree_id().to_string();
        let e = resolve_commit(&repo, &tree).unwrap_err();
        assert_eq!(e.to_string(), format!("'{tree}' is a tree, not a commit"));
        assert!(
            resolve_commit(&repo, "main")
                .unwrap_err()
                .to_string()
                .contains("is not a commit hash")
        );
        assert!(
            resolve_commit(&repo, "deadbeef")
                .unwrap_err()
                .to_string()
                .contains("not found")
        );
        let bounded = super::super::BoundedRepo::local(&repo, &super::super::Limits::default());
        assert_eq!(
            bounded
                .read_file(c1, Path::new("Runfile"), 1 << 20)
                .unwrap()
                .unwrap(),
            b"one\n"
        );
        let out = tempfile::tempdir().unwrap();
        bounded.materialize(c1, &out.path().join("x")).unwrap();
        assert_eq!(
            std::fs::read(out.path().join("x/Runfile")).unwrap(),
            b"one\n"
        );
        assert_eq!(
            std::fs::read(dir.path().join("Runfile")).unwrap(),
            b"two\n",
            "work tree untouched"
        );
    }
}
