//! The Python peers: LANL's Python DSI (`dsi-workflow` on PyPI) and the
//! floors (`sqlite3` from the standard library, pyarrow).
//!
//! Installed from PyPI into a venv under `target/bench-pydsi` (created with
//! `python3 -m venv`, reused while its stamp file lists the same pinned
//! packages), apart from DataLad's venv so that neither's dependencies move
//! the other's. Every Python peer is one mode of one script, [`SCRIPT`],
//! written to `target/bench-data/pydsi/bench.py` on each run:
//!
//! * `capture DB` — what a user of the Python DSI writes to capture the
//!   environment (dsi-workflow 1.2.8 API): a `Terminal()`,
//!   `load_module('plugin', 'Hostname', 'reader')` and
//!   `load_module('plugin', 'SystemKernel', 'reader')` (readers are run as
//!   they are loaded), `load_module('backend', 'Sqlite', 'back-write',
//!   filename=DB)`, `transload()`, `artifact_handler(interaction_type=
//!   'ingest')` (1.2 renamed 1.0's `put` to `ingest` and `back-end` to
//!   `back-write`), `close()`;
//! * `capture-loop DB N` — the same N times in one process (a new
//!   `Terminal` each time; imports paid once), printing each capture's
//!   seconds;
//! * `dsi-csv CSV DB` — the `Csv` reader (pandas) into the `Sqlite` back-end,
//!   table `t`; `dsi-query DB SQL` — a `back-read` `Sqlite` back-end and
//!   `artifact_handler('query', query=SQL)` (a pandas DataFrame);
//! * floors: `sqlite-load CSV DB` (`csv` + `executemany` into a typed table,
//!   one transaction), `sqlite-query DB SQL` (`fetchall`), `arrow-load CSV
//!   OUT` (`pyarrow.csv.read_csv` + `pyarrow.parquet.write_table`, zstd),
//!   `arrow-count FILE` (a filtered `read_table` of one column),
//!   `arrow-read FILE` (`read_table`, every column);
//! * `sqlite-stats DB` — each table's rows and mean `kernel_info` length.
//!
//! The Python DSI's `SystemKernel` runs shell commands and gives up when one
//! writes to stderr: on a machine without `/boot/config-$(uname -r)` or
//! without loadable modules (`/proc/modules`, `lsmod`), such as this VM, it
//! fails. The script then replaces those two collectors with ones that
//! record the section as unavailable — what dsi's `system-kernel` plugin
//! records there — and says so in [`Ready::patches`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::{bench_data, target_dir};
use crate::util::run as sh;

/// Versions installed into a new venv: a peer must not change under the
/// report without saying so (the report prints what ran).
const PIP_PACKAGES: &[&str] = &["dsi-workflow==1.2.8", "pyarrow==26.0.1"];

/// The Python peers' script (see the module documentation for its modes).
pub(super) const SCRIPT: &str = r#"
import os, shutil, sys, time

def patch_system_kernel():
    """Lets SystemKernel run where its shell commands cannot (see bench docs)."""
    from dsi.plugins import env
    patched = []
    rel = os.uname().release
    if not os.path.exists(f"/boot/config-{rel}"):
        env.SystemKernel.get_kernel_ct_config = lambda self: {
            "compile_config": f"unavailable: /boot/config-{rel}: No such file or directory"}
        patched.append("compile-time config (/boot/config-RELEASE missing)")
    if not os.path.exists("/proc/modules") or shutil.which("lsmod") is None:
        env.SystemKernel.get_kernel_mod_config = lambda self: {
            "modules": "unavailable: no /proc/modules or lsmod"}
        patched.append("modules (no /proc/modules or lsmod)")
    return patched

def capture(db):
    from dsi.core import Terminal
    t = Terminal()
    t.load_module('plugin', 'Hostname', 'reader')
    t.load_module('plugin', 'SystemKernel', 'reader')
    t.load_module('backend', 'Sqlite', 'back-write', filename=db)
    t.transload()
    t.artifact_handler(interaction_type='ingest')
    t.close()

def quiet(f, *args):
    """Runs f with stdout to /dev/null (the DSI prints a line per module)."""
    saved = sys.stdout
    with open(os.devnull, "w") as null:
        sys.stdout = null
        try:
            return f(*args)
        finally:
            sys.stdout = saved

def csv_types(header):
    kinds = {"c0": int, "c1": int, "c2": float, "c3": float, "c4": str,
             "c5": str, "c6": int, "c7": float, "c8": str, "c9": int}
    return [kinds[h] for h in header]

def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "versions":
        import importlib.metadata as md, sqlite3, platform
        print(f"dsi-workflow {md.version('dsi-workflow')}, pandas {md.version('pandas')}, "
              f"pyarrow {md.version('pyarrow')}, CPython {platform.python_version()} "
              f"(SQLite {sqlite3.sqlite_version})")
        print("; ".join(patch_system_kernel()) or "none")
    elif mode == "capture":
        patch_system_kernel()
        quiet(capture, args[0])
    elif mode == "capture-loop":
        patch_system_kernel()
        import dsi.core  # imports paid once, outside the timed captures
        times = []
        for _ in range(int(args[1])):
            t0 = time.perf_counter()
            quiet(capture, args[0])
            times.append(time.perf_counter() - t0)
        print(" ".join(f"{s:.6f}" for s in times))
    elif mode == "dsi-csv":
        from dsi.core import Terminal
        def load():
            t = Terminal()
            t.load_module('plugin', 'Csv', 'reader', filenames=args[0], table_name='t')
            t.load_module('backend', 'Sqlite', 'back-write', filename=args[1])
            t.transload()
            t.artifact_handler(interaction_type='ingest')
            t.close()
        quiet(load)
    elif mode == "dsi-query":
        from dsi.core import Terminal
        def query():
            t = Terminal()
            t.load_module('backend', 'Sqlite', 'back-read', filename=args[0])
            df = t.artifact_handler(interaction_type='query', query=args[1])
            t.close()
            return df
        df = quiet(query)
        print(len(df), df.iloc[0, 0] if len(df.columns) == 1 else "")
    elif mode == "sqlite-load":
        import csv, sqlite3
        con = sqlite3.connect(args[1])
        with open(args[0], newline="") as f:
            r = csv.reader(f)
            header = next(r)
            types = csv_types(header)
            sqltype = {int: "INTEGER", float: "REAL", str: "TEXT"}
            cols = ", ".join(f"{h} {sqltype[k]}" for h, k in zip(header, types))
            con.execute(f"CREATE TABLE t ({cols})")
            marks = ", ".join("?" for _ in header)
            rows = ([k(v) for k, v in zip(types, row)] for row in r)
            with con:
                con.executemany(f"INSERT INTO t VALUES ({marks})", rows)
        con.close()
    elif mode == "sqlite-query":
        import sqlite3
        con = sqlite3.connect(args[0])
        rows = con.execute(args[1]).fetchall()
        print(len(rows), rows[0][0] if len(rows[0]) == 1 else "")
    elif mode == "sqlite-stats":
        import sqlite3
        con = sqlite3.connect(args[0])
        for (name,) in con.execute("SELECT name FROM sqlite_schema WHERE type = 'table' "
                                   "AND name NOT LIKE 'sqlite%' AND name NOT LIKE '\\_%' ESCAPE '\\' "
                                   "ORDER BY name").fetchall():
            rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{name}")')]
            k = con.execute(f'SELECT avg(length(kernel_info)) FROM "{name}"').fetchone()[0] \
                if "kernel_info" in cols else None
            print(name, rows, int(k) if k is not None else "-")
    elif mode == "arrow-load":
        import pyarrow.csv, pyarrow.parquet
        table = pyarrow.csv.read_csv(args[0])
        pyarrow.parquet.write_table(table, args[1], compression="zstd")
    elif mode == "arrow-count":
        import pyarrow.parquet
        t = pyarrow.parquet.read_table(args[0], columns=["c3"], filters=[("c3", ">", 0.5)])
        print(t.num_rows)
    elif mode == "arrow-read":
        import pyarrow.parquet
        t = pyarrow.parquet.read_table(args[0])
        print(t.num_rows)
    else:
        sys.exit(f"unknown mode {mode}")

main()
"#;

/// The venv with the Python DSI and pyarrow, and the script.
#[derive(Debug)]
pub(super) struct Ready {
    venv_bin: PathBuf,
    script: PathBuf,
    /// What ran: dsi-workflow, pandas, pyarrow, CPython and SQLite versions.
    pub(super) versions: String,
    /// The `SystemKernel` collectors replaced on this machine, or `none`.
    pub(super) patches: String,
}

/// The Python peers, set up on first use.
#[derive(Debug, Default)]
pub(super) struct PyDsi {
    ready: Option<Ready>,
}

impl PyDsi {
    /// The venv and the script, made on first call.
    pub(super) fn ready(&mut self) -> anyhow::Result<&Ready> {
        if self.ready.is_none() {
            self.ready = Some(Ready::new()?);
        }
        Ok(self.ready.as_ref().expect("just set"))
    }
}

fn venv() -> PathBuf {
    target_dir().join("bench-pydsi")
}

/// Creates (or reuses) the venv; returns its `bin` directory.
fn ensure_venv() -> anyhow::Result<PathBuf> {
    let venv = venv();
    let bin = venv.join("bin");
    let stamp = venv.join("dsi-bench-packages.txt");
    let wanted = PIP_PACKAGES.join("\n");
    if bin.join("dsi").exists() && fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(bin);
    }
    eprintln!(
        "xtask: bench: installing the Python DSI and pyarrow into {} (once)",
        venv.display()
    );
    if !bin.join("pip").exists() {
        super::datalad::new_venv(&venv)?;
    }
    sh(Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(PIP_PACKAGES))?;
    if !bin.join("dsi").exists() {
        bail!("{}: dsi-workflow installed no `dsi` script", venv.display());
    }
    fs::write(&stamp, wanted)?;
    Ok(bin)
}

impl Ready {
    fn new() -> anyhow::Result<Ready> {
        let venv_bin = ensure_venv()?;
        let dir = bench_data().join("pydsi");
        fs::create_dir_all(&dir)?;
        let script = dir.join("bench.py");
        fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
        let mut ready = Ready {
            venv_bin,
            script,
            versions: String::new(),
            patches: String::new(),
        };
        let out = ready
            .script(&["versions"])
            .output()
            .context("running the Python peers' script")?;
        if !out.status.success() {
            bail!(
                "the Python peers' script failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        ready.versions = lines.next().unwrap_or("unknown").to_owned();
        ready.patches = lines.next().unwrap_or("none").to_owned();
        Ok(ready)
    }

    /// The venv's interpreter.
    pub(super) fn python(&self) -> Command {
        Command::new(self.venv_bin.join("python"))
    }

    /// `python bench.py ARGS`.
    pub(super) fn script(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.venv_bin.join("python"));
        c.arg(&self.script).args(args);
        c
    }

    /// `python bench.py MODE` with path arguments.
    pub(super) fn script_paths(&self, mode: &str, paths: &[&Path], extra: &[&str]) -> Command {
        let mut c = Command::new(self.venv_bin.join("python"));
        c.arg(&self.script).arg(mode).args(paths).args(extra);
        c
    }

    /// The Python DSI's console script (`dsi = dsi.cli:main`).
    pub(super) fn dsi(&self) -> PathBuf {
        self.venv_bin.join("dsi")
    }
}
