//! The `runs` table: one row per record (consumer) or replay (producer).
//!
//! Every row has the same columns, whichever plugin wrote it, so the table
//! has one schema in every back-end; what a plugin does not know is null.
//! `record_version` says which version of this layout a row follows; columns
//! are only ever added, so old stores stay readable.

use dsi_core::{BlobRef, DataType, Result, Table, Timestamp, Value};

/// Name of the table.
pub const RUNS: &str = "runs";

/// Version of the row layout written by this build.
pub const RECORD_VERSION: i64 = 1;

/// The columns of `runs`, in order.
pub const RUNS_SCHEMA: &[(&str, DataType)] = &[
    ("run_id", DataType::Text),
    ("function", DataType::Text),
    ("recorded_at", DataType::Timestamp),
    ("parent_run_id", DataType::Text),
    ("record_version", DataType::Int),
    ("dsi_version", DataType::Text),
    ("image_ref", DataType::Text),
    ("image_digest", DataType::Text),
    ("image_manifest_digest", DataType::Text),
    ("image_config_digest", DataType::Text),
    ("image_tree_digest", DataType::Text),
    ("image_checks", DataType::Text),
    ("ch_storage", DataType::Text),
    ("commit", DataType::Text),
    ("runfile_path", DataType::Text),
    ("runfile_sha256", DataType::Text),
    ("runfile_digest", DataType::Text),
    ("container_run_commands", DataType::Blob),
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
    ("hostname", DataType::Text),
    ("kernel_release", DataType::Text),
    ("architecture", DataType::Text),
    ("kernel_info", DataType::Text),
];

/// One row of `runs`, field by field; `None` becomes null.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRow {
    /// ULID of this row.
    pub run_id: String,
    /// `consumer` or `producer`.
    pub function: &'static str,
    /// When the row was made.
    pub recorded_at: Option<Timestamp>,
    /// The record a replay came from.
    pub parent_run_id: Option<String>,
    /// Image name `N`.
    pub image_ref: Option<String>,
    /// Pinned registry digest.
    pub image_digest: Option<String>,
    /// Arch manifest digest used.
    pub image_manifest_digest: Option<String>,
    /// Config digest.
    pub image_config_digest: Option<String>,
    /// Tree digest, when computed.
    pub image_tree_digest: Option<String>,
    /// Checks passed, space separated (`V0 V1 V2 V4`).
    pub image_checks: Option<String>,
    /// ch-image storage used.
    pub ch_storage: Option<String>,
    /// Commit of the Runfile's repository.
    pub commit: Option<String>,
    /// Runfile path inside the repository.
    pub runfile_path: Option<String>,
    /// SHA-256 of the Runfile's bytes.
    pub runfile_sha256: Option<String>,
    /// `runfile1+sha256:` digest of its canonical form.
    pub runfile_digest: Option<String>,
    /// The packed repository.
    pub container_run_commands: Option<BlobRef>,
    /// Exit status of the replay.
    pub exit_code: Option<i64>,
    /// Signal that ended it.
    pub signal: Option<i64>,
    /// Wall time of all steps.
    pub duration_ms: Option<i64>,
    /// SHA-256 of all steps' stdout.
    pub stdout_sha256: Option<String>,
    /// SHA-256 of all steps' stderr.
    pub stderr_sha256: Option<String>,
    /// Per-step results (JSON).
    pub steps: Option<String>,
    /// Declared outputs and their digests (JSON).
    pub outputs: Option<String>,
    /// PASSENV values passed (JSON).
    pub passenv: Option<String>,
    /// Compatibility policy applied.
    pub compat_check: Option<String>,
    /// Compatibility result (JSON).
    pub compat_result: Option<String>,
    /// POSIX identity and host.
    pub identity: Option<Identity>,
    /// `kernel_release`, `architecture`, `kernel_info` (see [`kernel_columns`]).
    pub kernel: Option<(Option<String>, Option<String>, String)>,
}

/// The `kernel_release`, `architecture` and `kernel_info` values of a row.
pub fn kernel_columns(
    info: &dsi_core::env::KernelInfo,
) -> (Option<String>, Option<String>, String) {
    (
        info.get_str("kernel", "release").map(str::to_owned),
        info.get_str("kernel", "architecture").map(str::to_owned),
        info.to_json(),
    )
}

/// POSIX identity and host name of the recording process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Real uid.
    pub uid: u32,
    /// Effective gid.
    pub effective_gid: u32,
    /// User name.
    pub moniker: String,
    /// Groups (JSON array).
    pub gid_list: String,
    /// Host name.
    pub hostname: String,
}

impl Identity {
    /// The identity of this process on this host.
    pub fn current() -> Self {
        let p = dsi_core::env::PosixIdentity::current();
        Identity {
            uid: p.uid,
            effective_gid: p.effective_gid,
            moniker: p.moniker,
            gid_list: serde_json::to_string(&p.gid_list).unwrap_or_else(|_| "[]".into()),
            hostname: dsi_core::env::Hostname::current(),
        }
    }
}

/// A new ULID (time-ordered, 80 random bits from the kernel).
pub fn new_run_id() -> String {
    let mut random = [0u8; 16];
    // getrandom on Linux does not fail for 16 bytes once the pool is ready;
    // should it, the time part still orders and the zeros are visible.
    let _ = rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty());
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    ulid::Ulid::from_parts(ms, u128::from_le_bytes(random)).to_string()
}

fn text(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::Text)
}

impl RunRow {
    /// The values in [`RUNS_SCHEMA`] order.
    fn values(&self) -> Vec<Value> {
        let id = self.identity.as_ref();
        let k = self.kernel.as_ref();
        vec![
            Value::Text(self.run_id.clone()),
            Value::Text(self.function.to_owned()),
            self.recorded_at.map_or(Value::Null, Value::Timestamp),
            text(&self.parent_run_id),
            Value::Int(RECORD_VERSION),
            Value::Text(env!("CARGO_PKG_VERSION").to_owned()),
            text(&self.image_ref),
            text(&self.image_digest),
            text(&self.image_manifest_digest),
            text(&self.image_config_digest),
            text(&self.image_tree_digest),
            text(&self.image_checks),
            text(&self.ch_storage),
            text(&self.commit),
            text(&self.runfile_path),
            text(&self.runfile_sha256),
            text(&self.runfile_digest),
            self.container_run_commands.map_or(Value::Null, Value::Blob),
            self.exit_code.map_or(Value::Null, Value::Int),
            self.signal.map_or(Value::Null, Value::Int),
            self.duration_ms.map_or(Value::Null, Value::Int),
            text(&self.stdout_sha256),
            text(&self.stderr_sha256),
            text(&self.steps),
            text(&self.outputs),
            text(&self.passenv),
            text(&self.compat_check),
            text(&self.compat_result),
            id.map_or(Value::Null, |i| Value::Int(i.uid.into())),
            id.map_or(Value::Null, |i| Value::Int(i.effective_gid.into())),
            id.map_or(Value::Null, |i| Value::Text(i.moniker.clone())),
            id.map_or(Value::Null, |i| Value::Text(i.gid_list.clone())),
            id.map_or(Value::Null, |i| Value::Text(i.hostname.clone())),
            k.map_or(Value::Null, |k| text(&k.0)),
            k.map_or(Value::Null, |k| text(&k.1)),
            k.map_or(Value::Null, |k| Value::Text(k.2.clone())),
        ]
    }

    /// A one-row `runs` table.
    pub fn to_table(&self) -> Result<Table> {
        let mut t = Table::with_schema(RUNS, RUNS_SCHEMA)?;
        t.push_row(self.values())?;
        Ok(t)
    }
}

/// Reads one column of a `runs` row as text.
pub fn text_at(table: &Table, row: usize, column: &str) -> Option<String> {
    table
        .get(row, column)
        .and_then(Value::as_text)
        .map(str::to_owned)
}

/// An empty `runs` table with the full schema (for drivers' schema checks).
pub fn empty_runs() -> Result<Table> {
    Table::with_schema(RUNS, RUNS_SCHEMA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_fills_every_column() {
        let row = RunRow {
            run_id: new_run_id(),
            function: "consumer",
            recorded_at: Some(Timestamp::now()),
            commit: Some("abc".into()),
            identity: Some(Identity::current()),
            ..RunRow::default()
        };
        let t = row.to_table().unwrap();
        assert_eq!(t.num_columns(), RUNS_SCHEMA.len());
        assert_eq!(t.num_rows(), 1);
        assert_eq!(text_at(&t, 0, "commit").as_deref(), Some("abc"));
        assert_eq!(t.get(0, "exit_code"), Some(&Value::Null));
        assert_eq!(
            t.get(0, "record_version"),
            Some(&Value::Int(RECORD_VERSION))
        );
    }

    #[test]
    fn run_ids_are_ulids_and_unique() {
        let a = new_run_id();
        let b = new_run_id();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
