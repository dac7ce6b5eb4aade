//! The `runs` table as typed records: [`RunRecord`] and its parts.
//!
//! One row per record (consumer) or replay (producer); every row has the
//! same columns whichever plugin wrote it, so the table has one schema in
//! every back-end, and what a plugin does not know is null.
//! `record_version` says which version of this layout a row follows;
//! columns are only ever added, so old stores stay readable.
//!
//! This module is the only place that spells a `runs` column name
//! (`cargo xtask tidy` checks it): everything else reads and writes
//! [`RunRecord`]s and builds queries with [`query`]. Nested fields are serde
//! types, stored as JSON text in their column and printed by `--json` as
//! JSON objects. A stored row is untrusted input: [`RunRecord::from_row`]
//! refuses a malformed cell with an error naming the run and the column.

mod columns;
mod fields;
pub mod notebook;
pub mod query;
mod row;

use std::collections::BTreeMap;

use dsi_core::env::{KernelInfo, SchedulerInfo};
use dsi_core::{BlobRef, Timestamp, Value};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::compat::CompatResult;

pub use columns::{RECORD_VERSION, RUNS, RUNS_SCHEMA};

inventory::submit! {
    dsi_core::ReservedTable {
        name: RUNS,
        writers: &[crate::consumer::NAME, crate::producer::NAME],
        holds: "dsi's records (written by dsi record and dsi replay)",
    }
}

/// Whether a row is a record or a replay (the DSI plugin function that wrote it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    /// `dsi record`: the consumer plugin recorded a Runfile.
    Consumer,
    /// `dsi replay`: the producer plugin replayed a record.
    Producer,
}

impl Function {
    /// `consumer` or `producer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Consumer => "consumer",
            Function::Producer => "producer",
        }
    }

    /// `record` or `replay`, for people.
    pub fn verb(self) -> &'static str {
        match self {
            Function::Consumer => "record",
            Function::Producer => "replay",
        }
    }
}

impl std::str::FromStr for Function {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "consumer" => Ok(Function::Consumer),
            "producer" => Ok(Function::Producer),
            other => Err(format!("'{other}' is not consumer or producer")),
        }
    }
}

/// Which image a run used and how it was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageIdentity {
    /// The image as the Runfile names it (`N`).
    pub reference: Option<String>,
    /// The pinned registry digest (registry images).
    pub digest: Option<String>,
    /// The image manifest digest actually used (the arch manifest for an index).
    pub manifest_digest: Option<String>,
    /// The config digest.
    pub config_digest: Option<String>,
    /// The `rftree1+sha256:` tree digest, when computed.
    pub tree_digest: Option<String>,
    /// The checks that passed (`V0`, `V1`, …).
    pub checks: Vec<String>,
    /// The ch-image storage directory used (images in storage only).
    pub storage: Option<String>,
    /// A SquashFS path image's `sha256:` file digest, when pinned (V6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_digest: Option<String>,
    /// What a path image is: `squashfs` or `directory` (`None`: an image
    /// in storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The Runfile a run ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunfileIdentity {
    /// Its path inside the repository.
    pub path: Option<String>,
    /// SHA-256 of its bytes.
    pub sha256: Option<String>,
    /// `runfile1+sha256:` digest of its canonical form.
    pub digest: Option<String>,
}

/// How a replay ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Outcome {
    /// 0, the failing step's status, or 128 + signal.
    pub exit_code: Option<i64>,
    /// The signal that ended it, if any.
    pub signal: Option<i64>,
    /// Wall time of all steps, in milliseconds.
    pub duration_ms: Option<i64>,
    /// SHA-256 of all steps' standard output, concatenated.
    pub stdout_sha256: Option<String>,
    /// SHA-256 of all steps' standard error, concatenated.
    pub stderr_sha256: Option<String>,
}

/// One step of a replay, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StepRecord {
    /// 1-based position among the steps.
    #[serde(default)]
    pub step: u64,
    /// Number of steps in the Runfile.
    #[serde(default)]
    pub of: u64,
    /// Line of its `RUN`/`CMD`.
    #[serde(default)]
    pub line: u64,
    /// `run` or `cmd`.
    #[serde(default)]
    pub kind: String,
    /// The exact argv executed.
    #[serde(default)]
    pub argv: Vec<String>,
    /// Exit status, if it exited.
    pub exit_code: Option<i64>,
    /// Signal that ended it, if any.
    pub signal: Option<i64>,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// Wall time in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// SHA-256 of its standard output.
    pub stdout_sha256: Option<String>,
    /// SHA-256 of its standard error.
    pub stderr_sha256: Option<String>,
    /// ch-run's own error line, when it printed one.
    pub ch_run_error: Option<String>,
    /// The step's launcher (RUNFILE-1.1 §4), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher: Option<crate::runtime::LauncherRecord>,
}

impl StepRecord {
    /// Whether the step ended with status 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && self.signal.is_none()
    }
}

/// A declared output and its digest after the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OutputDigest {
    /// Path relative to the context directory.
    pub path: String,
    /// SHA-256 of its content; `None` when it was missing or refused (not
    /// a regular file, outside the context directory, too large).
    pub sha256: Option<String>,
}

/// A host variable a replay passed into the container (PASSENV).
///
/// Only names are recorded, and values only for the scheduler and MPI
/// context on [`crate::runtime::RECORDED_VALUES`] (`SLURM_*`, `PMIX_*`, …):
/// any other variable may hold a secret (`AWS_SECRET_ACCESS_KEY`), and a
/// store is shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PassedVariable {
    /// The variable's name.
    pub name: String,
    /// Its value, when recorded.
    pub value: Option<String>,
}

/// The system compatibility check of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Compat {
    /// The policy applied (`warn`, `strict`, `off`).
    pub policy: Option<String>,
    /// The result.
    pub result: Option<CompatResult>,
}

/// Who made a row, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Identity {
    /// Real uid.
    pub uid: Option<i64>,
    /// Effective gid.
    pub effective_gid: Option<i64>,
    /// User name.
    pub moniker: Option<String>,
    /// Groups.
    pub gid_list: Vec<i64>,
    /// Host name.
    pub hostname: Option<String>,
}

impl Identity {
    /// The identity of this process on this host.
    pub fn current() -> Self {
        let p = dsi_core::env::PosixIdentity::current();
        Identity {
            uid: Some(i64::from(p.uid)),
            effective_gid: Some(i64::from(p.effective_gid)),
            moniker: Some(p.moniker),
            gid_list: p.gid_list.iter().map(|g| i64::from(*g)).collect(),
            hostname: Some(dsi_core::env::Hostname::current()),
        }
    }

    /// `moniker@hostname`, as far as known.
    pub fn who(&self) -> Option<String> {
        match (&self.moniker, &self.hostname) {
            (Some(m), Some(h)) => Some(format!("{m}@{h}")),
            (Some(m), None) => Some(m.clone()),
            (None, Some(h)) => Some(format!("unknown@{h}")),
            (None, None) => None,
        }
    }
}

/// The system a row was made on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct System {
    /// `uname -r`.
    pub kernel_release: Option<String>,
    /// `uname -m`.
    pub architecture: Option<String>,
    /// The full description (`dsi.kernel_info/1`).
    #[schemars(with = "Option<serde_json::Value>")]
    pub kernel_info: Option<KernelInfo>,
    /// The Slurm job the row was made in, if any.
    pub slurm_job_id: Option<i64>,
    /// The scheduler context (`dsi.scheduler_info/1`: job, step,
    /// allocation, MPI plumbing); absent in rows made before it existed.
    #[schemars(with = "Option<serde_json::Value>")]
    pub scheduler_info: Option<SchedulerInfo>,
}

impl System {
    /// This system and its scheduler context, now (read in parallel).
    pub fn current() -> Self {
        let (kernel, scheduler) = std::thread::scope(|s| {
            let scheduler = s.spawn(dsi_core::env::collect_scheduler_info);
            let kernel = dsi_core::env::collect_kernel_info();
            (kernel, scheduler.join().unwrap_or_default())
        });
        Self::from_parts(kernel, scheduler)
    }

    /// The summary columns of the descriptions, and the descriptions.
    pub fn from_parts(kernel: KernelInfo, scheduler: SchedulerInfo) -> Self {
        System {
            kernel_release: kernel.get_str("kernel", "release").map(str::to_owned),
            architecture: kernel.get_str("kernel", "architecture").map(str::to_owned),
            kernel_info: Some(kernel),
            slurm_job_id: scheduler.job_id(),
            scheduler_info: Some(scheduler),
        }
    }
}

/// A stored cell of a column this version of dsi does not know (written by
/// a newer dsi or another tool); kept so that nothing read is lost.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell(pub Value);

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(Cell(match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Text(s),
            other => Value::Text(other.to_string()),
        }))
    }
}

impl JsonSchema for Cell {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cell".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A stored value of a column this version of dsi does not know."
        })
    }
}

/// One row of `runs`, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunRecord {
    /// ULID of this row.
    pub run_id: String,
    /// Record (consumer) or replay (producer).
    pub function: Function,
    /// When the row was made (the end of a replay).
    #[schemars(with = "Option<String>")]
    pub recorded_at: Option<Timestamp>,
    /// The record a replay came from.
    pub parent_run_id: Option<String>,
    /// Version of the row layout.
    pub record_version: Option<i64>,
    /// The dsi that wrote the row.
    pub dsi_version: Option<String>,
    /// The image and its checks.
    pub image: ImageIdentity,
    /// Commit of the Runfile's repository.
    pub commit: Option<String>,
    /// The tree of that commit: the repository's content, whatever its
    /// history (absent in records made before dsi stored it).
    pub commit_tree: Option<String>,
    /// The Runfile.
    pub runfile: RunfileIdentity,
    /// The packed repository (`container_run_commands`).
    #[schemars(with = "Option<BlobJson>")]
    pub repository: Option<BlobRef>,
    /// How a replay ended (absent for a record).
    pub outcome: Option<Outcome>,
    /// The steps of a replay.
    pub steps: Vec<StepRecord>,
    /// Declared outputs and their digests.
    pub outputs: Vec<OutputDigest>,
    /// Host variables passed in (PASSENV).
    pub passenv: Vec<PassedVariable>,
    /// The system compatibility check.
    pub compat: Option<Compat>,
    /// Who made the row.
    pub user: Option<Identity>,
    /// The system it was made on.
    pub system: System,
    /// A replay's verification against its reference (RUNFILE-1.1 §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::verify::Verification>,
    /// A replay's compared texts: digests, and whether the content is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<crate::verify::StoredText>,
    /// The INPUT digests (RUNFILE-1.1 §5.1): taken when recorded, and
    /// again before a replay ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<crate::runtime::inputs::InputDigest>,
    /// The campaign task a replay ran as ([`crate::campaign`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignTask>,
    /// Columns this version does not know, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Cell>,
}

/// The campaign and task a replay ran as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CampaignTask {
    /// The campaign's id.
    pub id: String,
    /// The task's key in it: the record's run id and the repeat
    /// (`RUN_ID#K`, K from 1).
    pub task: String,
}

/// The JSON form of a blob reference.
#[derive(Debug, JsonSchema)]
#[allow(dead_code, reason = "a schema shape only")]
struct BlobJson {
    /// SHA-256, 64 lower-case hex digits.
    sha256: String,
    /// Length in bytes.
    len: u64,
}

impl RunRecord {
    /// A new row of this build: a fresh run id, now, this user and host.
    pub fn new(function: Function) -> Self {
        RunRecord {
            run_id: new_run_id(),
            function,
            recorded_at: Some(Timestamp::now()),
            parent_run_id: None,
            record_version: Some(RECORD_VERSION),
            dsi_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            image: ImageIdentity::default(),
            commit: None,
            commit_tree: None,
            runfile: RunfileIdentity::default(),
            repository: None,
            outcome: None,
            steps: Vec::new(),
            outputs: Vec::new(),
            passenv: Vec::new(),
            compat: None,
            user: Some(Identity::current()),
            system: System::default(),
            verification: None,
            texts: Vec::new(),
            inputs: Vec::new(),
            campaign: None,
            extra: BTreeMap::new(),
        }
    }

    /// Whether this row is a replay.
    pub fn is_replay(&self) -> bool {
        self.function == Function::Producer
    }

    /// The replay's exit status (`None` for a record).
    pub fn exit_code(&self) -> Option<i64> {
        self.outcome.as_ref()?.exit_code
    }

    /// Whether this is a replay whose every step succeeded.
    pub fn succeeded(&self) -> bool {
        self.is_replay() && self.exit_code() == Some(0)
    }

    /// The first `n` characters of the commit (for tables).
    pub fn short_commit(&self, n: usize) -> String {
        self.commit
            .as_deref()
            .map(|c| c.chars().take(n).collect())
            .unwrap_or_default()
    }

    /// The host the row was made on.
    pub fn hostname(&self) -> Option<&str> {
        self.user.as_ref()?.hostname.as_deref()
    }
}

/// A new ULID (time-ordered, 80 random bits from the kernel).
pub fn new_run_id() -> String {
    let mut random = [0u8; 16];
    // getrandom on Linux does not fail for 16 bytes once the pool is ready;
    // should it, the time part still orders and the zeros are visible.
    let _ = rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty());
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    ulid::Ulid::from_parts(ms, u128::from_le_bytes(random)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_ulids_and_unique() {
        let a = new_run_id();
        let b = new_run_id();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
