//! `dsi why A B`: each layer in which two runs differ, the first named as
//! the likely cause, then the Runfile diff; `--json` for scripts.

use dsi_core::text::Shown;
use dsi_core::{Access, Stores};
use dsi_plugins_charliecloud::why::{self, Why};

use crate::cli::{GlobalArgs, WhyArgs};
use crate::exit::ExitStatus;
use crate::output::{outln, print_json};
use crate::stores;

fn print_human(w: &Why) -> std::io::Result<()> {
    outln!("a  {}", w.a)?;
    outln!("b  {}", w.b)?;
    match w.first {
        Some(first) => outln!("first difference: {first} (the likely cause)")?,
        None => outln!("no differences in any layer")?,
    }
    for l in &w.layers {
        outln!(
            "{:<12} {}",
            l.name,
            if l.differs { "differs" } else { "same" }
        )?;
        for d in &l.details {
            outln!("    {}", Shown(d))?;
        }
        if let Some(diff) = &l.diff {
            for line in diff.lines() {
                outln!("    {}", Shown(line))?;
            }
        }
    }
    Ok(())
}

/// `dsi why`.
pub(crate) fn run(global: &GlobalArgs, args: &WhyArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let w = why::why(Stores::new(&drivers), &args.a, &args.b)?;
    if global.json {
        print_json(&w)?;
    } else {
        print_human(&w)?;
    }
    Ok(ExitStatus::Ok)
}
