//! The `charliecloud-producer` plugin: replays a recorded run from a commit
//! hash (RUNFILE.md §9).
//!
//! On transload it
//! 1. materialises the commit of the artifact — a record in a loaded
//!    back-end (`run=`), a repository directory (`repo=`) or a git remote
//!    (`remote=`) — into a fresh directory (never the user's work tree) and
//!    reads the Runfile from the commit's tree;
//! 2. parses it, and validates or acquires its image by digest (§8.3);
//! 3. compares the recorded `kernel_info` with today's ([`crate::compat`])
//!    under `check=warn|strict|off`; `strict` refuses to run on a blocking
//!    difference and says which;
//! 4. runs the pre-flight checks and the steps through `ch-run`, streaming
//!    the containers' output;
//! 5. returns one `runs` row (`function = producer`, `parent_run_id`, the
//!    image digests, per-step argv and status, exit code, signal, duration,
//!    output digests, declared outputs, today's system, the compatibility
//!    result). A failed step is recorded, not an error: the row's
//!    `exit_code` says how it ended.
//!
//! Outputs: `LABEL dsi.outputs="path1 path2"` names files (relative to the
//! context directory) whose SHA-256 is recorded after the run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dsi_core::env::{KernelInfo, collect_kernel_info};
use dsi_core::{
    Collection, Context, Error, Filter, FilterOp, OptionSpec, Options, PendingBlob, Plugin,
    PluginEntry, PluginFunction, Query, Result, TableQuery, Timestamp,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::artifact::{self, Limits, repo};
use crate::compat::{self, CompatResult, Policy};
use crate::diagnostic_error::RunfileError;
use crate::image;
use crate::records::{Identity, RUNS, RunRow, kernel_columns, new_run_id, text_at};
use crate::runfile::{self, Diagnostic, Runfile};
use crate::runtime::{self, RunOptions, Sink};
use crate::settings::{IMAGE_OPTIONS, ImageSettings};

/// Registered name.
pub const NAME: &str = "charliecloud-producer";

/// The label naming output files.
pub const OUTPUTS_LABEL: &str = "dsi.outputs";

/// Where the artifact to replay comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifact {
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

/// The producer plugin.
pub struct Producer {
    artifact: Artifact,
    commit: String,
    path: PathBuf,
    policy: Policy,
    output: OutputTo,
    into: Option<PathBuf>,
    images: ImageSettings,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let artifact = match &self.artifact {
            Artifact::Remote(url) => format!("remote {}", repo::strip_credentials(url)),
            other => format!("{other:?}"),
        };
        f.debug_struct("Producer")
            .field("artifact", &artifact)
            .field("commit", &self.commit)
            .finish_non_exhaustive()
    }
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::required("commit", "commit to replay (full or abbreviated hash)"),
    OptionSpec::optional(
        "run",
        "the record to replay, by run id, from a loaded back-end",
    ),
    OptionSpec::optional("repo", "a repository directory holding the commit"),
    OptionSpec::optional("remote", "a git remote holding the commit (never stored)"),
    OptionSpec::optional(
        "path",
        "location of the Runfile inside the repository (default Runfile)",
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

impl Producer {
    /// Builds the plugin from validated options.
    pub fn from_options(options: &Options) -> Result<Self> {
        let sources = [
            options.get("run"),
            options.get("repo"),
            options.get("remote"),
        ];
        let artifact = match sources {
            [Some(r), None, None] => Artifact::Run(r.to_owned()),
            [None, Some(d), None] => Artifact::Repo(PathBuf::from(d)),
            [None, None, Some(u)] => Artifact::Remote(u.to_owned()),
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
        Ok(Producer {
            artifact,
            commit: options.require(NAME, "commit")?.to_owned(),
            path: crate::consumer::repo_relative(NAME, options.get("path").unwrap_or("Runfile"))?,
            policy: options.parse::<Policy>(NAME, "check")?.unwrap_or_default(),
            output,
            into: options.get("into").map(PathBuf::from),
            images: ImageSettings::from_options(NAME, options)?,
        })
    }

    fn sinks(&self) -> (Sink, Sink) {
        let err: Sink = Arc::new(Mutex::new(std::io::stderr()));
        match self.output {
            OutputTo::Inherit => (Arc::new(Mutex::new(std::io::stdout())), err),
            OutputTo::Stderr => (Arc::clone(&err), err),
            OutputTo::Discard => (
                Arc::new(Mutex::new(std::io::sink())),
                Arc::new(Mutex::new(std::io::sink())),
            ),
        }
    }

    /// Opens the artifact as a repository; returns it with the record it
    /// came from (for `run=`) and the blob to refer to (if already stored).
    fn open_artifact(&self, ctx: &Context<'_>, work: &Path) -> Result<Opened> {
        match &self.artifact {
            Artifact::Run(id) => {
                let q = Query::Table(TableQuery::new(RUNS).filter(Filter::new(
                    "run_id",
                    FilterOp::Eq,
                    id.as_str(),
                )));
                let rows = ctx.get(&q).map_err(|e| match e {
                    Error::NotFound { .. } => Error::NotFound {
                        what: format!("run '{id}'"),
                    },
                    e => e,
                })?;
                let t = rows
                    .table(RUNS)
                    .filter(|t| t.num_rows() == 1)
                    .ok_or_else(|| Error::NotFound {
                        what: format!("run '{id}'"),
                    })?;
                let blob = t
                    .get(0, "container_run_commands")
                    .and_then(|v| v.as_blob())
                    .copied()
                    .ok_or_else(|| {
                        Error::InvalidData(format!("run {id} has no repository artifact"))
                    })?;
                let reader = ctx.get_blob(&blob)?;
                let dir = work.join("artifact");
                std::fs::create_dir(&dir)
                    .map_err(|e| Error::io("creating the artifact directory", e))?;
                // The reader verifies the digest as the archive streams: a
                // corrupt tarball fails here, before anything runs.
                let r = artifact::unpack_stored_repository(reader, &dir, &Limits::default())
                    .map_err(|e| match Error::from(e) {
                        Error::Corrupt(m) => {
                            Error::Corrupt(format!("stored repository of run {id}: {m}"))
                        }
                        Error::InvalidData(m) => {
                            Error::InvalidData(format!("stored repository of run {id}: {m}"))
                        }
                        other => other,
                    })?;
                let recorded = text_at(t, 0, "kernel_info");
                Ok(Opened {
                    repo: r,
                    parent: Some(id.clone()),
                    recorded_kernel: recorded,
                    blob: Some(blob),
                })
            }
            Artifact::Repo(dir) => {
                let r = git2::Repository::open(dir).map_err(|e| {
                    Error::InvalidData(format!(
                        "{} is not a git repository: {}",
                        dir.display(),
                        e.message()
                    ))
                })?;
                Ok(Opened {
                    repo: r,
                    parent: None,
                    recorded_kernel: None,
                    blob: None,
                })
            }
            Artifact::Remote(url) => {
                let r = repo::clone(url, &work.join("clone")).map_err(fail)?;
                let _ = r.remote_delete("origin");
                Ok(Opened {
                    repo: r,
                    parent: None,
                    recorded_kernel: None,
                    blob: None,
                })
            }
        }
    }
}

/// The artifact, opened.
struct Opened {
    repo: git2::Repository,
    parent: Option<String>,
    recorded_kernel: Option<String>,
    blob: Option<dsi_core::BlobRef>,
}

/// SHA-256 of each declared output after the run (null when missing).
fn output_digests(rf: &Runfile, context: &Path) -> Option<String> {
    let paths = rf
        .labels()
        .iter()
        .find(|(k, _)| k == OUTPUTS_LABEL)?
        .1
        .clone();
    let mut m = serde_json::Map::new();
    for p in paths.split_whitespace() {
        let full = context.join(p);
        let digest = std::fs::File::open(&full).ok().and_then(|mut f| {
            let mut h = Sha256::new();
            std::io::copy(&mut f, &mut h).ok()?;
            Some(hex::encode(h.finalize()))
        });
        m.insert(
            p.to_owned(),
            digest.map_or(serde_json::Value::Null, serde_json::Value::String),
        );
    }
    Some(serde_json::Value::Object(m).to_string())
}

fn steps_json(outcome: &runtime::RunOutcome, total: usize) -> String {
    let steps: Vec<serde_json::Value> = outcome
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["step"] = json!(i + 1);
            v["of"] = json!(total);
            v
        })
        .collect();
    serde_json::Value::Array(steps).to_string()
}

impl Plugin for Producer {
    fn name(&self) -> &str {
        NAME
    }

    fn function(&self) -> PluginFunction {
        PluginFunction::Producer
    }

    fn collect(&mut self, ctx: &Context<'_>) -> Result<Collection> {
        let work = tmp()?;
        let opened = self.open_artifact(ctx, work.path())?;
        let r = &opened.repo;
        let commit =
            repo::resolve_commit(r, &self.commit).map_err(|e| Error::InvalidData(e.to_string()))?;
        let file = self.path.display().to_string();
        let bytes = repo::read_at(r, commit, &self.path)
            .map_err(fail)?
            .ok_or_else(|| Error::InvalidData(format!("commit {commit} has no {file}")))?;
        // Materialise the commit; the context directory is the Runfile's.
        let tree = match &self.into {
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
                dir.clone()
            }
            None => work.path().join("commit"),
        };
        repo::materialize(r, commit, &tree).map_err(fail)?;
        let context = tree.join(self.path.parent().unwrap_or(Path::new("")));
        let parsed =
            runfile::parse(&bytes).map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;
        let rf = &parsed.runfile;

        let resolved = image::resolve(
            rf.image(),
            rf.from_line(),
            &self.images.storage,
            &self.images.ch_image,
            self.images.resolve,
        )
        .map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;

        let now = collect_kernel_info();
        let recorded = opened
            .recorded_kernel
            .as_deref()
            .map(KernelInfo::from_json)
            .transpose()?;
        let compat: CompatResult = compat::check(recorded.as_ref(), &now, self.policy);
        if self.policy == Policy::Strict && !compat.compatible {
            return Err(Error::Refused(format!(
                "this system differs from the recorded one (check=strict): {}",
                compat.blocking.join("; ")
            )));
        }

        let (stdout, stderr) = self.sinks();
        let opts = RunOptions {
            context_dir: context.clone(),
            storage: Some(self.images.storage.root().to_path_buf()),
            ch_run: "ch-run".into(),
            user: self.images.user.clone(),
            stdout,
            stderr,
        };
        runtime::preflight(rf, &resolved.image_dir, &opts)
            .map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;
        let outcome = runtime::execute(rf, &opts)
            .map_err(|d| RunfileError::new(&file, d).into_error(NAME))?;

        // The artifact this row refers to: the stored one, or this repository packed.
        let mut blobs = Vec::new();
        let blob = match opened.blob {
            Some(b) => b,
            None => {
                let dir = r
                    .workdir()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| r.path().to_path_buf());
                let packed = artifact::pack(&dir, None)
                    .map_err(|e| Error::io("packing the repository", e))?;
                let b = packed.blob;
                let path = packed.file.to_path_buf();
                blobs.push(PendingBlob::from_file(b, path, Some(Arc::new(packed.file))));
                b
            }
        };
        let passenv: serde_json::Map<String, serde_json::Value> = outcome
            .passenv
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let row = RunRow {
            run_id: new_run_id(),
            function: "producer",
            recorded_at: Some(Timestamp::now()),
            parent_run_id: opened.parent.clone(),
            image_ref: Some(resolved.name.clone()),
            image_digest: resolved.pinned_digest.clone(),
            image_manifest_digest: resolved.manifest_digest.clone(),
            image_config_digest: resolved.config_digest.clone(),
            image_tree_digest: resolved.tree_digest.clone(),
            image_checks: Some(resolved.checks.join(" ")),
            ch_storage: Some(self.images.storage.root().display().to_string()),
            commit: Some(commit.to_string()),
            runfile_path: Some(file.clone()),
            runfile_sha256: Some(hex::encode(Sha256::digest(&bytes))),
            runfile_digest: Some(rf.digest()),
            container_run_commands: Some(blob),
            exit_code: Some(i64::from(outcome.exit_code)),
            signal: outcome.signal.map(i64::from),
            duration_ms: Some(i64::try_from(outcome.duration_ms).unwrap_or(i64::MAX)),
            stdout_sha256: Some(outcome.stdout_sha256.clone()),
            stderr_sha256: Some(outcome.stderr_sha256.clone()),
            steps: Some(steps_json(&outcome, rf.steps().len())),
            outputs: output_digests(rf, &context),
            passenv: (!passenv.is_empty()).then(|| serde_json::Value::Object(passenv).to_string()),
            compat_check: Some(self.policy.to_string()),
            compat_result: Some(serde_json::to_string(&compat).unwrap_or_default()),
            identity: Some(Identity::current()),
            kernel: Some(kernel_columns(&now)),
        };
        let mut c = Collection::of(row.to_table()?);
        for b in blobs {
            c.push_blob(b);
        }
        Ok(c)
    }
}

/// The E501 diagnostic for a failed replay row, from its `steps` JSON.
pub fn failure_diagnostic(steps_json: &str) -> Option<(Diagnostic, i32)> {
    let steps: Vec<serde_json::Value> = serde_json::from_str(steps_json).ok()?;
    let last = steps.last()?;
    let line = usize::try_from(last["line"].as_u64()?).ok()?;
    let (step, of) = (last["step"].as_u64()?, last["of"].as_u64()?);
    let (msg, code) = match (last["exit_code"].as_i64(), last["signal"].as_i64()) {
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
