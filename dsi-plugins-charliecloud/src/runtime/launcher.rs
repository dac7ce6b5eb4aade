//! What a launched step records of its launcher (RUNFILE-1.1 §4): the
//! launcher argv, the program resolved on `PATH`, its version (`srun
//! --version`, `mpirun --version`: the first line), and the tasks and nodes
//! of the step as far as the launcher tells — its own options (`-n`/
//! `--ntasks`, `-N`/`--nodes`, `-w`/`--nodelist` of srun; `-n`/`-np` and
//! `--host`/`-H` of mpirun), else the allocation it runs in (`SLURM_NTASKS`,
//! `SLURM_JOB_NODELIST`), with where the figure came from.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::runfile::Launch;

/// A step's launcher, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LauncherRecord {
    /// `L0 … Ln` as the Runfile gives them.
    pub argv: Vec<String>,
    /// L0 resolved on `PATH`.
    pub path: Option<String>,
    /// The first line of `L0 --version`.
    pub version: Option<String>,
    /// `LAUNCH --join`.
    pub join: bool,
    /// Tasks (MPI ranks) of the step.
    pub tasks: Option<u64>,
    /// Nodes of the step: a count or a Slurm node list.
    pub nodes: Option<String>,
    /// Where `tasks` and `nodes` came from: `argv` (the launcher's
    /// options) or `allocation` (the Slurm job's environment).
    pub source: Option<String>,
    /// The Slurm job the step ran in (`SLURM_JOB_ID` of the replay).
    pub slurm_job_id: Option<String>,
}

/// The value of option `short`/`long` in `argv` (`-n 2`, `-n2`, `--ntasks=2`,
/// `--ntasks 2`).
/// A one-letter option's value may be attached (`-n2`) only when it starts
/// with a digit, so `-np` is mpirun's option, not `-n p`.
fn option<'a>(argv: &'a [String], short: &[&str], long: &[&str]) -> Option<&'a str> {
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        if short.contains(&a.as_str()) || long.contains(&a.as_str()) {
            return it.next().map(String::as_str);
        }
        for s in short.iter().filter(|s| s.len() == 2) {
            if let Some(v) = a
                .strip_prefix(s)
                .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            {
                return Some(v);
            }
        }
        for l in long {
            if let Some(v) = a.strip_prefix(l).and_then(|v| v.strip_prefix('=')) {
                return Some(v);
            }
        }
    }
    None
}

/// Resolves versions once per program: asked for in the background before
/// the first step ([`Launchers::prefetch`]), so that `srun --version` is not
/// on a step's critical path.
#[derive(Debug, Default)]
pub(crate) struct Launchers {
    versions: HashMap<String, Option<String>>,
    pending: HashMap<String, std::thread::JoinHandle<Option<String>>>,
}

impl Launchers {
    /// Starts `L0 --version` of every launcher of `launches` in the background.
    pub(crate) fn prefetch<'a>(&mut self, launches: impl Iterator<Item = &'a Launch>) {
        for l in launches {
            if let Some(path) = super::find_program(&l.argv[0]) {
                let key = path.display().to_string();
                if !self.versions.contains_key(&key) && !self.pending.contains_key(&key) {
                    self.pending
                        .insert(key, std::thread::spawn(move || version_of(&path)));
                }
            }
        }
    }

    /// The record of `launch` in an environment where `env` reads a
    /// variable.
    pub(crate) fn record(
        &mut self,
        launch: &Launch,
        env: impl Fn(&str) -> Option<String>,
    ) -> LauncherRecord {
        let l0 = &launch.argv[0];
        let path = super::find_program(l0);
        let version = path.as_ref().and_then(|p| {
            let key = p.display().to_string();
            let pending = self.pending.remove(&key);
            self.versions
                .entry(key)
                .or_insert_with(|| match pending {
                    Some(h) => h.join().ok().flatten(),
                    None => version_of(p),
                })
                .clone()
        });
        let base = l0.rsplit('/').next().unwrap_or(l0);
        let (tasks, nodes) = match base {
            "srun" => (
                option(&launch.argv, &["-n"], &["--ntasks"]),
                option(&launch.argv, &["-w"], &["--nodelist"])
                    .or_else(|| option(&launch.argv, &["-N"], &["--nodes"])),
            ),
            "mpirun" | "mpiexec" | "orterun" => (
                option(&launch.argv, &["-n", "-np"], &["--np", "--n"]),
                option(&launch.argv, &["-H"], &["--host"]),
            ),
            _ => (None, None),
        };
        let from_argv = tasks.is_some() || nodes.is_some();
        let tasks = tasks
            .map(str::to_owned)
            .or_else(|| env("SLURM_NTASKS"))
            .and_then(|t| t.parse().ok());
        let nodes = nodes
            .map(str::to_owned)
            .or_else(|| env("SLURM_JOB_NODELIST"));
        let source = if from_argv {
            Some("argv")
        } else if tasks.is_some() || nodes.is_some() {
            Some("allocation")
        } else {
            None
        };
        LauncherRecord {
            argv: launch.argv.clone(),
            path: path.map(|p| p.display().to_string()),
            version,
            join: launch.join,
            tasks,
            nodes,
            source: source.map(str::to_owned),
            slurm_job_id: env("SLURM_JOB_ID").filter(|j| !j.is_empty()),
        }
    }
}

/// The first non-empty line of `program --version`.
fn version_of(program: &Path) -> Option<String> {
    // The same answer the system description asks for, kept per file.
    let answer = dsi_core::env::self_answer(program.to_str()?, &["--version"], &[]).ok()?;
    answer
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(argv: &[&str]) -> Launch {
        Launch {
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            join: true,
            line: 2,
            col: 1,
        }
    }

    #[test]
    fn tasks_and_nodes_come_from_the_launcher_options_else_the_allocation() {
        let mut l = Launchers::default();
        let none = |_: &str| None;
        let r = l.record(&launch(&["srun", "-n", "2", "--mpi=pmix"]), none);
        assert_eq!((r.tasks, r.nodes.as_deref()), (Some(2), None));
        assert_eq!(r.source.as_deref(), Some("argv"));
        let r = l.record(&launch(&["srun", "--ntasks=4", "-N2"]), none);
        assert_eq!((r.tasks, r.nodes.as_deref()), (Some(4), Some("2")));
        let r = l.record(&launch(&["mpirun", "-np", "3", "--host", "a,b"]), none);
        assert_eq!((r.tasks, r.nodes.as_deref()), (Some(3), Some("a,b")));
        let alloc = |k: &str| match k {
            "SLURM_NTASKS" => Some("2".to_owned()),
            "SLURM_JOB_NODELIST" => Some("n[1-2]".to_owned()),
            "SLURM_JOB_ID" => Some("7".to_owned()),
            _ => None,
        };
        let r = l.record(&launch(&["srun", "--mpi=pmix"]), alloc);
        assert_eq!((r.tasks, r.nodes.as_deref()), (Some(2), Some("n[1-2]")));
        assert_eq!(r.source.as_deref(), Some("allocation"));
        assert_eq!(r.slurm_job_id.as_deref(), Some("7"));
        let r = l.record(&launch(&["/bin/true"]), none);
        assert_eq!(r.path.as_deref(), Some("/bin/true"));
        assert_eq!(r.source, None);
    }
}
