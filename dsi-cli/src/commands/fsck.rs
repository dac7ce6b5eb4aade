//! `dsi fsck`: verify every blob's digest and every record's references
//! (see the library's `fsck`). Exits 74 on any problem.

use dsi_core::{Access, Stores};
use dsi_plugins_charliecloud::fsck;

use crate::cli::GlobalArgs;
use crate::exit::ExitStatus;
use crate::output::{outln, print_json};
use crate::stores;

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `dsi fsck`.
pub(crate) fn run(global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let report = fsck::check(Stores::new(&drivers))?;
    if global.json {
        print_json(&report)?;
    } else {
        for p in &report.problems {
            outln!("problem: {}: {}", p.store, p.problem)?;
        }
        outln!(
            "checked {}, {} and {}: {}",
            plural(report.blobs, "blob", "blobs"),
            plural(report.runs, "run", "runs"), // not a runs column
            plural(report.repositories, "repository", "repositories"),
            if report.problems.is_empty() {
                "no problems".to_owned()
            } else {
                format!("{} problem(s)", report.problems.len())
            }
        )?;
    }
    Ok(if report.problems.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::IoErr
    })
}
