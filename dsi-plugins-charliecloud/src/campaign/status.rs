//! Where a campaign stands, without waiting: each task pending, running,
//! done (with its replay's verdict) or failed to start — from the store
//! (replays, `started` and `failed` events) and, for a Slurm campaign,
//! from `squeue` (what is queued or running) and `sacct -c` (how a started
//! array task ended).

use std::collections::BTreeMap;
use std::process::Command;

use dsi_core::{Result, Stores};
use schemars::JsonSchema;
use serde::Serialize;

use super::Campaign;
use crate::records::RunRecord;
use crate::verify::Verdict;

/// A task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    /// Not started (queued, for Slurm).
    Pending,
    /// Started, no replay stored yet.
    Running,
    /// Its replay is stored.
    Done,
    /// It ended without storing a replay (an error before the replay, or
    /// killed); `--resume` runs it again.
    FailedToStart,
}

impl TaskState {
    /// `pending`, `running`, `done`, `failed-to-start`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Done => "done",
            TaskState::FailedToStart => "failed-to-start",
        }
    }
}

/// One task's status.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskStatus {
    /// Its index.
    pub index: u32,
    /// Its key (`RUN_ID#K`).
    pub key: String,
    /// Its state.
    pub state: TaskState,
    /// The replay's run id (done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// The replay's verdict (done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Why it failed to start, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What Slurm says (`PENDING`, `RUNNING`, `CANCELLED`…), for Slurm tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slurm_state: Option<String>,
}

/// Tasks per state, and done tasks per verdict.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Counts {
    /// Not started.
    pub pending: u64,
    /// Running.
    pub running: u64,
    /// Done, by verdict (`reproduced`, …).
    pub done: BTreeMap<String, u64>,
    /// Ended without a replay.
    pub failed_to_start: u64,
}

/// A campaign's status.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CampaignStatus {
    /// The campaign.
    pub campaign: String,
    /// How many tasks.
    pub tasks: u64,
    /// The counts.
    pub counts: Counts,
    /// Replays stored for a task that already had one (should be 0).
    pub duplicates: u64,
    /// Whether Slurm was asked (a Slurm campaign with squeue on PATH).
    pub slurm: bool,
    /// Every task.
    pub task_states: Vec<TaskStatus>,
}

impl CampaignStatus {
    /// Whether every task is done or failed to start.
    pub fn finished(&self) -> bool {
        self.counts.pending == 0 && self.counts.running == 0
    }
}

/// What Slurm knows about a campaign's array tasks.
#[derive(Debug, Clone, Default)]
pub struct SlurmView {
    /// Queued or running array tasks: plan index → state.
    pub queued: BTreeMap<u32, String>,
    /// Ended jobs: the array task's own job id → final state.
    pub ended: BTreeMap<String, String>,
}

impl SlurmView {
    /// Asks `squeue` (by the campaign's job name) and `sacct -c`; a
    /// command that is missing or fails gives nothing (the store alone).
    pub fn query(campaign: &Campaign) -> Option<Self> {
        let name = campaign.job_name();
        let offsets: BTreeMap<&str, u32> = campaign
            .arrays()
            .map(|a| (a.job_id.as_str(), a.offset))
            .collect();
        let squeue = Command::new("squeue")
            .args(["-h", "-r", "-n", &name, "-o", "%F|%K|%T"])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let mut view = SlurmView::default();
        for line in String::from_utf8_lossy(&squeue.stdout).lines() {
            let mut f = line.split('|');
            let (Some(array), Some(task), Some(state)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let (Some(offset), Ok(task)) = (offsets.get(array.trim()), task.trim().parse::<u32>())
            else {
                continue;
            };
            view.queued.insert(offset + task, state.trim().to_owned());
        }
        if let Ok(o) = Command::new("sacct")
            .args(["-c", "-n", "-P", "--name", &name, "-o", "JobID,State"])
            .output()
        {
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                if let Some((job, state)) = line.split_once('|') {
                    view.ended
                        .insert(job.trim().to_owned(), state.trim().to_owned());
                }
            }
        }
        Some(view)
    }
}

fn verdict_of(r: &RunRecord) -> Verdict {
    r.verification
        .as_ref()
        .map_or(Verdict::Unverifiable, |v| v.verdict)
}

/// The status of `campaign` from its stored replays and events and, when
/// given, what Slurm says.
pub fn status_with(
    campaign: &Campaign,
    replays: &[RunRecord],
    slurm: Option<&SlurmView>,
) -> CampaignStatus {
    let mut by_key: BTreeMap<&str, Vec<&RunRecord>> = BTreeMap::new();
    for r in replays {
        if let Some(c) = &r.campaign {
            by_key.entry(c.task.as_str()).or_default().push(r);
        }
    }
    let mut counts = Counts::default();
    let mut duplicates = 0;
    let mut task_states = Vec::new();
    for t in &campaign.plan.tasks {
        let mut s = TaskStatus {
            index: t.index,
            key: t.key.clone(),
            state: TaskState::Pending,
            replay: None,
            verdict: None,
            error: None,
            slurm_state: None,
        };
        let started = campaign.started.get(&t.index);
        let failed = campaign
            .failed
            .get(&t.index)
            .filter(|(at, _)| started.is_none_or(|(s_at, _)| at >= s_at));
        let queued = slurm.and_then(|v| v.queued.get(&t.index));
        if let Some(rs) = by_key.get(t.key.as_str()) {
            duplicates += rs.len().saturating_sub(1) as u64;
            let first = rs[0];
            s.state = TaskState::Done;
            s.replay = Some(first.run_id.clone());
            s.verdict = Some(verdict_of(first));
        } else if let Some(q) = queued {
            s.slurm_state = Some(q.clone());
            s.state = match q.as_str() {
                "RUNNING" | "COMPLETING" | "CONFIGURING" | "STAGE_OUT" => TaskState::Running,
                _ => TaskState::Pending,
            };
        } else if let Some((_, f)) = failed {
            s.state = TaskState::FailedToStart;
            s.error = Some(f.error.clone());
        } else if let Some(view) = slurm.filter(|_| campaign.uses_slurm()) {
            // Not queued: it ended (or was cancelled before it started).
            let ended = started
                .and_then(|(_, st)| st.slurm_job_id.as_ref())
                .and_then(|j| view.ended.get(j));
            match (started, ended) {
                (Some(_), None) => s.state = TaskState::Running,
                (Some(_), Some(state)) => {
                    s.state = TaskState::FailedToStart;
                    s.slurm_state = Some(state.clone());
                    s.error = Some(format!("its job ended {state} without storing a replay"));
                }
                (None, _) if submitted(campaign, t.index) => {
                    s.state = TaskState::FailedToStart;
                    s.error = Some("not queued and never started (cancelled?)".into());
                }
                (None, _) => s.state = TaskState::Pending,
            }
        } else if started.is_some() {
            s.state = TaskState::Running;
        }
        match s.state {
            TaskState::Pending => counts.pending += 1,
            TaskState::Running => counts.running += 1,
            TaskState::FailedToStart => counts.failed_to_start += 1,
            TaskState::Done => {
                let v = s.verdict.map_or("unverifiable", Verdict::as_str);
                *counts.done.entry(v.to_owned()).or_default() += 1;
            }
        }
        task_states.push(s);
    }
    CampaignStatus {
        campaign: campaign.id.clone(),
        tasks: campaign.plan.tasks.len() as u64,
        counts,
        duplicates,
        slurm: slurm.is_some(),
        task_states,
    }
}

fn submitted(campaign: &Campaign, index: u32) -> bool {
    campaign
        .submissions
        .iter()
        .any(|s| s.launcher == "slurm" && s.tasks.contains(&index))
}

/// A campaign, its replays and its status, read consistently: Slurm is
/// asked first and the store after, so a task that stored its replay and
/// ended in between is seen done, not ended without a replay.
pub fn snapshot(
    stores: Stores<'_>,
    id: &str,
) -> Result<(Campaign, Vec<RunRecord>, CampaignStatus)> {
    let first = super::load(stores, id)?;
    let view = first
        .uses_slurm()
        .then(|| SlurmView::query(&first))
        .flatten();
    let campaign = match view {
        Some(_) => super::load(stores, &first.id)?,
        None => first,
    };
    let replays = super::task::replays(stores, &campaign.id)?;
    let status = status_with(&campaign, &replays, view.as_ref());
    Ok((campaign, replays, status))
}

/// The status of campaign `id` (or a unique prefix): the store, and Slurm
/// when the campaign was submitted there.
pub fn status(stores: Stores<'_>, id: &str) -> Result<CampaignStatus> {
    Ok(snapshot(stores, id)?.2)
}

/// The tasks a `--resume` runs: those without a stored replay that Slurm
/// does not hold queued or running.
pub fn to_resume(status: &CampaignStatus) -> Vec<u32> {
    status
        .task_states
        .iter()
        .filter(|t| match t.state {
            TaskState::Done => false,
            TaskState::FailedToStart => true,
            // Queued in Slurm: leave it be.
            TaskState::Pending => t.slurm_state.is_none(),
            // Started and not known to have ended: only a local campaign's
            // (whose runner is gone when it is resumed).
            TaskState::Running => !status.slurm,
        })
        .map(|t| t.index)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use dsi_core::Timestamp;

    use super::*;
    use crate::campaign::{
        Failure, Launcher, Options, Plan, SlurmArray, Started, Submission, Task,
    };
    use crate::records::{CampaignTask, Function};

    fn campaign(n: u32, slurm: bool) -> Campaign {
        let tasks = (0..n)
            .map(|i| Task {
                index: i,
                key: format!("R{i}#1"),
                record: format!("R{i}"),
                commit: "c".into(),
                image: None,
                repeat: 1,
            })
            .collect();
        Campaign {
            id: "C".into(),
            created_at: Timestamp::now(),
            created_by: None,
            plan: Plan {
                selection: Vec::new(),
                options: Options {
                    repeat: 1,
                    check: "warn".into(),
                    ch_storage: None,
                    offline: false,
                    full: false,
                    content_limit: 0,
                    launcher: Launcher::Local { jobs: 1 },
                },
                tasks,
            },
            submissions: if slurm {
                vec![Submission {
                    launcher: "slurm".into(),
                    tasks: (0..n).collect(),
                    arrays: vec![SlurmArray {
                        job_id: "7".into(),
                        cluster: None,
                        offset: 0,
                    }],
                    resume: false,
                }]
            } else {
                Vec::new()
            },
            started: BTreeMap::new(),
            failed: BTreeMap::new(),
        }
    }

    fn started(job: &str) -> Started {
        Started {
            host: "h".into(),
            pid: 1,
            slurm_job_id: Some(job.into()),
            slurm_array_job_id: None,
            slurm_restart_count: None,
        }
    }

    fn replay(task: &str) -> RunRecord {
        let mut r = RunRecord::new(Function::Producer);
        r.campaign = Some(CampaignTask {
            id: "C".into(),
            task: task.into(),
        });
        r
    }

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_micros(micros)
    }

    #[test]
    fn slurm_tasks_are_pending_running_done_or_failed_to_start() {
        let mut c = campaign(6, true);
        // 0: done; 1: queued; 2: running; 3: started, its job ended without a
        // replay; 4: never started and gone from the queue; 5: failed after
        // it started.
        c.started.insert(3, (at(1), started("13")));
        c.started.insert(5, (at(1), started("15")));
        c.failed.insert(
            5,
            (
                at(2),
                Failure {
                    error: "E405".into(),
                },
            ),
        );
        let view = SlurmView {
            queued: [(1, "PENDING".to_owned()), (2, "RUNNING".to_owned())].into(),
            ended: [("13".to_owned(), "CANCELLED".to_owned())].into(),
        };
        let s = status_with(&c, &[replay("R0#1"), replay("R0#1")], Some(&view));
        let states: Vec<TaskState> = s.task_states.iter().map(|t| t.state).collect();
        assert_eq!(
            states,
            [
                TaskState::Done,
                TaskState::Pending,
                TaskState::Running,
                TaskState::FailedToStart,
                TaskState::FailedToStart,
                TaskState::FailedToStart,
            ]
        );
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.counts.done["unverifiable"], 1);
        assert_eq!(s.task_states[5].error.as_deref(), Some("E405"));
        assert!(
            s.task_states[3]
                .error
                .as_deref()
                .unwrap()
                .contains("CANCELLED")
        );
        assert!(!s.finished());
        // Resume: what failed to start and what was never queued; not
        // what Slurm still holds, nor what is done.
        assert_eq!(to_resume(&s), [3, 4, 5]);
    }

    #[test]
    fn a_restart_after_a_failure_is_running_again() {
        let mut c = campaign(1, false);
        c.failed.insert(0, (at(1), Failure { error: "x".into() }));
        c.started.insert(0, (at(2), started("1")));
        let s = status_with(&c, &[], None);
        assert_eq!(s.task_states[0].state, TaskState::Running);
        // A local campaign's runner is gone when it is resumed.
        assert_eq!(to_resume(&s), [0]);
        let s = status_with(&campaign(2, false), &[], None);
        assert_eq!(s.counts.pending, 2);
        assert_eq!(to_resume(&s), [0, 1]);
    }
}
