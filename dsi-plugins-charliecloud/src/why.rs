//! `dsi why A B`: why two runs differ, layer by layer, the first differing
//! layer named as the likely cause (Nextflow lineage users ask exactly
//! this).
//!
//! The layers, in the order a change in one explains changes in the next:
//!
//! 1. **runfile** — the commits and the canonical Runfile digests, with the
//!    Runfile diff between the commits (git's unified diff);
//! 2. **image** — manifest, config, tree and file digests;
//! 3. **inputs** — the INPUT digests;
//! 4. **environment** — PASSENV names and the values recorded (not the
//!    variables the scheduler sets, `SLURM_*` and `PMIX_*`: the launcher
//!    layer compares the allocation);
//! 5. **launcher** — each step's launcher (argv, version, tasks, nodes)
//!    and the `scheduler` and `mpi` sections of the scheduler context;
//! 6. **system** — the `kernel_info` sections that differ;
//! 7. **outputs** — the compared texts' digests and the METRIC values,
//!    with the verdicts.
//!
//! Everything shown comes from the records (untrusted): the CLI escapes it.

use std::collections::BTreeMap;

use dsi_core::env::SectionDiff;
use dsi_core::{Error, Result, Stores};
use schemars::JsonSchema;
use serde::Serialize;

use crate::compat;
use crate::find::{self, FoundRecord, Want};
use crate::records::RunRecord;
use crate::repository::RecordRepository;
use crate::verify::{self, ItemKind};

/// One layer of the comparison.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Layer {
    /// `runfile`, `image`, `inputs`, `environment`, `launcher`, `system`
    /// or `outputs`.
    pub name: &'static str,
    /// Whether the two runs differ here.
    pub differs: bool,
    /// One line: what differs, or `same`.
    pub summary: String,
    /// Each difference, one line each.
    pub details: Vec<String>,
    /// The Runfile diff between the commits (runfile layer), unified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// Why two runs differ.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Why {
    /// The first run (`run ID`).
    pub a: String,
    /// The second run.
    pub b: String,
    /// The first layer that differs: the likely cause.
    pub first: Option<&'static str>,
    /// Every layer, in order.
    pub layers: Vec<Layer>,
}

/// Compares the runs `a` and `b` (run ids, or commit prefixes: a commit
/// means its newest replay, else its newest record).
pub fn why(stores: Stores<'_>, a: &str, b: &str) -> Result<Why> {
    let fa = find::reference(stores, a, Want::Replay)?;
    let fb = find::reference(stores, b, Want::Replay)?;
    let (ra, rb) = (&fa.record, &fb.record);
    let layers = vec![
        runfile_layer(stores, &fa, &fb)?,
        layer("image", image_details(ra, rb)),
        layer("inputs", input_details(ra, rb)), // not a runs column
        layer("environment", environment_details(ra, rb)),
        layer("launcher", launcher_details(ra, rb)),
        layer("system", system_details(ra, rb, false)),
        layer("outputs", output_details(ra, rb)), // not a runs column
    ];
    Ok(Why {
        a: format!("run {}", ra.run_id),
        b: format!("run {}", rb.run_id),
        first: layers.iter().find(|l| l.differs).map(|l| l.name),
        layers,
    })
}

fn layer(name: &'static str, details: Vec<String>) -> Layer {
    Layer {
        name,
        differs: !details.is_empty(),
        summary: summary_of(&details),
        details,
        diff: None,
    }
}

fn summary_of(details: &[String]) -> String {
    match details {
        [] => "same".to_owned(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

/// `what: A → B` when the two differ.
fn changed<T: PartialEq + std::fmt::Debug>(out: &mut Vec<String>, what: &str, a: &T, b: &T) {
    if a != b {
        out.push(format!("{what}: {} → {}", shown(a), shown(b)));
    }
}

/// A value as one short line: strings without quotes, `None` as `(none)`.
fn shown<T: std::fmt::Debug>(v: &T) -> String {
    let s = format!("{v:?}");
    let s = s
        .strip_prefix("Some(")
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(&s);
    if s == "None" {
        return "(none)".to_owned();
    }
    s.trim_matches('"').to_owned()
}

fn runfile_layer(stores: Stores<'_>, fa: &FoundRecord<'_>, fb: &FoundRecord<'_>) -> Result<Layer> {
    let (a, b) = (&fa.record, &fb.record);
    let mut details = Vec::new();
    changed(&mut details, "commit", &a.commit, &b.commit); // not a runs column
    changed(
        &mut details,
        "Runfile path",
        &a.runfile.path,
        &b.runfile.path,
    );
    changed(
        &mut details,
        "Runfile digest",
        &a.runfile.digest,
        &b.runfile.digest,
    );
    let mut l = layer("runfile", details);
    if a.runfile.digest != b.runfile.digest {
        let text = |f: &FoundRecord<'_>| -> Result<Option<Vec<u8>>> {
            if f.record.repository.is_none() {
                return Ok(None);
            }
            RecordRepository::open(stores, f)?.runfile_of(&f.record)
        };
        if let (Some(ta), Some(tb)) = (text(fa)?, text(fb)?) {
            l.diff = Some(unified_diff(&ta, &tb, a, b)?);
        }
    }
    Ok(l)
}

/// The unified diff of two Runfiles, as git writes it.
fn unified_diff(ta: &[u8], tb: &[u8], a: &RunRecord, b: &RunRecord) -> Result<String> {
    let name = |r: &RunRecord| {
        format!(
            "{}:{}",
            r.commit.as_deref().map_or("?", |c| &c[..c.len().min(10)]),
            r.runfile.path.as_deref().unwrap_or("Runfile")
        )
    };
    let mut patch = git2::Patch::from_buffers(
        ta,
        Some(std::path::Path::new(&name(a))),
        tb,
        Some(std::path::Path::new(&name(b))),
        None,
    )
    .map_err(|e| Error::InvalidData(format!("diffing the Runfiles: {e}")))?;
    let buf = patch
        .to_buf()
        .map_err(|e| Error::InvalidData(format!("diffing the Runfiles: {e}")))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn image_details(a: &RunRecord, b: &RunRecord) -> Vec<String> {
    let (x, y) = (&a.image, &b.image);
    let mut d = Vec::new();
    changed(&mut d, "image", &x.reference, &y.reference);
    changed(
        &mut d,
        "manifest digest",
        &x.manifest_digest,
        &y.manifest_digest,
    );
    changed(&mut d, "config digest", &x.config_digest, &y.config_digest);
    changed(&mut d, "tree digest", &x.tree_digest, &y.tree_digest);
    changed(&mut d, "file digest", &x.file_digest, &y.file_digest);
    d
}

fn input_details(a: &RunRecord, b: &RunRecord) -> Vec<String> {
    let map = |r: &RunRecord| -> BTreeMap<String, Option<String>> {
        r.inputs
            .iter()
            .map(|i| (i.path.clone(), i.digest.clone()))
            .collect()
    };
    keyed_changes("INPUT", &map(a), &map(b))
}

/// `WHAT K: A → B` for each key whose value differs or that one side lacks.
fn keyed_changes<V: PartialEq + std::fmt::Debug>(
    what: &str,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
) -> Vec<String> {
    let mut d = Vec::new();
    for (k, va) in a {
        match b.get(k) {
            Some(vb) => changed(&mut d, &format!("{what} {k}"), va, vb),
            None => d.push(format!("{what} {k}: only in the first run")),
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        d.push(format!("{what} {k}: only in the second run"));
    }
    d
}

/// PASSENV names and values, leaving out those the scheduler sets
/// (`SLURM_*`, `PMIX_*`: they differ in every job, and the allocation's
/// shape is compared in the launcher layer,
/// [`dsi_core::env::is_scheduler_variable`]).
fn environment_details(a: &RunRecord, b: &RunRecord) -> Vec<String> {
    let map = |r: &RunRecord| -> BTreeMap<String, Option<String>> {
        r.passenv
            .iter()
            .filter(|p| !dsi_core::env::is_scheduler_variable(&p.name))
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect()
    };
    keyed_changes("PASSENV", &map(a), &map(b))
}

fn launcher_details(a: &RunRecord, b: &RunRecord) -> Vec<String> {
    let mut d = Vec::new();
    for (i, (sa, sb)) in a.steps.iter().zip(&b.steps).enumerate() {
        let (la, lb) = (&sa.launcher, &sb.launcher);
        let step = format!("step {}", i + 1);
        match (la, lb) {
            (Some(x), Some(y)) => {
                changed(&mut d, &format!("{step} launcher"), &x.argv, &y.argv);
                changed(
                    &mut d,
                    &format!("{step} launcher version"),
                    &x.version,
                    &y.version,
                );
                changed(&mut d, &format!("{step} tasks"), &x.tasks, &y.tasks);
                changed(&mut d, &format!("{step} nodes"), &x.nodes, &y.nodes);
            }
            (None, None) => {}
            _ => changed(
                &mut d,
                &format!("{step} launcher"),
                &la.as_ref().map(|l| l.argv.join(" ")),
                &lb.as_ref().map(|l| l.argv.join(" ")),
            ),
        }
    }
    d.extend(system_details(a, b, true));
    d
}

/// The system differences: the scheduler's sections (`scheduler`, `mpi`)
/// when `scheduler`, else every other section.
fn system_details(a: &RunRecord, b: &RunRecord, scheduler: bool) -> Vec<String> {
    let c = compat::compare(("a".into(), &a.system), ("b".into(), &b.system));
    let mut d = Vec::new();
    for (name, s) in &c.sections {
        let is_scheduler = dsi_core::env::COMPARED_SCHEDULER_SECTIONS.contains(&name.as_str());
        if is_scheduler == scheduler {
            d.extend(section_lines(name, s));
        }
    }
    d
}

fn section_lines(name: &str, s: &SectionDiff) -> Vec<String> {
    let mut d = Vec::new();
    if let Some(av) = &s.availability {
        d.push(format!("{name}: {} → {}", av.before, av.after));
    }
    let value = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    for c in &s.changed {
        d.push(format!(
            "{name}.{}: {} → {}",
            c.key,
            value(&c.before),
            value(&c.after)
        ));
    }
    for e in &s.added {
        d.push(format!("{name}.{}: only in the second run", e.key));
    }
    for e in &s.removed {
        d.push(format!("{name}.{}: only in the first run", e.key));
    }
    d
}

fn output_details(a: &RunRecord, b: &RunRecord) -> Vec<String> {
    let texts = |r: &RunRecord| -> BTreeMap<String, Option<String>> {
        r.texts
            .iter()
            .map(|t| (t.target.clone(), t.sha256.clone()))
            .collect()
    };
    let mut d = keyed_changes("OUTPUT", &texts(a), &texts(b));
    let metrics = |r: &RunRecord| -> BTreeMap<String, Vec<String>> { verify::metrics_of(r) };
    d.extend(keyed_changes("METRIC", &metrics(a), &metrics(b)));
    let verdict = |r: &RunRecord| r.verification.as_ref().map(|v| v.verdict.as_str());
    changed(&mut d, "verdict", &verdict(a), &verdict(b)); // not a runs column
    let failed = |r: &RunRecord| -> Vec<String> {
        r.verification
            .iter()
            .flat_map(|v| &v.items)
            .filter(|i| i.kind == ItemKind::Expect && i.status == verify::ItemStatus::Failed)
            .map(|i| i.name.clone())
            .collect()
    };
    changed(&mut d, "failed EXPECT", &failed(a), &failed(b));
    d
}
