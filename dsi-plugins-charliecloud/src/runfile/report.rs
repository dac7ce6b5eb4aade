//! The static report of a valid Runfile (`dsi runfile check --json`): what
//! it pins, declares and runs, without touching the filesystem.
//!
//! ```
//! use dsi_plugins_charliecloud::runfile::{parse, ArgvContext, Report};
//!
//! let src = "FROM ./img/rf-tiny.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6\n\
//! LAUNCH --join [\"srun\", \"-n\", \"2\"]\n\
//! PASSENV SLURM_* PMIX_*\n\
//! OUTPUT --compare=lines @stdout\n\
//! CMD [\"/opt/hello/mpi_hello\"]\n";
//! let parsed = parse(src.as_bytes()).expect("valid");
//! let report = Report::new(&parsed, &ArgvContext::new("/scratch/proj"));
//! let json = serde_json::to_value(&report).expect("serialisable");
//! assert_eq!(json["image"]["kind"], "path");
//! assert_eq!(json["outputs"][0]["target"], "@stdout");
//! assert_eq!(json["steps"][0]["launcher"]["join"], true);
//! assert_eq!(json["steps"][0]["argv"][3], "ch-run");
//! assert_eq!(json["steps"][0]["argv"][5], "--mount=<mount>");
//! ```

use serde::Serialize;

use super::argv::ArgvContext;
use super::diagnostic::Diagnostic;
use super::image_ref::ImageRef;
use super::model::{ExpectTest, Launch, StepKind};
use super::{Number, Parsed};

/// Everything `dsi runfile check --json` shows about a valid Runfile.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// The canonical form (§6, §1.1-6).
    pub canonical: String,
    /// The Runfile digest, `runfile1+sha256:<hex>`.
    pub digest: String,
    /// The warnings, in position order.
    pub warnings: Vec<Diagnostic>,
    /// The pinned image.
    pub image: ImageReport,
    /// Every non-empty `LAUNCH`, in order.
    pub launchers: Vec<LaunchReport>,
    /// Every `INPUT`.
    pub inputs: Vec<InputReport>,
    /// Every `OUTPUT`.
    pub outputs: Vec<OutputReport>,
    /// Every `METRIC`.
    pub metrics: Vec<MetricReport>,
    /// Every `EXPECT`.
    pub expectations: Vec<ExpectReport>,
    /// Every step with its argv template (§7.1, §1.1-4.1).
    pub steps: Vec<StepReport>,
}

/// The `FROM` image.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ImageReport {
    /// `registry`, `local` or `path`.
    pub kind: &'static str,
    /// [`ImageRef::name`].
    pub name: String,
    /// The image argument `N` of the argv.
    pub argument: String,
    /// The registry manifest digest.
    pub digest: Option<String>,
    /// A path image's file digest.
    pub file_digest: Option<String>,
    /// The tree pin.
    pub tree: Option<String>,
    /// For a path image, whether the argv treats it as SquashFS.
    pub squashfs: Option<bool>,
    /// Line of `FROM`.
    pub line: usize,
    /// Column of `FROM`.
    pub col: usize,
}

/// A `LAUNCH`.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct LaunchReport {
    /// Line of the `LAUNCH` keyword.
    pub line: usize,
    /// Column of the `LAUNCH` keyword.
    pub col: usize,
    /// `L0 … Ln`.
    pub argv: Vec<String>,
    /// `--join`.
    pub join: bool,
}

/// An `INPUT`.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct InputReport {
    /// Line of the `INPUT` keyword.
    pub line: usize,
    /// Column of the `INPUT` keyword.
    pub col: usize,
    /// The normalised path.
    pub path: String,
}

/// An `OUTPUT`.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct OutputReport {
    /// Line of the `OUTPUT` keyword.
    pub line: usize,
    /// Column of the `OUTPUT` keyword.
    pub col: usize,
    /// `@stdout`, `@stderr` or the path (`./@x` for a path beginning with
    /// `@` or `-`).
    pub target: String,
    /// `exact`, `lines` or `numbers`.
    pub compare: &'static str,
    /// `--rtol`, canonical text.
    pub rtol: String,
    /// `--atol`, canonical text.
    pub atol: String,
    /// The `--ignore` expressions, in order.
    pub ignore: Vec<String>,
}

/// A `METRIC`.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct MetricReport {
    /// Line of the `METRIC` keyword.
    pub line: usize,
    /// Column of the `METRIC` keyword.
    pub col: usize,
    /// The name.
    pub name: String,
    /// `--from`, spelled like [`OutputReport::target`].
    pub from: String,
    /// `--regex`.
    pub regex: String,
    /// `first`, `last` or `all`.
    #[serde(rename = "match")]
    pub match_mode: &'static str,
    /// `--rtol`, canonical text.
    pub rtol: String,
    /// `--atol`, canonical text.
    pub atol: String,
    /// `--min`, canonical text.
    pub min: Option<String>,
    /// `--max`, canonical text.
    pub max: Option<String>,
    /// `--unit`.
    pub unit: Option<String>,
    /// `--report-only`.
    pub report_only: bool,
}

/// An `EXPECT`.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ExpectReport {
    /// Line of the `EXPECT` keyword.
    pub line: usize,
    /// Column of the `EXPECT` keyword.
    pub col: usize,
    /// `--from`, spelled like [`OutputReport::target`].
    pub from: String,
    /// `--regex`, if that is the test.
    pub regex: Option<String>,
    /// `--no-regex`, if that is the test.
    pub no_regex: Option<String>,
}

/// A `RUN` or `CMD` step.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct StepReport {
    /// Line of the keyword.
    pub line: usize,
    /// `run` or `cmd`.
    pub kind: &'static str,
    /// The launcher the step snapshots.
    pub launcher: Option<LaunchReport>,
    /// The full argv (launcher, `ch-run` and its options, image, command).
    pub argv: Vec<String>,
}

fn launch_report(l: &Launch) -> LaunchReport {
    LaunchReport {
        line: l.line,
        col: l.col,
        argv: l.argv.clone(),
        join: l.join,
    }
}

fn text(n: &Number) -> String {
    n.canonical().to_owned()
}

impl Report {
    /// The report of `parsed` with the argv of every step for `ctx`
    /// (without [`ArgvContext::with_mount`], `--mount=<mount>`).
    pub fn new(parsed: &Parsed, ctx: &ArgvContext) -> Report {
        let rf = &parsed.runfile;
        let image = rf.image();
        let kind = match image {
            ImageRef::Registry { .. } => "registry",
            ImageRef::Local { .. } => "local",
            ImageRef::Path { .. } => "path",
        };
        Report {
            canonical: rf.canonical(),
            digest: rf.digest(),
            warnings: parsed.warnings.clone(),
            image: ImageReport {
                kind,
                name: image.name(),
                argument: ctx.image_argument(image),
                digest: image.digest().map(str::to_owned),
                file_digest: image.file_digest().map(str::to_owned),
                tree: image.tree().map(str::to_owned),
                squashfs: image.is_path().then(|| ctx.is_squashfs(image)),
                line: rf.from_line(),
                col: rf.from_col(),
            },
            launchers: rf.launches().iter().map(launch_report).collect(),
            inputs: rf
                .inputs()
                .iter()
                .map(|i| InputReport {
                    line: i.line,
                    col: i.col,
                    path: i.path.clone(),
                })
                .collect(),
            outputs: rf
                .outputs()
                .iter()
                .map(|o| OutputReport {
                    line: o.line,
                    col: o.col,
                    target: o.target.spelling().into_owned(),
                    compare: o.compare.as_str(),
                    rtol: text(&o.rtol),
                    atol: text(&o.atol),
                    ignore: o.ignore.iter().map(|r| r.source().to_owned()).collect(),
                })
                .collect(),
            metrics: rf
                .metrics()
                .iter()
                .map(|m| MetricReport {
                    line: m.line,
                    col: m.col,
                    name: m.name.clone(),
                    from: m.from.spelling().into_owned(),
                    regex: m.regex.source().to_owned(),
                    match_mode: m.match_mode.as_str(),
                    rtol: text(&m.rtol),
                    atol: text(&m.atol),
                    min: m.min.as_ref().map(text),
                    max: m.max.as_ref().map(text),
                    unit: m.unit.clone(),
                    report_only: m.report_only,
                })
                .collect(),
            expectations: rf
                .expects()
                .iter()
                .map(|e| {
                    let (regex, no_regex) = match &e.test {
                        ExpectTest::Regex(r) => (Some(r.source().to_owned()), None),
                        ExpectTest::NoRegex(r) => (None, Some(r.source().to_owned())),
                    };
                    ExpectReport {
                        line: e.line,
                        col: e.col,
                        from: e.from.spelling().into_owned(),
                        regex,
                        no_regex,
                    }
                })
                .collect(),
            steps: rf
                .steps()
                .iter()
                .map(|s| StepReport {
                    line: s.line,
                    kind: match s.kind {
                        StepKind::Run => "run",
                        StepKind::Cmd => "cmd",
                    },
                    launcher: s.launch.as_ref().map(launch_report),
                    argv: s.to_ch_run_argv(image, ctx),
                })
                .collect(),
        }
    }
}
