//! The `campaigns` table: what happened to a campaign, one row per event,
//! only ever appended (every back-end can append; none has to update).
//!
//! | column | type | |
//! |---|---|---|
//! | `event_id` | text | ULID of the row (its key across stores) |
//! | `campaign_id` | text | the campaign's ULID |
//! | `event` | text | `planned`, `submitted`, `started` or `failed` |
//! | `recorded_at` | timestamp | when |
//! | `moniker`, `hostname` | text | who, where |
//! | `task` | int | the task's index in the plan (`started`, `failed`) |
//! | `detail` | text | the event as JSON: the plan, the submission, where a task started, why it failed |
//!
//! A campaign is the fold of its events ([`super::Campaign`]). Stored rows
//! are untrusted: a malformed one is an error naming the event and column.

use dsi_core::{Collection, DataType, Driver, Error, Filter, FilterOp, Result, Stores};
use dsi_core::{Table, TableQuery, Timestamp, Value};
use serde::{Deserialize, Serialize};

use super::{Plan, Submission};
use crate::records::Identity;

/// The table's name.
pub const CAMPAIGNS: &str = "campaigns";

const EVENT_ID: &str = "event_id";
const CAMPAIGN_ID: &str = "campaign_id"; // not a runs column
const EVENT: &str = "event";
const RECORDED_AT: &str = "recorded_at"; // not a runs column
const TASK: &str = "task";
const MONIKER: &str = "moniker"; // not a runs column
const HOSTNAME: &str = "hostname"; // not a runs column
const DETAIL: &str = "detail";

const SCHEMA: &[(&str, DataType)] = &[
    (EVENT_ID, DataType::Text),
    (CAMPAIGN_ID, DataType::Text),
    (EVENT, DataType::Text),
    (RECORDED_AT, DataType::Timestamp),
    (MONIKER, DataType::Text),
    (HOSTNAME, DataType::Text),
    (TASK, DataType::Int),
    (DETAIL, DataType::Text),
];

inventory::submit! {
    dsi_core::ReservedTable {
        name: CAMPAIGNS,
        writers: &[],
        holds: "dsi's campaigns (written by dsi campaign)",
    }
}

/// Where and as what a task started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Started {
    /// The host it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// `SLURM_JOB_ID` (the array task's own job id), when under Slurm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job_id: Option<String>,
    /// `SLURM_ARRAY_JOB_ID`, when in an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_array_job_id: Option<String>,
    /// `SLURM_RESTART_COUNT`: how often Slurm requeued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_restart_count: Option<String>,
}

impl Started {
    /// This process, now.
    pub fn here() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        Started {
            host: dsi_core::env::Hostname::current(),
            pid: std::process::id(),
            slurm_job_id: var("SLURM_JOB_ID"),
            slurm_array_job_id: var("SLURM_ARRAY_JOB_ID"),
            slurm_restart_count: var("SLURM_RESTART_COUNT"),
        }
    }
}

/// Why a task could not replay (nothing was stored for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Failure {
    /// The error, one line.
    pub error: String,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The campaign was planned: its selection, options and tasks.
    Planned(Box<Plan>),
    /// Tasks were handed to a launcher.
    Submitted(Submission),
    /// A task started.
    Started(Started),
    /// A task failed before storing a replay.
    Failed(Failure),
}

impl EventKind {
    fn name(&self) -> &'static str {
        match self {
            EventKind::Planned(_) => "planned",
            EventKind::Submitted(_) => "submitted",
            EventKind::Started(_) => "started",
            EventKind::Failed(_) => "failed",
        }
    }

    fn detail(&self) -> String {
        let json = match self {
            EventKind::Planned(p) => serde_json::to_string(p),
            EventKind::Submitted(s) => serde_json::to_string(s),
            EventKind::Started(s) => serde_json::to_string(s),
            EventKind::Failed(f) => serde_json::to_string(f),
        };
        json.expect("campaign events always serialise")
    }
}

/// One row of `campaigns`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The row's ULID.
    pub id: String,
    /// The campaign.
    pub campaign: String,
    /// When.
    pub at: Timestamp,
    /// Who (`moniker@host`).
    pub by: Option<String>,
    /// The task's index in the plan.
    pub task: Option<u32>,
    /// What.
    pub kind: EventKind,
}

impl Event {
    /// A new event of `campaign`, now, by this user on this host.
    pub fn new(campaign: &str, task: Option<u32>, kind: EventKind) -> Self {
        Event {
            id: crate::records::new_run_id(),
            campaign: campaign.to_owned(),
            at: Timestamp::now(),
            by: Identity::current().who(),
            task,
            kind,
        }
    }

    fn to_table(&self) -> Result<Table> {
        let me = Identity::current();
        let mut t = Table::with_schema(CAMPAIGNS, SCHEMA)?;
        t.push_row(vec![
            Value::Text(self.id.clone()),
            Value::Text(self.campaign.clone()),
            Value::Text(self.kind.name().to_owned()),
            Value::Timestamp(self.at),
            me.moniker.map_or(Value::Null, Value::Text),
            me.hostname.map_or(Value::Null, Value::Text),
            self.task.map_or(Value::Null, |t| Value::Int(i64::from(t))),
            Value::Text(self.kind.detail()),
        ])?;
        Ok(t)
    }

    fn from_row(t: &Table, r: usize) -> Result<Self> {
        let text = |c: &str| match t.get(r, c) {
            Some(Value::Text(s)) => Some(s.clone()),
            _ => None,
        };
        let id = text(EVENT_ID).unwrap_or_default();
        let bad = |c: &str, why: String| {
            Error::InvalidData(format!(
                "table {CAMPAIGNS}: event {}: column {c}: {why} (corrupt or foreign row)",
                dsi_core::text::for_terminal(&id)
            ))
        };
        if id.is_empty() {
            return Err(bad(EVENT_ID, "missing".into()));
        }
        let campaign = text(CAMPAIGN_ID).ok_or_else(|| bad(CAMPAIGN_ID, "missing".into()))?;
        let at = match t.get(r, RECORDED_AT) {
            Some(Value::Timestamp(ts)) => *ts,
            _ => return Err(bad(RECORDED_AT, "missing or not a time".into())),
        };
        let task = match t.get(r, TASK) {
            Some(Value::Int(i)) => {
                Some(u32::try_from(*i).map_err(|_| bad(TASK, format!("{i} is not a task index")))?)
            }
            None | Some(Value::Null) => None,
            Some(other) => return Err(bad(TASK, format!("{other:?} is not an integer"))),
        };
        let detail = text(DETAIL).ok_or_else(|| bad(DETAIL, "missing".into()))?;
        fn parse<T: serde::de::DeserializeOwned>(s: &str) -> std::result::Result<T, String> {
            serde_json::from_str(s).map_err(|e| e.to_string())
        }
        let event = text(EVENT).unwrap_or_default();
        let kind = match event.as_str() {
            "planned" => EventKind::Planned(Box::new(parse(&detail).map_err(|e| bad(DETAIL, e))?)),
            "submitted" => EventKind::Submitted(parse(&detail).map_err(|e| bad(DETAIL, e))?),
            "started" => EventKind::Started(parse(&detail).map_err(|e| bad(DETAIL, e))?),
            "failed" => EventKind::Failed(parse(&detail).map_err(|e| bad(DETAIL, e))?),
            other => {
                return Err(bad(
                    EVENT,
                    format!(
                        "'{}' is not planned, submitted, started or failed",
                        dsi_core::text::for_terminal(other)
                    ),
                ));
            }
        };
        let who = match (text(MONIKER), text(HOSTNAME)) {
            (Some(m), Some(h)) => Some(format!("{m}@{h}")),
            (m, _) => m,
        };
        Ok(Event {
            id,
            campaign,
            at,
            by: who,
            task,
            kind,
        })
    }
}

/// Appends `event` to every store (each put is atomic on its own).
pub fn put(drivers: &[Box<dyn Driver>], event: &Event) -> Result<()> {
    let table = event.to_table()?;
    for d in drivers {
        d.put(&Collection::of(table.clone()))?;
    }
    Ok(())
}

/// The events of one campaign across the stores, oldest first.
pub fn load(stores: Stores<'_>, campaign: &str) -> Result<Vec<Event>> {
    let q = TableQuery::new(CAMPAIGNS).filter(Filter::new(CAMPAIGN_ID, FilterOp::Eq, campaign));
    let t = match stores.rows(&q, EVENT_ID) {
        Ok(Some(t)) => t,
        Ok(None) | Err(Error::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut events = (0..t.num_rows())
        .map(|r| Event::from_row(&t, r))
        .collect::<Result<Vec<_>>>()?;
    events.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    Ok(events)
}

/// The campaign whose id starts with `prefix` (case-insensitive), as one
/// id; none or several is an error naming the prefix.
pub fn resolve(stores: Stores<'_>, prefix: &str) -> Result<String> {
    let q = TableQuery::new(CAMPAIGNS)
        .filter(Filter::new(
            CAMPAIGN_ID,
            FilterOp::StartsWith,
            prefix.to_ascii_uppercase(),
        ))
        .filter(Filter::new(EVENT, FilterOp::Eq, "planned"))
        .select([CAMPAIGN_ID, EVENT_ID]);
    let rows = match stores.rows(&q, EVENT_ID) {
        Ok(t) => t,
        Err(Error::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let mut ids: Vec<String> = rows
        .iter()
        .flat_map(|t| {
            (0..t.num_rows()).filter_map(move |r| match t.get(r, CAMPAIGN_ID) {
                Some(Value::Text(s)) => Some(s.clone()),
                _ => None,
            })
        })
        .collect();
    ids.sort();
    ids.dedup();
    let shown = dsi_core::text::for_terminal(prefix);
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::InvalidData(format!(
            "no campaign '{shown}' in the store (dsi campaign start makes one)"
        ))),
        many => Err(Error::InvalidData(format!(
            "campaign '{shown}' is ambiguous: {}",
            many.join(", ")
        ))),
    }
}

/// The newest campaign's id (by when it was planned), if any.
pub fn newest(stores: Stores<'_>) -> Result<Option<String>> {
    let q = TableQuery::new(CAMPAIGNS)
        .filter(Filter::new(EVENT, FilterOp::Eq, "planned"))
        .select([CAMPAIGN_ID, EVENT_ID, RECORDED_AT])
        .order_by(RECORDED_AT, true);
    let found = match stores.first(&q, EVENT_ID) {
        Ok(f) => f,
        Err(Error::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(found.and_then(|f| match f.row.get(0, CAMPAIGN_ID) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }))
}
