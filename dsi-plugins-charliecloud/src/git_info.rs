//! The `git-info` plugin (the DSI GitInfo environment plugin): for the
//! repository it is pointed at (`repo=DIR`, default the working directory),
//! its remotes with credentials stripped, the HEAD commit, the branch and
//! whether the work tree is dirty, next to the POSIX identity.

use std::path::PathBuf;

use dsi_core::env::PosixIdentity;
use dsi_core::{
    Collection, Column, Context, DataType, Error, OptionSpec, Options, Plugin, PluginEntry,
    PluginFunction, Result, Table, Value,
};

use crate::artifact::repo;

/// Registered name.
pub const NAME: &str = "git-info";

inventory::submit! {
    PluginEntry {
        name: NAME,
        function: PluginFunction::Consumer,
        summary: "git remotes (credentials stripped), HEAD commit, branch and dirty flag of a repository",
        options: &[OptionSpec::optional("repo", "the repository (default: the working directory)")],
        build: |o: &Options| Ok(Box::new(GitInfo { repo: PathBuf::from(o.get("repo").unwrap_or(".")) })),
    }
}

/// The git-info plugin.
#[derive(Debug)]
pub struct GitInfo {
    /// The repository to describe.
    pub repo: PathBuf,
}

impl Plugin for GitInfo {
    fn name(&self) -> &str {
        NAME
    }

    fn function(&self) -> PluginFunction {
        PluginFunction::Consumer
    }

    fn collect(&mut self, _ctx: &Context<'_>) -> Result<Collection> {
        let r = git2::Repository::discover(&self.repo).map_err(|e| {
            Error::InvalidData(format!(
                "{} is not in a git repository: {}",
                self.repo.display(),
                e.message()
            ))
        })?;
        let mut remotes = Vec::new();
        if let Ok(names) = r.remotes() {
            for name in names.iter().flatten().flatten() {
                if let Ok(remote) = r.find_remote(name) {
                    let url = remote
                        .url()
                        .map(repo::strip_credentials)
                        .unwrap_or_default();
                    remotes.push(serde_json::json!({"name": name, "url": url}));
                }
            }
        }
        let first_url = remotes
            .iter()
            .find(|r| r["name"] == "origin")
            .or_else(|| remotes.first())
            .and_then(|r| r["url"].as_str())
            .map(str::to_owned);
        let head = r.head().ok();
        let commit = head
            .as_ref()
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| c.id().to_string());
        let branch = head
            .as_ref()
            .filter(|h| h.is_branch())
            .and_then(|h| h.shorthand().ok().map(str::to_owned));
        let dirty = r.workdir().is_some()
            && !repo::uncommitted(&r)
                .map_err(|e| Error::plugin(NAME, e))?
                .is_empty();
        let mut columns = PosixIdentity::current().columns()?;
        let one = |name: &str, t: DataType, v: Value| Column::new(name, t, vec![v]);
        columns.push(one("git_remote", DataType::Text, first_url.into())?);
        columns.push(one(
            "git_remotes",
            DataType::Text,
            Value::Text(serde_json::Value::Array(remotes).to_string()),
        )?);
        columns.push(one("git_commit", DataType::Text, commit.into())?);
        columns.push(one("git_branch", DataType::Text, branch.into())?);
        columns.push(one("git_dirty", DataType::Bool, Value::Bool(dirty))?);
        Ok(Collection::of(Table::from_columns("git_info", columns)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_repository_without_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let r = repo::open_or_init(dir.path()).unwrap();
        r.remote("origin", "https://alice:s3cret@git.example.org/lab/run.git")
            .unwrap();
        let sig = git2::Signature::now("t", "t@h").unwrap();
        let c = repo::commit_file(&r, std::path::Path::new("Runfile"), b"x\n", "m", &sig).unwrap();
        let mut p = GitInfo {
            repo: dir.path().to_path_buf(),
        };
        let out = p.collect(&Context::empty()).unwrap();
        let t = out.table("git_info").unwrap();
        assert_eq!(
            t.get(0, "git_remote").and_then(Value::as_text),
            Some("https://git.example.org/lab/run.git")
        );
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(
            t.get(0, "git_commit").and_then(Value::as_text),
            Some(c.to_string().as_str())
        );
        assert_eq!(
            t.get(0, "git_branch").and_then(Value::as_text),
            Some("main")
        );
        assert_eq!(t.get(0, "git_dirty"), Some(&Value::Bool(false)));
        std::fs::write(dir.path().join("new"), "x").unwrap();
        let out = p.collect(&Context::empty()).unwrap();
        assert_eq!(
            out.table("git_info").unwrap().get(0, "git_dirty"),
            Some(&Value::Bool(true))
        );
    }
}
