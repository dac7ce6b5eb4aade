//! `dsi campaign start|status|report|task`: the campaign workflow of
//! dsi-plugins-charliecloud (`campaign`) with this dsi as the task command.

use std::ffi::OsString;

use anyhow::Context;

use dsi_core::text::Shown;
use dsi_core::{Access, Stores};
use dsi_plugins_charliecloud::campaign::launch::{self, Launched, TaskCommand};
use dsi_plugins_charliecloud::campaign::report::{self, Report};
use dsi_plugins_charliecloud::campaign::status::{self, CampaignStatus};
use dsi_plugins_charliecloud::campaign::task::{self, TaskOutcome};
use dsi_plugins_charliecloud::campaign::{self, Campaign, Launcher, Options, Selection};
use dsi_plugins_charliecloud::verify::Verdict;

use crate::cli::{
    CampaignCommand, CampaignReportArgs, CampaignStartArgs, CampaignStatusArgs, CampaignTaskArgs,
    GlobalArgs, ImageArgs, ReportFormat,
};
use crate::commands::{image_settings, list};
use crate::exit::{Diagnosed, ExitStatus};
use crate::json::{CampaignStarted, CampaignTaskDone};
use crate::output::{outln, print_json};
use crate::stores;

/// Runs a `dsi campaign` command.
pub(crate) fn run(global: &GlobalArgs, command: &CampaignCommand) -> anyhow::Result<ExitStatus> {
    match command {
        CampaignCommand::Start(args) => start(global, args),
        CampaignCommand::Status(args) => show_status(global, args),
        CampaignCommand::Report(args) => show_report(global, args),
        CampaignCommand::Task(args) => run_task(global, args),
    }
}

/// This dsi with the same stores, running `campaign task`.
fn task_command(global: &GlobalArgs) -> anyhow::Result<TaskCommand> {
    let program = std::env::current_exe().context("locating the dsi executable")?;
    let mut args: Vec<OsString> = Vec::new();
    for d in &global.drivers {
        args.extend(["--driver".into(), d.into()]);
    }
    for s in &global.stores {
        args.extend(["--store".into(), s.into()]);
    }
    for o in &global.options {
        args.extend(["--option".into(), o.into()]);
    }
    args.extend(["campaign".into(), "task".into()]);
    Ok(TaskCommand { program, args })
}

/// The selection as given on the command line, for the campaign's record.
fn described(args: &CampaignStartArgs) -> Vec<String> {
    let f = &args.filter;
    let mut d: Vec<String> = Vec::new();
    for (flag, v) in [
        ("--image", &f.image),
        ("--host", &f.host),
        ("--commit", &f.commit),
        ("--since", &f.since),
    ] {
        if let Some(v) = v {
            d.extend([flag.to_owned(), v.clone()]);
        }
    }
    for c in &f.conditions {
        d.extend(["--where".to_owned(), c.clone()]);
    }
    d.extend(args.refs.iter().cloned());
    d
}

fn options(args: &CampaignStartArgs) -> Options {
    Options {
        repeat: args.repeat,
        check: args.check.clone(),
        ch_storage: args
            .image_args
            .ch_storage
            .as_ref()
            .map(|p| p.display().to_string()),
        offline: args.image_args.offline,
        full: args.image_args.full,
        content_limit: args.content_limit,
        launcher: if args.slurm {
            Launcher::Slurm {
                sbatch_args: args.sbatch_args.clone(),
                throttle: args.throttle,
            }
        } else {
            Launcher::Local { jobs: args.jobs }
        },
    }
}

/// `dsi campaign start`.
fn start(global: &GlobalArgs, args: &CampaignStartArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadWrite)?;
    let stores = Stores::new(&drivers);
    let (mut campaign, tasks, resume) = match &args.resume {
        Some(id) => {
            let (c, tasks) = campaign::resume(stores, id)?;
            (c, tasks, true)
        }
        None => {
            let selection = Selection {
                filter: list::record_filter(&args.filter)?,
                refs: args.refs.clone(),
                described: described(args),
            };
            let plan = campaign::plan(stores, &selection, options(args))?;
            let c = campaign::start(&drivers, plan)?;
            let tasks = c.plan.tasks.iter().map(|t| t.index).collect();
            (c, tasks, false)
        }
    };
    if tasks.is_empty() {
        if global.json {
            print_json(&CampaignStarted {
                campaign: campaign.id.clone(),
                launcher: launcher_name(&campaign).into(),
                submitted: Vec::new(),
                arrays: Vec::new(),
                summary: None,
            })?;
        } else {
            outln!(
                "campaign {}: every task has a replay or is queued; nothing to resume",
                campaign.id
            )?;
        }
        return Ok(ExitStatus::Ok);
    }
    let command = task_command(global)?;
    let jobs = (args.resume.is_some() && args.jobs > 1).then_some(args.jobs);
    if !global.json
        && let Launcher::Local { jobs: planned } = campaign.plan.options.launcher
    {
        outln!(
            "campaign {}: replaying {} tasks, {} at a time",
            campaign.id,
            tasks.len(),
            jobs.unwrap_or(planned)
        )?;
    }
    match launch::submit(drivers, &mut campaign, &tasks, jobs, &command, resume)? {
        Launched::Slurm(submission) => {
            let jobs: Vec<String> = submission.arrays.iter().map(|a| a.job_id.clone()).collect();
            if global.json {
                print_json(&CampaignStarted {
                    campaign: campaign.id.clone(),
                    launcher: "slurm".into(),
                    submitted: tasks,
                    arrays: submission.arrays,
                    summary: None,
                })?;
            } else {
                outln!(
                    "campaign {}: {} tasks submitted as Slurm array job {} (dsi campaign status {})",
                    campaign.id,
                    tasks.len(),
                    jobs.join(", "),
                    campaign.id
                )?;
            }
            Ok(ExitStatus::Ok)
        }
        Launched::Local(ran) => finish_local(global, &campaign, tasks, &ran),
    }
}

fn launcher_name(c: &Campaign) -> &'static str {
    match c.plan.options.launcher {
        Launcher::Slurm { .. } => "slurm",
        Launcher::Local { .. } => "local",
    }
}

/// After a local campaign: the summary, and status 1 when a task failed
/// to start.
fn finish_local(
    global: &GlobalArgs,
    campaign: &Campaign,
    tasks: Vec<u32>,
    ran: &launch::LocalRun,
) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let r = report::report(Stores::new(&drivers), &campaign.id)?;
    if global.json {
        print_json(&CampaignStarted {
            campaign: campaign.id.clone(),
            launcher: "local".into(),
            submitted: tasks,
            arrays: Vec::new(),
            summary: Some(r.summary),
        })?;
    } else {
        outln!("{}", report::summary_line(&r.summary))?;
        outln!("dsi campaign report {} shows each record", campaign.id)?;
    }
    let failed = ran.exits.values().filter(|s| **s != Some(0)).count();
    if failed > 0 {
        return Err(Diagnosed::new(
            format!(
                "error: {failed} of {} tasks failed to start (dsi campaign status {} names why; --resume {} runs them again)",
                ran.exits.len(),
                campaign.id,
                campaign.id
            ),
            ExitStatus::Failed,
        )
        .into());
    }
    Ok(ExitStatus::Ok)
}

fn print_status(s: &CampaignStatus) -> std::io::Result<()> {
    let c = &s.counts;
    let done: u64 = c.done.values().sum();
    outln!(
        "campaign {}: {} tasks: {} pending, {} running, {} done, {} failed to start{}",
        s.campaign,
        s.tasks,
        c.pending,
        c.running,
        done,
        c.failed_to_start,
        if s.slurm { " (with Slurm)" } else { "" }
    )?;
    for (v, n) in &c.done {
        outln!("  done {v}: {n}")?;
    }
    if s.duplicates > 0 {
        outln!("  duplicates: {}", s.duplicates)?;
    }
    for t in &s.task_states {
        if let Some(e) = &t.error {
            outln!(
                "  task {} ({}) failed to start: {}",
                t.index,
                t.key,
                Shown(e)
            )?;
        }
    }
    Ok(())
}

/// `dsi campaign status`.
fn show_status(global: &GlobalArgs, args: &CampaignStatusArgs) -> anyhow::Result<ExitStatus> {
    loop {
        let drivers = stores::open(global, Access::ReadOnly)?;
        let stores = Stores::new(&drivers);
        let id = campaign::resolve(stores, args.campaign.as_deref())?;
        let s = status::status(stores, &id)?;
        if global.json {
            print_json(&s)?;
        } else {
            print_status(&s)?;
        }
        match args.watch {
            Some(secs) if !s.finished() => {
                std::thread::sleep(std::time::Duration::from_secs(secs.max(1)));
            }
            _ => return Ok(ExitStatus::Ok),
        }
    }
}

fn rendered(r: &Report, format: ReportFormat) -> anyhow::Result<String> {
    Ok(match format {
        ReportFormat::Text => report::render_text(r),
        ReportFormat::Markdown => report::render_markdown(r),
        ReportFormat::Html => report::render_html(r),
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(r)?;
            s.push('\n');
            s
        }
    })
}

/// `dsi campaign report`.
fn show_report(global: &GlobalArgs, args: &CampaignReportArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let stores = Stores::new(&drivers);
    let id = campaign::resolve(stores, args.campaign.as_deref())?;
    let r = report::report(stores, &id)?;
    let format = if global.json {
        ReportFormat::Json
    } else {
        args.format
    };
    let text = rendered(&r, format)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text.as_bytes())
                .map_err(|e| dsi_core::Error::io(format!("writing {}", path.display()), e))?;
            if !global.json {
                outln!("wrote {}", path.display())?;
            }
        }
        None => {
            use std::io::Write as _;
            crate::output::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(ExitStatus::Ok)
}

/// `dsi campaign task`: one replay; status 0 when a replay is stored (or
/// already was), whatever its verdict.
fn run_task(global: &GlobalArgs, args: &CampaignTaskArgs) -> anyhow::Result<ExitStatus> {
    let open = || {
        stores::open(global, Access::ReadWrite)
            .map_err(|e| dsi_core::Error::InvalidData(format!("{e:#}")))
    };
    let images = |c: &Campaign| {
        let o = &c.plan.options;
        image_settings(&ImageArgs {
            ch_storage: o.ch_storage.as_ref().map(Into::into),
            offline: o.offline,
            full: o.full,
        })
        .map_err(|e| dsi_core::Error::InvalidData(format!("{e:#}")))
    };
    let done = match task::run(open, &args.campaign, args.index, images)? {
        TaskOutcome::AlreadyDone(run) => CampaignTaskDone {
            task: args.index,
            replay: run,
            already_replayed: true,
            verdict: None,
        },
        TaskOutcome::Replayed(r) => CampaignTaskDone {
            task: args.index,
            replay: r.record.run_id.clone(),
            already_replayed: false,
            verdict: Some(
                r.record
                    .verification
                    .as_ref()
                    .map_or(Verdict::Unverifiable, |v| v.verdict),
            ),
        },
    };
    if global.json {
        print_json(&done)?;
    } else if done.already_replayed {
        outln!(
            "task {} was already replayed as run {}",
            done.task,
            done.replay
        )?;
    } else {
        outln!(
            "task {} replayed as run {}: {}",
            done.task,
            done.replay,
            done.verdict.map_or("unverifiable", Verdict::as_str)
        )?;
    }
    Ok(ExitStatus::Ok)
}
