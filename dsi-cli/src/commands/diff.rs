//! `dsi diff RUN [RUN | --now]`: what differs between the systems two runs
//! were recorded on (or a run's and today's), grouped by section; colour on
//! a terminal unless `NO_COLOR` is set; `--json` for scripts.

use anyhow::Context;
use dsi_core::env::{KernelDiff, KernelInfo, collect_kernel_info, diff};
use serde_json::json;

use crate::backends;
use crate::cli::{DiffArgs, GlobalArgs};
use crate::exit::ExitStatus;
use crate::output::outln;
use crate::output::print_json;
use crate::runs;

struct Side {
    label: String,
    info: KernelInfo,
}

fn side_of(run: &runs::FoundRun<'_>) -> anyhow::Result<Side> {
    let text = run.text("kernel_info").ok_or_else(|| {
        anyhow::anyhow!(dsi_core::Error::InvalidData(format!(
            "run {} has no kernel_info",
            run.id()
        )))
    })?;
    let info = KernelInfo::from_json(&text).with_context(|| format!("run {}", run.id()))?;
    let when = run
        .row
        .get(0, "recorded_at")
        .map(ToString::to_string)
        .unwrap_or_default();
    let host = run.text("hostname").unwrap_or_default();
    Ok(Side {
        label: format!("run {} ({host}, {when})", run.id()),
        info,
    })
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn print_human(a: &Side, b: &Side, d: &KernelDiff) -> std::io::Result<()> {
    let c = crate::logging::colour_stdout();
    outln!("{} {}", paint(c, "1", "from"), a.label)?;
    outln!("{} {}", paint(c, "1", "to  "), b.label)?;
    if d.is_empty() {
        return outln!("no differences");
    }
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for (name, s) in &d.sections {
        let counts = format!(
            "{} changed, {} added, {} removed",
            s.changed.len(),
            s.added.len(),
            s.removed.len()
        );
        outln!("\n{} ({counts})", paint(c, "1;36", name))?;
        if let Some(a) = &s.availability {
            outln!("  {} {} → {}", paint(c, "33", "!"), a.before, a.after)?;
        }
        for ch in &s.changed {
            outln!(
                "  {} {}: {} → {}",
                paint(c, "33", "~"),
                ch.key,
                show(&ch.before),
                show(&ch.after)
            )?;
        }
        for e in &s.removed {
            outln!("  {} {}: {}", paint(c, "31", "-"), e.key, show(&e.value))?;
        }
        for e in &s.added {
            outln!("  {} {}: {}", paint(c, "32", "+"), e.key, show(&e.value))?;
        }
    }
    Ok(())
}

/// `dsi diff`.
pub(crate) fn run(global: &GlobalArgs, args: &DiffArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let a = side_of(&runs::find(&stores, &args.run)?)?;
    let b = match &args.other {
        Some(other) => side_of(&runs::find(&stores, other)?)?,
        None => Side {
            label: format!("this system ({})", dsi_core::env::Hostname::current()),
            info: collect_kernel_info(),
        },
    };
    let d = diff(&a.info, &b.info);
    if global.json {
        let blocking = dsi_plugins_charliecloud::compat::blocking(&d);
        print_json(
            &json!({"from": a.label, "to": b.label, "identical": d.is_empty(), "blocking": blocking, "sections": d.sections}),
        )?;
    } else {
        print_human(&a, &b, &d)?;
    }
    Ok(ExitStatus::Ok)
}
