//! One run, in forms other tools read: JSON (the typed record with its
//! Runfile), W3C PROV-JSON ([`prov`]) and a Workflow Run RO-Crate
//! ([`ro_crate`], Process Run Crate 0.5).
//!
//! Every format works on an [`ExportRun`]: a [`RunRecord`] and, when the
//! repository is stored, the Runfile's bytes at the commit. A replay's
//! parent record is exported beside it where it is in a store.

pub mod prov;
pub mod ro_crate;

use std::path::Path;

use dsi_core::{Error, Result, Stores, Timestamp};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::find::{self, FoundRecord};
use crate::records::RunRecord;
use crate::repository::RecordRepository;

/// Characters kept in the local part of a PROV qualified name.
const QNAME_LOCAL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'_')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/')
    .remove(b'@')
    .remove(b':')
    .remove(b'+');

/// Characters kept in an RO-Crate `#` identifier.
const FRAGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'_')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/')
    .remove(b'@')
    .remove(b':');

fn encode(s: &str, keep: &'static AsciiSet) -> String {
    utf8_percent_encode(s, keep).to_string()
}

/// A run to export: its record and its Runfile.
#[derive(Debug, Clone)]
pub struct ExportRun {
    /// The record.
    pub record: RunRecord,
    /// The Runfile's bytes at the commit, when the repository is stored.
    pub runfile: Option<Vec<u8>>,
}

impl ExportRun {
    /// A found record, with its Runfile read from its stored repository
    /// when `with_runfile` (and the record has one).
    pub fn load(stores: Stores<'_>, found: &FoundRecord<'_>, with_runfile: bool) -> Result<Self> {
        let runfile = match (with_runfile, found.record.repository) {
            (true, Some(_)) => RecordRepository::open(stores, found)?.runfile_of(&found.record)?,
            _ => None,
        };
        Ok(ExportRun {
            record: found.record.clone(),
            runfile,
        })
    }

    /// The record a replay came from, when it is in a store (without its
    /// Runfile: the replay's is the same file at the same commit).
    pub fn parent(&self, stores: Stores<'_>) -> Result<Option<ExportRun>> {
        find::parent(stores, &self.record)?
            .map(|f| ExportRun::load(stores, &f, false))
            .transpose()
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.record.run_id
    }

    /// Whether the row is a replay rather than a record.
    pub fn is_replay(&self) -> bool {
        self.record.is_replay()
    }

    /// The record a replay came from.
    pub fn parent_id(&self) -> Option<&str> {
        self.record.parent_run_id.as_deref()
    }

    /// The Runfile's bytes at the commit.
    pub fn runfile(&self) -> Option<&[u8]> {
        self.runfile.as_deref()
    }

    /// The packed repository: SHA-256 (hex) and length.
    pub fn repository(&self) -> Option<(String, u64)> {
        self.record.repository.map(|b| (b.sha256_hex(), b.len()))
    }

    /// When the run ended (the row is written at the end), RFC 3339.
    pub fn end_time(&self) -> Option<String> {
        self.record.recorded_at.map(Timestamp::to_rfc3339)
    }

    /// When the run started: the end less its duration, where known.
    pub fn start_time(&self) -> Option<String> {
        let end = self.record.recorded_at?;
        let ms = self.record.outcome.as_ref()?.duration_ms?;
        Some(Timestamp::from_micros(end.as_micros() - ms.saturating_mul(1000)).to_rfc3339())
    }

    /// The declared outputs, path → SHA-256 (`None` when missing).
    pub fn outputs(&self) -> Vec<(String, Option<String>)> {
        self.record
            .outputs
            .iter()
            .map(|o| (o.path.clone(), o.sha256.clone()))
            .collect()
    }

    /// `moniker@hostname`, the user who made the row.
    pub fn user(&self) -> Option<String> {
        self.record.user.as_ref()?.who()
    }

    /// The version of dsi that wrote the row.
    pub fn dsi_version(&self) -> &str {
        self.record
            .dsi_version
            .as_deref()
            .unwrap_or(env!("CARGO_PKG_VERSION"))
    }

    /// `record` or `replay`.
    pub fn verb(&self) -> &'static str {
        self.record.function.verb()
    }
}

/// The `json` export: the typed record, its Runfile's text, its parent's id.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct JsonExport {
    /// The record.
    pub run: RunRecord,
    /// The Runfile's text at the commit (lossy UTF-8), when stored.
    pub runfile: Option<String>,
    /// The record a replay came from.
    pub parent: Option<String>,
}

/// The `json` document.
pub fn json(run: &ExportRun) -> JsonExport {
    JsonExport {
        run: run.record.clone(),
        runfile: run
            .runfile()
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        parent: run.parent_id().map(str::to_owned),
    }
}

/// Writes `text` to `path`, naming the file in the error.
pub(crate) fn write_file(path: &Path, text: &[u8]) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::records::{Function, Identity, Outcome, OutputDigest};

    pub(crate) const RECORD_ID: &str = "01M8K6MSBA05332R6401ASA82X";
    pub(crate) const REPLAY_ID: &str = "01M8K6MSC6SKJ1VQ556PN0MK40";
    pub(crate) const BLOB: &str =
        "63a273385f662bdd521687017c7d17de5b936728cb21f92963924d059376eff7";

    fn row(function: Function, id: &str, parent: Option<&str>) -> RunRecord {
        let mut r = RunRecord::new(function);
        r.run_id = id.into();
        r.recorded_at = Some(Timestamp::parse_rfc3339("2026-11-29T08:27:16.500000Z").unwrap());
        r.parent_run_id = parent.map(str::to_owned);
        r.dsi_version = Some("0.1.0".into());
        r.image.reference = Some("127.0.0.1:5000/dsi-test@sha256:aaaa".into());
        r.image.digest = Some("sha256:aaaa".into());
        r.image.manifest_digest = Some("sha256:bbbb".into());
        r.image.config_digest = Some("sha256:cccc".into());
        r.image.tree_digest = Some("rftree1+sha256:dddd".into());
        r.commit = Some("4e941c039e8c9372d18411bd314d37a7277f38f4".into());
        r.runfile.path = Some("Runfile".into());
        r.runfile.sha256 = Some("eeee".into());
        r.runfile.digest = Some("runfile1+sha256:ffff".into());
        let digest = dsi_core::BlobRef::parse_hex_digest(BLOB).unwrap();
        r.repository = Some(dsi_core::BlobRef::new(digest, 2045));
        if function == Function::Producer {
            r.outcome = Some(Outcome {
                exit_code: Some(0),
                duration_ms: Some(9),
                stdout_sha256: Some("1111".into()),
                ..Outcome::default()
            });
            r.outputs = vec![
                OutputDigest {
                    path: "out/missing".into(),
                    sha256: None,
                },
                OutputDigest {
                    path: "out/result.txt".into(),
                    sha256: Some("2222".into()),
                },
            ];
        }
        r.user = Some(Identity {
            uid: Some(0),
            effective_gid: Some(0),
            moniker: Some("root".into()),
            gid_list: vec![0],
            hostname: Some("vm".into()),
        });
        r
    }

    /// A record and its replay, as the store holds them.
    pub(crate) fn pair() -> (ExportRun, ExportRun) {
        let runfile = Some(b"FROM dsi-test\nCMD [\"true\"]\n".to_vec());
        let record = ExportRun {
            record: row(Function::Consumer, RECORD_ID, None),
            runfile: runfile.clone(),
        };
        let replay = ExportRun {
            record: row(Function::Producer, REPLAY_ID, Some(RECORD_ID)),
            runfile,
        };
        (record, replay)
    }

    #[test]
    fn times_come_from_recorded_at_and_duration() {
        let (record, replay) = pair();
        assert_eq!(
            replay.end_time().as_deref(),
            Some("2026-11-29T08:27:16.500000Z")
        );
        assert_eq!(
            replay.start_time().as_deref(),
            Some("2026-11-29T08:27:16.491000Z")
        );
        assert_eq!(record.start_time(), None);
        assert_eq!(replay.user().as_deref(), Some("root@vm"));
        assert_eq!(replay.repository(), Some((BLOB.to_owned(), 2045)));
    }

    #[test]
    fn the_json_document_adds_runfile_and_parent() {
        let (record, replay) = pair();
        let r = serde_json::to_value(json(&replay)).unwrap();
        assert_eq!(r["run"]["run_id"], REPLAY_ID);
        assert_eq!(r["parent"], RECORD_ID);
        assert_eq!(r["runfile"], "FROM dsi-test\nCMD [\"true\"]\n");
        assert_eq!(r["run"]["repository"]["len"], 2045);
        assert_eq!(
            serde_json::to_value(json(&record)).unwrap()["parent"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn percent_encoding_keeps_the_safe_sets() {
        assert_eq!(encode("out/a b.txt", QNAME_LOCAL), "out/a%20b.txt");
        assert_eq!(encode("root@vm", QNAME_LOCAL), "root@vm");
        assert_eq!(encode("a+b é", FRAGMENT), "a%2Bb%20%C3%A9");
    }
}
