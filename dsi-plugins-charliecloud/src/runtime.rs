//! Executing a Runfile's steps through `ch-run` (RUNFILE.md §7, §9 steps 4–5).
//!
//! * [`preflight`] checks what would make `ch-run` fail with an unhelpful
//!   message: WORKDIR missing in the image (E408), a bind source missing on
//!   the host (E406) or its destination missing in the image (E407), PASSENV
//!   without `ch-run --feature=extglob` (E411).
//! * [`execute`] runs each step with `execve` (no shell), stdin `/dev/null`,
//!   stdout and stderr streamed to the caller's writers while they are
//!   hashed, and records per-step exit status, signal and timings. The first
//!   failing step stops the run (E501) and later steps are not run.
//! * SIGINT, SIGTERM and SIGHUP received by dsi while a step runs are passed
//!   to the container process; the step ends with that signal, which is
//!   recorded, and no further step runs.

use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use dsi_core::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::runfile::{ArgvContext, Diagnostic, Runfile, StepKind};

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
        }
    }

    fn argv_context(&self) -> ArgvContext {
        let mut c = ArgvContext::new(&self.context_dir).with_program(self.ch_run.clone());
        if let Some(s) = &self.storage {
            c = c.with_storage(s);
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
    /// The signal that ended the run, if any.
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

fn image_path(image_dir: &Path, path: &str) -> PathBuf {
    image_dir.join(path.trim_start_matches('/'))
}

/// Whether `ch-run` supports `--feature=extglob` (needed by PASSENV).
pub fn ch_run_has_extglob(ch_run: &str, user: &str) -> bool {
    Command::new(ch_run)
        .arg("--feature=extglob")
        .env("USER", user)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Pre-flight checks (RUNFILE.md §9 step 4) against the unpacked image.
pub fn preflight(runfile: &Runfile, image_dir: &Path, opts: &RunOptions) -> Result<(), Diagnostic> {
    for w in runfile.workdirs() {
        if !image_path(image_dir, &w.path).is_dir() {
            return Err(Diagnostic::error(
                w.line,
                w.col,
                "E408",
                format!("WORKDIR {} does not exist in the image", w.path),
            ));
        }
    }
    for b in runfile.binds() {
        let src = b.abs_src(&opts.context_dir);
        if !Path::new(&src).exists() {
            return Err(Diagnostic::error(
                b.line,
                b.col,
                "E406",
                format!("bind source does not exist: {src}"),
            ));
        }
        if !image_path(image_dir, &b.dst).exists() {
            return Err(Diagnostic::error(
                b.line,
                b.col,
                "E407",
                format!("bind destination does not exist in the image: {}", b.dst),
            ));
        }
    }
    if let Some(p) = runfile.passenv().first()
        && !ch_run_has_extglob(&opts.ch_run, &opts.user)
    {
        return Err(Diagnostic::error(
            p.line,
            p.col,
            "E411",
            format!(
                "PASSENV needs ch-run --feature=extglob, which {} lacks",
                opts.ch_run
            ),
        ));
    }
    Ok(())
}

/// `fnmatch` with `*` and `?` only (PASSENV patterns).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], text) || (!text.is_empty() && glob_match(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob_match(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// The host variables PASSENV lets through, with their values.
pub fn passed_environment(runfile: &Runfile) -> Vec<(String, String)> {
    let patterns: Vec<&str> = runfile
        .passenv()
        .iter()
        .map(|p| p.pattern.as_str())
        .collect();
    if patterns.is_empty() {
        return Vec::new();
    }
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            patterns
                .iter()
                .any(|p| glob_match(p.as_bytes(), k.as_bytes()))
        })
        .collect();
    vars.sort();
    vars
}

/// How dsi reacts to SIGINT, SIGTERM and SIGHUP.
///
/// While steps run ("armed"), the first such signal is stored in `pending`
/// (and passed on to the container by the waiting loop) instead of ending
/// dsi, so the run can be recorded; a second one ends dsi with the default
/// action. Outside runs ("disarmed") the default action applies at once.
struct Interrupts {
    pending: Arc<AtomicUsize>,
    die: Arc<AtomicBool>,
}

impl Interrupts {
    fn get() -> &'static Interrupts {
        static INTERRUPTS: OnceLock<Interrupts> = OnceLock::new();
        INTERRUPTS.get_or_init(|| {
            let i = Interrupts {
                pending: Arc::new(AtomicUsize::new(0)),
                die: Arc::new(AtomicBool::new(true)),
            };
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                // Each action only touches atomics, which is signal-safe.
                // Registration fails only for forbidden signals, not these.
                let _ = signal_hook::flag::register_conditional_default(sig, Arc::clone(&i.die));
                let _ =
                    signal_hook::flag::register_usize(sig, Arc::clone(&i.pending), sig as usize);
                let _ = signal_hook::flag::register(sig, Arc::clone(&i.die));
            }
            i
        })
    }

    fn arm(&self) {
        self.pending.store(0, Ordering::SeqCst);
        self.die.store(false, Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.die.store(true, Ordering::SeqCst);
    }

    fn pending(&self) -> Option<i32> {
        match self.pending.load(Ordering::SeqCst) {
            0 => None,
            s => i32::try_from(s).ok(),
        }
    }
}

/// Copies a child's output to a sink while hashing it; remembers a ch-run
/// error line if one passes by.
fn pump(mut from: impl Read, to: Sink, scan_ch_run: bool) -> io::Result<(String, Option<String>)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    let mut ch_run_error = None;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        {
            let mut sink = to.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // A closed terminal must not stop the container: keep hashing.
            let _ = sink.write_all(&buf[..n]).and_then(|()| sink.flush());
        }
        if scan_ch_run && ch_run_error.is_none() {
            for &b in &buf[..n] {
                if b == b'\n' {
                    let text = String::from_utf8_lossy(&line);
                    if text.starts_with("ch-run[") && text.contains("]: error: ") {
                        ch_run_error = Some(text.into_owned());
                    }
                    line.clear();
                } else if line.len() < 4096 {
                    line.push(b);
                }
            }
        }
    }
    Ok((hex::encode(h.finalize()), ch_run_error))
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
    let interrupts = Interrupts::get();
    interrupts.arm();
    let result = run_steps(runfile, opts, &ctx, interrupts);
    interrupts.disarm();
    result
}

fn run_steps(
    runfile: &Runfile,
    opts: &RunOptions,
    ctx: &ArgvContext,
    interrupts: &'static Interrupts,
) -> Result<RunOutcome, Diagnostic> {
    let total = runfile.steps().len();
    let start = Instant::now();
    let mut all_out = Sha256::new();
    let mut all_err = Sha256::new();
    let mut steps = Vec::with_capacity(total);
    let mut outcome_signal = None;
    let mut exit_code = 0;
    let mut failure = None;
    for (i, step) in runfile.steps().iter().enumerate() {
        if let Some(sig) = interrupts.pending() {
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
        let argv = runfile.to_ch_run_argv(i, ctx);
        let started_at = Timestamp::now();
        let t0 = Instant::now();
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .env("USER", &opts.user)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Diagnostic::error(
                    step.line,
                    step.col,
                    "E501",
                    format!("cannot start {}: {e}", argv[0]),
                )
            })?;
        let out = child.stdout.take().expect("stdout is piped");
        let err = child.stderr.take().expect("stderr is piped");
        let (out_sink, err_sink) = (Arc::clone(&opts.stdout), Arc::clone(&opts.stderr));
        let out_thread = std::thread::spawn(move || pump(out, out_sink, false));
        let err_thread = std::thread::spawn(move || pump(err, err_sink, true));

        // Pass interrupts on to the container process while waiting.
        let done = Arc::new(AtomicBool::new(false));
        let forwarder = {
            let done = Arc::clone(&done);
            let pid = child.id();
            std::thread::spawn(move || {
                let mut sent = false;
                while !done.load(Ordering::Acquire) {
                    if !sent && let Some(sig) = interrupts.pending() {
                        let target = rustix::process::Pid::from_raw(pid.cast_signed());
                        if let (Some(target), Some(sig)) =
                            (target, rustix::process::Signal::from_named_raw(sig))
                        {
                            let _ = rustix::process::kill_process(target, sig);
                        }
                        sent = true;
                    }
                    std::thread::park_timeout(Duration::from_millis(20));
                }
            })
        };
        let status = child.wait();
        done.store(true, Ordering::Release);
        forwarder.thread().unpark();
        let _ = forwarder.join();
        let status = status.map_err(|e| {
            Diagnostic::error(
                step.line,
                step.col,
                "E501",
                format!("waiting for step {}/{total}: {e}", i + 1),
            )
        })?;
        let (out_digest, _) = out_thread
            .join()
            .expect("stdout pump does not panic")
            .unwrap_or_default();
        let (err_digest, ch_run_error) = err_thread
            .join()
            .expect("stderr pump does not panic")
            .unwrap_or_default();
        all_out.update(out_digest.as_bytes());
        all_err.update(err_digest.as_bytes());
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
            stdout_sha256: out_digest,
            stderr_sha256: err_digest,
            ch_run_error,
        };
        let failed = !status.success();
        steps.push(result);
        if failed {
            let (code, msg) = match (status.code(), status.signal()) {
                (Some(c), _) => (c, format!("step {}/{total} exited with status {c}", i + 1)),
                (None, Some(s)) => {
                    outcome_signal = Some(s);
                    (
                        128 + s,
                        format!("step {}/{total} was killed by signal {s}", i + 1),
                    )
                }
                (None, None) => (1, format!("step {}/{total} failed", i + 1)),
            };
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
        passenv: passed_environment(runfile),
        failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_star_and_question_mark_only() {
        assert!(glob_match(b"SLURM_*", b"SLURM_JOB_ID"));
        assert!(glob_match(b"OMPI_?", b"OMPI_X"));
        assert!(!glob_match(b"OMPI_?", b"OMPI_XY"));
        assert!(glob_match(b"*", b""));
        assert!(!glob_match(b"SLURM_*", b"SECRET_TOKEN"));
    }
}
