//! Executing a Runfile's steps through `ch-run` (RUNFILE.md §7, §9 steps 4–5).
//!
//! * [`preflight()`] checks what would make `ch-run` fail with an unhelpful
//!   message, or a replay leave its directory (module [`mod@preflight`]).
//! * [`execute`] runs each step with `execve` (no shell), stdin `/dev/null`,
//!   stdout and stderr streamed to the caller's writers while they are
//!   hashed (module `capture`), and records per-step exit status, signal and
//!   timings. The first failing step stops the run (E501) and later steps
//!   are not run. A program that is not on `PATH` is E420 before anything
//!   runs.
//! * SIGINT, SIGTERM and SIGHUP received by dsi while a step runs are passed
//!   to the container's process group (module `signals`).
//! * `RunOutcome::stdout_sha256`/`stderr_sha256` hash the bytes of all
//!   steps' streams concatenated; each step also has its own digests.
//! * What PASSENV lets in, and what a record keeps of it: [`environment`].
//! * Declared outputs are hashed without leaving the context directory:
//!   [`outputs`], through [`beneath`].

pub mod beneath;
mod capture;
pub mod environment;
pub mod inputs;
pub mod join_leftovers;
mod launcher;
pub mod outputs;
pub mod preflight;
mod signals;

use std::io::{self, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dsi_core::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::runfile::{ArgvContext, Diagnostic, PathImageKind, Runfile, Step, StepKind};
use capture::pump;
use signals::Armed;

pub use environment::{RECORDED_VALUES, passed_environment, value_recorded};
pub use launcher::LauncherRecord;
pub use preflight::{
    ch_run_has_extglob, host_checks, image_checks, image_lookups_needed, launch_checks,
    prefetch_extglob, preflight,
};

/// A shared output sink (the terminal, a file, a buffer in tests).
pub type Sink = Arc<Mutex<dyn Write + Send>>;

/// How steps are run.
#[derive(Clone)]
pub struct RunOptions {
    /// Directory holding the Runfile; relative BIND sources resolve against it.
    pub context_dir: PathBuf,
    /// `--storage=DIR` passed to ch-run (recorded, not part of the Runfile).
    pub storage: Option<PathBuf>,
    /// The ch-run program (default `ch-run`).
    pub ch_run: String,
    /// `USER` for ch-run, which refuses to start without it.
    pub user: String,
    /// Where the containers' standard output goes.
    pub stdout: Sink,
    /// Where the containers' standard error goes.
    pub stderr: Sink,
    /// A path image (RUNFILE-1.1 §3), as resolved: `None` for an image in
    /// storage.
    pub path_image: Option<PathImageRun>,
}

/// How a path image is given to `ch-run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathImageRun {
    /// SquashFS file or directory.
    pub kind: PathImageKind,
    /// The resolved (realpath) image argument `N`.
    pub path: PathBuf,
    /// The empty directory of `--mount=M` (SquashFS only), created for this
    /// run.
    pub mount: Option<PathBuf>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("context_dir", &self.context_dir)
            .field("storage", &self.storage)
            .field("ch_run", &self.ch_run)
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    /// Options that stream to this process's stdout and stderr.
    pub fn new(context_dir: impl Into<PathBuf>, user: impl Into<String>) -> Self {
        RunOptions {
            context_dir: context_dir.into(),
            storage: None,
            ch_run: "ch-run".into(),
            user: user.into(),
            stdout: Arc::new(Mutex::new(io::stdout())),
            stderr: Arc::new(Mutex::new(io::stderr())),
            path_image: None,
        }
    }

    fn argv_context(&self) -> ArgvContext {
        let mut c = ArgvContext::new(&self.context_dir).with_program(self.ch_run.clone());
        if let Some(s) = &self.storage {
            c = c.with_storage(s);
        }
        if let Some(p) = &self.path_image {
            c = c.with_image_kind(p.kind).with_image_path(&p.path);
            if let Some(m) = &p.mount {
                c = c.with_mount(m);
            }
        }
        c
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepResult {
    /// Line of its RUN/CMD.
    pub line: usize,
    /// `run` or `cmd`.
    pub kind: &'static str,
    /// The exact ch-run argv.
    pub argv: Vec<String>,
    /// Exit status, if it exited.
    pub exit_code: Option<i32>,
    /// Signal that ended it, if any.
    pub signal: Option<i32>,
    /// When it started.
    #[serde(serialize_with = "ser_ts")]
    pub started_at: Timestamp,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// SHA-256 of its standard output.
    pub stdout_sha256: String,
    /// SHA-256 of its standard error.
    pub stderr_sha256: String,
    /// ch-run's own error line (`ch-run[PID]: error: …`), which ch-run exits
    /// 1 with, indistinguishable by status from the command exiting 1.
    pub ch_run_error: Option<String>,
    /// The launcher of a launched step (RUNFILE-1.1 §4).
    pub launcher: Option<LauncherRecord>,
}

fn ser_ts<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

/// What a whole run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    /// The steps that ran, in order (later steps after a failure are absent).
    pub steps: Vec<StepResult>,
    /// 0, the failing step's status, or 128 + signal.
    pub exit_code: i32,
    /// The signal that ended the run, if any: the one that killed the
    /// failing step, else one dsi received (and passed on) during the run.
    pub signal: Option<i32>,
    /// Wall time of all steps, in milliseconds.
    pub duration_ms: u64,
    /// SHA-256 of the standard output of all steps, concatenated in order.
    pub stdout_sha256: String,
    /// SHA-256 of the standard error of all steps, concatenated in order.
    pub stderr_sha256: String,
    /// Host variables passed through PASSENV, with their values.
    pub passenv: Vec<(String, String)>,
    /// E501 when a step failed.
    #[serde(skip)]
    pub failure: Option<Diagnostic>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs every step in order, stopping at the first failure.
///
/// Errors (a `Diagnostic`) are only for steps that could not be started at
/// all; a step that runs and fails is reported in [`RunOutcome::failure`].
pub fn execute(runfile: &Runfile, opts: &RunOptions) -> Result<RunOutcome, Diagnostic> {
    let ctx = opts.argv_context();
    let armed = Armed::new();
    run_steps(runfile, opts, &ctx, &armed)
}

fn run_steps(
    runfile: &Runfile,
    opts: &RunOptions,
    ctx: &ArgvContext,
    armed: &Armed,
) -> Result<RunOutcome, Diagnostic> {
    let total = runfile.steps().len();
    let start = Instant::now();
    let mut all_out = Sha256::new();
    let mut all_err = Sha256::new();
    let mut steps = Vec::with_capacity(total);
    let mut outcome_signal = None;
    let mut exit_code = 0;
    let mut failure = None;
    let mut launchers = launcher::Launchers::default();
    launchers.prefetch(runfile.steps().iter().filter_map(|s| s.launch.as_ref()));
    for (i, step) in runfile.steps().iter().enumerate() {
        if let Some(sig) = armed.pending() {
            // Interrupted between steps: record it, run nothing more.
            outcome_signal = Some(sig);
            exit_code = 128 + sig;
            failure = Some(Diagnostic::error(
                step.line,
                step.col,
                "E501",
                format!("interrupted by signal {sig} before step {}/{total}", i + 1),
            ));
            break;
        }
        tracing::info!(
            "step {}/{total} (line {}): {}",
            i + 1,
            step.line,
            runfile.to_ch_run_argv(i, ctx).join(" ")
        );
        let argv = runfile.to_ch_run_argv(i, ctx);
        let program = find_program(&argv[0]).ok_or_else(|| not_found(step, &argv[0]))?;
        let join_files = step
            .launch
            .as_ref()
            .filter(|l| l.join)
            .map(|_| join_leftovers::Snapshot::take(Path::new(join_leftovers::SHM_DIR)));
        let started_at = Timestamp::now();
        let t0 = Instant::now();
        let mut child = Command::new(program)
            .args(&argv[1..])
            .env("USER", &opts.user)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: signals are passed on to the whole
            // container (see `Interrupts`).
            .process_group(0)
            .spawn()
            .map_err(|e| {
                Diagnostic::error(
                    step.line,
                    step.col,
                    "E501",
                    format!("cannot start {}: {e}", argv[0]),
                )
            })?;
        let group = child.id().cast_signed();
        if let Some(i) = armed.interrupts {
            i.add_group(group, armed.since);
        }
        let out = child.stdout.take().expect("stdout is piped");
        let err = child.stderr.take().expect("stderr is piped");
        let (out_sink, err_sink) = (Arc::clone(&opts.stdout), Arc::clone(&opts.stderr));
        let out_thread = std::thread::spawn(move || pump(out, out_sink, false, all_out));
        let err_thread = std::thread::spawn(move || pump(err, err_sink, true, all_err));
        let status = child.wait();
        if let Some(i) = armed.interrupts {
            i.remove_group(group);
        }
        let out = out_thread.join().expect("stdout pump does not panic");
        let err = err_thread.join().expect("stderr pump does not panic");
        if let Some(snapshot) = &join_files {
            let removed = snapshot.clean_new();
            if !removed.is_empty() {
                let names: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
                tracing::warn!(
                    "step {}/{total} left ch-run --join files; removed: {}",
                    i + 1,
                    names.join(" ")
                );
            }
        }
        all_out = out.total;
        all_err = err.total;
        let status = status.map_err(|e| {
            Diagnostic::error(
                step.line,
                step.col,
                "E501",
                format!("waiting for step {}/{total}: {e}", i + 1),
            )
        })?;
        // After the step: the launcher's version was asked for in the
        // background meanwhile.
        let launched = step
            .launch
            .as_ref()
            .map(|l| launchers.record(l, |k| std::env::var(k).ok()));
        let result = StepResult {
            line: step.line,
            kind: match step.kind {
                StepKind::Run => "run",
                StepKind::Cmd => "cmd",
            },
            argv,
            exit_code: status.code(),
            signal: status.signal(),
            started_at,
            duration_ms: millis(t0.elapsed()),
            stdout_sha256: out.digest,
            stderr_sha256: err.digest,
            ch_run_error: err.ch_run_error,
            launcher: launched,
        };
        let failed = !status.success();
        tracing::info!(
            "step {}/{total} {} after {} ms ({} bytes on stdout, {} on stderr)",
            i + 1,
            match (result.exit_code, result.signal) {
                (Some(code), _) => format!("exited {code}"),
                (None, Some(sig)) => format!("was killed by signal {sig}"),
                (None, None) => "ended".to_owned(),
            },
            result.duration_ms,
            out.len,
            err.len,
        );
        steps.push(result);
        if failed {
            let (code, msg) = match (status.code(), status.signal()) {
                (Some(c), _) => (c, format!("step {}/{total} exited with status {c}", i + 1)),
                (None, Some(s)) => (
                    128 + s,
                    format!("step {}/{total} was killed by signal {s}", i + 1),
                ),
                (None, None) => (1, format!("step {}/{total} failed", i + 1)),
            };
            // The signal that ended the step, else one dsi received and
            // passed on (the container may have exited with a status).
            outcome_signal = status.signal().or_else(|| armed.pending());
            exit_code = code;
            failure = Some(Diagnostic::error(step.line, step.col, "E501", msg));
            break;
        }
    }
    Ok(RunOutcome {
        steps,
        exit_code,
        signal: outcome_signal,
        duration_ms: millis(start.elapsed()),
        stdout_sha256: hex::encode(all_out.finalize()),
        stderr_sha256: hex::encode(all_err.finalize()),
        passenv: environment::passed_environment_of(runfile, environment::ch_run_environment(opts)),
        failure,
    })
}

pub use dsi_core::env::find_program;

/// E420: the program a step starts is not installed.
fn not_found(step: &Step, program: &str) -> Diagnostic {
    Diagnostic::error(
        step.line,
        step.col,
        "E420",
        format!("program not found on PATH: {program}"),
    )
    .with_hint(if program.ends_with("ch-run") {
        "install Charliecloud (Debian: apt-get install charliecloud-runtime) or put ch-run on PATH"
            .to_owned()
    } else {
        format!("install {program} or put it on PATH")
    })
}
