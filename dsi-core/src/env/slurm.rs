//! The `slurm` plugin and [`collect_scheduler_info`], which reads the
//! scheduler context of this process into a [`SchedulerInfo`].
//!
//! Sources: the `SLURM_*` variables Slurm sets in an allocation and a step,
//! `scontrol show job -o JOBID` (times, CPUs, batch host) when under Slurm,
//! `srun --version` and `srun --mpi=list` (both answer without the
//! controller), and the host's `mpirun --version`. The programs run in
//! parallel, so collecting costs the slowest of them (about 15 ms here);
//! `srun --version` and `mpirun --version` are asked once per program file
//! ([`super::self_answer`]).
//! Nothing here fails: outside Slurm the job sections read `unavailable:
//! not under Slurm`, and a program that is missing or fails leaves its keys
//! out or names the reason.

use std::collections::BTreeMap;

use serde_json::{Value as J, json};

use crate::error::Result;
use crate::options::Options;
use crate::plugin::{Context, Plugin, PluginFunction};
use crate::registry::PluginEntry;
use crate::table::{Collection, Column, Table};
use crate::value::{DataType, Value};

use super::PosixIdentity;
use super::kernel_info::Section;
use super::scheduler_info::SchedulerInfo;

/// The reason recorded for the job sections outside an allocation.
pub const NOT_UNDER_SLURM: &str = "not under Slurm";

/// Whether a variable is one the scheduler sets for a job, its steps and
/// tasks (`SLURM_*`, `SLURMD_*`, `PMIX_*`): ids, ports and the job's
/// shape, which differ between any two jobs and between a batch step and
/// an `salloc` shell. What of them describes how a run ran (nodes, tasks,
/// CPUs, MPI plugins) is in the `scheduler` and `mpi` sections.
pub fn is_scheduler_variable(name: &str) -> bool {
    ["SLURM_", "SLURMD_", "PMIX_"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Records the POSIX identity, the Slurm job id and the scheduler context
/// (`scheduler_info`).
#[derive(Debug, Default)]
pub struct Slurm;

impl Slurm {
    /// The `slurm_job_id` and `scheduler_info` columns for one row.
    pub fn columns(info: &SchedulerInfo) -> Result<Vec<Column>> {
        Ok(vec![
            Column::new("slurm_job_id", DataType::Int, vec![info.job_id().into()])?,
            Column::new(
                "scheduler_info",
                DataType::Text,
                vec![Value::Text(info.to_json())],
            )?,
        ])
    }
}

impl Plugin for Slurm {
    fn name(&self) -> &str {
        "slurm"
    }

    fn function(&self) -> PluginFunction {
        PluginFunction::Consumer
    }

    fn collect(&mut self, _ctx: &Context<'_>) -> Result<Collection> {
        let mut columns = PosixIdentity::current().columns()?;
        columns.extend(Self::columns(&collect_scheduler_info())?);
        Ok(Collection::of(Table::from_columns("slurm", columns)?))
    }
}

inventory::submit! {
    PluginEntry {
        name: "slurm",
        function: PluginFunction::Consumer,
        summary: "Slurm job, step and allocation (environment, scontrol), srun's MPI plugins and PMIx versions, mpirun version; 'not under Slurm' outside a job",
        options: &[],
        build: |_: &Options| Ok(Box::new(Slurm)),
    }
}

/// What the programs answered (`Err`: why there is no answer).
struct Answers {
    srun_version: std::result::Result<String, String>,
    srun_mpi_list: std::result::Result<String, String>,
    mpirun_version: std::result::Result<String, String>,
    scontrol_job: Option<std::result::Result<String, String>>,
}

/// Reads the scheduler context of this process now. Never fails.
pub fn collect_scheduler_info() -> SchedulerInfo {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let job_id = env("SLURM_JOB_ID");
    let answers = std::thread::scope(|s| {
        let srun_version = s.spawn(|| super::self_answer("srun", &["--version"], &[]));
        let srun_mpi_list = s.spawn(|| run("srun", &["--mpi=list"]));
        let mpirun_version = s.spawn(|| super::self_answer("mpirun", &["--version"], &[]));
        let scontrol_job = job_id
            .as_deref()
            .map(|id| run("scontrol", &["show", "job", "-o", id]));
        let join = |h: std::thread::ScopedJoinHandle<'_, _>| {
            h.join()
                .unwrap_or_else(|_| Err("collection panicked".to_owned()))
        };
        Answers {
            srun_version: join(srun_version),
            srun_mpi_list: join(srun_mpi_list),
            mpirun_version: join(mpirun_version),
            scontrol_job,
        }
    });
    scheduler_info(&env, &answers)
}

/// Runs `program args…` (looked up on `PATH`); its trimmed output when it
/// exits 0.
fn run(program: &str, args: &[&str]) -> std::result::Result<String, String> {
    super::answers::run(std::path::Path::new(program), program, args, &[])
}

/// Builds the document from the environment and the programs' answers.
fn scheduler_info(env: &dyn Fn(&str) -> Option<String>, answers: &Answers) -> SchedulerInfo {
    let mut info = SchedulerInfo::new();
    let mut put = |name: &str, s: Section| {
        info.sections.insert(name.to_owned(), s);
    };
    put("mpi", mpi_section(env, answers));
    let Some(job_id) = env("SLURM_JOB_ID") else {
        for name in ["job", "step", "scheduler"] {
            put(name, Section::unavailable(NOT_UNDER_SLURM));
        }
        return info;
    };
    let job = match &answers.scontrol_job {
        Some(Ok(line)) => Ok(parse_scontrol_record(line)),
        Some(Err(e)) => Err(e.clone()),
        None => Err("scontrol was not asked".to_owned()),
    };
    // scontrol prints `(null)` for what is not set.
    let from_job = |key: &str| {
        job.as_ref()
            .ok()
            .and_then(|m| m.get(key).cloned())
            .filter(|v| v != "(null)")
    };
    // An environment value, else scontrol's, as a number when it is one.
    let value = |var: &str, scontrol: &str| -> Option<J> {
        env(var).or_else(|| from_job(scontrol)).map(|v| typed(&v))
    };

    let mut m = BTreeMap::new();
    set(&mut m, "job_id", Some(typed(&job_id)));
    set(&mut m, "cluster", env("SLURM_CLUSTER_NAME").map(J::String));
    set(&mut m, "job_name", value("SLURM_JOB_NAME", "JobName"));
    set(
        &mut m,
        "submit_host",
        env("SLURM_SUBMIT_HOST").map(J::String),
    );
    set(&mut m, "submit_time", from_job("SubmitTime").map(J::String));
    set(&mut m, "start_time", from_job("StartTime").map(J::String));
    set(&mut m, "batch_host", from_job("BatchHost").map(J::String));
    set(&mut m, "user", from_job("UserId").map(J::String));
    set(&mut m, "account", from_job("Account").map(J::String));
    if let Err(e) = &job {
        m.insert("scontrol".into(), json!(format!("unavailable: {e}")));
    }
    put("job", Section::Values(m));

    let mut m = BTreeMap::new();
    if env("SLURM_STEP_ID").is_some() {
        set(&mut m, "step_id", env("SLURM_STEP_ID").map(|v| typed(&v)));
        set(
            &mut m,
            "num_tasks",
            env("SLURM_STEP_NUM_TASKS").map(|v| typed(&v)),
        );
        set(
            &mut m,
            "num_nodes",
            env("SLURM_STEP_NUM_NODES").map(|v| typed(&v)),
        );
        set(
            &mut m,
            "node_list",
            env("SLURM_STEP_NODELIST").map(J::String),
        );
        put("step", Section::Values(m));
    } else {
        put("step", Section::unavailable("not in a job step"));
    }

    let mut m = BTreeMap::new();
    set(
        &mut m,
        "version",
        answers.srun_version.clone().ok().map(J::String),
    );
    set(&mut m, "cluster", env("SLURM_CLUSTER_NAME").map(J::String));
    set(
        &mut m,
        "partition",
        value("SLURM_JOB_PARTITION", "Partition"),
    );
    set(
        &mut m,
        "num_nodes",
        value("SLURM_JOB_NUM_NODES", "NumNodes"),
    );
    set(&mut m, "node_list", value("SLURM_JOB_NODELIST", "NodeList"));
    set(&mut m, "num_tasks", value("SLURM_NTASKS", "NumTasks"));
    set(&mut m, "num_cpus", from_job("NumCPUs").map(|v| typed(&v)));
    set(
        &mut m,
        "cpus_per_node",
        env("SLURM_JOB_CPUS_PER_NODE").map(J::String),
    );
    set(
        &mut m,
        "tasks_per_node",
        env("SLURM_TASKS_PER_NODE").map(J::String),
    );
    set(
        &mut m,
        "cpus_per_task",
        value("SLURM_CPUS_PER_TASK", "CPUs/Task"),
    );
    put("scheduler", Section::Values(m));
    info
}

/// Sets `key` when there is a value.
fn set(m: &mut BTreeMap<String, J>, key: &str, v: Option<J>) {
    if let Some(v) = v {
        m.insert(key.to_owned(), v);
    }
}

fn mpi_section(env: &dyn Fn(&str) -> Option<String>, answers: &Answers) -> Section {
    let mut m = BTreeMap::new();
    if let Ok(text) = &answers.srun_mpi_list {
        let (plugins, pmix) = parse_mpi_list(text);
        m.insert("srun_plugins".into(), json!(plugins));
        m.insert("pmix_versions".into(), json!(pmix));
    }
    if let Some(t) = env("SLURM_MPI_TYPE") {
        m.insert("slurm_mpi_type".into(), json!(t));
    }
    if let Ok(text) = &answers.mpirun_version {
        let first = text.lines().next().unwrap_or("").trim();
        m.insert("mpirun".into(), json!(first));
    }
    if m.is_empty() {
        let why = [&answers.srun_mpi_list, &answers.mpirun_version]
            .iter()
            .filter_map(|r| r.as_ref().err().cloned())
            .collect::<Vec<_>>()
            .join("; ");
        return Section::unavailable(why);
    }
    Section::Values(m)
}

/// A number when the text is one, else the text.
fn typed(v: &str) -> J {
    v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n))
}

/// `Key=Value Key=Value …` (one record of `scontrol show … -o`). A token
/// without `=` continues the previous value (values may hold spaces).
fn parse_scontrol_record(line: &str) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for token in line.split_whitespace() {
        match token.split_once('=') {
            Some((k, v)) if is_scontrol_key(k) => {
                m.insert(k.to_owned(), v.to_owned());
                last = Some(k.to_owned());
            }
            _ => {
                if let Some(v) = last.as_ref().and_then(|k| m.get_mut(k)) {
                    v.push(' ');
                    v.push_str(token);
                }
            }
        }
    }
    m
}

/// `JobId`, `CPUs/Task`, `TRES`: a capital, then letters, digits, `/`, `:`, `_`.
fn is_scontrol_key(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_uppercase())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | ':' | '_'))
}

/// The plugin types (sorted) and PMIx plugin versions of `srun --mpi=list`:
///
/// ```text
/// MPI plugin types are...
///         pmix
///         none
/// specific pmix plugin versions available: pmix_v4
/// ```
fn parse_mpi_list(text: &str) -> (Vec<String>, Vec<String>) {
    let mut plugins = Vec::new();
    let mut pmix = Vec::new();
    for line in text.lines() {
        if let Some((_, versions)) = line.split_once("plugin versions available:") {
            pmix.extend(
                versions
                    .split([',', ' '])
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
            );
        } else if line.starts_with([' ', '\t']) && !line.trim().is_empty() {
            plugins.push(line.trim().to_owned());
        }
    }
    plugins.sort();
    pmix.sort();
    (plugins, pmix)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MPI_LIST: &str = "MPI plugin types are...\n\tpmix\n\tnone\n\tcray_shasta\n\tpmi2\n\
                            specific pmix plugin versions available: pmix_v4";

    fn answers(scontrol: Option<&str>) -> Answers {
        Answers {
            srun_version: Ok("slurm-wlm 22.05.8".into()),
            srun_mpi_list: Ok(MPI_LIST.into()),
            mpirun_version: Ok("mpirun (Open MPI) 4.1.4\n\nReport bugs to …".into()),
            scontrol_job: scontrol.map(|s| Ok(s.to_owned())),
        }
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    #[test]
    fn mpi_list_plugins_and_pmix_versions() {
        let (plugins, pmix) = parse_mpi_list(MPI_LIST);
        assert_eq!(plugins, ["cray_shasta", "none", "pmi2", "pmix"]);
        assert_eq!(pmix, ["pmix_v4"]);
    }

    #[test]
    fn scheduler_variables_are_recognised() {
        for v in [
            "SLURM_JOB_ID",
            "SLURMD_NODENAME",
            "PMIX_NAMESPACE",
            "SLURM_NTASKS",
        ] {
            assert!(is_scheduler_variable(v), "{v}");
        }
        for v in ["OMP_NUM_THREADS", "SITE_LEVEL", "SLURMX", "PMI_RANK"] {
            assert!(!is_scheduler_variable(v), "{v}");
        }
    }

    #[test]
    fn scontrol_record_with_spaces_in_values() {
        let m = parse_scontrol_record(
            "JobId=7 JobName=my job UserId=root(0) NumNodes=2 CPUs/Task=1 TRES=cpu=2,node=2",
        );
        assert_eq!(m["JobId"], "7");
        assert_eq!(m["JobName"], "my job");
        assert_eq!(m["CPUs/Task"], "1");
        assert_eq!(m["TRES"], "cpu=2,node=2");
        assert_eq!(m["NumNodes"], "2");
    }

    #[test]
    fn outside_slurm_is_recorded_never_an_error() {
        let info = scheduler_info(&env_of(&[]), &answers(None));
        for name in ["job", "step", "scheduler"] {
            assert_eq!(
                info.sections[name],
                Section::unavailable(NOT_UNDER_SLURM),
                "{name}"
            );
        }
        assert_eq!(info.job_id(), None);
        assert_eq!(
            info.get("mpi", "mpirun"),
            Some(&json!("mpirun (Open MPI) 4.1.4"))
        );
        let none = Answers {
            srun_version: Err("srun: not found".into()),
            srun_mpi_list: Err("srun: not found".into()),
            mpirun_version: Err("mpirun: not found".into()),
            scontrol_job: None,
        };
        let info = scheduler_info(&env_of(&[]), &none);
        assert_eq!(
            info.sections["mpi"],
            Section::unavailable("srun: not found; mpirun: not found")
        );
    }

    #[test]
    fn allocation_environment_and_scontrol_fill_the_sections() {
        let env = env_of(&[
            ("SLURM_JOB_ID", "42"),
            ("SLURM_CLUSTER_NAME", "dsitest"),
            ("SLURM_JOB_NAME", "interactive"),
            ("SLURM_JOB_NODELIST", "n[1-2]"),
            ("SLURM_JOB_NUM_NODES", "2"),
            ("SLURM_JOB_PARTITION", "debug"),
            ("SLURM_JOB_CPUS_PER_NODE", "1(x2)"),
            ("SLURM_TASKS_PER_NODE", "1(x2)"),
        ]);
        let scontrol = "JobId=42 JobName=interactive UserId=root(0) Account=(null) SubmitTime=2026-12-03T10:00:00 \
                        StartTime=2026-12-03T10:00:01 NumNodes=2 NumCPUs=2 NumTasks=2 CPUs/Task=1 BatchHost=n1";
        let info = scheduler_info(&env, &answers(Some(scontrol)));
        assert_eq!(info.job_id(), Some(42));
        assert_eq!(
            info.get("job", "submit_time"),
            Some(&json!("2026-12-03T10:00:00"))
        );
        assert_eq!(info.get("job", "batch_host"), Some(&json!("n1")));
        assert_eq!(info.get("job", "account"), None, "(null) is not a value");
        assert_eq!(info.get("scheduler", "num_nodes"), Some(&json!(2)));
        assert_eq!(info.get("scheduler", "num_tasks"), Some(&json!(2)));
        assert_eq!(info.get("scheduler", "num_cpus"), Some(&json!(2)));
        assert_eq!(info.get("scheduler", "cpus_per_task"), Some(&json!(1)));
        assert_eq!(info.get("scheduler", "node_list"), Some(&json!("n[1-2]")));
        assert_eq!(
            info.get("scheduler", "version"),
            Some(&json!("slurm-wlm 22.05.8"))
        );
        assert_eq!(
            info.sections["step"],
            Section::unavailable("not in a job step")
        );

        let failed = Answers {
            scontrol_job: Some(Err("scontrol: timeout".into())),
            ..answers(None)
        };
        let info = scheduler_info(&env, &failed);
        assert_eq!(
            info.get("job", "scontrol"),
            Some(&json!("unavailable: scontrol: timeout"))
        );
        assert_eq!(info.get("scheduler", "num_nodes"), Some(&json!(2)));
    }

    #[test]
    fn plugin_collects_one_row() {
        let c = Slurm.collect(&Context::empty()).unwrap();
        let t = c.table("slurm").unwrap();
        assert_eq!(t.num_rows(), 1);
        let text = t.get(0, "scheduler_info").and_then(Value::as_text).unwrap();
        let info = SchedulerInfo::from_json(text).unwrap();
        assert_eq!(info.sections.len(), 4);
    }
}
