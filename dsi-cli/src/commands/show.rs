//! `dsi show REF`: a record's fields, its Runfile at its commit, its
//! repository's log and its replays. Everything from the store is shown
//! with control and bidi characters escaped.

use dsi_core::text::Shown;
use dsi_core::{Access, Stores};
use dsi_plugins_charliecloud::describe::{self, RunDescription};
use dsi_plugins_charliecloud::find::{self, Want};

use crate::cli::{GlobalArgs, ShowArgs};
use crate::exit::ExitStatus;
use crate::output::{outln, print_json};
use crate::stores;

fn print_human(d: &RunDescription) -> std::io::Result<()> {
    let r = &d.run;
    let lines = r.summary_fields();
    let width = lines
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0)
        .max(13);
    for (k, v) in &lines {
        outln!("{k:width$}  {}", Shown(v))?;
    }
    if let Some(c) = &r.compat {
        let verdict = match &c.result {
            Some(res) if !res.compared => "not compared".to_owned(),
            Some(res) if res.compatible => "compatible".to_owned(),
            Some(res) => format!("incompatible: {}", res.blocking.join("; ")),
            None => "not compared".to_owned(),
        };
        outln!(
            "{:width$}  {verdict} (check={})",
            "compatibility",
            c.policy.as_deref().unwrap_or("")
        )?;
    }
    if !r.passenv.is_empty() {
        outln!("\npassed in (PASSENV):")?;
        for p in &r.passenv {
            match &p.value {
                Some(v) => outln!("  {}={}", Shown(&p.name), Shown(v))?,
                None => outln!("  {} (passed, value not recorded)", Shown(&p.name))?,
            }
        }
    }
    if !r.outputs.is_empty() {
        outln!("\noutputs:")?;
        for o in &r.outputs {
            outln!(
                "  {}  {}",
                Shown(&o.path),
                o.sha256.as_deref().unwrap_or("(missing)")
            )?;
        }
    }
    if !r.steps.is_empty() {
        outln!("\nsteps:")?;
        for s in &r.steps {
            let status = match (s.exit_code, s.signal) {
                (Some(c), _) => format!("exit {c}"),
                (None, Some(sig)) => format!("signal {sig}"),
                (None, None) => "?".into(),
            };
            outln!(
                "  {}/{} line {} {}: {status} in {} ms",
                s.step,
                s.of,
                s.line,
                s.kind,
                s.duration_ms
            )?;
            if let Some(l) = &s.launcher {
                let shape = match (l.tasks, &l.nodes) {
                    (Some(t), Some(n)) => format!(", {t} tasks on {n}"),
                    (Some(t), None) => format!(", {t} tasks"),
                    (None, Some(n)) => format!(", nodes {n}"),
                    (None, None) => String::new(),
                };
                let job = l
                    .slurm_job_id
                    .as_ref()
                    .map(|j| format!(", job {j}"))
                    .unwrap_or_default();
                outln!(
                    "      launched by {} ({}{shape}{job})",
                    Shown(&l.argv.join(" ")),
                    Shown(l.version.as_deref().unwrap_or("version unknown")),
                )?;
            }
        }
    }
    if let Some(v) = &r.verification {
        match &v.reference {
            Some(p) => outln!("\nverification against run {p}: {}", v.verdict)?,
            None => outln!(
                "\nverification: {} ({})",
                v.verdict,
                Shown(v.note.as_deref().unwrap_or("no reference"))
            )?,
        }
        for item in &v.items {
            outln!("  {:<16} {}", item.status.as_str(), Shown(&item.summary()))?;
        }
    }
    if let Some(runfile) = &d.runfile {
        outln!("\nRunfile at {}:", r.commit.as_deref().unwrap_or_default())?;
        for line in runfile.lines() {
            outln!("  {}", Shown(line))?;
        }
    }
    if !d.log.is_empty() {
        outln!("\nlog:")?;
        for l in &d.log {
            outln!(
                "  {} {} ({})",
                &l.commit[..l.commit.len().min(10)],
                Shown(&l.summary),
                Shown(&l.author)
            )?;
        }
    }
    if !d.replays.is_empty() {
        outln!("\nreplays:")?;
        for p in &d.replays {
            outln!(
                "  {}  {}  exit {}  {}",
                p.run_id,
                p.recorded_at.as_deref().unwrap_or_default(),
                p.exit_code.map_or_else(|| "?".into(), |c| c.to_string()),
                p.verdict.map_or("", |v| v.as_str())
            )?;
        }
    }
    Ok(())
}

/// `dsi show`.
pub(crate) fn run(global: &GlobalArgs, args: &ShowArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let stores = Stores::new(&drivers);
    let found = find::reference(stores, &args.run, Want::Record)?;
    let d = describe::describe(stores, &found, 20)?;
    if global.json {
        print_json(&d)?;
    } else {
        print_human(&d)?;
    }
    Ok(ExitStatus::Ok)
}
