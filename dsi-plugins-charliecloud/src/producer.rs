//! The `charliecloud-producer` plugin: replays a recorded run from a commit
//! hash (RUNFILE.md §9).
//!
//! On transload it
//! 1. opens the artifact — a record in a loaded back-end
//!    ([`ReplaySource::Run`]), a repository directory or a git remote —
//!    and reads the Runfile at the commit (at most [`MAX_RUNFILE_BYTES`]);
//!    a stored repository is rebuilt and read within budgets
//!    ([`crate::artifact::BoundedRepo`]);
//! 2. materialises the commit into a fresh directory (never the user's work
//!    tree), refusing tree symlinks that would leave it;
//! 3. parses the Runfile and validates or acquires its image by digest
//!    (§8.3);
//! 4. compares the recorded `kernel_info` and `scheduler_info` with
//!    today's ([`crate::compat`]) under `warn|strict|off`: `strict` reads
//!    today's description first and refuses on a blocking difference before
//!    anything runs; `warn` compares it after the run and warns then.
//!    Either way it is read in the background while the record is opened
//!    and materialised, and finished before the first step starts: its
//!    sysctl reads and scheduler probes, run beside a starting MPI step,
//!    slowed the step by more than they add before it. For a record made by another user
//!    or on another host, the binds it will mount read-write are announced;
//! 5. runs the pre-flight checks and the steps through `ch-run`, streaming
//!    the containers' output;
//! 6. returns one `runs` row ([`RunRecord`], function `producer`): the
//!    parent record, the image digests, per-step argv and status, exit
//!    code, signal, duration, output digests, the declared outputs' digests
//!    (read without leaving the context directory), the PASSENV names (and
//!    values only for the scheduler/MPI context), today's system and the
//!    compatibility result. A failed step is recorded, not an error: the
//!    row's exit code says how it ended.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dsi_core::{
    Collection, Context, Error, OptionSpec, Options, PendingBlob, Plugin, PluginEntry,
    PluginFunction, Result,
};
use sha2::{Digest, Sha256};

use crate::artifact::{self, BoundedRepo, Limits, repo};
use crate::compat::{self, Policy};
use crate::diagnostic_error::RunfileError;
use crate::image;
use crate::records::{self, Compat, Function, Outcome, RunRecord, StepRecord, System};
use crate::runfile::{self, Diagnostic, PathImageKind, Runfile};
use crate::runfile_source::MAX_RUNFILE_BYTES;
use crate::runtime::{self, PathImageRun, RunOptions, Sink, environment, outputs};
use crate::settings::{IMAGE_OPTIONS, ImageSettings, parse_bool};
use crate::verify;

/// Registered name.
pub const NAME: &str = "charliecloud-producer";

/// Where the artifact to replay comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaySource {
    /// A record in a loaded back-end, by full run id.
    Run(String),
    /// A repository directory.
    Repo(PathBuf),
    /// A git remote.
    Remote(String),
}

/// Where the containers' output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputTo {
    /// This process's stdout and stderr.
    Inherit,
    /// Both to this process's stderr (keeps stdout for machine output).
    Stderr,
    /// Nowhere (still hashed).
    Discard,
}

/// What to replay and how, typed (the registry's options build one too).
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The artifact.
    pub source: ReplaySource,
    /// The commit (full or abbreviated hash).
    pub commit: String,
    /// The Runfile's path inside the repository (default: the record's,
    /// else `Runfile`).
    pub path: Option<PathBuf>,
    /// What to do when this system differs from the recorded one.
    pub policy: Policy,
    /// Where the containers' output goes.
    pub output: OutputTo,
    /// Materialise into this new directory and keep it.
    pub into: Option<PathBuf>,
    /// How images are found and checked.
    pub images: ImageSettings,
    /// Announce the binds before running (a record someone else made).
    pub announce_binds: bool,
    /// Verify against this run (`--against`) instead of the first
    /// successful replay of the commit.
    pub against: Option<String>,
    /// Largest content of a compared target kept as a blob (bytes).
    pub content_limit: u64,
    /// The campaign task this replay runs as, stored in its row.
    pub campaign: Option<crate::records::CampaignTask>,
}

/// The producer plugin.
pub struct Producer {
    config: ReplayConfig,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.config.source {
            ReplaySource::Remote(url) => format!("remote {}", repo::strip_credentials(url)),
            other => format!("{other:?}"),
        };
        f.debug_struct("Producer")
            .field("source", &source)
            .field("commit", &self.config.commit) // not a runs column
            .finish_non_exhaustive()
    }
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::required("commit", "commit to replay (full or abbreviated hash)"), // not a runs column
    OptionSpec::optional(
        "run",
        "the record to replay, by run id, from a loaded back-end",
    ),
    OptionSpec::optional("repo", "a repository directory holding the commit"),
    OptionSpec::optional("remote", "a git remote holding the commit (never stored)"),
    OptionSpec::optional(
        "path",
        "location of the Runfile inside the repository (default: the record's, else Runfile)",
    ),
    OptionSpec::optional(
        "check",
        "system compatibility policy: warn (default), strict, off",
    ),
    OptionSpec::optional(
        "output",
        "where container output goes: inherit (default), stderr, discard",
    ),
    OptionSpec::optional(
        "into",
        "materialise the commit into this new directory and keep it (default: a temporary one)",
    ),
    OptionSpec::optional(
        "announce_binds",
        "true: say which host paths the replay mounts before running (default false)",
    ),
    OptionSpec::optional(
        "against",
        "verify against this run (default: the first successful replay of the commit)",
    ),
    OptionSpec::optional(
        "content_limit",
        "largest content of a compared output kept, in bytes (default 16777216)",
    ),
    IMAGE_OPTIONS[0],
    IMAGE_OPTIONS[1],
    IMAGE_OPTIONS[2],
];

inventory::submit! {
    PluginEntry {
        name: NAME,
        function: PluginFunction::Producer,
        summary: "replays a recorded Runfile at a commit with ch-run, checking the image digest and the system",
        options: OPTIONS,
        build: |o| Ok(Box::new(Producer::from_options(o)?)),
    }
}

fn fail(e: impl Into<dsi_core::BoxError>) -> Error {
    Error::plugin(NAME, e)
}

fn tmp() -> Result<tempfile::TempDir> {
    tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))
}

/// The artifact, opened.
struct Opened {
    repo: git2::Repository,
    /// Stored size of the packed repository, for its read budgets.
    stored_bytes: Option<u64>,
    parent: Option<RunRecord>,
}

impl Opened {
    fn bounded(&self, limits: &Limits) -> BoundedRepo<'_> {
        match self.stored_bytes {
            Some(n) => BoundedRepo::stored(&self.repo, n, limits),
            None => BoundedRepo::local(&self.repo, limits),
        }
    }
}

impl Producer {
    /// The plugin for a typed configuration.
    pub fn new(config: ReplayConfig) -> Result<Self> {
        if let Some(p) = &config.path {
            crate::consumer::repo_relative(NAME, p)?;
        }
        if let ReplaySource::Remote(url) = &config.source {
            repo::check_remote_url(url).map_err(|e| Error::config(NAME, e.0))?;
        }
        Ok(Producer { config })
    }

    /// Builds the plugin from validated registry options.
    pub fn from_options(options: &Options) -> Result<Self> {
        let sources = [
            options.get("run"),
            options.get("repo"),
            options.get("remote"),
        ];
        let source = match sources {
            [Some(r), None, None] => ReplaySource::Run(r.to_owned()),
            [None, Some(d), None] => ReplaySource::Repo(PathBuf::from(d)),
            [None, None, Some(u)] => ReplaySource::Remote(u.to_owned()),
            _ => {
                return Err(Error::config(
                    NAME,
                    "give exactly one of run=, repo=, remote=",
                ));
            }
        };
        let output = match options.get("output").unwrap_or("inherit") {
            "inherit" => OutputTo::Inherit,
            "stderr" => OutputTo::Stderr,
            "discard" => OutputTo::Discard,
            other => {
                return Err(Error::config(
                    NAME,
                    format!(
                        "option 'output': invalid value '{other}': expected inherit, stderr or discard"
                    ),
                ));
            }
        };
        Producer::new(ReplayConfig {
            source,
            commit: options.require(NAME, "commit")?.to_owned(), // not a runs column
            path: options.get("path").map(PathBuf::from),
            policy: options.parse::<Policy>(NAME, "check")?.unwrap_or_default(),
            output,
            into: options.get("into").map(PathBuf::from),
            images: ImageSettings::from_options(NAME, options)?,
            announce_binds: parse_bool(NAME, options, "announce_binds")?,
            against: options.get("against").map(str::to_owned),
            content_limit: options
                .parse::<u64>(NAME, "content_limit")?
                .unwrap_or(verify::DEFAULT_CONTENT_LIMIT),
            campaign: None,
        })
    }

    fn sinks(&self) -> (Sink, Sink) {
        let err: Sink = Arc::new(Mutex::new(std::io::stderr()));
        match self.config.output {
            OutputTo::Inherit => (Arc::new(Mutex::new(std::io::stdout())), err),
            OutputTo::Stderr => (Arc::clone(&err), err),
            OutputTo::Discard => (
                Arc::new(Mutex::new(std::io::sink())),
                Arc::new(Mutex::new(std::io::sink())),
            ),
        }
    }

    fn open_artifact(&self, ctx: &Context<'_>, work: &Path) -> Result<Opened> {
        match &self.config.source {
            ReplaySource::Run(id) => {
                let stores = ctx.stores();
                let found =
                    stores.unique(&records::query::by_id(id), records::query::KEY, id, "run")?;
                let parent = RunRecord::from_row(&found.row, 0)?;
                let blob = parent.repository.ok_or_else(|| {
                    Error::InvalidData(format!("run {id} has no repository artifact"))
                })?;
                let reader = stores.blob(&blob, Some(found.store))?;
                let dir = work.join("artifact");
                std::fs::create_dir(&dir)
                    .map_err(|e| Error::io("creating the artifact directory", e))?;
                // The reader verifies the digest as the archive streams: a
                // corrupt tarball fails here, before anything runs.
                let unpacked = artifact::unpack_stored_repository(reader, &dir, &Limits::default())
                    .map_err(|e| match Error::from(e) {
                        Error::Corrupt(m) => {
                            Error::Corrupt(format!("stored repository of run {id}: {m}"))
                        }
                        Error::InvalidData(m) => {
                            Error::InvalidData(format!("stored repository of run {id}: {m}"))
                        }
                        other => other,
                    })?;
                Ok(Opened {
                    stored_bytes: Some(unpacked.stats.compressed),
                    repo: unpacked.repo,
                    parent: Some(parent),
                })
            }
            ReplaySource::Repo(dir) => {
                let r = git2::Repository::open(dir).map_err(|e| {
                    Error::InvalidData(format!(
                        "{} is not a git repository: {}",
                        dir.display(),
                        e.message()
                    ))
                })?;
                Ok(Opened {
                    repo: r,
                    stored_bytes: None,
                    parent: None,
                })
            }
            ReplaySource::Remote(url) => {
                let r = repo::clone(url, &work.join("clone")).map_err(fail)?;
                let _ = r.remote_delete("origin");
                Ok(Opened {
                    repo: r,
                    stored_bytes: None,
                    parent: None,
                })
            }
        }
    }

    /// The context directory: `into` (must be new or empty) or `work/commit`.
    fn context_root(&self, work: &Path) -> Result<PathBuf> {
        match &self.config.into {
            Some(dir) => {
                let busy = std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false);
                if busy {
                    return Err(Error::Refused(format!(
                        "{} exists and is not empty",
                        dir.display()
                    )));
                }
                Ok(dir.clone())
            }
            None => Ok(work.join("checkout")),
        }
    }
}

/// The binds of a Runfile with their host paths, one line each, for the
/// announcement before a foreign record runs.
pub fn bind_lines(rf: &Runfile, context: &Path) -> Vec<String> {
    rf.binds()
        .iter()
        .map(|b| format!("{} -> {} (read-write)", b.abs_src(context), b.dst))
        .collect()
}

fn step_records(outcome: &runtime::RunOutcome, total: usize) -> Vec<StepRecord> {
    outcome
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepRecord {
            step: i as u64 + 1,
            of: total as u64,
            line: s.line as u64,
            kind: s.kind.to_owned(),
            argv: s.argv.clone(),
            exit_code: s.exit_code.map(i64::from),
            signal: s.signal.map(i64::from),
            started_at: Some(s.started_at.to_rfc3339()),
            duration_ms: s.duration_ms,
            stdout_sha256: Some(s.stdout_sha256.clone()),
            stderr_sha256: Some(s.stderr_sha256.clone()),
            ch_run_error: s.ch_run_error.clone(),
            launcher: s.launcher.clone(),
        })
        .collect()
}

impl Plugin for Producer {
    fn name(&self) -> &str {
        NAME
    }

    fn function(&self) -> PluginFunction {
        PluginFunction::Producer
    }

    fn collect(&mut self, ctx: &Context<'_>) -> Result<Collection> {
        // Today's system and scheduler context, read while the record is
        // opened, materialised and its image verified, and finished before
        // the steps start (read while a step starts, its CPU and the
        // probes' requests to the controller slowed the step by more than
        // they cost before it: measured in bench/REPORT.md "HPC").
        let policy = self.config.policy;
        let system = std::thread::spawn(System::current);
        let work = tmp()?;
        let opened = self.open_artifact(ctx, work.path())?;
        tracing::debug!("opened the repository");
        let limits = Limits::default();
        let bounded = opened.bounded(&limits);
        let commit = repo::resolve_commit(&opened.repo, &self.config.commit)
            .map_err(|e| Error::InvalidData(e.to_string()))?;
        let path = match (
            &self.config.path,
            opened.parent.as_ref().and_then(|p| p.runfile.path.as_ref()),
        ) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => crate::consumer::repo_relative(NAME, Path::new(p))?,
            (None, None) => PathBuf::from("Runfile"),
        };
        let file = path.display().to_string();
        let bytes = bounded
            .read_file(commit, &path, MAX_RUNFILE_BYTES)
            .map_err(Error::from)?
            .ok_or_else(|| Error::InvalidData(format!("commit {commit} has no {file}")))?;
        let parsed =
            runfile::parse(&bytes).map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;
        let rf = &parsed.runfile;
        if !rf.passenv().is_empty() {
            // The pre-flight's PASSENV check asks ch-run; start it now.
            runtime::prefetch_extglob("ch-run", &self.config.images.user);
        }
        // Materialise the commit; the context directory is the Runfile's.
        let tree = self.context_root(work.path())?;
        bounded.materialize(commit, &tree).map_err(Error::from)?;
        tracing::debug!("checked out commit {commit}");
        let context = tree.join(path.parent().unwrap_or(Path::new("")));

        let images = &self.config.images;
        // The lease keeps other dsi processes from repairing the image
        // while this replay runs it.
        let (resolved, _lease) = image::resolve_for_run(
            rf.image(),
            rf.from_line(),
            &context,
            &images.storage,
            &images.ch_image,
            images.resolve,
        )
        .map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;
        tracing::info!(
            "image {}: verified ({}; {})",
            resolved.name,
            resolved.checks.join(" "),
            resolved.acquisition
        );

        // Under --check strict the description must be read before anything
        // runs; otherwise the step starts at once and the comparison (and
        // its warnings) follow the run, so that the scheduler probes are not
        // on the job's critical path.
        let recorded = opened.parent.as_ref().map(|p| &p.system);
        let join = |h: std::thread::JoinHandle<System>| {
            h.join().map_err(|_| {
                Error::InvalidData("collecting this system's description panicked".into())
            })
        };
        let described = if policy == Policy::Strict {
            let now = join(system)?;
            tracing::debug!("described this system");
            let compat = compat::check(recorded, &now, policy);
            if !compat.compatible {
                return Err(Error::Refused(format!(
                    "this system differs from the recorded one (check=strict): {}",
                    compat.blocking.join("; ")
                )));
            }
            Described::Compared(now, compat)
        } else {
            Described::Reading(system)
        };
        if self.config.announce_binds && !rf.binds().is_empty() {
            let who = opened
                .parent
                .as_ref()
                .and_then(|p| p.user.as_ref())
                .and_then(records::Identity::who)
                .unwrap_or_else(|| "another user".into());
            tracing::warn!("record by {who}: this replay mounts host paths read-write:");
            for line in bind_lines(rf, &context) {
                tracing::warn!("  bind {line}");
            }
        }

        let (stdout, stderr) = self.sinks();
        // The streams are kept too, for the verification (RUNFILE-1.1 §7).
        let spool: Arc<tempfile::TempDir> = Arc::new(tmp()?);
        let stdout = verify::texts::spooling(stdout, spool.path(), "@stdout")?;
        let stderr = verify::texts::spooling(stderr, spool.path(), "@stderr")?;
        let path_image = match resolved.path_kind {
            Some(kind) => Some(PathImageRun {
                kind,
                path: resolved.image_dir.clone(),
                mount: match kind {
                    // A fresh empty mount point per replay (ch-run would
                    // otherwise use /var/tmp/$USER.ch/mnt, shared by all).
                    PathImageKind::SquashFs => Some(fresh_mount(work.path())?),
                    PathImageKind::Directory => None,
                },
            }),
            None => None,
        };
        let opts = RunOptions {
            context_dir: context.clone(),
            storage: resolved
                .path_kind
                .is_none()
                .then(|| images.storage.root().to_path_buf()),
            ch_run: "ch-run".into(),
            user: images.user.clone(),
            stdout,
            stderr,
            path_image,
        };
        let squash = resolved
            .squashfs_for_checks(rf)
            .map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;
        let view = resolved.view(squash.as_ref());
        runtime::preflight(rf, view, &opts)
            .map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;
        let recorded_inputs = opened.parent.as_ref().map_or(&[][..], |p| &p.inputs[..]);
        let (inputs, input_warnings) = runtime::inputs::check(rf, &context, recorded_inputs)
            .map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;
        for w in &input_warnings {
            tracing::warn!("{}", w.render(&file));
        }
        tracing::debug!("pre-flight checks passed");
        // Read before the steps start; not under strict, compared (and
        // warned about) after the run.
        let (now, compared) = match described {
            Described::Compared(now, compat) => (now, Some(compat)),
            Described::Reading(h) => (join(h)?, None),
        };
        let outcome = runtime::execute(rf, &opts)
            .map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;
        let compat = compared.unwrap_or_else(|| {
            let compat = compat::check(recorded, &now, policy);
            for b in &compat.blocking {
                tracing::warn!("system differs from the recorded one: {b}");
            }
            compat
        });
        let (output_digests, output_warnings) =
            outputs::digests(&outputs::declared(rf.labels()), &context);
        for w in &output_warnings {
            tracing::warn!("{w}");
        }

        // The artifact this row refers to: the stored one, or this repository packed.
        let mut blobs = Vec::new();
        let blob = match opened.parent.as_ref().and_then(|p| p.repository) {
            Some(b) => b,
            None => {
                let dir = opened
                    .repo
                    .workdir()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| opened.repo.path().to_path_buf());
                let packed = artifact::pack(&dir, None)
                    .map_err(|e| Error::io("packing the repository", e))?;
                let b = packed.blob;
                let path = packed.file.to_path_buf();
                blobs.push(PendingBlob::from_file(b, path, Some(Arc::new(packed.file))));
                b
            }
        };
        let mut record = RunRecord::new(Function::Producer);
        record.parent_run_id = opened.parent.as_ref().map(|p| p.run_id.clone());
        record.campaign.clone_from(&self.config.campaign);
        record.image = resolved.identity(&images.storage);
        record.commit = Some(commit.to_string());
        record.commit_tree = opened
            .repo
            .find_commit(commit)
            .ok()
            .map(|c| c.tree_id().to_string());
        record.runfile.path = Some(file);
        record.runfile.sha256 = Some(hex::encode(Sha256::digest(&bytes)));
        record.runfile.digest = Some(rf.digest());
        record.repository = Some(blob);
        record.outcome = Some(Outcome {
            exit_code: Some(i64::from(outcome.exit_code)),
            signal: outcome.signal.map(i64::from),
            duration_ms: Some(i64::try_from(outcome.duration_ms).unwrap_or(i64::MAX)),
            stdout_sha256: Some(outcome.stdout_sha256.clone()),
            stderr_sha256: Some(outcome.stderr_sha256.clone()),
        });
        record.steps = step_records(&outcome, rf.steps().len());
        record.outputs = output_digests;
        record.inputs = inputs;
        record.passenv = environment::to_record(&outcome.passenv);
        record.compat = Some(Compat {
            policy: Some(policy.to_string()),
            result: Some(compat),
        });
        record.system = now;

        tracing::debug!("recorded the outputs");
        // Graded verification against the reference run, if there is one.
        let replay_texts = verify::ReplayTexts::capture(
            &verify::evaluate::read_targets(rf),
            &context,
            spool.path(),
        );
        let step_failed = outcome.exit_code != 0 || outcome.signal.is_some();
        // The run has happened: a reference that cannot be read makes the
        // replay unverifiable, never loses its row.
        let reference = verify::reference_for(
            ctx.stores(),
            &commit.to_string(),
            self.config.against.as_deref(),
        )
        .unwrap_or_else(|e| {
            tracing::warn!("cannot read the reference run: {e}");
            None
        });
        let verification = verify::Verification::of(
            rf,
            &replay_texts,
            step_failed,
            reference.as_ref().map(|p| (p, ctx.stores())),
        );
        let keep: Arc<dyn Send + Sync> = spool;
        let (texts, text_blobs) = replay_texts.stored(
            &verify::evaluate::compared_targets(rf),
            self.config.content_limit,
            &keep,
        );
        blobs.extend(text_blobs);
        tracing::debug!("verified: {}", verification.verdict);
        record.verification = Some(verification);
        record.texts = texts;
        let mut c = Collection::of(record.to_table()?);
        for b in blobs {
            c.push_blob(b);
        }
        Ok(c)
    }
}

/// Today's system description during a replay: being read, or read and
/// compared with the recorded one.
enum Described {
    /// Being read in the background (compared after the run).
    Reading(std::thread::JoinHandle<System>),
    /// Read, and its comparison.
    Compared(System, compat::CompatResult),
}

/// A fresh empty directory for `ch-run --mount=M` below the replay's work
/// directory.
fn fresh_mount(work: &Path) -> Result<PathBuf> {
    let m = work.join("mnt");
    std::fs::create_dir(&m).map_err(|e| Error::io("creating the SquashFS mount point", e))?;
    Ok(m)
}

/// The E501 diagnostic for a failed replay, from its steps.
pub fn failure_diagnostic(steps: &[StepRecord]) -> Option<(Diagnostic, i32)> {
    let last = steps.last()?;
    let line = usize::try_from(last.line).ok()?;
    let (step, of) = (last.step, last.of);
    let (msg, code) = match (last.exit_code, last.signal) {
        (Some(0), _) => return None,
        (Some(c), _) => (
            format!("step {step}/{of} exited with status {c}"),
            i32::try_from(c).ok()?,
        ),
        (None, Some(s)) => (
            format!("step {step}/{of} was killed by signal {s}"),
            128 + i32::try_from(s).ok()?,
        ),
        (None, None) => return None,
    };
    Some((Diagnostic::error(line, 1, "E501", msg), code))
}
