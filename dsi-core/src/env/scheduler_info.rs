//! [`SchedulerInfo`]: the versioned JSON document in the `scheduler_info`
//! column, written by the `slurm` plugin.
//!
//! ```json
//! {"schema": "dsi.scheduler_info/1",
//!  "sections": {"job": {"cluster": "dsitest", "job_id": 42, "partition": "debug", …},
//!               "step": "unavailable: not in a job step",
//!               "scheduler": {"version": "slurm-wlm 22.05.8", "num_nodes": 2, …},
//!               "mpi": {"srun_plugins": ["cray_shasta", "none", "pmi2", "pmix"], …}}}
//! ```
//!
//! Sections use [`Section`], as in [`KernelInfo`](super::KernelInfo):
//!
//! * `job` — who and when: cluster, job id and name, submit and start time,
//!   submit host, batch host. Identity, never compared.
//! * `step` — the job step dsi itself runs in, if any (`srun dsi …`): step
//!   id, tasks, nodes. Identity, never compared.
//! * `scheduler` — the shape of the allocation and the scheduler: Slurm
//!   version, cluster, partition, nodes and node list, tasks, CPUs, tasks
//!   per node, CPUs per task. Compared.
//! * `mpi` — the MPI plumbing of the host: srun's MPI plugin types, the PMIx
//!   plugin versions, `SLURM_MPI_TYPE`, the host's `mpirun --version`.
//!   Compared.
//!
//! Outside Slurm, `job`, `step` and `scheduler` read `unavailable: not under
//! Slurm`; `mpi` is still recorded when srun or mpirun is on PATH.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::kernel_info::{Section, check_schema};
use crate::error::{Error, Result};

/// The schema identifier written into every document.
pub const SCHEDULER_INFO_SCHEMA: &str = "dsi.scheduler_info/1";

/// The sections a replay's compatibility check compares (the others are
/// identity: a new job always has a new id).
pub const COMPARED_SCHEDULER_SECTIONS: &[&str] = &["scheduler", "mpi"];

/// The scheduler context recorded by the `slurm` plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SchedulerInfo {
    /// [`SCHEDULER_INFO_SCHEMA`] when written by this version.
    pub schema: String,
    /// Sections by name.
    pub sections: BTreeMap<String, Section>,
}

impl SchedulerInfo {
    /// An empty document of the current schema.
    pub fn new() -> Self {
        SchedulerInfo {
            schema: SCHEDULER_INFO_SCHEMA.to_owned(),
            sections: BTreeMap::new(),
        }
    }

    /// Parses a `scheduler_info` column value, refusing a different major
    /// schema.
    pub fn from_json(text: &str) -> Result<Self> {
        let info: SchedulerInfo = serde_json::from_str(text)
            .map_err(|e| Error::InvalidData(format!("scheduler_info is not valid: {e}")))?;
        check_schema("scheduler_info", &info.schema, SCHEDULER_INFO_SCHEMA)?;
        Ok(info)
    }

    /// Compact JSON with sections and keys in sorted order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("SchedulerInfo always serialises")
    }

    /// A value by section and key.
    pub fn get(&self, section: &str, key: &str) -> Option<&serde_json::Value> {
        self.sections.get(section)?.values()?.get(key)
    }

    /// The Slurm job id, when recorded under Slurm.
    pub fn job_id(&self) -> Option<i64> {
        self.get("job", "job_id")?.as_i64()
    }

    /// The sections the compatibility check compares
    /// ([`COMPARED_SCHEDULER_SECTIONS`]), as recorded.
    pub fn compared_sections(&self) -> impl Iterator<Item = (&String, &Section)> {
        self.sections
            .iter()
            .filter(|(name, _)| COMPARED_SCHEDULER_SECTIONS.contains(&name.as_str()))
    }
}

impl Default for SchedulerInfo {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip_job_id_and_compared_sections() {
        let mut s = SchedulerInfo::new();
        s.sections.insert(
            "job".into(),
            Section::Values([("job_id".to_owned(), json!(42))].into()),
        );
        s.sections
            .insert("step".into(), Section::unavailable("not in a job step"));
        s.sections.insert(
            "mpi".into(),
            Section::Values([("srun_plugins".to_owned(), json!(["pmix"]))].into()),
        );
        let text = s.to_json();
        assert_eq!(SchedulerInfo::from_json(&text).unwrap(), s);
        assert_eq!(s.job_id(), Some(42));
        let compared: Vec<&String> = s.compared_sections().map(|(n, _)| n).collect();
        assert_eq!(compared, ["mpi"]);

        let e = SchedulerInfo::from_json(&text.replace("/1\"", "/2\"")).unwrap_err();
        assert!(e.to_string().contains("scheduler_info schema"), "{e}");
        let e = SchedulerInfo::from_json("[]").unwrap_err();
        assert!(
            e.to_string().starts_with("scheduler_info is not valid"),
            "{e}"
        );
    }
}
