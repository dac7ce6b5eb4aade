//! `fsck`: verifying stores — every blob's content against its digest
//! ([`dsi_core::fsck`]), and every record's references: a text run id that
//! appears once, a repository blob that is stored, unpacks under the
//! untrusted-record rules, resolves the record's commit and holds its
//! Runfile, and a `kernel_info` that parses; the kept content of each
//! compared text (RUNFILE-1.1 §7) is stored. Each distinct repository is
//! unpacked once, however many records share it.

use std::collections::{BTreeMap, BTreeSet};

use dsi_core::{BlobRef, Result, Stores};
use schemars::JsonSchema;
use serde::Serialize;

use crate::artifact::{self, Limits};
use crate::records::{RunRecord, query};
use crate::runfile_source::MAX_RUNFILE_BYTES;

/// One problem, in one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Problem {
    /// The store (`driver location`).
    pub store: String,
    /// What is wrong.
    pub problem: String,
}

/// What `fsck` checked and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FsckReport {
    /// Blobs read back and verified.
    pub blobs: u64,
    /// Records checked.
    pub runs: u64,
    /// Repositories unpacked.
    pub repositories: u64,
    /// Everything wrong, in store order.
    pub problems: Vec<Problem>,
}

/// Checks every store.
pub fn check(stores: Stores<'_>) -> Result<FsckReport> {
    let mut report = FsckReport {
        blobs: 0,
        runs: 0,
        repositories: 0,
        problems: Vec::new(),
    };
    for d in stores.backends() {
        let name = format!("{} {}", d.name(), d.location());
        let mut problem = |p: String| {
            report.problems.push(Problem {
                store: name.clone(),
                problem: dsi_core::text::for_terminal(&p).into_owned(),
            });
        };
        let blobs = dsi_core::fsck::check_blobs(d.as_ref())?;
        report.blobs += blobs.blobs.len() as u64;
        for b in &blobs.bad {
            problem(format!("blob {}: {}", b.blob, b.problem));
        }
        let stored: BTreeSet<BlobRef> = blobs.blobs.iter().copied().collect();
        let table = match d.get(&dsi_core::Query::Table(query::all())) {
            Ok(c) => c.into_tables().into_iter().next(),
            Err(e) if e.is_not_found("table") => None,
            Err(e) => return Err(e),
        };
        let Some(table) = table else { continue };
        let mut seen = BTreeSet::new();
        // Records by repository, to unpack each one once.
        let mut by_repo: BTreeMap<BlobRef, Vec<RunRecord>> = BTreeMap::new();
        for r in 0..table.num_rows() {
            report.runs += 1;
            let record = match RunRecord::from_row(&table, r) {
                Ok(rec) => rec,
                Err(e) => {
                    problem(e.to_string());
                    continue;
                }
            };
            let id = record.run_id.clone();
            if !seen.insert(id.clone()) {
                problem(format!("run {id} appears more than once"));
            }
            for t in &record.texts {
                if let Some(b) = t.blob()
                    && !stored.contains(&b)
                {
                    problem(format!(
                        "run {id}: the kept content of {} ({b}) is not stored",
                        t.target
                    ));
                }
            }
            match record.repository {
                None => problem(format!("run {id} has no repository blob")),
                Some(b) if !stored.contains(&b) => {
                    problem(format!("run {id} refers to blob {b}, which is not stored"));
                }
                Some(b) if blobs.bad.iter().any(|x| x.blob == b.to_string()) => {}
                Some(b) => by_repo.entry(b).or_default().push(record),
            }
        }
        for (blob, records) in by_repo {
            report.repositories += 1;
            for p in check_repository(d.as_ref(), &blob, &records) {
                problem(p);
            }
        }
    }
    Ok(report)
}

/// Unpacks one repository and checks each record that refers to it.
fn check_repository(
    store: &dyn dsi_core::Driver,
    blob: &BlobRef,
    records: &[RunRecord],
) -> Vec<String> {
    let ids = || {
        records
            .iter()
            .map(|r| r.run_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Ok(dir) = tempfile::tempdir() else {
        return vec!["cannot create a temporary directory".into()];
    };
    let reader = match store.get_blob(blob) {
        Ok(r) => r,
        Err(e) => return vec![format!("run {}: repository {blob}: {e}", ids())],
    };
    let limits = Limits::default();
    let unpacked = match artifact::unpack_stored_repository(reader, dir.path(), &limits) {
        Ok(u) => u,
        Err(e) => {
            return vec![format!(
                "run {}: repository {blob} does not unpack: {e}",
                ids()
            )];
        }
    };
    let bounded = unpacked.bounded(&limits);
    let mut out = Vec::new();
    for r in records {
        let Some(commit) = &r.commit else {
            out.push(format!("run {} names no commit", r.run_id));
            continue;
        };
        let oid = match artifact::repo::resolve_commit(&unpacked.repo, commit) {
            Ok(o) => o,
            Err(e) => {
                out.push(format!("run {}: {e}", r.run_id));
                continue;
            }
        };
        if let Some(path) = &r.runfile.path {
            match bounded.read_file(oid, std::path::Path::new(path), MAX_RUNFILE_BYTES) {
                Ok(Some(_)) => {}
                Ok(None) => out.push(format!("run {}: commit {commit} has no {path}", r.run_id)),
                Err(e) => out.push(format!("run {}: {e}", r.run_id)),
            }
        }
    }
    out
}
