//! The replay compatibility check: today's system against the recorded one.
//!
//! The comparison is [`dsi_core::env::diff_sections`] of the two systems'
//! sections: every section of `kernel_info`, and, when both sides recorded
//! a `scheduler_info`, its `scheduler` and `mpi` sections (the job and step
//! are identity: a replay is always a new job). Under `strict`, differences
//! that make a replay meaningless refuse it: the kernel release, the
//! architecture, the cgroup version, CPU flags the recorded system had and
//! this one lacks, and srun MPI plugin types or PMIx plugin versions the
//! recorded system had and this one lacks. Everything else is reported,
//! never blocking.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use dsi_core::env::{KernelDiff, Section, diff_sections};
use dsi_core::{Error, Result, Stores};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::records::System;

/// What to do about differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Record and report differences; run anyway.
    #[default]
    Warn,
    /// Refuse to run when a blocking difference exists.
    Strict,
    /// Do not compare.
    Off,
}

impl FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "warn" => Ok(Policy::Warn),
            "strict" => Ok(Policy::Strict),
            "off" => Ok(Policy::Off),
            other => Err(format!("'{other}' is not one of warn, strict, off")),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Warn => "warn",
            Policy::Strict => "strict",
            Policy::Off => "off",
        })
    }
}

/// Differences per section, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SectionCount {
    /// Section name.
    pub section: String,
    /// Keys changed.
    pub changed: usize,
    /// Keys only today.
    pub added: usize,
    /// Keys only in the record.
    pub removed: usize,
    /// Whether the section's availability changed.
    pub availability: bool,
}

/// The outcome of a comparison, stored (as JSON) in `compat_result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompatResult {
    /// The policy applied.
    pub policy: Policy,
    /// Whether a recorded system was available to compare with.
    pub compared: bool,
    /// No blocking difference.
    pub compatible: bool,
    /// The blocking differences, one sentence each.
    pub blocking: Vec<String>,
    /// Counts of all differences, per section.
    pub sections: Vec<SectionCount>,
}

/// How the systems of two runs (or a run and this one) differ.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SystemComparison {
    /// The first side (`run ID (host, time)`).
    pub from: String,
    /// The second side.
    pub to: String,
    /// No difference at all.
    pub identical: bool,
    /// The differences that make a replay meaningless.
    pub blocking: Vec<String>,
    /// Every difference, by section.
    #[schemars(with = "serde_json::Value")]
    pub sections: std::collections::BTreeMap<String, dsi_core::env::SectionDiff>,
}

/// A run's system, as [`compare`] takes it: `run ID (HOST, WHEN)` and
/// the system recorded with it.
fn recorded_system(stores: Stores<'_>, reference: &str) -> Result<(String, System)> {
    let r = crate::find::reference(stores, reference, crate::find::Want::Replay)?.record;
    if r.system.kernel_info.is_none() {
        return Err(Error::InvalidData(format!(
            "run {} has no kernel_info",
            r.run_id
        )));
    }
    let when = r.recorded_at.map(|t| t.to_rfc3339()).unwrap_or_default();
    let host = r.hostname().unwrap_or_default().to_owned();
    Ok((format!("run {} ({host}, {when})", r.run_id), r.system))
}

/// What differs between the systems the runs `from` and `to` were
/// recorded on (run ids or commit prefixes; a commit means its newest
/// replay), or, without `to`, between `from`'s and this system now.
pub fn compare_runs(stores: Stores<'_>, from: &str, to: Option<&str>) -> Result<SystemComparison> {
    let a = recorded_system(stores, from)?;
    let b = match to {
        Some(to) => recorded_system(stores, to)?,
        None => (
            format!("this system ({})", dsi_core::env::Hostname::current()),
            System::current(),
        ),
    };
    Ok(compare((a.0, &a.1), (b.0, &b.1)))
}

/// The sections of two systems that are compared: every `kernel_info`
/// section, and the compared `scheduler_info` sections when both sides
/// recorded one (rows made before the `slurm` plugin have none).
fn compared_sections(a: &System, b: &System) -> [BTreeMap<String, Section>; 2] {
    let with_scheduler = a.scheduler_info.is_some() && b.scheduler_info.is_some();
    [a, b].map(|s| {
        let mut sections = s
            .kernel_info
            .as_ref()
            .map(|k| k.sections.clone())
            .unwrap_or_default();
        if with_scheduler && let Some(info) = &s.scheduler_info {
            sections.extend(
                info.compared_sections()
                    .map(|(n, v)| (n.clone(), v.clone())),
            );
        }
        sections
    })
}

/// Compares two systems, labelled for people.
pub fn compare(from: (String, &System), to: (String, &System)) -> SystemComparison {
    let [a, b] = compared_sections(from.1, to.1);
    let d = diff_sections(&a, &b);
    SystemComparison {
        from: from.0,
        to: to.0,
        identical: d.is_empty(),
        blocking: blocking(&d),
        sections: d.sections,
    }
}

/// The differences that make a replay meaningless.
pub fn blocking(d: &KernelDiff) -> Vec<String> {
    let mut out = Vec::new();
    let key = |section: &str, key: &str, what: &str, out: &mut Vec<String>| {
        if let Some(c) = d.changed(section, key) {
            out.push(format!(
                "{what} differs: recorded {}, now {}",
                c.before, c.after
            ));
        }
    };
    key("kernel", "release", "kernel release", &mut out);
    key("kernel", "architecture", "architecture", &mut out); // not a runs column
    key("cgroup", "version", "cgroup version", &mut out);
    if let Some(flags) = d.sections.get("cpu_flags") {
        if !flags.removed.is_empty() {
            let names: Vec<&str> = flags.removed.iter().map(|e| e.key.as_str()).collect();
            out.push(format!("CPU flags missing now: {}", names.join(" ")));
        }
        if let Some(a) = &flags.availability {
            out.push(format!("CPU flags: recorded {}, now {}", a.before, a.after));
        }
    }
    for (key, what) in [
        ("srun_plugins", "srun MPI plugin types"),
        ("pmix_versions", "PMIx plugin versions"),
    ] {
        if let Some(c) = d.changed("mpi", key) {
            let now: Vec<&serde_json::Value> = c.after.as_array().into_iter().flatten().collect();
            let missing: Vec<String> = c
                .before
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| !now.contains(v))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            if !missing.is_empty() {
                out.push(format!("{what} missing now: {}", missing.join(" ")));
            }
        }
    }
    for section in ["kernel", "cgroup"] {
        if let Some(a) = d
            .sections
            .get(section)
            .and_then(|s| s.availability.as_ref())
        {
            out.push(format!("{section}: recorded {}, now {}", a.before, a.after));
        }
    }
    out
}

/// Compares the recorded system (if any) with today's under `policy`.
pub fn check(recorded: Option<&System>, now: &System, policy: Policy) -> CompatResult {
    let recorded = recorded.filter(|r| r.kernel_info.is_some());
    let (Some(recorded), false) = (recorded, policy == Policy::Off) else {
        return CompatResult {
            policy,
            compared: false,
            compatible: true,
            blocking: Vec::new(),
            sections: Vec::new(),
        };
    };
    let [a, b] = compared_sections(recorded, now);
    let d = diff_sections(&a, &b);
    let blocking = blocking(&d);
    CompatResult {
        policy,
        compared: true,
        compatible: blocking.is_empty(),
        sections: d
            .sections
            .iter()
            .map(|(name, s)| SectionCount {
                section: name.clone(),
                changed: s.changed.len(),
                added: s.added.len(),
                removed: s.removed.len(),
                availability: s.availability.is_some(),
            })
            .collect(),
        blocking,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsi_core::env::{KernelInfo, SchedulerInfo};
    use serde_json::json;

    fn info(release: &str, flags: &[&str]) -> System {
        let mut k = KernelInfo::new();
        k.sections.insert(
            "kernel".into(),
            Section::Values(
                [
                    ("release".to_owned(), json!(release)),
                    ("architecture".to_owned(), json!("x86_64")),
                ]
                .into(),
            ),
        );
        k.sections.insert(
            "cpu_flags".into(),
            Section::Values(
                flags
                    .iter()
                    .map(|f| ((*f).to_owned(), json!(true)))
                    .collect(),
            ),
        );
        System {
            kernel_info: Some(k),
            ..System::default()
        }
    }

    /// `info("6.1", [])` with a scheduler context of `nodes` nodes and the
    /// given srun MPI plugin types.
    fn under_slurm(nodes: i64, plugins: &[&str]) -> System {
        let mut s = SchedulerInfo::new();
        let values = |kv: &[(&str, serde_json::Value)]| {
            Section::Values(
                kv.iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            )
        };
        s.sections
            .insert("job".into(), values(&[("job_id", json!(nodes * 100))]));
        s.sections.insert(
            "scheduler".into(),
            values(&[("num_nodes", json!(nodes)), ("num_tasks", json!(2))]),
        );
        s.sections
            .insert("mpi".into(), values(&[("srun_plugins", json!(plugins))]));
        System {
            scheduler_info: Some(s),
            ..info("6.1", &[])
        }
    }

    #[test]
    fn scheduler_and_mpi_sections_are_compared_job_is_not() {
        let a = under_slurm(1, &["pmi2", "pmix"]);
        let b = under_slurm(2, &["pmi2", "pmix"]);
        let c = compare(("a".into(), &a), ("b".into(), &b));
        assert!(!c.identical);
        assert_eq!(c.sections.keys().collect::<Vec<_>>(), ["scheduler"]);
        assert_eq!(c.sections["scheduler"].changed[0].key, "num_nodes");
        assert!(c.blocking.is_empty());

        let r = check(Some(&a), &under_slurm(1, &["pmi2"]), Policy::Strict);
        assert_eq!(r.blocking, ["srun MPI plugin types missing now: pmix"]);
        assert_eq!(r.sections[0].section, "mpi");

        // A record made before the slurm plugin: only the kernel is compared.
        let old = info("6.1", &[]);
        assert!(compare(("old".into(), &old), ("b".into(), &b)).identical);
    }

    #[test]
    fn release_change_and_missing_flags_block() {
        let r = check(
            Some(&info("6.1", &["avx2", "sse4_2"])),
            &info("6.8", &["sse4_2", "avx512f"]),
            Policy::Strict,
        );
        assert!(!r.compatible);
        assert_eq!(
            r.blocking,
            [
                "kernel release differs: recorded \"6.1\", now \"6.8\"",
                "CPU flags missing now: avx2"
            ]
        );
    }

    #[test]
    fn added_flags_alone_are_compatible() {
        let r = check(
            Some(&info("6.1", &["sse4_2"])),
            &info("6.1", &["sse4_2", "avx512f"]),
            Policy::Warn,
        );
        assert!(r.compatible && r.compared);
        assert_eq!(r.sections[0].added, 1);
    }

    #[test]
    fn off_or_nothing_recorded_compares_nothing() {
        let now = info("6.1", &[]);
        assert!(!check(Some(&info("5.0", &[])), &now, Policy::Off).compared);
        assert!(!check(None, &now, Policy::Strict).compared);
        assert!("loose".parse::<Policy>().is_err());
    }
}
