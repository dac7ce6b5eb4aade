//! `dsi log [REF | --repo DIR]`: a project's history — its commits, newest
//! first, each with its records and replays — so a user finds what to
//! replay without the store's run ids.

use dsi_core::text::Shown;
use dsi_core::{Access, Stores};
use dsi_plugins_charliecloud::describe;
use dsi_plugins_charliecloud::find::{self, Want};

use crate::cli::{GlobalArgs, LogArgs};
use crate::exit::ExitStatus;
use crate::output::{outln, print_json};
use crate::stores;

/// `dsi log`.
pub(crate) fn run(global: &GlobalArgs, args: &LogArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let stores = Stores::new(&drivers);
    let history = match &args.reference {
        Some(r) => {
            let found = find::reference(stores, r, Want::Record)?;
            describe::history_of_record(stores, &found, args.limit)?
        }
        None => {
            let dir = args.repo.clone().unwrap_or_else(|| ".".into());
            describe::history_of_dir(stores, &dir, args.limit)?
        }
    };
    if global.json {
        print_json(&history)?;
        return Ok(ExitStatus::Ok);
    }
    for c in &history {
        outln!(
            "{} {} ({})",
            &c.commit.commit[..c.commit.commit.len().min(10)],
            Shown(&c.commit.summary),
            Shown(&c.commit.author)
        )?;
        if c.runs.is_empty() {
            outln!("    not recorded")?;
        }
        for r in &c.runs {
            let what = match (r.function.verb(), r.exit_code) {
                ("replay", Some(code)) => format!("replay  exit {code}"),
                (verb, _) => verb.to_owned(),
            };
            outln!(
                "    {}  {what}  {}  {}",
                r.run_id,
                r.recorded_at
                    .as_deref()
                    .map(|t| &t[..t.len().min(19)])
                    .unwrap_or(""),
                Shown(r.hostname.as_deref().unwrap_or(""))
            )?;
        }
    }
    Ok(ExitStatus::Ok)
}
