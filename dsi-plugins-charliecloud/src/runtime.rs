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
//!   to the container's process group (each step runs in its own); the step
//!   usually ends with that signal, which is recorded, and no further step
//!   runs. A second such signal also ends dsi.
//! * `RunOutcome::stdout_sha256`/`stderr_sha256` hash the bytes of all
//!   steps' streams concatenated; each step also has its own digests.
//! * ch-run starts with dsi's environment (plus `USER`); its
//!   `--unset-env=*` (or `--unset-env=!(PASSENV patterns)`) keeps all of it
//!   out of the container except what PASSENV names, and the values passed
//!   are recorded in [`RunOutcome::passenv`].

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

/// Looks `path` (absolute) up in the image rooted at `root` as the container
/// sees it: symbolic links are followed with `root` as `/` (an absolute
/// target, or `..` above the top, never leaves the image). `None` if it does
/// not exist or a link loop exceeds 40 links.
fn image_lookup(root: &Path, path: &str) -> Option<std::fs::Metadata> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::path::Component;

    let mut todo: VecDeque<OsString> = VecDeque::new();
    let push_front = |todo: &mut VecDeque<OsString>, p: &Path| {
        for c in p.components().rev() {
            match c {
                Component::Normal(n) => todo.push_front(n.to_owned()),
                Component::ParentDir => todo.push_front("..".into()),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
    };
    push_front(&mut todo, Path::new(path));
    let mut here = root.to_path_buf();
    let mut depth = 0usize;
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            if depth > 0 {
                here.pop();
                depth -= 1;
            }
            continue;
        }
        let next = here.join(&c);
        let meta = std::fs::symlink_metadata(&next).ok()?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return None;
            }
            let target = std::fs::read_link(&next).ok()?;
            if target.is_absolute() {
                here = root.to_path_buf();
                depth = 0;
            }
            push_front(&mut todo, &target);
        } else {
            here = next;
            depth += 1;
        }
    }
    std::fs::metadata(&here).ok()
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
        if !image_lookup(image_dir, &w.path).is_some_and(|m| m.is_dir()) {
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
        if image_lookup(image_dir, &b.dst).is_none() {
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

/// `fnmatch` with `*` and `?` only (PASSENV patterns), in O(pattern × text)
/// time whatever the number of `*` (a Runfile may come from anyone).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was and the text position it is now matched up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The environment `ch-run` starts with: dsi's own, with `USER` set to
/// `opts.user`. (Only PASSENV lets any of it into the container.)
fn ch_run_environment(opts: &RunOptions) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter(|(k, _)| k != "USER")
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    vars.push(("USER".to_owned(), opts.user.clone()));
    vars
}

/// The host variables PASSENV lets through, with their values, from this
/// process's environment (names and values that are not UTF-8 are
/// converted lossily). [`execute`] records the same for the environment it
/// gives ch-run, where `USER` is [`RunOptions::user`].
pub fn passed_environment(runfile: &Runfile) -> Vec<(String, String)> {
    let vars = std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    });
    passed_environment_of(runfile, vars)
}

fn passed_environment_of(
    runfile: &Runfile,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let patterns: Vec<&str> = runfile
        .passenv()
        .iter()
        .map(|p| p.pattern.as_str())
        .collect();
    if patterns.is_empty() {
        return Vec::new();
    }
    let mut vars: Vec<(String, String)> = vars
        .into_iter()
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
/// A thread of signal-hook's iterator receives them. While at least one run
/// is in progress, the first such signal is recorded (every run in progress
/// sees it) and sent on to the process group of every running container
/// instead of ending dsi, so the run can be recorded; a second one is also
/// sent on and then ends dsi with the default action. With no run in
/// progress the default action applies at once.
///
/// Each step runs in its own process group, so the container's children
/// (a shell's foreground command, say) get the signal too, and a terminal's
/// Ctrl-C reaches the container once, through dsi.
struct Interrupts {
    state: Mutex<InterruptState>,
}

#[derive(Default)]
struct InterruptState {
    /// Runs in progress.
    active: usize,
    /// Signals received while runs were in progress (a generation counter).
    received: u64,
    /// The last of them.
    last: i32,
    /// Whether one was received since runs started (a second one is fatal).
    interrupted: bool,
    /// Process groups of the containers now running.
    groups: Vec<i32>,
}

fn signal_group(group: i32, sig: i32) {
    if let (Some(pid), Some(sig)) = (
        rustix::process::Pid::from_raw(group),
        rustix::process::Signal::from_named_raw(sig),
    ) {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
}

impl Interrupts {
    /// The process-wide instance; `None` if the handlers cannot be installed
    /// (then signals keep their default action).
    fn get() -> Option<&'static Interrupts> {
        static INTERRUPTS: OnceLock<Option<Interrupts>> = OnceLock::new();
        INTERRUPTS
            .get_or_init(|| {
                let mut signals =
                    signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).ok()?;
                std::thread::Builder::new()
                    .name("dsi-signals".into())
                    .spawn(move || {
                        for sig in signals.forever() {
                            if let Some(i) = Interrupts::get() {
                                i.received(sig);
                            }
                        }
                    })
                    .ok()?;
                Some(Interrupts {
                    state: Mutex::new(InterruptState::default()),
                })
            })
            .as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InterruptState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn received(&self, sig: i32) {
        let mut st = self.lock();
        if st.active > 0 {
            for &g in &st.groups {
                signal_group(g, sig);
            }
            if !st.interrupted {
                st.interrupted = true;
                st.received += 1;
                st.last = sig;
                return;
            }
        }
        drop(st);
        let _ = signal_hook::low_level::emulate_default_handler(sig);
    }

    /// Starts a run; returns its view of the signal counter.
    fn arm(&self) -> u64 {
        let mut st = self.lock();
        st.active += 1;
        st.received
    }

    fn disarm(&self) {
        let mut st = self.lock();
        st.active -= 1;
        if st.active == 0 {
            st.interrupted = false;
        }
    }

    /// The signal received since the run that armed at `since` started.
    fn pending(&self, since: u64) -> Option<i32> {
        let st = self.lock();
        (st.received > since).then_some(st.last)
    }

    /// A step's container started as process group `group`; a signal that
    /// arrived since the run started is sent to it at once.
    fn add_group(&self, group: i32, since: u64) {
        let mut st = self.lock();
        st.groups.push(group);
        if st.received > since {
            signal_group(group, st.last);
        }
    }

    fn remove_group(&self, group: i32) {
        self.lock().groups.retain(|&g| g != group);
    }
}

/// One run's view of [`Interrupts`]; disarms when dropped.
struct Armed {
    interrupts: Option<&'static Interrupts>,
    since: u64,
}

impl Armed {
    fn new() -> Armed {
        let interrupts = Interrupts::get();
        let since = interrupts.map_or(0, Interrupts::arm);
        Armed { interrupts, since }
    }

    fn pending(&self) -> Option<i32> {
        self.interrupts.and_then(|i| i.pending(self.since))
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(i) = self.interrupts {
            i.disarm();
        }
    }
}

/// What [`pump`] saw.
struct Pumped {
    /// Hex SHA-256 of this step's stream.
    digest: String,
    /// The run's hash of the same stream over all steps, updated.
    total: Sha256,
    /// A `ch-run[PID]: error: …` line, if one passed by.
    ch_run_error: Option<String>,
}

fn ch_run_error_line(line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    (text.starts_with("ch-run[") && text.contains("]: error: ")).then(|| text.into_owned())
}

/// Copies a child's output to a sink while hashing it (into the step's hash
/// and the run's `total`); remembers a ch-run error line if one passes by.
/// A read error ends the copy (the digest then covers what was read).
fn pump(mut from: impl Read, to: Sink, scan_ch_run: bool, mut total: Sha256) -> Pumped {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    let mut ch_run_error = None;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        h.update(&buf[..n]);
        total.update(&buf[..n]);
        {
            let mut sink = to.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // A closed terminal must not stop the container: keep hashing.
            let _ = sink.write_all(&buf[..n]).and_then(|()| sink.flush());
        }
        if scan_ch_run && ch_run_error.is_none() {
            for &b in &buf[..n] {
                if b == b'\n' {
                    ch_run_error = ch_run_error_line(&line);
                    line.clear();
                    if ch_run_error.is_some() {
                        break;
                    }
                } else if line.len() < 4096 {
                    line.push(b);
                }
            }
        }
    }
    if scan_ch_run && ch_run_error.is_none() {
        ch_run_error = ch_run_error_line(&line);
    }
    Pumped {
        digest: hex::encode(h.finalize()),
        total,
        ch_run_error,
    }
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
        tracing::debug!(
            "step {}/{total} (line {}): {}",
            i + 1,
            step.line,
            runfile.to_ch_run_argv(i, ctx).join(" ")
        );
        let argv = runfile.to_ch_run_argv(i, ctx);
        let started_at = Timestamp::now();
        let t0 = Instant::now();
        let mut child = Command::new(&argv[0])
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
        };
        let failed = !status.success();
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
        passenv: passed_environment_of(runfile, ch_run_environment(opts)),
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
        assert!(glob_match(b"*_*_ID", b"SLURM_JOB_ID"));
        assert!(glob_match(b"S*?", b"SX"));
        assert!(!glob_match(b"S*?", b"S"));
        assert!(!glob_match(b"SLURM_*", b"SECRET_TOKEN"));
        assert!(!glob_match(b"A", b""));
    }

    #[test]
    fn glob_is_not_exponential() {
        let pattern = "*A".repeat(30) + "B";
        let text = "A".repeat(200);
        let t = Instant::now();
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes()));
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn image_lookup_follows_links_inside_the_image() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/share")).unwrap();
        std::fs::write(r.join("usr/share/f"), "x").unwrap();
        // Absolute and escaping links resolve inside the image, not on the host.
        std::os::unix::fs::symlink("/usr/share", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../usr", r.join("up")).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("hostetc")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        assert!(image_lookup(r, "/abs").unwrap().is_dir());
        assert!(image_lookup(r, "/abs/f").unwrap().is_file());
        assert!(image_lookup(r, "/up/share/f").unwrap().is_file());
        assert!(image_lookup(r, "/usr/../usr/share").unwrap().is_dir());
        assert!(image_lookup(r, "/hostetc").is_none());
        assert!(image_lookup(r, "/loop").is_none());
        assert!(image_lookup(r, "/nonexistent").is_none());
        assert!(image_lookup(r, "/").unwrap().is_dir());
    }

    #[test]
    fn pump_hashes_the_step_and_the_run_and_finds_ch_run_errors() {
        let sink: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
        let mut total = Sha256::new();
        total.update(b"a\n");
        let p = pump(
            &b"x\nch-run[12]: error: can't execve(2): /nope: No such file\ntail"[..],
            sink.clone(),
            true,
            total,
        );
        let all = b"x\nch-run[12]: error: can't execve(2): /nope: No such file\ntail";
        assert_eq!(sink.lock().unwrap().as_slice(), all);
        assert_eq!(p.digest, hex::encode(Sha256::digest(all)));
        let mut both = b"a\n".to_vec();
        both.extend_from_slice(all);
        assert_eq!(
            hex::encode(p.total.finalize()),
            hex::encode(Sha256::digest(&both))
        );
        assert_eq!(
            p.ch_run_error.as_deref(),
            Some("ch-run[12]: error: can't execve(2): /nope: No such file")
        );
        let p = pump(
            &b"ch-run[3]: error: no newline"[..],
            sink,
            true,
            Sha256::new(),
        );
        assert_eq!(
            p.ch_run_error.as_deref(),
            Some("ch-run[3]: error: no newline")
        );
    }
}
