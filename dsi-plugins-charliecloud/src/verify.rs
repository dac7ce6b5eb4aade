//! Verifying a replay against a reference run: whether the declared outputs
//! and the standard output were reproduced, item by item.
//!
//! The reference ([`reference_for`]) is the replayed row itself when a
//! replay is replayed, else the newest earlier replay of the record. Each
//! declared output of the reference is compared by digest (`match`,
//! `differs`, or `missing` in the replay), then standard output. With no
//! reference, the verification says so (and the new replay becomes the
//! reference for later ones).

use dsi_core::{Result, Stores};
use schemars::JsonSchema;
use serde::Serialize;

use crate::records::{RunRecord, query};

/// How one item compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    /// Same digest.
    Match,
    /// Different digest.
    Differs,
    /// Absent in the replay.
    Missing,
}

/// One compared item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Item {
    /// The output's path, or `stdout`.
    pub what: String,
    /// How it compared.
    pub status: ItemStatus,
    /// The reference's digest.
    pub recorded: Option<String>,
    /// The replay's digest.
    pub replayed: Option<String>,
}

/// The verification of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Verification {
    /// Every item matched (true when there was nothing to compare with).
    pub ok: bool,
    /// The run compared with.
    pub reference: Option<String>,
    /// Why nothing was compared, when nothing was.
    pub note: Option<String>,
    /// The items, outputs first, then stdout.
    pub items: Vec<Item>,
}

/// Compares a replay with its reference.
pub fn verify(reference: &RunRecord, replay: &RunRecord) -> Verification {
    let mut items = Vec::new();
    for want in &reference.outputs {
        let have = replay
            .outputs
            .iter()
            .find(|o| o.path == want.path)
            .and_then(|o| o.sha256.clone());
        let status = match &have {
            None => ItemStatus::Missing,
            Some(h) if Some(h) == want.sha256.as_ref() => ItemStatus::Match,
            Some(_) => ItemStatus::Differs,
        };
        items.push(Item {
            what: want.path.clone(),
            status,
            recorded: want.sha256.clone(),
            replayed: have,
        });
    }
    let stdout = |r: &RunRecord| r.outcome.as_ref().and_then(|o| o.stdout_sha256.clone());
    if let Some(want) = stdout(reference) {
        let have = stdout(replay);
        items.push(Item {
            what: "stdout".into(),
            status: if have.as_ref() == Some(&want) {
                ItemStatus::Match
            } else {
                ItemStatus::Differs
            },
            recorded: Some(want),
            replayed: have,
        });
    }
    Verification {
        ok: items.iter().all(|i| i.status == ItemStatus::Match),
        reference: Some(reference.run_id.clone()),
        note: None,
        items,
    }
}

/// The verification when there is nothing to compare with.
pub fn unverified(parent: &str) -> Verification {
    Verification {
        ok: true,
        reference: None,
        note: Some(format!(
            "run {parent} has no earlier replay to compare with; this replay is the reference from now on"
        )),
        items: Vec::new(),
    }
}

/// The run a replay of `parent` is verified against: `parent` itself if it
/// is a replay, else its newest replay other than `new_id`.
pub fn reference_for(
    stores: Stores<'_>,
    parent: &RunRecord,
    new_id: &str,
) -> Result<Option<RunRecord>> {
    if parent.is_replay() {
        return Ok(Some(parent.clone()));
    }
    let Some(t) = stores.rows(&query::replays_of(&parent.run_id), query::KEY)? else {
        return Ok(None);
    };
    Ok(RunRecord::from_table(&t)?
        .into_iter()
        .rev()
        .find(|r| r.run_id != new_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Function, Outcome, OutputDigest};

    fn replay(out: Option<&str>, stdout: &str) -> RunRecord {
        let mut r = RunRecord::new(Function::Producer);
        r.outputs = vec![OutputDigest {
            path: "out/a".into(),
            sha256: out.map(str::to_owned),
        }];
        r.outcome = Some(Outcome {
            stdout_sha256: Some(stdout.into()),
            ..Outcome::default()
        });
        r
    }

    #[test]
    fn items_match_differ_or_go_missing() {
        let v = verify(&replay(Some("aa"), "s"), &replay(Some("aa"), "s"));
        assert!(v.ok);
        assert_eq!(v.items.len(), 2);
        let v = verify(&replay(Some("aa"), "s"), &replay(None, "t"));
        assert!(!v.ok);
        assert_eq!(v.items[0].status, ItemStatus::Missing);
        assert_eq!(v.items[1].status, ItemStatus::Differs);
    }
}
