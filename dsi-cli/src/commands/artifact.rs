//! `dsi checkout`, `dsi push`, `dsi pull`: moving a record's repository
//! between dsi, a directory for ordinary git work, and a git remote.

use std::path::PathBuf;

use dsi_core::{Access, Stores};
use dsi_plugins_charliecloud::find::{self, Want};
use dsi_plugins_charliecloud::{remote, repository};

use crate::cli::{CheckoutArgs, GlobalArgs, PullArgs, PushArgs};
use crate::exit::ExitStatus;
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
    let p = remote::push(Stores::new(&drivers), &args.run, &args.remote)?;
    if global.json {
        print_json(&p)?;
    } else {
        outln!(
            "pushed run {} to {}: {}",
            p.run_id,
            p.remote,
            p.refs.join(", ")
        )?;
    }
    Ok(ExitStatus::Ok)
}

/// `dsi pull --remote URL`.
pub(crate) fn pull(global: &GlobalArgs, args: &PullArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadWrite)?;
    let p = remote::pull(
        &drivers,
        &args.remote,
        args.path.as_ref().map(PathBuf::from),
    )?;
    if global.json {
        print_json(&p)?;
    } else {
        outln!(
            "pulled {} as run {} at commit {}",
            p.remote,
            p.run_id,
            p.commit.as_deref().unwrap_or("(none)")
        )?;
    }
    Ok(ExitStatus::Ok)
}
