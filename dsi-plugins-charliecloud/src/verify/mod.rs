//! Graded verification (RUNFILE-1.1 §5, §7): whether a replay reproduced
//! its reference run — *reproduced*, *reproduced-within-tolerance*,
//! *not-reproduced*, *unverifiable* or *failed* — item by item, and why.
//!
//! * [`tokens`] and [`lines`] read texts as §5.4 defines them;
//!   [`compare`] streams the three OUTPUT modes; [`evaluate`] turns a
//!   Runfile's OUTPUT, METRIC and EXPECT (or its legacy outputs) into
//!   [`Item`]s; [`verdict`] applies the five rules.
//! * [`texts`] keeps the replay's compared texts (blobs up to the per-item
//!   limit) and reads a stored run's back.
//! * [`reference_for`] picks the reference run: the first successful
//!   replay of the commit (exit 0, no failed item), or the run named by
//!   `--against`. Without one the replay is *unverifiable* (or *failed*),
//!   and a successful one becomes the reference of later replays.
//! * [`summarise`] sums up `--repeat N`: the worst verdict, per-metric
//!   statistics, and the items that changed between repeats.

pub mod compare;
pub mod evaluate;
pub mod lines;
mod repeats;
pub mod texts;
pub mod tokens;
pub mod verdict;

use std::collections::BTreeMap;

use dsi_core::{Result, Stores};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use compare::{Difference, NumberStatistics, Position, pass};
pub use evaluate::{Against, Reference, RunTexts, TextDigest};
pub use repeats::{MetricSummary, RepeatSummary, summarise};
pub use texts::{DEFAULT_CONTENT_LIMIT, ReplayTexts, StoredText, StoredTexts};
pub use verdict::{Item, ItemKind, ItemStatus, Verdict};

use crate::find::{self, Want};
use crate::records::{RunRecord, query};
use crate::runfile::Runfile;

/// The verification of one replay, as its row keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verification {
    /// The overall verdict.
    pub verdict: Verdict,
    /// The run compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why there was nothing to compare with, when there was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The items: outputs, then metrics, then expectations.
    pub items: Vec<Item>,
}

impl Verification {
    /// Verifies a replay of `rf` whose texts are `texts` and whose steps
    /// failed if `step_failed`, against `reference` (its record and the
    /// stores holding its texts) or nothing.
    pub fn of(
        rf: &Runfile,
        texts: &dyn RunTexts,
        step_failed: bool,
        reference: Option<(&RunRecord, Stores<'_>)>,
    ) -> Verification {
        let note = match reference {
            Some(_) => None,
            None => Some("no earlier successful replay of this commit to compare with".to_owned()),
        };
        let items = match reference {
            Some((p, stores)) => {
                let stored = StoredTexts::new(&p.texts, stores);
                let r = Reference {
                    run_id: p.run_id.clone(),
                    texts: &stored,
                    metrics: metrics_of(p),
                };
                evaluate::items(rf, texts, Against::Run(&r))
            }
            None => evaluate::items(
                rf,
                texts,
                Against::Nothing(note.as_deref().unwrap_or_default()),
            ),
        };
        let verdict = Verdict::of(
            step_failed,
            items.iter().filter(|i| i.counted).map(|i| i.status),
        );
        Verification {
            verdict,
            reference: reference.map(|(p, _)| p.run_id.clone()),
            note,
            items,
        }
    }

    /// Whether an item failed (an EXPECT, a METRIC bound).
    pub fn has_failed_item(&self) -> bool {
        self.items
            .iter()
            .any(|i| i.counted && i.status == ItemStatus::Failed)
    }
}

/// A run's METRIC captures, by name.
pub fn metrics_of(run: &RunRecord) -> BTreeMap<String, Vec<String>> {
    run.verification
        .iter()
        .flat_map(|v| &v.items)
        .filter(|i| i.kind == ItemKind::Metric)
        .filter_map(|i| Some((i.name.clone(), i.values.clone()?)))
        .collect()
}

/// Whether a replay may be a reference: it exited 0 and no item failed.
pub fn is_successful(run: &RunRecord) -> bool {
    run.is_replay()
        && run.exit_code() == Some(0)
        && run
            .verification
            .as_ref()
            .is_none_or(|v| v.verdict != Verdict::Failed && !v.has_failed_item())
}

/// The reference of a replay of `commit`: the run `against` names, if
/// given (any run), else the first successful replay of the commit.
pub fn reference_for(
    stores: Stores<'_>,
    commit: &str,
    against: Option<&str>,
) -> Result<Option<RunRecord>> {
    if let Some(r) = against {
        return Ok(Some(find::reference(stores, r, Want::Replay)?.record));
    }
    // The candidates by a few columns, then the chosen one whole.
    for c in query::replay_candidates(stores, commit)? {
        let success =
            c.exit == (Some(0), None) && c.verdict.as_deref() != Some(Verdict::Failed.as_str());
        if success {
            let found = find::by_id(stores, &c.run_id)?;
            if is_successful(&found.record) {
                return Ok(Some(found.record));
            }
        }
    }
    Ok(None)
}
