//! A campaign's report: one row per selected record — its replays, the
//! verdict (the worst over its repeats), the first layer that differs from
//! the reference run (`dsi why`) with its one-line summary, and the
//! metrics' relative changes — and a summary: how many reproduced, within
//! tolerance, not reproduced, failed, unverifiable, failed to start or
//! still to come, grouped by first differing layer ("3 not reproduced,
//! all after a `launcher` change").
//!
//! Rendered as text, Markdown or HTML here (so every front-end shows the
//! same report); JSON is the [`Report`] itself. Everything in it comes
//! from the store and is escaped for its format.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dsi_core::text::for_terminal;
use dsi_core::{Result, Stores};
use schemars::JsonSchema;
use serde::Serialize;

use super::status::{self, TaskState};
use super::{Campaign, Options};
use crate::records::RunRecord;
use crate::verify::{ItemKind, Verdict};

/// A metric of the worst replay compared with its reference.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MetricChange {
    /// The metric's name.
    pub name: String,
    /// Its unit, when declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The reference's values, as captured.
    pub reference: Vec<String>,
    /// The replay's values.
    pub value: Vec<String>,
    /// The largest relative change |a − b| / |b| (null when not compared).
    pub relative: Option<f64>,
}

/// How a record fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Bit-identical.
    Reproduced,
    /// Within the declared tolerances.
    ReproducedWithinTolerance,
    /// Nothing to compare with.
    Unverifiable,
    /// Outside the tolerances.
    NotReproduced,
    /// An EXPECT or a step failed.
    Failed,
    /// A task ended without storing a replay.
    FailedToStart,
    /// A task is running.
    Running,
    /// A task has not started.
    Pending,
}

impl Outcome {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reproduced => "reproduced",
            Outcome::ReproducedWithinTolerance => "reproduced-within-tolerance",
            Outcome::Unverifiable => "unverifiable",
            Outcome::NotReproduced => "not-reproduced",
            Outcome::Failed => "failed",
            Outcome::FailedToStart => "failed-to-start",
            Outcome::Running => "running",
            Outcome::Pending => "pending",
        }
    }

    /// For people: `not reproduced`.
    pub fn words(self) -> &'static str {
        match self {
            Outcome::Reproduced => "reproduced",
            Outcome::ReproducedWithinTolerance => "reproduced within tolerance",
            Outcome::Unverifiable => "unverifiable",
            Outcome::NotReproduced => "not reproduced",
            Outcome::Failed => "failed",
            Outcome::FailedToStart => "failed to start",
            Outcome::Running => "running",
            Outcome::Pending => "pending",
        }
    }

    fn of(v: Verdict) -> Self {
        match v {
            Verdict::Reproduced => Outcome::Reproduced,
            Verdict::ReproducedWithinTolerance => Outcome::ReproducedWithinTolerance,
            Verdict::Unverifiable => Outcome::Unverifiable,
            Verdict::NotReproduced => Outcome::NotReproduced,
            Verdict::Failed => Outcome::Failed,
        }
    }
}

/// One selected record.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReportRow {
    /// The record's run id.
    pub record: String,
    /// Its commit.
    pub commit: String,
    /// Its image reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The campaign's replays of it, in task order.
    pub replays: Vec<String>,
    /// The outcome: the worst verdict once every task is done.
    pub outcome: Outcome,
    /// The replay the row describes (the worst).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// The run it was verified against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The first layer that differs from the reference (`dsi why`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_layer: Option<String>,
    /// That layer's one-line summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_summary: Option<String>,
    /// The metrics compared.
    pub metrics: Vec<MetricChange>,
    /// Why a task failed to start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Records per outcome.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Summary {
    /// Records selected.
    pub records: u64,
    /// Bit-identical.
    pub reproduced: u64,
    /// Within tolerance.
    pub reproduced_within_tolerance: u64,
    /// Outside tolerance.
    pub not_reproduced: u64,
    /// An EXPECT or a step failed.
    pub failed: u64,
    /// Nothing to compare with.
    pub unverifiable: u64,
    /// A task ended without a replay.
    pub failed_to_start: u64,
    /// Still running.
    pub running: u64,
    /// Not started.
    pub pending: u64,
}

impl Summary {
    fn add(&mut self, o: Outcome) {
        self.records += 1;
        *match o {
            Outcome::Reproduced => &mut self.reproduced,
            Outcome::ReproducedWithinTolerance => &mut self.reproduced_within_tolerance,
            Outcome::NotReproduced => &mut self.not_reproduced,
            Outcome::Failed => &mut self.failed,
            Outcome::Unverifiable => &mut self.unverifiable,
            Outcome::FailedToStart => &mut self.failed_to_start,
            Outcome::Running => &mut self.running,
            Outcome::Pending => &mut self.pending,
        } += 1;
    }
}

/// Records that did not reproduce (or failed), by their first differing
/// layer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LayerGroup {
    /// The layer (`none` when no layer differs).
    pub layer: String,
    /// Records per outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// How many records.
    pub records: u64,
    /// One row's summary of the layer, as an example.
    pub example: Option<String>,
}

/// The campaign the report is about.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CampaignInfo {
    /// Its id.
    pub id: String,
    /// When it was planned (RFC 3339).
    pub created_at: String,
    /// Who planned it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The selection as given.
    pub selection: Vec<String>,
    /// The options.
    pub options: Options,
    /// How many tasks.
    pub tasks: u64,
    /// The Slurm array job ids.
    pub slurm_arrays: Vec<String>,
}

/// A campaign's report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// The campaign.
    pub campaign: CampaignInfo,
    /// The summary.
    pub summary: Summary,
    /// Not reproduced and failed records by first differing layer.
    pub by_layer: Vec<LayerGroup>,
    /// One row per record.
    pub rows: Vec<ReportRow>,
    /// Replays stored twice for one task (should be 0).
    pub duplicates: u64,
}

fn metrics(r: &RunRecord) -> Vec<MetricChange> {
    r.verification
        .iter()
        .flat_map(|v| &v.items)
        .filter(|i| i.kind == ItemKind::Metric)
        .map(|i| MetricChange {
            name: i.name.clone(),
            unit: i.unit.clone(),
            reference: i.reference_values.clone().unwrap_or_default(),
            value: i.values.clone().unwrap_or_default(),
            relative: i.statistics.as_ref().map(|s| s.max_rel),
        })
        .collect()
}

/// The report of campaign `id` (or a unique prefix), from the store (and
/// Slurm, for what is queued).
pub fn report(stores: Stores<'_>, id: &str) -> Result<Report> {
    let (campaign, replays, st) = status::snapshot(stores, id)?;
    let by_id: BTreeMap<&str, &RunRecord> =
        replays.iter().map(|r| (r.run_id.as_str(), r)).collect();
    let mut rows: Vec<ReportRow> = Vec::new();
    let mut order: Vec<&str> = Vec::new();
    let mut tasks_of: BTreeMap<&str, Vec<&status::TaskStatus>> = BTreeMap::new();
    for (t, s) in campaign.plan.tasks.iter().zip(&st.task_states) {
        if !tasks_of.contains_key(t.record.as_str()) {
            order.push(&t.record);
        }
        tasks_of.entry(&t.record).or_default().push(s);
    }
    for record in order {
        let tasks = &tasks_of[record];
        let task = campaign
            .plan
            .tasks
            .iter()
            .find(|t| t.record == record)
            .expect("a task of the record");
        let done: Vec<&RunRecord> = tasks
            .iter()
            .filter_map(|s| s.replay.as_deref())
            .filter_map(|id| by_id.get(id).copied())
            .collect();
        let worst = done.iter().copied().max_by_key(|r| {
            r.verification
                .as_ref()
                .map_or(Verdict::Unverifiable, |v| v.verdict)
        });
        let state_outcome = |state: TaskState| match state {
            TaskState::FailedToStart => Outcome::FailedToStart,
            TaskState::Running => Outcome::Running,
            TaskState::Pending => Outcome::Pending,
            TaskState::Done => Outcome::Reproduced,
        };
        let outcome = if tasks.iter().all(|s| s.state == TaskState::Done) {
            worst
                .and_then(|w| w.verification.as_ref())
                .map_or(Outcome::Unverifiable, |v| Outcome::of(v.verdict))
        } else {
            tasks
                .iter()
                .filter(|s| s.state != TaskState::Done)
                .map(|s| state_outcome(s.state))
                .min()
                .unwrap_or(Outcome::Pending)
        };
        let reference = worst
            .and_then(|w| w.verification.as_ref())
            .and_then(|v| v.reference.clone());
        let (first_layer, first_summary) = match (worst, &reference) {
            (Some(w), Some(r)) => first_cause(&crate::why::why(stores, r, &w.run_id)?),
            _ => (None, None),
        };
        rows.push(ReportRow {
            record: record.to_owned(),
            commit: task.commit.clone(),
            image: task.image.clone(),
            replays: done.iter().map(|r| r.run_id.clone()).collect(),
            outcome,
            replay: worst.map(|w| w.run_id.clone()),
            reference,
            first_layer,
            first_summary,
            metrics: worst.map(metrics).unwrap_or_default(),
            error: tasks.iter().find_map(|s| s.error.clone()),
        });
    }
    let mut summary = Summary::default();
    let mut groups: BTreeMap<String, LayerGroup> = BTreeMap::new();
    for r in &rows {
        summary.add(r.outcome);
        if matches!(r.outcome, Outcome::NotReproduced | Outcome::Failed) {
            let layer = r.first_layer.clone().unwrap_or_else(|| "unknown".into());
            let g = groups.entry(layer.clone()).or_insert_with(|| LayerGroup {
                layer,
                outcomes: BTreeMap::new(),
                records: 0,
                example: r.first_summary.clone(),
            });
            g.records += 1;
            *g.outcomes.entry(r.outcome.as_str().to_owned()).or_default() += 1;
        }
    }
    let mut by_layer: Vec<LayerGroup> = groups.into_values().collect();
    by_layer.sort_by(|a, b| b.records.cmp(&a.records).then(a.layer.cmp(&b.layer)));
    Ok(Report {
        campaign: info(&campaign),
        summary,
        by_layer,
        rows,
        duplicates: st.duplicates,
    })
}

/// The first layer of `why` that differs in more than the verdict (the
/// verdict is what the report grades; that the reference's differs — the
/// first replay of a commit is unverifiable — says nothing of a cause),
/// and its summary; `none` when no layer does.
fn first_cause(why: &crate::why::Why) -> (Option<String>, Option<String>) {
    for l in &why.layers {
        let causes: Vec<&String> = l
            .details
            .iter()
            .filter(|d| !d.starts_with("verdict: "))
            .collect();
        if let Some(first) = causes.first() {
            let summary = match causes.len() {
                1 => (*first).clone(),
                n => format!("{first} (and {} more)", n - 1),
            };
            return (Some(l.name.to_owned()), Some(summary));
        }
    }
    (Some("none".to_owned()), None)
}

fn info(c: &Campaign) -> CampaignInfo {
    CampaignInfo {
        id: c.id.clone(),
        created_at: c.created_at.to_rfc3339(),
        created_by: c.created_by.clone(),
        selection: c.plan.selection.clone(),
        options: c.plan.options.clone(),
        tasks: c.plan.tasks.len() as u64,
        slurm_arrays: c.arrays().map(|a| a.job_id.clone()).collect(),
    }
}

/// The summary's counts as `N reproduced, M not reproduced, …` (zeros
/// left out).
pub fn summary_line(s: &Summary) -> String {
    let parts: Vec<String> = [
        (s.reproduced, Outcome::Reproduced),
        (
            s.reproduced_within_tolerance,
            Outcome::ReproducedWithinTolerance,
        ),
        (s.not_reproduced, Outcome::NotReproduced),
        (s.failed, Outcome::Failed),
        (s.unverifiable, Outcome::Unverifiable),
        (s.failed_to_start, Outcome::FailedToStart),
        (s.running, Outcome::Running),
        (s.pending, Outcome::Pending),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, o)| format!("{n} {}", o.words()))
    .collect();
    format!("{} records: {}", s.records, parts.join(", "))
}

/// One group as a sentence: `3 not reproduced, all after a launcher
/// change (e.g. …)`.
fn group_line(g: &LayerGroup, clean: impl Fn(&str) -> String) -> String {
    let outcomes: Vec<String> = g
        .outcomes
        .iter()
        .map(|(o, n)| format!("{n} {}", o.replace('-', " ")))
        .collect();
    let after = match g.layer.as_str() {
        "none" => "with no layer differing from the reference".to_owned(),
        "unknown" => "with no reference to compare with".to_owned(),
        layer => format!(
            "{} after a change in the {layer} layer",
            if g.records > 1 { "all" } else { "" }
        )
        .trim_start()
        .to_owned(),
    };
    let example = g
        .example
        .as_deref()
        .map(|e| format!(" (e.g. {})", clean(e)))
        .unwrap_or_default();
    format!("{}, {after}{example}", outcomes.join(", "))
}

fn relative(m: &MetricChange) -> String {
    match m.relative {
        Some(r) if r.is_finite() => format!("{}: {:+.3}%", m.name, r * 100.0),
        Some(_) => format!("{}: changed from 0", m.name),
        None => format!("{}: not compared", m.name),
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The report as aligned text for a terminal (stored text escaped).
pub fn render_text(r: &Report) -> String {
    let t = |s: &str| for_terminal(s).into_owned();
    let mut o = String::new();
    let c = &r.campaign;
    let _ = writeln!(
        o,
        "campaign {} ({} tasks, planned {}{})",
        c.id,
        c.tasks,
        c.created_at,
        c.created_by
            .as_deref()
            .map(|b| format!(" by {}", t(b)))
            .unwrap_or_default()
    );
    if !c.selection.is_empty() {
        let _ = writeln!(o, "selection: {}", t(&c.selection.join(" ")));
    }
    let _ = writeln!(o, "{}", summary_line(&r.summary));
    for g in &r.by_layer {
        let _ = writeln!(o, "  {}", group_line(g, t));
    }
    if r.duplicates > 0 {
        let _ = writeln!(
            o,
            "duplicates: {} replays stored twice for a task",
            r.duplicates
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<26}  {:<12}  {:<27}  {:<12}  first differing layer",
        "RECORD", "COMMIT", "OUTCOME", "REPLAY"
    );
    for row in &r.rows {
        let layer = match (&row.first_layer, &row.first_summary, &row.error) {
            (Some(l), Some(s), _) => format!("{l}: {}", t(s)),
            (Some(l), None, _) => l.clone(),
            (None, _, Some(e)) => t(e),
            (None, _, None) => "-".into(),
        };
        let _ = writeln!(
            o,
            "{:<26}  {:<12}  {:<27}  {:<12}  {layer}",
            t(&row.record),
            t(short(&row.commit)),
            row.outcome.as_str(),
            row.replay.as_deref().map_or("-".into(), |x| t(short(x))),
        );
        for m in &row.metrics {
            let _ = writeln!(o, "{:<28}metric {}", "", t(&relative(m)));
        }
    }
    o
}

/// Markdown: `|` and newlines escaped, controls shown visibly.
fn md(s: &str) -> String {
    for_terminal(s)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('`', "\\`")
        .replace('<', "&lt;")
}

/// The report as a Markdown document (a table per record).
pub fn render_markdown(r: &Report) -> String {
    let mut o = String::new();
    let c = &r.campaign;
    let _ = writeln!(o, "# Campaign {}\n", c.id);
    let _ = writeln!(
        o,
        "{} tasks, planned {}{}.\n",
        c.tasks,
        c.created_at,
        c.created_by
            .as_deref()
            .map(|b| format!(" by {}", md(b)))
            .unwrap_or_default()
    );
    if !c.selection.is_empty() {
        let _ = writeln!(o, "Selection: {}\n", md(&c.selection.join(" ")));
    }
    let _ = writeln!(o, "**{}**\n", summary_line(&r.summary));
    for g in &r.by_layer {
        let _ = writeln!(o, "- {}", group_line(g, md));
    }
    if !r.by_layer.is_empty() {
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "| record | commit | outcome | replay | first differing layer | metrics |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for row in &r.rows {
        let layer = match (&row.first_layer, &row.first_summary, &row.error) {
            (Some(l), Some(s), _) => format!("{l}: {}", md(s)),
            (Some(l), None, _) => l.clone(),
            (None, _, Some(e)) => md(e),
            (None, _, None) => "–".into(),
        };
        let metrics: Vec<String> = row.metrics.iter().map(|m| md(&relative(m))).collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {layer} | {} |",
            md(&row.record),
            md(short(&row.commit)),
            row.outcome.words(),
            row.replay.as_deref().map_or("–".into(), md),
            metrics.join("; ")
        );
    }
    o
}

/// HTML: `& < > " '` escaped, controls shown visibly.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in for_terminal(s).chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The report as one self-contained HTML page (no scripts, no external
/// resources).
pub fn render_html(r: &Report) -> String {
    let mut o = String::new();
    let c = &r.campaign;
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Campaign {id}</title>\n<style>\
         body{{font-family:sans-serif;margin:1rem;}}table{{border-collapse:collapse;}}\
         td,th{{border:1px solid #999;padding:.2rem .4rem;text-align:left;vertical-align:top;}}\
         .reproduced{{background:#dfd;}}.reproduced-within-tolerance{{background:#efd;}}\
         .not-reproduced,.failed,.failed-to-start{{background:#fdd;}}code{{font-size:90%;}}\
         </style>\n</head>\n<body>\n<h1>Campaign <code>{id}</code></h1>\n",
        id = html(&c.id)
    );
    let _ = writeln!(
        o,
        "<p>{} tasks, planned {}{}.</p>",
        c.tasks,
        html(&c.created_at),
        c.created_by
            .as_deref()
            .map(|b| format!(" by {}", html(b)))
            .unwrap_or_default()
    );
    if !c.selection.is_empty() {
        let _ = writeln!(
            o,
            "<p>Selection: <code>{}</code></p>",
            html(&c.selection.join(" "))
        );
    }
    let _ = writeln!(
        o,
        "<p><strong>{}</strong></p>",
        html(&summary_line(&r.summary))
    );
    if !r.by_layer.is_empty() {
        let _ = writeln!(o, "<ul>");
        for g in &r.by_layer {
            let _ = writeln!(o, "<li>{}</li>", group_line(g, html));
        }
        let _ = writeln!(o, "</ul>");
    }
    let _ = writeln!(
        o,
        "<table>\n<thead><tr><th>record</th><th>commit</th><th>outcome</th><th>replay</th>\
         <th>first differing layer</th><th>metrics</th></tr></thead>\n<tbody>"
    );
    for row in &r.rows {
        let layer = match (&row.first_layer, &row.first_summary, &row.error) {
            (Some(l), Some(s), _) => format!("{}: {}", html(l), html(s)),
            (Some(l), None, _) => html(l),
            (None, _, Some(e)) => html(e),
            (None, _, None) => "–".into(),
        };
        let metrics: Vec<String> = row.metrics.iter().map(|m| html(&relative(m))).collect();
        let _ = writeln!(
            o,
            "<tr class=\"{cls}\"><td><code>{}</code></td><td><code>{}</code></td><td>{}</td>\
             <td><code>{}</code></td><td>{layer}</td><td>{}</td></tr>",
            html(&row.record),
            html(short(&row.commit)),
            row.outcome.words(),
            row.replay.as_deref().map_or("–".into(), html),
            metrics.join("<br>"),
            cls = row.outcome.as_str(),
        );
    }
    let _ = writeln!(o, "</tbody>\n</table>\n</body>\n</html>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(record: &str, first: &str) -> Report {
        let options = Options {
            repeat: 1,
            check: "warn".into(),
            ch_storage: None,
            offline: false,
            full: false,
            content_limit: 1,
            launcher: super::super::Launcher::Local { jobs: 2 },
        };
        let row = ReportRow {
            record: record.into(),
            commit: "0123456789abcdef".into(),
            image: None,
            replays: vec!["01REPLAY".into()],
            outcome: Outcome::NotReproduced,
            replay: Some("01REPLAY".into()),
            reference: Some("01REF".into()),
            first_layer: Some(first.into()),
            first_summary: Some(format!("{first}: a → b")),
            metrics: vec![MetricChange {
                name: "t".into(),
                unit: None,
                reference: vec!["1.0".into()],
                value: vec!["1.5".into()],
                relative: Some(0.5),
            }],
            error: None,
        };
        let mut summary = Summary::default();
        summary.add(Outcome::NotReproduced);
        Report {
            campaign: CampaignInfo {
                id: "01CAMPAIGN".into(),
                created_at: "2026-12-04T00:00:00Z".into(),
                created_by: Some("<b>me</b>@host".into()),
                selection: vec!["--image".into(), "x|y".into()],
                options,
                tasks: 1,
                slurm_arrays: Vec::new(),
            },
            summary,
            by_layer: vec![LayerGroup {
                layer: "launcher".into(),
                outcomes: [("not-reproduced".to_owned(), 1)].into(),
                records: 1,
                example: Some("mpi: 4.1.4 → 5.0.0".into()),
            }],
            rows: vec![row],
            duplicates: 0,
        }
    }

    #[test]
    fn every_format_escapes_stored_text() {
        let r = sample("<script>alert(1)</script>\u{202e}", "launcher");
        let h = render_html(&r);
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
        assert!(h.contains("\\u{202e}"), "{h}");
        assert!(h.contains("&lt;b&gt;me&lt;/b&gt;@host"), "{h}");
        let m = render_markdown(&r);
        assert!(m.contains("x\\|y"), "{m}");
        assert!(!m.contains("<script>"), "{m}");
        let t = render_text(&r);
        assert!(t.contains("\\u{202e}") && !t.contains('\u{202e}'), "{t}");
    }

    #[test]
    fn the_summary_names_the_layer_and_the_metric_change() {
        let r = sample("01RECORD", "launcher");
        let t = render_text(&r);
        assert!(t.contains("1 records: 1 not reproduced"), "{t}");
        assert!(
            t.contains(
                "1 not reproduced, after a change in the launcher layer (e.g. mpi: 4.1.4 → 5.0.0)"
            ),
            "{t}"
        );
        assert!(t.contains("metric t: +50.000%"), "{t}");
    }
}
