//! `dsi replay REF` and `dsi run RUNFILE`: the replay workflow, its dry run,
//! and the verification report.

use std::path::PathBuf;

use anyhow::Context;

use dsi_core::Access;
use dsi_core::text::Shown;
use dsi_plugins_charliecloud::compat::Policy;
use dsi_plugins_charliecloud::producer::OutputTo;
use dsi_plugins_charliecloud::replaying::{
    self, Repeated, ReplayFrom, ReplayPlan, ReplayRequest, Replayed,
};
use dsi_plugins_charliecloud::verify::{RepeatSummary, Verdict, Verification};

use crate::cli::{GlobalArgs, ImageArgs, ReplayArgs, RunArgs};
use crate::commands::{image_settings, record};
use crate::exit::{Diagnosed, ExitStatus};
use crate::output::{outln, print_json};
use crate::stores;

fn policy(check: Option<&str>) -> Policy {
    check.and_then(|c| c.parse().ok()).unwrap_or_default()
}

fn request(
    global: &GlobalArgs,
    from: ReplayFrom,
    path: Option<&String>,
    check: Option<&str>,
    image: &ImageArgs,
) -> anyhow::Result<ReplayRequest> {
    Ok(ReplayRequest {
        from,
        path: path.map(PathBuf::from),
        check: policy(check),
        output: if global.json {
            OutputTo::Stderr
        } else {
            OutputTo::Inherit
        },
        into: None,
        images: image_settings(image)?,
        verify: false,
        against: None,
        content_limit: dsi_plugins_charliecloud::verify::DEFAULT_CONTENT_LIMIT,
        campaign: None,
    })
}

fn print_verification(v: &Verification) -> std::io::Result<()> {
    match (&v.reference, &v.note) {
        (Some(r), _) => outln!("verification against run {r}:")?,
        (None, Some(note)) => outln!("verification: {}", Shown(note))?,
        (None, None) => outln!("verification:")?,
    }
    for item in &v.items {
        outln!("  {:<16} {}", item.status.as_str(), Shown(&item.summary()))?;
    }
    outln!("verdict: {}", v.verdict)
}

fn print_summary(s: &RepeatSummary) -> std::io::Result<()> {
    for m in &s.metrics {
        let opt = |x: Option<f64>| x.map_or("null".to_owned(), |v| format!("{v:.6}"));
        outln!(
            "metric {}: n {}, mean {:.6}, stdev {}, CoV {}, min {}, max {}",
            Shown(&m.label()),
            m.n,
            m.mean,
            opt(m.stdev),
            opt(m.cov),
            m.min,
            m.max
        )?;
    }
    if !s.nondeterministic.is_empty() {
        let names: Vec<String> = s
            .nondeterministic
            .iter()
            .map(|n| Shown(n).to_string())
            .collect();
        outln!("nondeterministic: {}", names.join(", "))?;
    }
    outln!("verdict over the repeats: {}", s.verdict)
}

fn print_plan(p: &ReplayPlan) -> std::io::Result<()> {
    outln!("dry run: nothing is run and nothing is stored")?;
    if let Some(r) = &p.record {
        let by = p.made_by.as_deref().unwrap_or("unknown");
        let foreign = if p.foreign {
            " (another user or host)"
        } else {
            ""
        };
        outln!("record    {r} by {}{foreign}", Shown(by))?;
    }
    outln!("commit    {}", p.commit)?;
    outln!("runfile   {}", Shown(&p.runfile))?;
    outln!("image     {}", Shown(&p.image))?;
    outln!("          {}", p.image_check)?;
    for b in &p.binds {
        let from = if b.from_commit {
            "from the commit"
        } else {
            "host path"
        };
        outln!(
            "bind      {} -> {} (read-write, {from})",
            Shown(&b.host_path),
            Shown(&b.destination)
        )?;
    }
    if !p.passenv.is_empty() {
        outln!(
            "passenv   {} (now: {})",
            p.passenv.join(" "),
            if p.passed_now.is_empty() {
                "none set".to_owned()
            } else {
                p.passed_now.join(" ")
            }
        )?;
    }
    for o in &p.outputs {
        outln!("output    {}", Shown(o))?;
    }
    for (i, s) in p.steps.iter().enumerate() {
        let argv: Vec<String> = s.argv.iter().map(|a| Shown(a).to_string()).collect();
        outln!(
            "step {}/{} (line {}, {}): {}",
            i + 1,
            p.steps.len(),
            s.line,
            s.kind,
            argv.join(" ")
        )?;
    }
    Ok(())
}

/// Prints the outcome and turns it into the exit status.
fn report(global: &GlobalArgs, r: &Replayed) -> anyhow::Result<ExitStatus> {
    if global.json {
        print_json(r)?;
    } else {
        print_replay(r)?;
    }
    if let Some(f) = &r.failure {
        return Err(step_failure(f));
    }
    verdict_status(r.verification.as_ref().map(|v| v.verdict))
}

fn print_replay(r: &Replayed) -> std::io::Result<()> {
    let rec = &r.record;
    outln!(
        "replayed commit {} as run {}: exit {} in {} ms",
        rec.commit.as_deref().unwrap_or_default(),
        rec.run_id,
        rec.exit_code().unwrap_or(1),
        rec.outcome
            .as_ref()
            .and_then(|o| o.duration_ms)
            .unwrap_or(0)
    )?;
    if let Some(v) = &r.verification {
        print_verification(v)?;
    }
    Ok(())
}

/// The exit status of a verdict (RUNFILE-1.1 §7): 0, else 1 or 2 with a
/// line saying why; 0 when nothing was verified.
fn verdict_status(v: Option<Verdict>) -> anyhow::Result<ExitStatus> {
    let (why, status) = match v {
        None | Some(Verdict::Reproduced | Verdict::ReproducedWithinTolerance) => {
            return Ok(ExitStatus::Ok);
        }
        Some(Verdict::Unverifiable) => (
            "the replay could not be verified: no reference run, or its content was not stored",
            ExitStatus::Code(2),
        ),
        Some(Verdict::NotReproduced) => (
            "the replay did not reproduce the reference run",
            ExitStatus::Failed,
        ),
        Some(Verdict::Failed) => ("the replay failed its checks", ExitStatus::Failed),
    };
    let verdict = v.map_or("", Verdict::as_str);
    Err(Diagnosed::new(format!("error: {why} (verdict {verdict})"), status).into())
}

/// Prints `--repeat N`'s replays and summary; the exit status is the first
/// failed step's, else the worst verdict's.
fn report_repeated(global: &GlobalArgs, r: &Repeated) -> anyhow::Result<ExitStatus> {
    if global.json {
        print_json(r)?;
    } else {
        for (i, one) in r.replays.iter().enumerate() {
            outln!("repeat {}/{}:", i + 1, r.replays.len())?;
            print_replay(one)?;
        }
        print_summary(&r.summary)?;
    }
    if let Some(f) = r.replays.iter().find_map(|x| x.failure.as_ref()) {
        return Err(step_failure(f));
    }
    verdict_status(Some(r.summary.verdict))
}

fn step_failure(f: &replaying::StepFailure) -> anyhow::Error {
    let text = f.diagnostic.render(&f.file);
    let code = u8::try_from(f.exit_status.clamp(1, 255)).unwrap_or(1);
    Diagnosed::new(text, ExitStatus::Code(code)).into()
}

/// `dsi replay REF`.
pub(crate) fn replay(global: &GlobalArgs, args: &ReplayArgs) -> anyhow::Result<ExitStatus> {
    if args.slurm && !dsi_plugins_charliecloud::slurm::in_allocation() && !args.dry_run {
        return replay_in_allocation(&args.salloc_args);
    }
    let from = match (&args.repo, &args.remote) {
        (Some(dir), None) => ReplayFrom::Repository {
            dir: dir.clone(),
            commit: args.reference.clone(),
        },
        (None, Some(url)) => ReplayFrom::Remote {
            url: url.clone(),
            commit: args.reference.clone(),
        },
        _ => ReplayFrom::Reference(args.reference.clone()),
    };
    let mut req = request(
        global,
        from,
        args.path.as_ref(),
        args.check.as_deref(),
        &args.image,
    )?;
    req.into.clone_from(&args.into);
    req.verify = args.verify;
    req.against.clone_from(&args.against);
    req.content_limit = args.content_limit;
    if args.dry_run {
        let drivers = stores::open(global, Access::ReadOnly)?;
        let plan = replaying::plan(&drivers, &req)?;
        if global.json {
            print_json(&plan)?;
        } else {
            print_plan(&plan)?;
        }
        return Ok(ExitStatus::Ok);
    }
    if args.repeat > 1 {
        // The first open reports a store error as usual; later ones can
        // only fail if a store went away between repeats.
        let mut first = Some(stores::open(global, Access::ReadWrite)?);
        let open = || match first.take() {
            Some(d) => Ok(d),
            None => stores::open(global, Access::ReadWrite)
                .map_err(|e| dsi_core::Error::InvalidData(format!("{e:#}"))),
        };
        return report_repeated(
            global,
            &replaying::replay_repeated(open, &req, args.repeat)?,
        );
    }
    let drivers = stores::open(global, Access::ReadWrite)?;
    report(global, &replaying::replay(drivers, req)?)
}

/// `dsi run RUNFILE`: record, then replay the new record.
pub(crate) fn run(global: &GlobalArgs, args: &RunArgs) -> anyhow::Result<ExitStatus> {
    let recorded = record::record(global, &args.record)?;
    if !global.json {
        outln!(
            "recorded run {} at commit {}",
            recorded.record.run_id,
            recorded.record.commit.as_deref().unwrap_or_default()
        )?;
    }
    let mut req = request(
        global,
        ReplayFrom::Reference(recorded.record.run_id.clone()),
        None,
        args.check.as_deref(),
        &args.record.image,
    )?;
    req.verify = args.verify;
    let drivers = stores::open(global, Access::ReadWrite)?;
    report(global, &replaying::replay(drivers, req)?)
}

/// `dsi replay --slurm`: this same command line, without `--slurm` and the
/// salloc options, under `salloc SALLOC_ARGS…`; its exit status is the
/// replay's.
fn replay_in_allocation(salloc_args: &[String]) -> anyhow::Result<ExitStatus> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    for a in std::env::args_os().skip(1) {
        if a == "--" {
            break;
        }
        if a != "--slurm" {
            args.push(a);
        }
    }
    let exe = std::env::current_exe().context("locating the dsi executable")?;
    let mut c = dsi_plugins_charliecloud::slurm::salloc_command(salloc_args, &exe, &args)
        .map_err(|e| Diagnosed::new(format!("error: {e}"), ExitStatus::Unavailable))?;
    tracing::info!(
        "replaying in a Slurm allocation: salloc {}",
        salloc_args.join(" ")
    );
    let status = c.status().context("running salloc")?;
    Ok(match status.code() {
        Some(0) => ExitStatus::Ok,
        Some(n) => ExitStatus::Code(u8::try_from(n).unwrap_or(1)),
        None => ExitStatus::Code(1),
    })
}
