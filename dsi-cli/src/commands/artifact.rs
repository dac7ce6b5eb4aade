//! `dsi checkout`, `dsi push`, `dsi pull`: moving a record's repository
//! between dsi, a directory for ordinary git work, and a git remote.

use anyhow::{Context, bail};
use dsi_core::terminal::put_collection;
use dsi_core::{Error, Options};
use dsi_plugins_charliecloud::artifact::{self, Limits, repo};
use dsi_plugins_charliecloud::records::{RUNS, text_at};
use dsi_plugins_charliecloud::remote::GitDriver;
use serde_json::json;

use crate::cli::{CheckoutArgs, GlobalArgs, PullArgs, PushArgs};
use crate::exit::ExitStatus;
use crate::output::outln;
use crate::output::print_json;
use crate::{backends, runs};

fn blob_of(run: &runs::FoundRun<'_>) -> anyhow::Result<dsi_core::BlobRef> {
    run.row
        .get(0, "container_run_commands")
        .and_then(|v| v.as_blob())
        .copied()
        .ok_or_else(|| {
            anyhow::anyhow!(Error::InvalidData(format!(
                "run {} has no repository artifact",
                run.id()
            )))
        })
}

/// `dsi checkout RUN_ID DIR`.
pub(crate) fn checkout(global: &GlobalArgs, args: &CheckoutArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let run = runs::find(&stores, &args.run)?;
    let blob = blob_of(&run)?;
    let dir = &args.dir;
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(Error::Refused(format!(
            "{} exists and is not empty",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let reader = run.driver.get_blob(&blob)?;
    if let Err(e) = artifact::unpack_stored_repository(reader, dir, &Limits::default()) {
        // Leave nothing half-written behind.
        let _ = std::fs::remove_dir_all(dir);
        return Err(Error::from(e).into());
    }
    let commit = run.text("commit").unwrap_or_default();
    if global.json {
        print_json(&json!({"run_id": run.id(), "commit": commit, "dir": dir}))?;
    } else {
        outln!(
            "checked out run {} (commit {commit}) into {}",
            run.id(),
            dir.display()
        )?;
    }
    Ok(ExitStatus::Ok)
}

fn git_driver(remote: &str, path: Option<&str>) -> anyhow::Result<GitDriver> {
    let mut o = Options::new().with("remote", remote);
    if let Some(p) = path {
        o.set("path", p);
    }
    Ok(GitDriver::from_options(&o)?)
}

/// `dsi push --remote URL RUN_ID`.
pub(crate) fn push(global: &GlobalArgs, args: &PushArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let run = runs::find(&stores, &args.run)?;
    let blob = blob_of(&run)?;
    let git = git_driver(&args.remote, None)?;
    let mut reader = run.driver.get_blob(&blob)?;
    let pushed = git.push(&blob, &mut reader)?;
    let shown = repo::strip_credentials(&args.remote);
    if global.json {
        print_json(&json!({"run_id": run.id(), "remote": shown, "refs": pushed.refs}))?;
    } else {
        outln!(
            "pushed run {} to {shown}: {}",
            run.id(),
            pushed.refs.join(", ")
        )?;
    }
    Ok(ExitStatus::Ok)
}

/// `dsi pull --remote URL`.
pub(crate) fn pull(global: &GlobalArgs, args: &PullArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let git = git_driver(&args.remote, args.path.as_deref())?;
    let fetched = git.fetch()?;
    for d in &stores {
        put_collection(d.as_ref(), &fetched)?;
    }
    let runs = fetched
        .table(RUNS)
        .expect("the git driver returns a runs row");
    let (id, commit) = (text_at(runs, 0, "run_id"), text_at(runs, 0, "commit"));
    if global.json {
        print_json(
            &json!({"run_id": id, "commit": commit, "remote": repo::strip_credentials(&args.remote)}),
        )?;
    } else {
        outln!(
            "pulled {} as run {} at commit {}",
            repo::strip_credentials(&args.remote),
            id.unwrap_or_default(),
            commit.unwrap_or_else(|| "(none)".into())
        )?;
    }
    Ok(ExitStatus::Ok)
}
