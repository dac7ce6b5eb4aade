//! `dsi checkout`, `dsi push`, `dsi pull`: moving a record's repository
//! between dsi, a directory for ordinary git work, and a git remote.

use std::path::PathBuf;

use dsi_core::terminal::put_collection;
use dsi_core::{Access, Collection, Stores};
use dsi_plugins_charliecloud::find::{self, Want};
use dsi_plugins_charliecloud::remote::GitRemote;
use dsi_plugins_charliecloud::repository;

use crate::cli::{CheckoutArgs, GlobalArgs, PullArgs, PushArgs};
use crate::exit::ExitStatus;
use crate::json::{Pulled, Pushed};
use crate::output::{outln, print_json};
use crate::stores;

/// `dsi checkout REF DIR`.
pub(crate) fn checkout(global: &GlobalArgs, args: &CheckoutArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let stores = Stores::new(&drivers);
    let found = find::reference(stores, &args.run, Want::Record)?;
    let done = repository::checkout(stores, &found, &args.dir)?;
    if global.json {
        print_json(&done)?;
    } else {
        outln!(
            "checked out run {} (commit {}) into {}",
            done.run_id,
            done.commit.as_deref().unwrap_or_default(),
            done.dir.display()
        )?;
    }
    Ok(ExitStatus::Ok)
}

/// `dsi push --remote URL REF`.
pub(crate) fn push(global: &GlobalArgs, args: &PushArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let stores = Stores::new(&drivers);
    let found = find::reference(stores, &args.run, Want::Record)?;
    let blob = repository::blob_of(&found.record)?;
    let remote = GitRemote::new(&args.remote, None)?;
    let mut reader = stores.blob(&blob, Some(found.store))?;
    let pushed = remote.push(&blob, &mut reader)?;
    let id = &found.record.run_id;
    if global.json {
        print_json(&Pushed {
            run_id: id.clone(),
            remote: remote.shown(),
            refs: pushed.refs,
        })?;
    } else {
        outln!(
            "pushed run {id} to {}: {}",
            remote.shown(),
            pushed.refs.join(", ")
        )?;
    }
    Ok(ExitStatus::Ok)
}

/// `dsi pull --remote URL`.
pub(crate) fn pull(global: &GlobalArgs, args: &PullArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadWrite)?;
    let remote = GitRemote::new(&args.remote, args.path.as_ref().map(PathBuf::from))?;
    let fetched = remote.fetch()?;
    let mut c = Collection::of(fetched.record.to_table()?);
    c.push_blob(fetched.blob);
    for d in &drivers {
        put_collection(d.as_ref(), &c)?;
    }
    let r = &fetched.record;
    if global.json {
        print_json(&Pulled {
            run_id: r.run_id.clone(),
            commit: r.commit.clone(),
            remote: remote.shown(),
        })?;
    } else {
        outln!(
            "pulled {} as run {} at commit {}",
            remote.shown(),
            r.run_id,
            r.commit.as_deref().unwrap_or("(none)")
        )?;
    }
    Ok(ExitStatus::Ok)
}
