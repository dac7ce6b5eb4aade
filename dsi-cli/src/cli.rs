//! The command-line definition (clap derive). Every command accepts the
//! global options, and `--json` switches any command to machine output.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};
use clap_complete::engine::{ArgValueCandidates, ArgValueCompleter};

use crate::complete;

const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   --verify: the replay was not reproduced or failed (a failed
      container step exits with that step's own status instead,
      128+N for signal N)
  2   usage error; --verify: the replay is unverifiable
  65  invalid Runfile or input data
  69  image or service unavailable
  74  I/O or store error";

/// The heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// Record how a container was run as a git repository, store the record in
/// SQLite, Parquet or S3, and replay it exactly later.
#[derive(Debug, Parser)]
#[command(name = "dsi", version, about, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    /// Options that apply to every command.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Back-end driver to use (NAME or NAME=STORE); repeat to write to several at once.
    #[arg(long = "driver", global = true, help_heading = GLOBAL, value_name = "NAME",
          add = ArgValueCandidates::new(complete::driver_names))]
    pub drivers: Vec<String>,

    /// Where the back-end keeps its data (path or URL); one per --driver, in order.
    #[arg(long = "store", global = true, help_heading = GLOBAL, value_name = "PATH|URL")]
    pub stores: Vec<String>,

    /// A driver option, `key=value`; repeatable.
    #[arg(long = "option", global = true, help_heading = GLOBAL, value_name = "KEY=VALUE")]
    pub options: Vec<String>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Log more to stderr (-v: what dsi does, -vv: each step, -vvv: everything).
    #[arg(long, short = 'v', global = true, help_heading = GLOBAL, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Log only errors; no progress display.
    #[arg(long, short = 'q', global = true, help_heading = GLOBAL)]
    pub quiet: bool,
}

impl GlobalArgs {
    /// No options given: the store is the one the configuration and the
    /// environment name (what shell completion reads).
    pub(crate) fn from_environment() -> Self {
        GlobalArgs {
            drivers: Vec::new(),
            stores: Vec::new(),
            options: Vec::new(),
            json: false,
            verbose: 0,
            quiet: false,
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the plugins this build contains.
    Plugins,
    /// List the drivers this build contains.
    Drivers,
    /// Run plugins (default: hostname, system-kernel) and store one row each.
    Collect(CollectArgs),
    /// Record a Runfile (or a git remote holding one) as a git repository artifact.
    Record(RecordArgs),
    /// Replay a recorded run (a run id or a commit), checking the image and the system.
    Replay(ReplayArgs),
    /// Record a Runfile, then replay the new commit.
    Run(RunArgs),
    /// Show how the systems of two runs (or a run and this one) differ.
    Diff(DiffArgs),
    /// Say why two runs differ: each layer (Runfile, image, inputs, environment,
    /// launcher, system, outputs), the first that differs named as the likely cause.
    Why(WhyArgs),
    /// List records and replays, newest first.
    List(ListArgs),
    /// A project's history: its commits, newest first, with their records and replays.
    Log(LogArgs),
    /// Show one record: every column, its Runfile, its repository's log.
    Show(ShowArgs),
    /// Unpack a record's repository into a directory for ordinary git work.
    Checkout(CheckoutArgs),
    /// Push a record's repository (branches and tags) to a git remote.
    Push(PushArgs),
    /// Fetch a git remote's repository and store it as a record.
    Pull(PullArgs),
    /// Store other data (a CSV file) as a table.
    Ingest {
        /// The format.
        #[command(subcommand)]
        format: IngestFormat,
    },
    /// Run a read-only SQL query on the store.
    Query(QueryArgs),
    /// Export one run as JSON, W3C PROV-JSON or a Workflow Run RO-Crate.
    Export(ExportArgs),
    /// Summarise the store: tables, rows, blobs, newest runs.
    Inspect(InspectArgs),
    /// Verify every blob's digest and every record's references.
    Fsck,
    /// Merge a Parquet or S3 store's small files and remove unreferenced ones (safe while others record).
    Compact,
    /// Convert a store of an earlier layout to the current one (Parquet and S3 datasets of layout 1).
    Migrate,
    /// Show the effective settings and where each came from.
    Config,
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages into a directory (used by `cargo xtask man`).
    #[command(hide = true)]
    GenerateMan {
        /// Output directory.
        dir: PathBuf,
    },
    /// Work with Runfiles (the linter).
    Runfile {
        /// What to do.
        #[command(subcommand)]
        command: RunfileCommand,
    },
    /// Replay many records at once (after a system upgrade, on a new cluster)
    /// as one Slurm job array or local processes, and report what still reproduces.
    Campaign {
        /// What to do.
        #[command(subcommand)]
        command: CampaignCommand,
    },
}

/// The `dsi campaign` commands.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Plan a campaign from the selected records and run it (--slurm: submit
    /// it as one job array and return).
    Start(Box<CampaignStartArgs>),
    /// Where a campaign stands: tasks pending, running, done by verdict,
    /// failed to start.
    Status(CampaignStatusArgs),
    /// One row per record (verdict, first differing layer, metric changes) and a summary.
    Report(CampaignReportArgs),
    /// Run one task of a campaign (what the job array and local runner start).
    Task(CampaignTaskArgs),
}

/// Which records: the filters of `dsi list`.
#[derive(Debug, Args)]
pub struct RecordFilterArgs {
    /// Only runs whose image reference starts with this.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Only runs recorded on this host.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Only runs of commits starting with this.
    #[arg(long, value_name = "HASH")]
    pub commit: Option<String>,
    /// Only runs since a date (2026-11-29), a time (RFC 3339) or an age (90m, 12h, 7d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only runs where a column compares so (`exit_code!=0`, `kernel_release^=6.1`;
    /// = != < <= > >= ^=); repeatable.
    #[arg(long = "where", value_name = "COLUMN OP VALUE")]
    pub conditions: Vec<String>,
}

/// The options `--resume` does not take (the campaign's plan has them).
const NOT_WITH_RESUME: [&str; 7] = [
    "refs",
    "image",
    "host",
    "commit", // not a runs column
    "since",
    "conditions",
    "repeat",
];

/// Arguments of `dsi campaign start`.
#[derive(Debug, Args)]
pub struct CampaignStartArgs {
    /// Records to replay (run ids or commits) instead of filters.
    #[arg(value_name = "RUN|COMMIT", add = ArgValueCompleter::new(complete::run_refs))]
    pub refs: Vec<String>,
    /// Which records (all records when none is given).
    #[command(flatten)]
    pub filter: RecordFilterArgs,
    /// Replays per record.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// What to do when this system differs from the recorded one.
    #[arg(long, value_name = "POLICY", value_parser = ["warn", "strict", "off"], default_value = "warn")]
    pub check: String,
    /// Local replays at once (without --slurm).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
    /// Submit the replays as one Slurm job array (sbatch options after `--`).
    #[arg(long)]
    pub slurm: bool,
    /// At most this many array tasks at once (`--array=…%N`).
    #[arg(long, value_name = "N", requires = "slurm", value_parser = clap::value_parser!(u32).range(1..))]
    pub throttle: Option<u32>,
    /// Replay only the tasks of this campaign that have no replay (or failed to start).
    #[arg(long, value_name = "CAMPAIGN", conflicts_with_all = NOT_WITH_RESUME)]
    pub resume: Option<String>,
    /// Largest content of a compared output kept per item, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = dsi_plugins_charliecloud::verify::DEFAULT_CONTENT_LIMIT)]
    pub content_limit: u64,
    /// Image options.
    #[command(flatten)]
    pub image_args: ImageArgs,
    /// Options for sbatch (after `--`, with --slurm).
    #[arg(last = true, value_name = "SBATCH_ARGS", requires = "slurm")]
    pub sbatch_args: Vec<String>,
}

/// Arguments of `dsi campaign status`.
#[derive(Debug, Args)]
pub struct CampaignStatusArgs {
    /// The campaign (its id or a unique prefix; default: the newest).
    #[arg(value_name = "CAMPAIGN")]
    pub campaign: Option<String>,
    /// Refresh every SECS seconds until every task has ended.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2")]
    pub watch: Option<u64>,
}

/// Arguments of `dsi campaign report`.
#[derive(Debug, Args)]
pub struct CampaignReportArgs {
    /// The campaign (its id or a unique prefix; default: the newest).
    #[arg(value_name = "CAMPAIGN")]
    pub campaign: Option<String>,
    /// The format (json is also what --json gives).
    #[arg(long, short = 'f', value_enum, default_value_t = ReportFormat::Text, value_name = "FORMAT")]
    pub format: ReportFormat,
    /// Write to this file instead of stdout.
    #[arg(value_parser = Utf8PathParser, long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// The formats of `dsi campaign report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Aligned text.
    Text,
    /// A Markdown document.
    Markdown,
    /// The report as JSON.
    Json,
    /// One self-contained HTML page.
    Html,
}

/// Arguments of `dsi campaign task`.
#[derive(Debug, Args)]
pub struct CampaignTaskArgs {
    /// The campaign.
    #[arg(value_name = "CAMPAIGN")]
    pub campaign: String,
    /// The task's index in the plan.
    #[arg(value_name = "INDEX")]
    pub index: u32,
}

/// How images are found and checked.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// ch-image storage directory (default $CH_IMAGE_STORAGE, else /var/tmp/$USER.ch).
    #[arg(value_parser = Utf8PathParser, long, value_name = "DIR")]
    pub ch_storage: Option<PathBuf>,

    /// Never contact a registry; use only what is in storage.
    #[arg(long)]
    pub offline: bool,

    /// Also verify every layer digest (RUNFILE.md §8.2 V3).
    #[arg(long)]
    pub full: bool,
}

/// Arguments of `dsi record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// A Runfile path, or a git remote URL whose HEAD holds a Runfile.
    #[arg(value_name = "RUNFILE|URL")]
    pub source: String,

    /// Commit into this repository (created if missing) instead of a new one.
    #[arg(value_parser = Utf8PathParser, long, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Location of the Runfile inside the repository.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,

    /// Commit message.
    #[arg(long, short = 'm', value_name = "MESSAGE")]
    pub message: Option<String>,

    /// Store a new record even if this commit and image are already recorded.
    #[arg(long)]
    pub again: bool,

    /// Image options.
    #[command(flatten)]
    pub image: ImageArgs,
}

/// Arguments of `dsi replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// What to replay: a run id or a commit (or a unique prefix of either; a
    /// commit names its newest record). With --repo or --remote, the commit.
    #[arg(value_name = "RUN|COMMIT", add = ArgValueCompleter::new(complete::run_refs))]
    pub reference: String,

    /// Replay from this repository directory instead of a record.
    #[arg(value_parser = Utf8PathParser, long, value_name = "DIR", conflicts_with = "remote")]
    pub repo: Option<PathBuf>,

    /// Replay from this git remote instead of a record (never stored).
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,

    /// Location of the Runfile inside the repository (default: the record's).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,

    /// What to do when this system differs from the recorded one.
    #[arg(long, value_name = "POLICY", value_parser = ["warn", "strict", "off"])]
    pub check: Option<String>,

    /// Report the verification against the reference run (RUNFILE-1.1 §7) and
    /// exit by its verdict: 0 reproduced (within tolerance), 1 not reproduced
    /// or failed, 2 unverifiable.
    #[arg(long, conflicts_with_all = ["repo", "remote"])]
    pub verify: bool,

    /// Verify against this run instead of the first successful replay of the
    /// commit.
    #[arg(long, value_name = "RUN", requires = "verify", add = ArgValueCompleter::new(complete::run_refs))]
    pub against: Option<String>,

    /// Replay N times on this system, each with its verdict; report the worst,
    /// per-metric statistics and the items that changed between repeats.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,

    /// Largest content of a compared output kept per item, in bytes (above it,
    /// only its sha256 and size).
    #[arg(long, value_name = "BYTES", default_value_t = dsi_plugins_charliecloud::verify::DEFAULT_CONTENT_LIMIT)]
    pub content_limit: u64,

    /// Say what the replay would do (image check, each step's argv, every bind
    /// with its host path, PASSENV, outputs) and run nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Check the commit out into this new directory and keep it (outputs written
    /// through relative binds stay there); default: a temporary directory.
    #[arg(value_parser = Utf8PathParser, long, value_name = "DIR")]
    pub into: Option<PathBuf>,

    /// Run the whole replay in one Slurm allocation (`salloc SALLOC_ARGS… dsi
    /// replay …`), so that every srun step is a step of one job; inside an
    /// allocation already, the replay runs in it.
    #[arg(long)]
    pub slurm: bool,

    /// salloc's options for --slurm, after `--` (e.g. `-- -n 2 -t 10`).
    #[arg(last = true, value_name = "SALLOC_ARGS", requires = "slurm")]
    pub salloc_args: Vec<String>,

    /// Image options.
    #[command(flatten)]
    pub image: ImageArgs,
}

/// Arguments of `dsi run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to record.
    #[command(flatten)]
    pub record: RecordArgs,

    /// What to do when this system differs from the recorded one.
    #[arg(long, value_name = "POLICY", value_parser = ["warn", "strict", "off"])]
    pub check: Option<String>,

    /// Report the replay's verification and exit by its verdict (a fresh
    /// commit has no earlier replay to compare with: unverifiable, exit 2).
    #[arg(long)]
    pub verify: bool,
}

/// `dsi ingest …`.
#[derive(Debug, Subcommand)]
pub enum IngestFormat {
    /// A CSV file with a header row; column types are inferred (int, float, bool, text).
    Csv(IngestCsvArgs),
}

/// Arguments of `dsi ingest csv`.
#[derive(Debug, Args)]
pub struct IngestCsvArgs {
    #[arg(value_parser = Utf8PathParser)]
    /// The CSV file.
    pub file: PathBuf,
    /// The table to store the rows in (appended if it exists).
    #[arg(long, value_name = "NAME")]
    pub table: String,
    /// Field delimiter (one byte, or \t).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
}

/// Arguments of `dsi query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL statement (read-only), e.g. `SELECT function, count(*) FROM runs GROUP BY 1`.
    pub sql: String,
}

/// Arguments of `dsi inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Also write a Jupyter notebook that opens the store with pandas.
    #[arg(value_parser = Utf8PathParser, long, value_name = "PATH")]
    pub notebook: Option<PathBuf>,
}

/// Arguments of `dsi export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A run id or a commit (or a unique prefix of either).
    #[arg(value_name = "RUN|COMMIT", add = ArgValueCompleter::new(complete::run_refs))]
    pub run: String,

    /// What to write.
    #[arg(long, short = 'f', value_enum, default_value_t = ExportFormat::Json, value_name = "FORMAT")]
    pub format: ExportFormat,

    /// Write to this file (json, prov) or directory (ro-crate, default
    /// ./RUN_ID.crate) instead of stdout.
    #[arg(value_parser = Utf8PathParser, long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// The formats of `dsi export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Every column of the run, typed, with its Runfile text.
    Json,
    /// W3C PROV-JSON: the run, its Runfile, image, repository and outputs, and its parent record.
    Prov,
    /// A Workflow Run RO-Crate (Process Run Crate 0.5) directory.
    RoCrate,
}

impl ExportFormat {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Prov => "prov",
            ExportFormat::RoCrate => "ro-crate",
        }
    }
}

/// Arguments of `dsi list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which runs.
    #[command(flatten)]
    pub filter: RecordFilterArgs,
    /// Only records (consumer) or replays (producer).
    #[arg(long, value_name = "FUNCTION", value_parser = ["consumer", "producer"])]
    pub function: Option<String>,
    /// Only replays with this verdict (RUNFILE-1.1 §7).
    #[arg(long, value_name = "VERDICT", value_parser = ["reproduced", "reproduced-within-tolerance", "unverifiable", "not-reproduced", "failed"])]
    pub verdict: Option<String>,
    /// At most this many runs.
    #[arg(long, short = 'n', default_value_t = 20, value_name = "N")]
    pub limit: u64,
    /// All matching runs.
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
}

/// Arguments of `dsi log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// A record whose stored repository's history to show (a run id or commit);
    /// default: the repository of --repo, or of the current directory.
    #[arg(value_name = "RUN|COMMIT", conflicts_with = "repo")]
    pub reference: Option<String>,
    /// The project's repository.
    #[arg(value_parser = Utf8PathParser, long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// At most this many commits.
    #[arg(long, short = 'n', default_value_t = 20, value_name = "N")]
    pub limit: usize,
}

/// Arguments of `dsi show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A run id or a commit (or a unique prefix of either).
    #[arg(value_name = "RUN|COMMIT", add = ArgValueCompleter::new(complete::run_refs))]
    pub run: String,
}

/// Arguments of `dsi diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A run id or a commit (a commit names its newest replay).
    #[arg(value_name = "RUN|COMMIT", add = ArgValueCompleter::new(complete::run_refs))]
    pub run: String,

    /// Another run or commit to compare with.
    #[arg(value_name = "RUN|COMMIT", conflicts_with = "now")]
    pub other: Option<String>,

    /// Compare with this system (the default when no second run is given).
    #[arg(long)]
    pub now: bool,
}

/// Arguments of `dsi why`.
#[derive(Debug, Args)]
pub struct WhyArgs {
    /// A run id or a commit (a commit names its newest replay).
    #[arg(value_name = "RUN|COMMIT", add = ArgValueCompleter::new(complete::run_refs))]
    pub a: String,

    /// The run or commit to compare it with.
    #[arg(value_name = "RUN|COMMIT", add = ArgValueCompleter::new(complete::run_refs))]
    pub b: String,
}

/// Arguments of `dsi checkout`.
#[derive(Debug, Args)]
pub struct CheckoutArgs {
    /// A run id or a commit (or a unique prefix of either).
    #[arg(value_name = "RUN|COMMIT", add = ArgValueCompleter::new(complete::run_refs))]
    pub run: String,
    #[arg(value_parser = Utf8PathParser)]
    /// Directory to create (must not exist or be empty).
    pub dir: PathBuf,
}

/// Arguments of `dsi push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The git remote URL (never stored).
    #[arg(long, value_name = "URL")]
    pub remote: String,
    /// A run id or a commit (or a unique prefix of either).
    #[arg(value_name = "RUN|COMMIT", add = ArgValueCompleter::new(complete::run_refs))]
    pub run: String,
}

/// Arguments of `dsi pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The git remote URL (never stored).
    #[arg(long, value_name = "URL")]
    pub remote: String,
    /// Location of the Runfile inside the repository.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
}

/// `dsi runfile …`.
#[derive(Debug, Subcommand)]
pub enum RunfileCommand {
    /// Check a Runfile and show its diagnostics; exits 65 on an error.
    Check(RunfileCheckArgs),
    /// Print the FROM line that pins an image in ch-image storage by its tree digest.
    Pin(RunfilePinArgs),
}

/// Arguments of `dsi runfile pin`.
#[derive(Debug, Args)]
pub struct RunfilePinArgs {
    /// Image name as `ch-image list` shows it, a registry tag (HOST/NAME:TAG),
    /// or a path image: a SquashFS file or an image directory (absolute or `./…`).
    #[arg(value_name = "IMAGE")]
    pub image: String,

    /// For a registry tag: the architecture to pull (ch-image's --arch; default the host's).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,

    /// ch-image storage directory (default $CH_IMAGE_STORAGE, else /var/tmp/$USER.ch).
    #[arg(value_parser = Utf8PathParser, long, value_name = "DIR")]
    pub ch_storage: Option<PathBuf>,
}

/// Arguments of `dsi runfile check`.
#[derive(Debug, Args)]
pub struct RunfileCheckArgs {
    #[arg(value_parser = Utf8PathParser)]
    /// The Runfile.
    pub file: PathBuf,

    /// Context directory for the argv shown by --json (default: the Runfile's directory).
    #[arg(value_parser = Utf8PathParser, long, value_name = "DIR")]
    pub context: Option<PathBuf>,

    /// ch-image storage passed to ch-run in the argv shown by --json.
    #[arg(value_parser = Utf8PathParser, long, value_name = "DIR")]
    pub storage: Option<PathBuf>,
}

/// Arguments of `dsi collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Plugins to run (see `dsi plugins`); default: hostname and system-kernel.
    #[arg(value_name = "PLUGIN")]
    pub plugins: Vec<String>,

    /// Print what was collected instead of storing it.
    #[arg(long)]
    pub print: bool,
}

/// Parses a path argument, refusing one that is not valid UTF-8: dsi passes
/// paths to `ch-run`, `ch-image` and git as text, and a lossy conversion
/// would name another directory.
#[derive(Clone, Debug)]
pub(crate) struct Utf8PathParser;

impl TypedValueParser for Utf8PathParser {
    type Value = PathBuf;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<PathBuf, clap::Error> {
        if value.to_str().is_some() {
            return Ok(PathBuf::from(value));
        }
        let name = arg.map_or_else(|| "a path".to_owned(), |a| a.to_string());
        Err(clap::Error::raw(
            ErrorKind::InvalidUtf8,
            format!(
                "{name}: '{}' is not valid UTF-8; dsi passes paths to ch-run, ch-image and git as text\n",
                value.to_string_lossy()
            ),
        )
        .with_cmd(cmd))
    }
}
