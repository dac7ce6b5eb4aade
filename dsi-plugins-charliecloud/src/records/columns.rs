//! The names and types of the `runs` columns, in order: the one place they
//! are spelled.

use dsi_core::DataType;

/// Name of the table.
pub const RUNS: &str = "runs";

/// Version of the row layout written by this build.
pub const RECORD_VERSION: i64 = 1;

/// The key of a row: its run id.
pub(crate) const RUN_ID: &str = "run_id";
pub(crate) const FUNCTION: &str = "function";
pub(crate) const RECORDED_AT: &str = "recorded_at";
pub(crate) const PARENT_RUN_ID: &str = "parent_run_id";
pub(crate) const COMMIT: &str = "commit";
pub(crate) const COMMIT_TREE: &str = "commit_tree";
pub(crate) const RUNFILE_SHA256: &str = "runfile_sha256";
pub(crate) const IMAGE_REF: &str = "image_ref";
pub(crate) const HOSTNAME: &str = "hostname";
pub(crate) const REPOSITORY: &str = "container_run_commands";
pub(crate) const VERDICT: &str = "verdict";
pub(crate) const CAMPAIGN_ID: &str = "campaign_id";
pub(crate) const CAMPAIGN_TASK: &str = "campaign_task";

/// The columns that hold JSON documents (nested fields).
pub(crate) const JSON_COLUMNS: &[&str] = &[
    "steps",
    "outputs",
    "passenv",
    "compat_result",
    "gid_list",
    "kernel_info",
    "scheduler_info",
    "verification",
    "texts",
    "inputs",
];

/// The columns of `runs`, in order.
pub const RUNS_SCHEMA: &[(&str, DataType)] = &[
    (RUN_ID, DataType::Text),
    (FUNCTION, DataType::Text),
    (RECORDED_AT, DataType::Timestamp),
    (PARENT_RUN_ID, DataType::Text),
    ("record_version", DataType::Int),
    ("dsi_version", DataType::Text),
    (IMAGE_REF, DataType::Text),
    ("image_digest", DataType::Text),
    ("image_manifest_digest", DataType::Text),
    ("image_config_digest", DataType::Text),
    ("image_tree_digest", DataType::Text),
    ("image_checks", DataType::Text),
    ("ch_storage", DataType::Text),
    (COMMIT, DataType::Text),
    ("runfile_path", DataType::Text),
    (RUNFILE_SHA256, DataType::Text),
    ("runfile_digest", DataType::Text),
    (REPOSITORY, DataType::Blob),
    ("exit_code", DataType::Int),
    ("signal", DataType::Int),
    ("duration_ms", DataType::Int),
    ("stdout_sha256", DataType::Text),
    ("stderr_sha256", DataType::Text),
    ("steps", DataType::Text),
    ("outputs", DataType::Text),
    ("passenv", DataType::Text),
    ("compat_check", DataType::Text),
    ("compat_result", DataType::Text),
    ("uid", DataType::Int),
    ("effective_gid", DataType::Int),
    ("moniker", DataType::Text),
    ("gid_list", DataType::Text),
    (HOSTNAME, DataType::Text),
    ("kernel_release", DataType::Text),
    ("architecture", DataType::Text),
    ("kernel_info", DataType::Text),
    // Added after the first release: appended, so older stores gain it
    // as a new column (null in their rows).
    (COMMIT_TREE, DataType::Text),
    // Path images (RUNFILE-1.1 §3): the SquashFS file's sha256 and what
    // the image is (`squashfs`, `directory`; null for storage images).
    ("image_file_digest", DataType::Text),
    ("image_kind", DataType::Text),
    // The scheduler context (the `slurm` environment plugin).
    ("slurm_job_id", DataType::Int),
    ("scheduler_info", DataType::Text),
    // Graded verification (RUNFILE-1.1 §7): the verdict alone (to filter
    // on), the whole verification, and the kept texts of compared targets.
    (VERDICT, DataType::Text),
    ("verification", DataType::Text),
    ("texts", DataType::Text),
    // INPUT digests (RUNFILE-1.1 §5.1).
    ("inputs", DataType::Text),
    // The campaign a replay belongs to, and its task there (`RUN_ID#K`).
    (CAMPAIGN_ID, DataType::Text),
    (CAMPAIGN_TASK, DataType::Text),
];
