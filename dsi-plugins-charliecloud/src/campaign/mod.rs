//! Campaigns: replay every selected record — after a system upgrade, on a
//! new cluster — as one Slurm job array (or `-j N` local processes), and
//! report per record whether it still reproduces and, if not, which layer
//! changed first.
//!
//! A campaign lives in the stores only:
//!
//! - its events in the `campaigns` table ([`events`]): the plan (the
//!   selection as given, the options, one task per record and repeat),
//!   each submission (launcher, Slurm array job ids), each task's start
//!   and each failure to start;
//! - its replays in `runs`, each row carrying the campaign id and the
//!   task's key (`RUN_ID#K`, [`crate::records::CampaignTask`]).
//!
//! So status and reports need nothing but the store (and, for a Slurm
//! campaign, `squeue` and `sacct -c` for what is queued or ended). A task
//! is idempotent: it stores nothing when a replay of its key exists, so a
//! task Slurm requeues, or a `--resume`, never makes a duplicate.
//!
//! The workflow: [`plan`] selects records, [`start`] stores the plan,
//! [`launch`] runs the tasks (each is `PROGRAM ARGS… ID INDEX`, normally
//! `dsi … campaign task ID INDEX`, which calls [`task::run`]),
//! [`status::status`] and [`report::report`] read it back.

pub mod events;
pub mod launch;
pub mod report;
pub mod status;
pub mod task;

use std::collections::{BTreeMap, BTreeSet};

use dsi_core::{Driver, Error, Result, Stores, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::find::{self, Want};
use crate::listing;
use crate::records::query::ListFilter;
use crate::records::{Function, RunRecord};

pub use events::{Event, EventKind, Failure, Started};

/// Which records a campaign replays: the filters of `dsi list` (records
/// only), or explicit runs and commits — not both.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The filters (their `function` is always records).
    pub filter: ListFilter,
    /// Explicit references (run ids or commit prefixes); a replay's id
    /// selects its record.
    pub refs: Vec<String>,
    /// The selection as given, for the campaign's record and reports
    /// (`--image dsi-test`, `--where exit_code=0`, a run id).
    pub described: Vec<String>,
}

/// How the tasks run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Launcher {
    /// Child processes on this machine, `jobs` at a time.
    Local {
        /// How many at once.
        jobs: u32,
    },
    /// One Slurm job array, one array task per campaign task.
    Slurm {
        /// Options for `sbatch` (each task gets them: `-n 2` for a
        /// two-rank LAUNCH).
        sbatch_args: Vec<String>,
        /// At most this many array tasks at once (`--array=…%N`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        throttle: Option<u32>,
    },
}

/// What a campaign does with each selected record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Options {
    /// Replays per record (each its own task).
    pub repeat: u32,
    /// The compatibility policy of each replay (`warn`, `strict`, `off`).
    pub check: String,
    /// The ch-image storage directory, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ch_storage: Option<String>,
    /// Never contact a registry.
    pub offline: bool,
    /// Also verify every layer digest.
    pub full: bool,
    /// Largest content of a compared target kept per item, in bytes.
    pub content_limit: u64,
    /// How the tasks run.
    pub launcher: Launcher,
}

/// One replay to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Task {
    /// Its index in the plan (the array task id, for Slurm).
    pub index: u32,
    /// Its key: `RUN_ID#K`.
    pub key: String,
    /// The record replayed.
    pub record: String,
    /// The record's commit.
    pub commit: String,
    /// The record's image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Which repeat (from 1).
    pub repeat: u32,
}

/// What a campaign replays, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// The selection as given.
    pub selection: Vec<String>,
    /// The options.
    pub options: Options,
    /// The tasks, in index order.
    pub tasks: Vec<Task>,
}

/// One Slurm job array of a submission: array task `i` runs plan task
/// `offset + i` (an array holds at most [`launch::MAX_ARRAY`] tasks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SlurmArray {
    /// The array's job id.
    pub job_id: String,
    /// The cluster, when sbatch named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The plan index of array task 0.
    pub offset: u32,
}

/// Tasks handed to a launcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Submission {
    /// `local` or `slurm`.
    pub launcher: String,
    /// The plan indices submitted.
    pub tasks: Vec<u32>,
    /// The Slurm job arrays (Slurm only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrays: Vec<SlurmArray>,
    /// Whether this was a `--resume`.
    pub resume: bool,
}

/// A campaign: the fold of its events.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Its id (a ULID).
    pub id: String,
    /// When it was planned.
    pub created_at: Timestamp,
    /// Who planned it (`moniker@host`).
    pub created_by: Option<String>,
    /// The plan.
    pub plan: Plan,
    /// Every submission, oldest first.
    pub submissions: Vec<Submission>,
    /// Each task's latest start.
    pub started: BTreeMap<u32, (Timestamp, Started)>,
    /// Each task's latest failure to start.
    pub failed: BTreeMap<u32, (Timestamp, Failure)>,
}

impl Campaign {
    /// The Slurm job name of its arrays.
    pub fn job_name(&self) -> String {
        job_name(&self.id)
    }

    /// Whether any submission went to Slurm.
    pub fn uses_slurm(&self) -> bool {
        self.submissions.iter().any(|s| s.launcher == "slurm")
    }

    /// The Slurm arrays of every submission.
    pub fn arrays(&self) -> impl Iterator<Item = &SlurmArray> {
        self.submissions.iter().flat_map(|s| s.arrays.iter())
    }
}

/// The Slurm job name of a campaign's arrays.
pub fn job_name(id: &str) -> String {
    format!("dsi-campaign-{id}")
}

/// The id of campaign `id` (a unique prefix), or of the newest campaign
/// when `None`; no campaign is an error.
pub fn resolve(stores: Stores<'_>, id: Option<&str>) -> Result<String> {
    match id {
        Some(id) => events::resolve(stores, id),
        None => events::newest(stores)?.ok_or_else(|| {
            Error::InvalidData("no campaign in the store (dsi campaign start makes one)".into())
        }),
    }
}

/// Loads a campaign by id or unique id prefix.
pub fn load(stores: Stores<'_>, id: &str) -> Result<Campaign> {
    let id = events::resolve(stores, id)?;
    let mut plan = None;
    let mut c_at = None;
    let mut c_by = None;
    let mut submissions = Vec::new();
    let mut started = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for e in events::load(stores, &id)? {
        match e.kind {
            EventKind::Planned(p) => {
                if plan.is_none() {
                    plan = Some(*p);
                    c_at = Some(e.at);
                    c_by = e.by;
                }
            }
            EventKind::Submitted(s) => submissions.push(s),
            EventKind::Started(s) => {
                if let Some(t) = e.task {
                    started.insert(t, (e.at, s));
                }
            }
            EventKind::Failed(f) => {
                if let Some(t) = e.task {
                    failed.insert(t, (e.at, f));
                }
            }
        }
    }
    let plan = plan.ok_or_else(|| Error::InvalidData(format!("campaign {id} has no plan")))?;
    for (i, t) in plan.tasks.iter().enumerate() {
        if usize::try_from(t.index).ok() != Some(i) {
            return Err(Error::InvalidData(format!(
                "campaign {id}: task {} is at position {i} of its plan (corrupt or foreign row)",
                t.index
            )));
        }
    }
    Ok(Campaign {
        id,
        created_at: c_at.unwrap_or_else(Timestamp::now),
        created_by: c_by,
        plan,
        submissions,
        started,
        failed,
    })
}

/// Campaign `id` (or a unique prefix) and the tasks a `--resume` runs:
/// those without a stored replay that Slurm does not hold queued
/// ([`status::to_resume`]).
pub fn resume(stores: Stores<'_>, id: &str) -> Result<(Campaign, Vec<u32>)> {
    let (campaign, _, st) = status::snapshot(stores, id)?;
    Ok((campaign, status::to_resume(&st)))
}

/// The records a selection names, oldest first, each once.
fn selected(stores: Stores<'_>, selection: &Selection) -> Result<Vec<RunRecord>> {
    let filtered = selection.filter != ListFilter::default();
    if filtered && !selection.refs.is_empty() {
        return Err(Error::config(
            "campaign",
            "select records by filters or by runs and commits, not both",
        ));
    }
    let mut ids = Vec::new();
    if selection.refs.is_empty() {
        let filter = ListFilter {
            function: Some(Function::Consumer),
            ..selection.filter.clone()
        };
        let page = listing::list(stores, &filter, None)?;
        ids.extend(page.runs.into_iter().map(|r| r.run_id));
    } else {
        for r in &selection.refs {
            let found = find::reference(stores, r, Want::Record)?;
            let rec = found.record;
            ids.push(match (rec.function, rec.parent_run_id) {
                (Function::Producer, Some(p)) => p,
                (Function::Producer, None) => {
                    return Err(Error::InvalidData(format!(
                        "replay {} names no record to replay",
                        rec.run_id
                    )));
                }
                (Function::Consumer, _) => rec.run_id,
            });
        }
    }
    let mut seen = BTreeSet::new();
    let mut records = Vec::new();
    for id in ids {
        if seen.insert(id.clone()) {
            records.push(find::by_id(stores, &id)?.record);
        }
    }
    records.sort_by(|a, b| (a.recorded_at, &a.run_id).cmp(&(b.recorded_at, &b.run_id)));
    Ok(records)
}

/// Plans a campaign: the selected records, `options.repeat` tasks each.
/// No record selected is an error.
pub fn plan(stores: Stores<'_>, selection: &Selection, options: Options) -> Result<Plan> {
    let records = selected(stores, selection)?;
    if records.is_empty() {
        return Err(Error::InvalidData(
            "no records match the selection: nothing to replay (dsi list --function consumer shows the records)".into(),
        ));
    }
    let mut tasks = Vec::new();
    for r in &records {
        let commit = r
            .commit
            .clone()
            .ok_or_else(|| Error::InvalidData(format!("run {} names no commit", r.run_id)))?;
        for k in 1..=options.repeat.max(1) {
            tasks.push(Task {
                index: u32::try_from(tasks.len()).map_err(|_| {
                    Error::InvalidData("a campaign holds at most 2^32 tasks".into())
                })?,
                key: format!("{}#{k}", r.run_id),
                record: r.run_id.clone(),
                commit: commit.clone(),
                image: r.image.reference.clone(),
                repeat: k,
            });
        }
    }
    Ok(Plan {
        selection: selection.described.clone(),
        options,
        tasks,
    })
}

/// Stores a new campaign's plan in every store and returns the campaign
/// (nothing submitted yet).
pub fn start(drivers: &[Box<dyn Driver>], plan: Plan) -> Result<Campaign> {
    let id = crate::records::new_run_id();
    let event = Event::new(&id, None, EventKind::Planned(Box::new(plan.clone())));
    events::put(drivers, &event)?;
    Ok(Campaign {
        id,
        created_at: event.at,
        created_by: event.by,
        plan,
        submissions: Vec::new(),
        started: BTreeMap::new(),
        failed: BTreeMap::new(),
    })
}

/// Stores that `submission` was made.
pub fn submitted(
    drivers: &[Box<dyn Driver>],
    campaign: &mut Campaign,
    submission: Submission,
) -> Result<()> {
    let event = Event::new(&campaign.id, None, EventKind::Submitted(submission.clone()));
    events::put(drivers, &event)?;
    campaign.submissions.push(submission);
    Ok(())
}
