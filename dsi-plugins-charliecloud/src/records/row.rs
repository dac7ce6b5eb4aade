//! [`RunRecord`] to and from a `runs` row, losslessly: every known column
//! maps to a typed field (nested fields are JSON text in their column), and
//! every other column is kept in [`RunRecord::extra`].
//!
//! Reading is strict about what dsi relies on: a run id that is not text, a
//! function that is neither `consumer` nor `producer`, or JSON that does not
//! parse is an error naming the run and the column ("corrupt or foreign
//! row"), never a silently blank field.

use std::collections::BTreeMap;

use dsi_core::env::{KernelInfo, SchedulerInfo};
use dsi_core::{Error, Result, Table, Value};
use serde::de::DeserializeOwned;

use super::columns::{RUNS, RUNS_SCHEMA};
use super::{
    CampaignTask, Cell, Compat, Function, Identity, ImageIdentity, Outcome, OutputDigest,
    PassedVariable, RunRecord, RunfileIdentity, StepRecord, System,
};

fn text(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::Text)
}

fn int(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::Int)
}

fn json_text<T: serde::Serialize>(v: &T) -> Value {
    Value::Text(serde_json::to_string(v).expect("record fields always serialise"))
}

impl RunRecord {
    /// The values in [`RUNS_SCHEMA`] order.
    fn values(&self) -> Vec<Value> {
        let user = self.user.as_ref();
        let outcome = self.outcome.as_ref();
        let passenv: Vec<&PassedVariable> = self.passenv.iter().collect();
        let outputs: serde_json::Map<String, serde_json::Value> = self
            .outputs
            .iter()
            .map(|o| (o.path.clone(), o.sha256.clone().into()))
            .collect();
        vec![
            Value::Text(self.run_id.clone()),
            Value::Text(self.function.as_str().to_owned()),
            self.recorded_at.map_or(Value::Null, Value::Timestamp),
            text(&self.parent_run_id),
            int(self.record_version),
            text(&self.dsi_version),
            text(&self.image.reference),
            text(&self.image.digest),
            text(&self.image.manifest_digest),
            text(&self.image.config_digest),
            text(&self.image.tree_digest),
            if self.image.checks.is_empty() && self.image.reference.is_none() {
                Value::Null
            } else {
                Value::Text(self.image.checks.join(" "))
            },
            text(&self.image.storage),
            text(&self.commit),
            text(&self.runfile.path),
            text(&self.runfile.sha256),
            text(&self.runfile.digest),
            self.repository.map_or(Value::Null, Value::Blob),
            int(outcome.and_then(|o| o.exit_code)),
            int(outcome.and_then(|o| o.signal)),
            int(outcome.and_then(|o| o.duration_ms)),
            text(&outcome.and_then(|o| o.stdout_sha256.clone())),
            text(&outcome.and_then(|o| o.stderr_sha256.clone())),
            if self.is_replay() {
                json_text(&self.steps)
            } else {
                Value::Null
            },
            if self.outputs.is_empty() {
                Value::Null
            } else {
                Value::Text(serde_json::Value::Object(outputs).to_string())
            },
            if passenv.is_empty() {
                Value::Null
            } else {
                json_text(&passenv)
            },
            text(&self.compat.as_ref().and_then(|c| c.policy.clone())),
            match self.compat.as_ref().and_then(|c| c.result.as_ref()) {
                Some(r) => json_text(r),
                None => Value::Null,
            },
            int(user.and_then(|u| u.uid)),
            int(user.and_then(|u| u.effective_gid)),
            text(&user.and_then(|u| u.moniker.clone())),
            match user {
                Some(u) => json_text(&u.gid_list),
                None => Value::Null,
            },
            text(&user.and_then(|u| u.hostname.clone())),
            text(&self.system.kernel_release),
            text(&self.system.architecture),
            match &self.system.kernel_info {
                Some(k) => Value::Text(k.to_json()),
                None => Value::Null,
            },
            text(&self.commit_tree),
            text(&self.image.file_digest),
            text(&self.image.kind),
            int(self.system.slurm_job_id),
            match &self.system.scheduler_info {
                Some(s) => Value::Text(s.to_json()),
                None => Value::Null,
            },
            match &self.verification {
                Some(v) => Value::Text(v.verdict.as_str().to_owned()),
                None => Value::Null,
            },
            match &self.verification {
                Some(v) => json_text(v),
                None => Value::Null,
            },
            if self.texts.is_empty() {
                Value::Null
            } else {
                json_text(&self.texts)
            },
            if self.inputs.is_empty() {
                Value::Null
            } else {
                json_text(&self.inputs)
            },
            text(&self.campaign.as_ref().map(|c| c.id.clone())),
            text(&self.campaign.as_ref().map(|c| c.task.clone())),
        ]
    }

    /// A one-row `runs` table (the known columns, then the extra ones).
    pub fn to_table(&self) -> Result<Table> {
        let mut t = Table::with_schema(RUNS, RUNS_SCHEMA)?;
        t.push_row(self.values())?;
        for (name, Cell(v)) in &self.extra {
            if let Some(ty) = v.data_type() {
                t.add_column(dsi_core::Column::new(name, ty, vec![v.clone()])?)?;
            }
        }
        Ok(t)
    }

    /// Every row of a `runs` table, in order.
    pub fn from_table(table: &Table) -> Result<Vec<RunRecord>> {
        (0..table.num_rows())
            .map(|r| RunRecord::from_row(table, r))
            .collect()
    }

    /// Row `row` of a `runs` table (any subset or superset of the columns).
    pub fn from_row(table: &Table, row: usize) -> Result<RunRecord> {
        let r = Reader::new(table, row)?;
        let function = match r.text("function")?.as_deref() {
            Some("consumer") => Function::Consumer,
            Some("producer") => Function::Producer,
            Some(other) => {
                return Err(r.bad("function", format!("'{other}' is not consumer or producer")));
            }
            None => return Err(r.bad("function", "is null")),
        };
        let checks = r
            .text("image_checks")?
            .map(|c| c.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let outcome = Outcome {
            exit_code: r.int("exit_code")?,
            signal: r.int("signal")?,
            duration_ms: r.int("duration_ms")?,
            stdout_sha256: r.text("stdout_sha256")?,
            stderr_sha256: r.text("stderr_sha256")?,
        };
        let has_outcome = outcome != Outcome::default();
        let outputs = match r.json::<serde_json::Map<String, serde_json::Value>>("outputs")? {
            None => Vec::new(),
            Some(m) => m
                .into_iter()
                .map(|(path, d)| match d {
                    serde_json::Value::Null => Ok(OutputDigest { path, sha256: None }),
                    serde_json::Value::String(s) => Ok(OutputDigest {
                        path,
                        sha256: Some(s),
                    }),
                    other => Err(r.bad("outputs", format!("digest of '{path}' is {other}"))),
                })
                .collect::<Result<_>>()?,
        };
        let user = Identity {
            uid: r.int("uid")?,
            effective_gid: r.int("effective_gid")?,
            moniker: r.text("moniker")?,
            gid_list: r.json("gid_list")?.unwrap_or_default(),
            hostname: r.text("hostname")?,
        };
        let has_user = user.uid.is_some() || user.moniker.is_some() || user.hostname.is_some();
        let kernel_info = match r.text("kernel_info")? {
            Some(k) => {
                Some(KernelInfo::from_json(&k).map_err(|e| r.bad("kernel_info", e.to_string()))?)
            }
            None => None,
        };
        let scheduler_info = match r.text("scheduler_info")? {
            Some(s) => Some(
                SchedulerInfo::from_json(&s).map_err(|e| r.bad("scheduler_info", e.to_string()))?,
            ),
            None => None,
        };
        let compat_policy = r.text("compat_check")?;
        let compat_result = r.json("compat_result")?;
        Ok(RunRecord {
            run_id: r.id.clone(),
            function,
            recorded_at: r.timestamp("recorded_at")?,
            parent_run_id: r.text("parent_run_id")?.filter(|p| !p.is_empty()),
            record_version: r.int("record_version")?,
            dsi_version: r.text("dsi_version")?,
            image: ImageIdentity {
                reference: r.text("image_ref")?,
                digest: r.text("image_digest")?,
                manifest_digest: r.text("image_manifest_digest")?,
                config_digest: r.text("image_config_digest")?,
                tree_digest: r.text("image_tree_digest")?,
                checks,
                storage: r.text("ch_storage")?,
                file_digest: r.text("image_file_digest")?,
                kind: r.text("image_kind")?,
            },
            commit: r.text("commit")?,
            commit_tree: r.text("commit_tree")?,
            runfile: RunfileIdentity {
                path: r.text("runfile_path")?,
                sha256: r.text("runfile_sha256")?,
                digest: r.text("runfile_digest")?,
            },
            repository: r.blob("container_run_commands")?,
            outcome: has_outcome.then_some(outcome),
            steps: r.json::<Vec<StepRecord>>("steps")?.unwrap_or_default(),
            outputs,
            passenv: r.passenv()?,
            compat: (compat_policy.is_some() || compat_result.is_some()).then_some(Compat {
                policy: compat_policy,
                result: compat_result,
            }),
            user: has_user.then_some(user),
            system: System {
                kernel_release: r.text("kernel_release")?,
                architecture: r.text("architecture")?,
                kernel_info,
                slurm_job_id: r.int("slurm_job_id")?,
                scheduler_info,
            },
            verification: r.json("verification")?,
            texts: r.json("texts")?.unwrap_or_default(),
            inputs: r.json("inputs")?.unwrap_or_default(),
            campaign: match (r.text("campaign_id")?, r.text("campaign_task")?) {
                (Some(id), Some(task)) => Some(CampaignTask { id, task }),
                (None, None) => None,
                _ => {
                    return Err(r.bad(
                        "campaign_task",
                        "campaign_id and campaign_task are set together",
                    ));
                }
            },
            extra: r.extra(),
        })
    }
}

/// Reads the cells of one row, naming the run and column in every error.
struct Reader<'t> {
    table: &'t Table,
    row: usize,
    id: String,
}

impl<'t> Reader<'t> {
    fn new(table: &'t Table, row: usize) -> Result<Self> {
        let id = match table.get(row, "run_id") {
            Some(Value::Text(t)) if !t.is_empty() => t.clone(),
            Some(Value::Text(_)) => {
                return Err(Error::InvalidData(format!(
                    "row {} of 'runs': run_id is empty",
                    row + 1
                )));
            }
            Some(Value::Null) | None => {
                return Err(Error::InvalidData(format!(
                    "row {} of 'runs': run_id is missing",
                    row + 1
                )));
            }
            Some(other) => {
                return Err(Error::InvalidData(format!(
                    "row {} of 'runs': run_id is {} {other}, not text",
                    row + 1,
                    other.data_type().map_or("null", |t| t.as_str()),
                )));
            }
        };
        Ok(Reader { table, row, id })
    }

    fn bad(&self, column: &str, why: impl std::fmt::Display) -> Error {
        Error::InvalidData(format!(
            "run {}: column {column}: {why} (corrupt or foreign row)",
            dsi_core::text::for_terminal(&self.id)
        ))
    }

    fn cell(&self, column: &str) -> &Value {
        self.table.get(self.row, column).unwrap_or(&Value::Null)
    }

    fn text(&self, column: &str) -> Result<Option<String>> {
        match self.cell(column) {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            other => Err(self.bad(column, format!("expected text, found {other}"))),
        }
    }

    fn int(&self, column: &str) -> Result<Option<i64>> {
        match self.cell(column) {
            Value::Null => Ok(None),
            Value::Int(i) => Ok(Some(*i)),
            other => Err(self.bad(column, format!("expected an integer, found {other}"))),
        }
    }

    fn timestamp(&self, column: &str) -> Result<Option<dsi_core::Timestamp>> {
        match self.cell(column) {
            Value::Null => Ok(None),
            Value::Timestamp(t) => Ok(Some(*t)),
            Value::Text(t) => dsi_core::Timestamp::parse_rfc3339(t)
                .map(Some)
                .map_err(|e| self.bad(column, e)),
            other => Err(self.bad(column, format!("expected a timestamp, found {other}"))),
        }
    }

    fn blob(&self, column: &str) -> Result<Option<dsi_core::BlobRef>> {
        match self.cell(column) {
            Value::Null => Ok(None),
            Value::Blob(b) => Ok(Some(*b)),
            Value::Text(t) => serde_json::from_str(t)
                .map(Some)
                .map_err(|e| self.bad(column, format!("not a blob reference: {e}"))),
            other => Err(self.bad(column, format!("expected a blob reference, found {other}"))),
        }
    }

    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        match self.text(column)? {
            None => Ok(None),
            Some(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| self.bad(column, format!("invalid JSON: {e}"))),
        }
    }

    /// `passenv`: a list of `{name, value}` (this version), or an object of
    /// name → value (rows written before values were withheld).
    fn passenv(&self) -> Result<Vec<PassedVariable>> {
        let Some(v) = self.json::<serde_json::Value>("passenv")? else {
            return Ok(Vec::new());
        };
        match v {
            serde_json::Value::Array(_) => serde_json::from_value(v)
                .map_err(|e| self.bad("passenv", format!("invalid list: {e}"))),
            serde_json::Value::Object(m) => Ok(m
                .into_iter()
                .map(|(name, value)| PassedVariable {
                    name,
                    value: value.as_str().map(str::to_owned),
                })
                .collect()),
            other => Err(self.bad("passenv", format!("expected a list, found {other}"))),
        }
    }

    fn extra(&self) -> BTreeMap<String, Cell> {
        self.table
            .columns()
            .iter()
            .filter(|c| !RUNS_SCHEMA.iter().any(|(n, _)| *n == c.name()))
            .filter(|c| !c.values()[self.row].is_null())
            .map(|c| (c.name().to_owned(), Cell(c.values()[self.row].clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::PassedVariable;

    fn replay() -> RunRecord {
        let mut r = RunRecord::new(Function::Producer);
        r.parent_run_id = Some("01ABC".into());
        r.commit = Some("4e941c039e8c9372d18411bd314d37a7277f38f4".into());
        r.image.reference = Some("127.0.0.1:5000/x@sha256:aa".into());
        r.image.checks = vec!["V0".into(), "V1".into()];
        r.repository = Some(dsi_core::BlobRef::of_bytes(b"repo"));
        r.outcome = Some(Outcome {
            exit_code: Some(0),
            signal: None,
            duration_ms: Some(9),
            stdout_sha256: Some("11".into()),
            stderr_sha256: Some("22".into()),
        });
        r.steps = vec![StepRecord {
            step: 1,
            of: 1,
            line: 2,
            kind: "cmd".into(),
            argv: vec!["ch-run".into(), "x".into()],
            exit_code: Some(0),
            ..StepRecord::default()
        }];
        r.outputs = vec![OutputDigest {
            path: "out/a".into(),
            sha256: None,
        }];
        r.passenv = vec![
            PassedVariable {
                name: "SLURM_JOB_ID".into(),
                value: Some("7".into()),
            },
            PassedVariable {
                name: "AWS_SECRET_ACCESS_KEY".into(),
                value: None,
            },
        ];
        r.system = System::current();
        r
    }

    #[test]
    fn a_record_round_trips_through_a_row() {
        let r = replay();
        let t = r.to_table().unwrap();
        assert_eq!(t.num_columns(), RUNS_SCHEMA.len());
        assert_eq!(RunRecord::from_row(&t, 0).unwrap(), r);
        let rec = RunRecord::new(Function::Consumer);
        let t = rec.to_table().unwrap();
        assert_eq!(t.get(0, "steps"), Some(&Value::Null));
        assert_eq!(RunRecord::from_row(&t, 0).unwrap(), rec);
    }

    #[test]
    fn unknown_columns_are_kept_and_legacy_passenv_reads() {
        let r = replay();
        let mut t = r.to_table().unwrap();
        t.add_column(
            dsi_core::Column::new("future", dsi_core::DataType::Int, vec![Value::Int(5)]).unwrap(),
        )
        .unwrap();
        let back = RunRecord::from_row(&t, 0).unwrap();
        assert_eq!(back.extra.get("future"), Some(&Cell(Value::Int(5))));
        assert_eq!(
            back.to_table().unwrap().get(0, "future"),
            Some(&Value::Int(5))
        );

        let mut legacy = Table::with_schema(RUNS, RUNS_SCHEMA).unwrap();
        let mut values = r.values();
        let i = RUNS_SCHEMA
            .iter()
            .position(|(n, _)| *n == "passenv")
            .unwrap();
        values[i] = Value::Text(r#"{"OMPI_X":"1"}"#.into());
        legacy.push_row(values).unwrap();
        let back = RunRecord::from_row(&legacy, 0).unwrap();
        assert_eq!(
            back.passenv,
            [PassedVariable {
                name: "OMPI_X".into(),
                value: Some("1".into())
            }]
        );
    }

    #[test]
    fn malformed_rows_are_refused_naming_the_column() {
        let r = replay();
        let mut t = Table::with_schema(RUNS, RUNS_SCHEMA).unwrap();
        let mut values = r.values();
        let i = RUNS_SCHEMA.iter().position(|(n, _)| *n == "steps").unwrap();
        values[i] = Value::Text("[{".into());
        t.push_row(values).unwrap();
        let e = RunRecord::from_row(&t, 0).unwrap_err().to_string();
        assert!(e.contains("column steps: invalid JSON"), "{e}");
        assert!(e.contains(&r.run_id), "{e}");

        let foreign = Table::from_columns(
            "runs",
            vec![
                dsi_core::Column::new("run_id", dsi_core::DataType::Int, vec![Value::Int(3)])
                    .unwrap(),
            ],
        )
        .unwrap();
        let e = RunRecord::from_row(&foreign, 0).unwrap_err().to_string();
        assert_eq!(e, "row 1 of 'runs': run_id is int 3, not text");
    }
}
