//! The Python environment tests use to check dsi's output with engines and
//! validators no one here wrote: the Delta readers (`deltalake`, DuckDB with
//! its `delta` extension — a package pinned to its DuckDB release, since
//! extensions cannot be downloaded at run time —, Polars, DataFusion) read
//! the parquet and s3 drivers' Delta tables, pyarrow reads Parquet,
//! `rocrate` reads the RO-Crate export, `nbformat`/`nbclient` validate and
//! execute the generated notebook, `jsonschema` validates every `--json`
//! document against its checked-in schema, and the Python DSI
//! (`dsi-workflow`) opens dsi's SQLite stores.
//!
//! A venv under `target/py-venv`, created with the `python3` on PATH and
//! reused while its package list is unchanged. Tests find its interpreter in
//! `DSI_TEST_PYTHON`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::util::{project_root, run as sh};

/// The packages, pinned loosely to versions with wheels for CPython 3.11.
pub(crate) const PACKAGES: &[&str] = &[
    "pyarrow>=16,<24",
    "duckdb==1.5.5",
    "duckdb-extension-delta==1.5.5",
    "deltalake>=1.1,<2",
    "polars>=1.20,<3",
    "datafusion>=50,<56",
    "pandas>=2.2,<3",
    "rocrate>=0.11,<1",
    "nbformat>=5.10,<6",
    "nbclient>=0.10,<1",
    "ipykernel>=6.29,<8",
    "jsonschema>=4.20,<5",
    "dsi-workflow==1.2.8",
];

/// Creates (or reuses) the venv and returns its interpreter.
pub(crate) fn ensure() -> anyhow::Result<PathBuf> {
    let venv = project_root().join("target/py-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("dsi-packages.txt");
    let wanted = PACKAGES.join("\n");
    if python.exists() && fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(python);
    }
    let base = std::env::var("DSI_PYTHON").unwrap_or_else(|_| "python3".into());
    sh(Command::new(&base)
        .args(["-m", "venv", "--clear"])
        .arg(&venv))
    .with_context(|| {
        format!("creating a venv with {base} (set DSI_PYTHON to another interpreter)")
    })?;
    sh(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES))?;
    // The notebook test executes with this venv's kernel.
    sh(Command::new(&python).args([
        "-m",
        "ipykernel",
        "install",
        "--sys-prefix",
        "--name",
        "python3",
    ]))?;
    fs::write(&stamp, wanted)?;
    Ok(python)
}
