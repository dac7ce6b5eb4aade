//! `dsi diff REF [REF | --now]`: what differs between the systems two runs
//! were recorded on (or a run's and today's), grouped by section; colour on
//! a terminal unless `NO_COLOR` is set; `--json` for scripts.

use dsi_core::text::Shown;
use dsi_core::{Access, Stores};
use dsi_plugins_charliecloud::compat::{self, SystemComparison};

use crate::cli::{DiffArgs, GlobalArgs};
use crate::exit::ExitStatus;
use crate::output::{outln, print_json};
use crate::stores;

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn print_human(d: &SystemComparison) -> std::io::Result<()> {
    let c = crate::logging::colour_stdout();
    outln!("{} {}", paint(c, "1", "from"), Shown(&d.from))?;
    outln!("{} {}", paint(c, "1", "to  "), Shown(&d.to))?;
    if d.identical {
        return outln!("no differences");
    }
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Shown(s).to_string(),
        other => other.to_string(),
    };
    for (name, s) in &d.sections {
        let counts = format!(
            "{} changed, {} added, {} removed",
            s.changed.len(),
            s.added.len(),
            s.removed.len()
        );
        outln!(
            "\n{} ({counts})",
            paint(c, "1;36", &Shown(name).to_string())
        )?;
        if let Some(a) = &s.availability {
            outln!(
                "  {} {} → {}",
                paint(c, "33", "!"),
                Shown(&a.before),
                Shown(&a.after)
            )?;
        }
        for ch in &s.changed {
            outln!(
                "  {} {}: {} → {}",
                paint(c, "33", "~"),
                Shown(&ch.key),
                show(&ch.before),
                show(&ch.after)
            )?;
        }
        for e in &s.removed {
            outln!(
                "  {} {}: {}",
                paint(c, "31", "-"),
                Shown(&e.key),
                show(&e.value)
            )?;
        }
        for e in &s.added {
            outln!(
                "  {} {}: {}",
                paint(c, "32", "+"),
                Shown(&e.key),
                show(&e.value)
            )?;
        }
    }
    Ok(())
}

/// `dsi diff`.
pub(crate) fn run(global: &GlobalArgs, args: &DiffArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let stores = Stores::new(&drivers);
    let d = compat::compare_runs(stores, &args.run, args.other.as_deref())?;
    if global.json {
        print_json(&d)?;
    } else {
        print_human(&d)?;
    }
    Ok(ExitStatus::Ok)
}
