//! One task of a campaign: the replay of one record (one repeat), verified
//! against its reference and stored with the campaign's id and the task's
//! key — unless a replay of that key is already stored (a task Slurm
//! requeued, or one resumed twice), which makes the task a no-op.

use dsi_core::{Driver, Error, Result, Stores};

use super::events::{self, Event, EventKind, Failure, Started};
use super::{Campaign, Task};
use crate::compat::Policy;
use crate::producer::OutputTo;
use crate::records::query::{replays_of_campaign, replays_of_campaign_task};
use crate::records::{CampaignTask, RunRecord};
use crate::replaying::{self, ReplayFrom, ReplayRequest, Replayed};
use crate::settings::ImageSettings;

/// What a task did.
#[derive(Debug, Clone)]
pub enum TaskOutcome {
    /// It replayed and stored the replay.
    Replayed(Box<Replayed>),
    /// A replay of its key was already stored: this run id.
    AlreadyDone(String),
}

/// The stored replays of a campaign, oldest first.
pub fn replays(stores: Stores<'_>, campaign: &str) -> Result<Vec<RunRecord>> {
    replays_matching(stores, campaign, &replays_of_campaign(campaign))
}

fn replays_matching(
    stores: Stores<'_>,
    campaign: &str,
    query: &dsi_core::TableQuery,
) -> Result<Vec<RunRecord>> {
    let t = match stores.rows(query, crate::records::query::KEY) {
        Ok(Some(t)) => t,
        Ok(None) | Err(Error::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = (0..t.num_rows())
        .map(|r| RunRecord::from_row(&t, r))
        .collect::<Result<Vec<_>>>()?;
    out.retain(|r| r.campaign.as_ref().is_some_and(|c| c.id == campaign));
    out.sort_by(|a, b| (a.recorded_at, &a.run_id).cmp(&(b.recorded_at, &b.run_id)));
    Ok(out)
}

/// The replay request of a task.
pub fn request(campaign: &Campaign, task: &Task, images: ImageSettings) -> Result<ReplayRequest> {
    let o = &campaign.plan.options;
    let check: Policy = o
        .check
        .parse()
        .map_err(|e: String| Error::InvalidData(format!("campaign {}: {e}", campaign.id)))?;
    Ok(ReplayRequest {
        from: ReplayFrom::Reference(task.record.clone()),
        path: None,
        check,
        output: OutputTo::Inherit,
        into: None,
        images,
        verify: true,
        against: None,
        content_limit: o.content_limit,
        campaign: Some(CampaignTask {
            id: campaign.id.clone(),
            task: task.key.clone(),
        }),
    })
}

/// Runs task `index` of campaign `id` (or a unique prefix): `open` opens
/// the stores (read-write; once for the replay, again to note a failure),
/// `images` says how images are found (from the campaign's options).
///
/// A failure before a replay is stored is noted as a `failed` event (its
/// one line) and returned.
pub fn run(
    mut open: impl FnMut() -> Result<Vec<Box<dyn Driver>>>,
    id: &str,
    index: u32,
    images: impl FnOnce(&Campaign) -> Result<ImageSettings>,
) -> Result<TaskOutcome> {
    let drivers = open()?;
    let stores = Stores::new(&drivers);
    let campaign = super::load(stores, id)?;
    let task = campaign
        .plan
        .tasks
        .get(usize::try_from(index).unwrap_or(usize::MAX))
        .cloned()
        .ok_or_else(|| {
            Error::InvalidData(format!(
                "campaign {} has {} tasks; there is no task {index}",
                campaign.id,
                campaign.plan.tasks.len()
            ))
        })?;
    let this_task = replays_of_campaign_task(&campaign.id, &task.key);
    if let Some(done) = replays_matching(stores, &campaign.id, &this_task)?
        .into_iter()
        .find(|r| r.campaign.as_ref().is_some_and(|c| c.task == task.key))
    {
        tracing::info!(
            "task {index} ({}) already replayed as run {}",
            task.key,
            done.run_id
        );
        return Ok(TaskOutcome::AlreadyDone(done.run_id));
    }
    events::put(
        &drivers,
        &Event::new(
            &campaign.id,
            Some(index),
            EventKind::Started(Started::here()),
        ),
    )?;
    let replayed = images(&campaign)
        .and_then(|images| request(&campaign, &task, images))
        .and_then(|req| replaying::replay(drivers, req));
    match replayed {
        Ok(r) => Ok(TaskOutcome::Replayed(Box::new(r))),
        Err(e) => {
            let line = e.to_string();
            let line = line.lines().next().unwrap_or_default().to_owned();
            let noted = open().and_then(|d| {
                events::put(
                    &d,
                    &Event::new(
                        &campaign.id,
                        Some(index),
                        EventKind::Failed(Failure { error: line }),
                    ),
                )
            });
            if let Err(n) = noted {
                tracing::warn!("could not note the failure of task {index}: {n}");
            }
            Err(e)
        }
    }
}
