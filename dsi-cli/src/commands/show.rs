//! `dsi show RUN`: every column of a record, the Runfile at its commit, the
//! repository's log and the compatibility summary.

use dsi_core::Value;
use dsi_plugins_charliecloud::artifact::{self, Limits, repo};
use serde_json::json;

use crate::backends;
use crate::cli::{GlobalArgs, ShowArgs};
use crate::exit::ExitStatus;
use crate::output::outln;
use crate::output::print_json;
use crate::runs::{self, FoundRun};

/// The Runfile and the log, from the stored repository.
fn repository_view(run: &FoundRun<'_>) -> anyhow::Result<Option<(String, Vec<String>)>> {
    let Some(blob) = run
        .row
        .get(0, "container_run_commands")
        .and_then(Value::as_blob)
        .copied()
    else {
        return Ok(None);
    };
    let work = tempfile::tempdir()?;
    let r = artifact::unpack_stored_repository(
        run.driver.get_blob(&blob)?,
        work.path(),
        &Limits::default(),
    )
    .map_err(dsi_core::Error::from)?;
    let (Some(commit), Some(path)) = (run.text("commit"), run.text("runfile_path")) else {
        return Ok(None);
    };
    let oid = repo::resolve_commit(&r, &commit)?;
    let runfile = repo::read_at(&r, oid, std::path::Path::new(&path))?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut walk = r.revwalk()?;
    walk.push(oid)?;
    let log = walk
        .take(20)
        .filter_map(Result::ok)
        .filter_map(|id| r.find_commit(id).ok())
        .map(|c| {
            format!(
                "{} {} ({})",
                &c.id().to_string()[..10],
                c.summary().ok().flatten().unwrap_or_default(),
                c.author().name().unwrap_or_default()
            )
        })
        .collect();
    Ok(Some((runfile, log)))
}

/// `dsi show`.
pub(crate) fn run(global: &GlobalArgs, args: &ShowArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let found = runs::find(&stores, &args.run)?;
    let view = repository_view(&found)?;
    let t = &found.row;
    if global.json {
        let mut columns = serde_json::Map::new();
        for c in t.columns() {
            columns.insert(c.name().to_owned(), c.values()[0].to_json());
        }
        let (runfile, log) = view.map_or((None, None), |(r, l)| (Some(r), Some(l)));
        print_json(&json!({"run": columns, "runfile": runfile, "log": log}))?;
        return Ok(ExitStatus::Ok);
    }
    let width = t
        .columns()
        .iter()
        .map(|c| c.name().len())
        .max()
        .unwrap_or(0);
    for c in t.columns() {
        let v = &c.values()[0];
        if v.is_null() || matches!(c.name(), "kernel_info" | "steps" | "compat_result") {
            continue;
        }
        outln!("{:width$}  {v}", c.name())?;
    }
    if let Some(compat) = found
        .text("compat_result")
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
    {
        let verdict = if compat["compared"] != true {
            "not compared".to_owned()
        } else if compat["compatible"] == true {
            "compatible".to_owned()
        } else {
            format!(
                "incompatible: {}",
                compat["blocking"]
                    .as_array()
                    .map(|b| b
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join("; "))
                    .unwrap_or_default()
            )
        };
        outln!(
            "{:width$}  {verdict} (check={})",
            "compatibility",
            compat["policy"].as_str().unwrap_or("")
        )?;
    }
    if let Some(steps) = found
        .text("steps")
        .and_then(|s| serde_json::from_str::<Vec<serde_json::Value>>(&s).ok())
    {
        outln!("\nsteps:")?;
        for s in steps {
            outln!(
                "  {}/{} line {} {}: exit {} in {} ms",
                s["step"],
                s["of"],
                s["line"],
                s["kind"].as_str().unwrap_or(""),
                s["exit_code"],
                s["duration_ms"]
            )?;
        }
    }
    if let Some((runfile, log)) = view {
        outln!("\nRunfile at {}:", found.text("commit").unwrap_or_default())?;
        for line in runfile.lines() {
            outln!("  {line}")?;
        }
        outln!("\nlog:")?;
        for l in log {
            outln!("  {l}")?;
        }
    }
    Ok(ExitStatus::Ok)
}
