//! The JSON documents of the commands whose result the library does not
//! define as a type (the others print library types as they are). Each is
//! part of the scripting interface ([`crate::schema`]).

use dsi_core::Inspection;
use dsi_plugins_charliecloud::listing::RunSummary;
use schemars::JsonSchema;
use serde::Serialize;

/// `dsi export -o PATH --json` and `dsi inspect --notebook PATH --json`:
/// what was written where.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Written {
    /// `json`, `prov`, `ro-crate` or `ipynb`.
    pub format: String,
    /// The absolute path written.
    pub path: String,
    /// The run exported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The stores summarised (the notebook).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stores: Option<Vec<StoreSummary>>,
}

/// One store in `dsi inspect --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StoreSummary {
    /// Its tables, rows and blobs.
    pub store: Inspection,
    /// Its five newest runs.
    pub newest_runs: Vec<RunSummary>,
}

/// One store in `dsi compact --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StoreCompaction {
    /// The store's driver.
    pub driver: String,
    /// Where the store is.
    pub location: String,
    /// What was done.
    pub compaction: dsi_core::Compaction,
}

/// One store in `dsi migrate --json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StoreMigration {
    /// The store's driver.
    pub driver: String,
    /// What was done.
    pub migration: dsi_core::Migration,
}

/// A setting and where it came from (`dsi config --json`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Setting {
    /// The driver it applies to, for stores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The option's key, for options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value (`***` for a secret).
    pub value: serde_json::Value,
    /// `command line`, `environment (NAME)`, a file's path, or `default`.
    pub source: String,
}

/// A configuration file consulted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfigFile {
    /// Its path.
    pub path: String,
    /// Whether it exists.
    pub exists: bool,
}

/// `dsi config --json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Settings {
    /// The drivers selected.
    pub driver: Setting,
    /// The stores named.
    pub stores: Vec<Setting>,
    /// Driver options.
    pub options: Vec<Setting>,
    /// The configuration files consulted.
    pub files: Vec<ConfigFile>,
}

/// `dsi runfile pin --json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Pinned {
    /// The image name.
    pub image: String,
    /// Its tree digest (a local image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// The digest its registry serves (a registry tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The `FROM` line pinning it.
    pub from: String,
}

/// One row of `dsi query --json`: column name → value.
pub type QueryRow = std::collections::BTreeMap<String, serde_json::Value>;

/// An error, printed on stderr with `--json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDoc {
    /// The error.
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// A Runfile diagnostic's code (`E406`) or the kind of error
    /// (`not_found`, `ambiguous`, `invalid_data`, `refused`, `corrupt`, `io`, …).
    pub code: String,
    /// The exit status.
    pub status: u8,
    /// The message, one line.
    pub message: String,
    /// What to do about it, when dsi knows.
    pub hint: Option<String>,
}

/// `dsi campaign start --json`: what was submitted; for a local campaign
/// (which runs in the foreground) also the summary once it ended.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CampaignStarted {
    /// The campaign's id.
    pub campaign: String,
    /// `slurm` or `local`.
    pub launcher: String,
    /// The task indices submitted (none: nothing left to resume).
    pub submitted: Vec<u32>,
    /// The Slurm job arrays.
    pub arrays: Vec<dsi_plugins_charliecloud::campaign::SlurmArray>,
    /// A local campaign's summary once its tasks ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<dsi_plugins_charliecloud::campaign::report::Summary>,
}

/// `dsi campaign task --json`: the task's replay.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CampaignTaskDone {
    /// The task's index.
    pub task: u32,
    /// The replay's run id.
    pub replay: String,
    /// Whether it was already stored (nothing was run).
    pub already_replayed: bool,
    /// The replay's verdict (when it ran now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<dsi_plugins_charliecloud::verify::Verdict>,
}
