//! `dsi export RUN --format json|prov|ro-crate [-O PATH]`: one run, in a form
//! other tools read.
//!
//! * `json` — every column of the row, typed as [`dsi_core::Value::to_json`]
//!   renders it, plus `runfile` (the Runfile's text at the commit) and
//!   `parent` (the record a replay came from);
//! * `prov` — W3C PROV-JSON ([`prov`]): the run as an activity, its Runfile,
//!   image, repository tarball and outputs as entities, the user and dsi as
//!   agents, and for a replay its parent record;
//! * `ro-crate` — a Workflow Run RO-Crate directory, Process Run Crate 0.5
//!   profile ([`ro_crate`]).
//!
//! `json` and `prov` go to stdout unless `-O FILE` is given; `ro-crate` always
//! writes a directory (default `./RUN_ID.crate`) and prints its path.
//! With `--json`, a command that wrote files prints `{"format", "path", "run_id"}`.

mod prov;
mod ro_crate;

use std::path::{Path, PathBuf};

use anyhow::Context;
use dsi_core::{Error, Timestamp, Value};
use dsi_plugins_charliecloud::artifact::{self, Limits, repo};
use serde_json::{Map, json};

use crate::backends;
use crate::cli::{ExportArgs, ExportFormat, GlobalArgs};
use crate::exit::{ExitStatus, one_line};
use crate::output::outln;
use crate::output::print_json;
use crate::runs::{self, FoundRun};

/// One row of `runs` as typed JSON, and the Runfile it ran.
#[derive(Debug, Clone)]
pub(super) struct RunData {
    /// Every column, as [`Value::to_json`] renders it.
    columns: Map<String, serde_json::Value>,
    /// The Runfile's bytes at the commit, when the repository is stored.
    runfile: Option<Vec<u8>>,
}

impl RunData {
    /// From typed columns and the Runfile's bytes.
    #[cfg(test)]
    pub(super) fn new(columns: Map<String, serde_json::Value>, runfile: Option<Vec<u8>>) -> Self {
        RunData { columns, runfile }
    }

    /// Reads a found run, and its Runfile from the stored repository when
    /// `with_runfile` is set.
    fn load(found: &FoundRun<'_>, with_runfile: bool) -> anyhow::Result<Self> {
        let columns = found
            .row
            .columns()
            .iter()
            .map(|c| (c.name().to_owned(), c.values()[0].to_json()))
            .collect();
        let runfile = if with_runfile {
            runfile_at_commit(found)
                .with_context(|| format!("reading the Runfile of run {}", found.id()))?
        } else {
            None
        };
        Ok(RunData { columns, runfile })
    }

    /// A text column.
    pub(super) fn text(&self, column: &str) -> Option<&str> {
        self.columns.get(column)?.as_str()
    }

    /// An integer column.
    pub(super) fn int(&self, column: &str) -> Option<i64> {
        self.columns.get(column)?.as_i64()
    }

    /// The run id.
    pub(super) fn id(&self) -> &str {
        self.text("run_id").unwrap_or_default()
    }

    /// Whether the row is a replay (`producer`) rather than a record.
    pub(super) fn is_replay(&self) -> bool {
        self.text("function") == Some("producer")
    }

    /// The record a replay came from.
    pub(super) fn parent_id(&self) -> Option<&str> {
        self.text("parent_run_id").filter(|p| !p.is_empty())
    }

    /// The Runfile's bytes at the commit.
    pub(super) fn runfile(&self) -> Option<&[u8]> {
        self.runfile.as_deref()
    }

    /// The packed repository: SHA-256 (hex) and length.
    pub(super) fn repository(&self) -> Option<(&str, u64)> {
        let b = self.columns.get("container_run_commands")?;
        Some((b["sha256"].as_str()?, b["len"].as_u64()?))
    }

    /// When the run ended (the row is written at the end), RFC 3339.
    pub(super) fn end_time(&self) -> Option<&str> {
        self.text("recorded_at")
    }

    /// When the run started: the end less its duration, where known.
    pub(super) fn start_time(&self) -> Option<String> {
        let end = Timestamp::parse_rfc3339(self.end_time()?).ok()?;
        let ms = self.int("duration_ms")?;
        Some(Timestamp::from_micros(end.as_micros() - ms.saturating_mul(1000)).to_rfc3339())
    }

    /// The declared outputs, path → SHA-256 (`None` when the file was missing).
    pub(super) fn outputs(&self) -> Vec<(String, Option<String>)> {
        let Some(m) = self
            .text("outputs")
            .and_then(|s| serde_json::from_str::<Map<String, serde_json::Value>>(s).ok())
        else {
            return Vec::new();
        };
        m.into_iter()
            .map(|(p, d)| (p, d.as_str().map(str::to_owned)))
            .collect()
    }

    /// `moniker@hostname`, the user who made the row.
    pub(super) fn user(&self) -> Option<String> {
        match (self.text("moniker"), self.text("hostname")) {
            (Some(m), Some(h)) => Some(format!("{m}@{h}")),
            (Some(m), None) => Some(m.to_owned()),
            (None, Some(h)) => Some(format!("unknown@{h}")),
            (None, None) => None,
        }
    }

    /// The version of dsi that wrote the row.
    pub(super) fn dsi_version(&self) -> &str {
        self.text("dsi_version")
            .unwrap_or(env!("CARGO_PKG_VERSION"))
    }

    /// `record` or `replay`.
    pub(super) fn verb(&self) -> &'static str {
        if self.is_replay() { "replay" } else { "record" }
    }
}

/// The Runfile at the row's commit, read from the stored repository.
fn runfile_at_commit(found: &FoundRun<'_>) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(blob) = found
        .row
        .get(0, "container_run_commands")
        .and_then(Value::as_blob)
        .copied()
    else {
        return Ok(None);
    };
    let (Some(commit), Some(path)) = (found.text("commit"), found.text("runfile_path")) else {
        return Ok(None);
    };
    let work = tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
    let r = artifact::unpack_stored_repository(
        found.driver.get_blob(&blob)?,
        work.path(),
        &Limits::default(),
    )
    .map_err(Error::from)?;
    let oid = repo::resolve_commit(&r, &commit)?;
    Ok(repo::read_at(&r, oid, Path::new(&path))?)
}

/// The parent record of a replay, if it is in a store; a warning if not.
fn load_parent(
    stores: &[Box<dyn dsi_core::Driver>],
    run: &RunData,
) -> anyhow::Result<Option<RunData>> {
    let Some(parent) = run.parent_id().filter(|_| run.is_replay()) else {
        return Ok(None);
    };
    match runs::find(stores, parent) {
        Ok(found) => Ok(Some(RunData::load(&found, false)?)),
        Err(e) => {
            eprintln!("warning: parent run {parent} is left out: {}", one_line(&e));
            Ok(None)
        }
    }
}

/// The `json` document: every column, plus `runfile` and `parent`.
pub(super) fn json_document(run: &RunData) -> serde_json::Value {
    let mut m = run.columns.clone();
    m.insert(
        "runfile".into(),
        run.runfile()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .into(),
    );
    m.insert("parent".into(), run.parent_id().into());
    serde_json::Value::Object(m)
}

/// Writes `text` to `path`, naming the file in the error.
fn write_file(path: &Path, text: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(())
}

/// Reports a written file or directory.
fn report(
    global: &GlobalArgs,
    format: ExportFormat,
    run: &RunData,
    path: &Path,
) -> anyhow::Result<()> {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if global.json {
        print_json(&json!({
            "format": format.name(),
            "path": shown.display().to_string(),
            "run_id": run.id(),
        }))
    } else {
        outln!(
            "exported {} {} as {} to {}",
            run.verb(),
            run.id(),
            format.name(),
            shown.display()
        )?;
        Ok(())
    }
}

/// Prints a document, or writes it to `-O FILE` and reports that.
fn emit(
    global: &GlobalArgs,
    args: &ExportArgs,
    run: &RunData,
    doc: &serde_json::Value,
) -> anyhow::Result<ExitStatus> {
    match &args.output {
        None => print_json(doc)?,
        Some(path) => {
            let mut text = serde_json::to_vec_pretty(doc)?;
            text.push(b'\n');
            write_file(path, &text)?;
            report(global, args.format, run, path)?;
        }
    }
    Ok(ExitStatus::Ok)
}

/// `dsi export`.
pub(crate) fn run(global: &GlobalArgs, args: &ExportArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let found = runs::find(&stores, &args.run)?;
    let run = RunData::load(&found, true)?;
    match args.format {
        ExportFormat::Json => emit(global, args, &run, &json_document(&run)),
        ExportFormat::Prov => {
            let parent = load_parent(&stores, &run)?;
            emit(global, args, &run, &prov::document(&run, parent.as_ref()))
        }
        ExportFormat::RoCrate => {
            let parent = load_parent(&stores, &run)?;
            let dir = args
                .output
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.crate", run.id())));
            ro_crate::write(&dir, &run, parent.as_ref(), Timestamp::now())?;
            report(global, args.format, &run, &dir)?;
            Ok(ExitStatus::Ok)
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) const RECORD_ID: &str = "01M8K6MSBA05332R6401ASA82X";
    pub(crate) const REPLAY_ID: &str = "01M8K6MSC6SKJ1VQ556PN0MK40";
    pub(crate) const BLOB: &str =
        "63a273385f662bdd521687017c7d17de5b936728cb21f92963924d059376eff7";

    fn row(function: &str, id: &str, parent: Option<&str>) -> Map<String, serde_json::Value> {
        let v = json!({
            "run_id": id,
            "function": function,
            "recorded_at": "2026-11-29T08:27:16.500000Z",
            "parent_run_id": parent,
            "dsi_version": "0.1.0",
            "image_ref": "127.0.0.1:5000/dsi-test@sha256:aaaa",
            "image_digest": "sha256:aaaa",
            "image_manifest_digest": "sha256:bbbb",
            "image_config_digest": "sha256:cccc",
            "image_tree_digest": "rftree1+sha256:dddd",
            "commit": "4e941c039e8c9372d18411bd314d37a7277f38f4",
            "runfile_path": "Runfile",
            "runfile_sha256": "eeee",
            "runfile_digest": "runfile1+sha256:ffff",
            "container_run_commands": {"sha256": BLOB, "len": 2045},
            "exit_code": if function == "producer" { json!(0) } else { json!(null) },
            "duration_ms": if function == "producer" { json!(9) } else { json!(null) },
            "stdout_sha256": if function == "producer" { json!("1111") } else { json!(null) },
            "outputs": if function == "producer" { json!("{\"out/result.txt\":\"2222\",\"out/missing\":null}") } else { json!(null) },
            "moniker": "root",
            "hostname": "vm",
            "uid": 0,
        });
        v.as_object().unwrap().clone()
    }

    /// A record and its replay, as the store holds them.
    pub(crate) fn pair() -> (RunData, RunData) {
        let record = RunData::new(
            row("consumer", RECORD_ID, None),
            Some(b"FROM dsi-test\nCMD [\"true\"]\n".to_vec()),
        );
        let replay = RunData::new(
            row("producer", REPLAY_ID, Some(RECORD_ID)),
            Some(b"FROM dsi-test\nCMD [\"true\"]\n".to_vec()),
        );
        (record, replay)
    }

    #[test]
    fn times_come_from_recorded_at_and_duration() {
        let (record, replay) = pair();
        assert_eq!(replay.end_time(), Some("2026-11-29T08:27:16.500000Z"));
        assert_eq!(
            replay.start_time().as_deref(),
            Some("2026-11-29T08:27:16.491000Z")
        );
        assert_eq!(record.start_time(), None);
        assert_eq!(replay.user().as_deref(), Some("root@vm"));
        assert_eq!(replay.repository(), Some((BLOB, 2045)));
        assert_eq!(
            replay.outputs(),
            vec![
                ("out/missing".to_owned(), None),
                ("out/result.txt".to_owned(), Some("2222".to_owned()))
            ]
        );
    }

    #[test]
    fn the_json_document_adds_runfile_and_parent() {
        let (record, replay) = pair();
        let r = json_document(&replay);
        assert_eq!(r["run_id"], REPLAY_ID);
        assert_eq!(r["parent"], RECORD_ID);
        assert_eq!(r["runfile"], "FROM dsi-test\nCMD [\"true\"]\n");
        assert_eq!(r["container_run_commands"]["len"], 2045);
        assert_eq!(json_document(&record)["parent"], serde_json::Value::Null);
    }
}
