//! The replay workflow: the producer plugin through a [`Terminal`], the
//! verification against the reference run, and the dry run that says what
//! a replay would do without doing it.
//!
//! Option combinations are checked before anything runs: `verify` needs a
//! record to compare with, so it is refused with a repository or a remote.
//! A record made by another user or on another host has its binds
//! announced (one line each) before it runs.

use std::path::PathBuf;

use dsi_core::{Driver, Error, Interaction, Result, Stores, Terminal};
use schemars::JsonSchema;
use serde::Serialize;

use crate::artifact::{BoundedRepo, Limits, repo};
use crate::compat::Policy;
use crate::find::{self, FoundRecord, Want};
use crate::producer::{self, OutputTo, Producer, ReplayConfig, ReplaySource};
use crate::records::{Identity, RunRecord};
use crate::repository::RecordRepository;
use crate::runfile::{self, ArgvContext, Diagnostic};
use crate::runtime::{self, outputs};
use crate::settings::ImageSettings;
use crate::verify::{self, Verification};

/// Where the replayed Runfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayFrom {
    /// A record in the stores, by reference (a run id or commit prefix).
    Reference(String),
    /// A repository directory, at a commit.
    Repository {
        /// The directory.
        dir: PathBuf,
        /// The commit (full or abbreviated).
        commit: String,
    },
    /// A git remote, at a commit.
    Remote {
        /// The URL (never stored).
        url: String,
        /// The commit (full or abbreviated).
        commit: String,
    },
}

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// The Runfile's source.
    pub from: ReplayFrom,
    /// The Runfile's path inside the repository (default: the record's).
    pub path: Option<PathBuf>,
    /// What to do when this system differs from the recorded one.
    pub check: Policy,
    /// Where the containers' output goes.
    pub output: OutputTo,
    /// Materialise into this new directory and keep it.
    pub into: Option<PathBuf>,
    /// How images are found and checked.
    pub images: ImageSettings,
    /// Report the verification (every replay is verified and keeps its
    /// verdict; this asks for the report and a verdict exit status).
    pub verify: bool,
    /// Verify against this run instead of the first successful replay of
    /// the commit (`--against`).
    pub against: Option<String>,
    /// Largest content of a compared target kept per item, in bytes.
    pub content_limit: u64,
    /// The campaign task this replay runs as ([`crate::campaign`]).
    pub campaign: Option<crate::records::CampaignTask>,
}

/// How a failed step ended the replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StepFailure {
    /// The Runfile's path, for the diagnostic.
    pub file: String,
    /// `E501` at the failing step.
    #[schemars(with = "String")]
    #[serde(serialize_with = "rendered")]
    pub diagnostic: Diagnostic,
    /// The status dsi exits with (the step's, or 128 + signal).
    pub exit_status: i32,
}

fn rendered<S: serde::Serializer>(d: &Diagnostic, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

/// What a replay did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Replayed {
    /// The replay's record (stored).
    pub record: RunRecord,
    /// The verification, when asked for.
    pub verification: Option<Verification>,
    /// How a failed step ended it.
    pub failure: Option<StepFailure>,
}

/// Whether a record was made by someone else or elsewhere.
pub fn is_foreign(record: &RunRecord) -> bool {
    let me = Identity::current();
    match &record.user {
        Some(u) => u.moniker != me.moniker || u.hostname != me.hostname,
        None => true,
    }
}

/// Checks the request before anything is opened or run.
fn check_request(request: &ReplayRequest) -> Result<()> {
    if request.verify && !matches!(request.from, ReplayFrom::Reference(_)) {
        return Err(Error::config(
            "replay",
            "--verify compares with a recorded run: replay a record (a run id or a recorded commit), not --repo or --remote",
        ));
    }
    Ok(())
}

/// The producer's source and commit for a request; the record when the
/// source is one.
fn source<'a>(
    stores: Stores<'a>,
    from: &ReplayFrom,
) -> Result<(ReplaySource, String, Option<FoundRecord<'a>>)> {
    Ok(match from {
        ReplayFrom::Reference(r) => {
            let found = find::reference(stores, r, Want::Record)?;
            let commit = found.record.commit.clone().ok_or_else(|| {
                Error::InvalidData(format!("run {} names no commit", found.record.run_id))
            })?;
            (
                ReplaySource::Run(found.record.run_id.clone()),
                commit,
                Some(found),
            )
        }
        ReplayFrom::Repository { dir, commit } => {
            (ReplaySource::Repo(dir.clone()), commit.clone(), None)
        }
        ReplayFrom::Remote { url, commit } => {
            (ReplaySource::Remote(url.clone()), commit.clone(), None)
        }
    })
}

/// What `--repeat N` did: each replay, and the summary.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Repeated {
    /// The replays, in order (each stored, each with its verdict).
    pub replays: Vec<Replayed>,
    /// The worst verdict, per-metric statistics, nondeterministic items.
    pub summary: verify::RepeatSummary,
}

/// Replays `n` times on this system, each in a fresh context directory
/// and with its own verdict (RUNFILE-1.1 §7 "Repeats"); without a
/// reference, the first successful repeat is the reference of the others.
/// `open` opens the stores for each repeat. Stops early when a repeat
/// cannot start (a step failing to run is a repeat like any other).
///
/// The `nondeterministic` marks are in the returned verifications and the
/// summary; the stored rows keep each repeat's own verification.
pub fn replay_repeated(
    mut open: impl FnMut() -> Result<Vec<Box<dyn Driver>>>,
    request: &ReplayRequest,
    n: u32,
) -> Result<Repeated> {
    let mut replays = Vec::new();
    for _ in 0..n.max(1) {
        let mut r = replay(open()?, request.clone())?;
        if r.verification.is_none() {
            r.verification.clone_from(&r.record.verification);
        }
        replays.push(r);
    }
    let mut verifications: Vec<Verification> = replays
        .iter()
        .filter_map(|r| r.verification.clone())
        .collect();
    let summary = verify::summarise(&mut verifications);
    for (r, v) in replays.iter_mut().zip(verifications) {
        r.verification = Some(v);
    }
    Ok(Repeated { replays, summary })
}

/// Replays, verifies it against its reference, and stores the replay and
/// its verdict in every store.
pub fn replay(drivers: Vec<Box<dyn Driver>>, request: ReplayRequest) -> Result<Replayed> {
    check_request(&request)?;
    let mut against = None;
    let (src, commit, parent) = {
        let stores = Stores::new(&drivers);
        let (src, commit, found) = source(stores, &request.from)?;
        tracing::debug!("replaying commit {commit}");
        // `--against` is resolved before anything runs, to one run id.
        if let Some(a) = &request.against {
            against = Some(
                find::reference(stores, a, find::Want::Replay)?
                    .record
                    .run_id,
            );
        }
        (src, commit, found.map(|f| f.record))
    };
    let config = ReplayConfig {
        source: src,
        commit,
        path: request.path.clone(),
        policy: request.check,
        output: request.output,
        into: request.into.clone(),
        images: request.images.clone(),
        announce_binds: parent.as_ref().is_some_and(is_foreign),
        against,
        content_limit: request.content_limit,
        campaign: request.campaign.clone(),
    };
    let mut terminal = Terminal::new();
    terminal.load_plugin(Box::new(Producer::new(config)?))?;
    for d in drivers {
        terminal.load_driver(d)?;
    }
    terminal.transload()?;
    terminal.artifact_handler(Interaction::Put)?;
    let table = terminal
        .middleware()
        .table(crate::records::RUNS)
        .ok_or_else(|| Error::InvalidData("the producer wrote no record".into()))?;
    let record = RunRecord::from_row(table, 0)?;
    for d in terminal.drivers() {
        tracing::info!(
            "stored replay {} in {} {}",
            record.run_id,
            d.name(),
            d.location()
        );
    }
    let verification = if request.verify {
        record.verification.clone()
    } else {
        None
    };
    let failure =
        producer::failure_diagnostic(&record.steps).map(|(diagnostic, exit_status)| StepFailure {
            file: record
                .runfile
                .path
                .clone()
                .unwrap_or_else(|| "Runfile".into()),
            diagnostic,
            exit_status,
        });
    Ok(Replayed {
        record,
        verification,
        failure,
    })
}

/// One step as a replay would run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PlannedStep {
    /// Line of its `RUN`/`CMD`.
    pub line: usize,
    /// `run` or `cmd`.
    pub kind: String,
    /// The exact argv (the context directory as it will be, or `<context>`).
    pub argv: Vec<String>,
}

/// One bind as a replay would mount it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PlannedBind {
    /// The source as the Runfile writes it.
    pub source: String,
    /// The host path mounted.
    pub host_path: String,
    /// Whether it comes from the commit (a relative source) or the host.
    pub from_commit: bool,
    /// The container path.
    pub destination: String,
    /// ch-run binds are read-write.
    pub read_write: bool,
}

/// What a replay would do (`dsi replay --dry-run`), without running
/// anything or writing any store.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReplayPlan {
    /// The record replayed, when from a store.
    pub record: Option<String>,
    /// Who made it (`moniker@host`), and whether that is someone else.
    pub made_by: Option<String>,
    /// Whether it was made by another user or on another host.
    pub foreign: bool,
    /// The commit.
    pub commit: String,
    /// The Runfile's path.
    pub runfile: String,
    /// The image, and how it will be checked.
    pub image: String,
    /// How the image will be verified or acquired.
    pub image_check: String,
    /// The steps, in order.
    pub steps: Vec<PlannedStep>,
    /// Every bind, read-write.
    pub binds: Vec<PlannedBind>,
    /// PASSENV patterns, and which host variables they pass now (names only).
    pub passenv: Vec<String>,
    /// Host variables that would pass now, by name.
    pub passed_now: Vec<String>,
    /// Declared outputs.
    pub outputs: Vec<String>,
}

/// What [`replay`] would do, without running anything.
pub fn plan(drivers: &[Box<dyn Driver>], request: &ReplayRequest) -> Result<ReplayPlan> {
    check_request(request)?;
    let stores = Stores::new(drivers);
    let (src, commit, found) = source(stores, &request.from)?;
    let work = tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
    let limits = Limits::default();
    // Open the repository the way the producer does, checking the tree.
    let stored;
    let local;
    let (bounded, git) = match (&src, &found) {
        (ReplaySource::Run(_), Some(f)) => {
            stored = RecordRepository::open(stores, f)?;
            (stored.bounded(), stored.git())
        }
        (ReplaySource::Repo(dir), _) => {
            local = git2::Repository::open(dir).map_err(|e| {
                Error::InvalidData(format!(
                    "{} is not a git repository: {}",
                    dir.display(),
                    e.message()
                ))
            })?;
            (BoundedRepo::local(&local, &limits), &local)
        }
        (ReplaySource::Remote(url), _) => {
            local = repo::clone(url, &work.path().join("clone"))
                .map_err(|e| Error::plugin(producer::NAME, e))?;
            (BoundedRepo::local(&local, &limits), &local)
        }
        (ReplaySource::Run(_), None) => unreachable!("a run source comes with its record"),
    };
    let oid = repo::resolve_commit(git, &commit).map_err(|e| Error::InvalidData(e.to_string()))?;
    let path = match (
        &request.path,
        found.as_ref().and_then(|f| f.record.runfile.path.clone()),
    ) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => PathBuf::from(p),
        (None, None) => PathBuf::from("Runfile"),
    };
    let file = path.display().to_string();
    let bytes = bounded
        .read_file(oid, &path, crate::runfile_source::MAX_RUNFILE_BYTES)
        .map_err(Error::from)?
        .ok_or_else(|| Error::InvalidData(format!("commit {oid} has no {file}")))?;
    let parsed = runfile::parse(&bytes)
        .map_err(|d| crate::RunfileError::new(&file, d).into_error(producer::NAME))?;
    bounded.check_tree(oid).map_err(Error::from)?;
    let rf = &parsed.runfile;
    let context = match &request.into {
        Some(dir) => dir.join(path.parent().unwrap_or(std::path::Path::new(""))),
        None => PathBuf::from("<context>"),
    };
    let storage = request.images.storage.root().to_path_buf();
    let ctx = ArgvContext::new(&context).with_storage(&storage);
    let steps = rf
        .steps()
        .iter()
        .enumerate()
        .map(|(i, s)| PlannedStep {
            line: s.line,
            kind: match s.kind {
                runfile::StepKind::Run => "run".into(),
                runfile::StepKind::Cmd => "cmd".into(),
            },
            argv: rf.to_ch_run_argv(i, &ctx),
        })
        .collect();
    let binds = rf
        .binds()
        .iter()
        .map(|b| PlannedBind {
            source: b.src.clone(),
            host_path: b.abs_src(&context),
            from_commit: !b.src.starts_with('/'),
            destination: b.dst.clone(),
            read_write: true,
        })
        .collect();
    let image = rf.image();
    let in_storage = request.images.storage.img_dir(&image.for_path()).is_dir();
    let image_check = match (image.is_local(), in_storage) {
        (_, true) => format!(
            "in storage {}: verified by digest before running ({})",
            storage.display(),
            if image.is_local() {
                "tree digest, V5"
            } else {
                "manifest and config digests, build-cache state: V0 V1 V2 V4"
            }
        ),
        (true, false) => "a local image not in storage: the replay would fail (E405)".into(),
        (false, false) if request.images.resolve.online => format!(
            "not in storage {}: pulled by digest from its registry, then verified",
            storage.display()
        ),
        (false, false) => "not in storage and offline: the replay would fail (E401)".into(),
    };
    let made_by = found
        .as_ref()
        .and_then(|f| f.record.user.as_ref())
        .and_then(Identity::who);
    Ok(ReplayPlan {
        record: found.as_ref().map(|f| f.record.run_id.clone()),
        foreign: found.as_ref().is_some_and(|f| is_foreign(&f.record)),
        made_by,
        commit: oid.to_string(),
        runfile: file,
        image: image.name(),
        image_check,
        steps,
        binds,
        passenv: rf.passenv().iter().map(|p| p.pattern.clone()).collect(),
        passed_now: runtime::passed_environment(rf)
            .into_iter()
            .map(|(k, _)| k)
            .collect(),
        outputs: outputs::declared(rf.labels()),
    })
}
