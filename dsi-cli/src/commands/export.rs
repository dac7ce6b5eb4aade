//! `dsi export REF --format json|prov|ro-crate [-o PATH]`: one run, in a
//! form other tools read (the library's `export`).
//!
//! `json` and `prov` go to stdout unless `-o FILE` is given; `ro-crate`
//! always writes a directory (default `./RUN_ID.crate`) and prints its path.
//! With `--json`, a command that wrote files prints `{"format", "path", "run_id"}`.

use std::path::{Path, PathBuf};

use dsi_core::{Access, Error, Stores, Timestamp};
use dsi_plugins_charliecloud::export::{self, ExportRun};
use dsi_plugins_charliecloud::find::{self, Want};

use crate::cli::{ExportArgs, ExportFormat, GlobalArgs};
use crate::exit::{ExitStatus, one_line};
use crate::json::Written;
use crate::output::{outln, print_json};
use crate::stores;

/// The parent record of a replay, if it is in a store; a warning if not.
fn parent(stores: Stores<'_>, run: &ExportRun) -> anyhow::Result<Option<ExportRun>> {
    match run.parent(stores) {
        Ok(Some(p)) => Ok(Some(p)),
        Ok(None) => {
            if let Some(p) = run.parent_id() {
                tracing::warn!("parent run {p} is not in the store: left out");
            }
            Ok(None)
        }
        Err(e) => {
            tracing::warn!("parent run is left out: {}", one_line(&e.into()));
            Ok(None)
        }
    }
}

/// Reports a written file or directory.
fn report(
    global: &GlobalArgs,
    format: ExportFormat,
    run: &ExportRun,
    path: &Path,
) -> anyhow::Result<()> {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if global.json {
        print_json(&Written {
            format: format.name().into(),
            path: shown.display().to_string(),
            run_id: Some(run.id().to_owned()),
            stores: None,
        })
    } else {
        outln!(
            "exported {} {} as {} to {}",
            run.verb(),
            run.id(),
            format.name(),
            shown.display()
        )?;
        Ok(())
    }
}

/// Prints a document, or writes it to `-o FILE` and reports that.
fn emit(
    global: &GlobalArgs,
    args: &ExportArgs,
    run: &ExportRun,
    doc: &impl serde::Serialize,
) -> anyhow::Result<ExitStatus> {
    match &args.output {
        None => print_json(doc)?,
        Some(path) => {
            let mut text = serde_json::to_vec_pretty(doc)?;
            text.push(b'\n');
            std::fs::write(path, text)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            report(global, args.format, run, path)?;
        }
    }
    Ok(ExitStatus::Ok)
}

/// `dsi export`.
pub(crate) fn run(global: &GlobalArgs, args: &ExportArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let stores = Stores::new(&drivers);
    let found = find::reference(stores, &args.run, Want::Record)?;
    let run = ExportRun::load(stores, &found, true)?;
    match args.format {
        ExportFormat::Json => emit(global, args, &run, &export::json(&run)),
        ExportFormat::Prov => {
            let parent = parent(stores, &run)?;
            emit(
                global,
                args,
                &run,
                &export::prov::document(&run, parent.as_ref()),
            )
        }
        ExportFormat::RoCrate => {
            let parent = parent(stores, &run)?;
            let dir = match &args.output {
                Some(dir) => dir.clone(),
                // The id comes from the store: it names a directory here only
                // when it cannot name one anywhere else.
                None if run
                    .id()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
                {
                    PathBuf::from(format!("{}.crate", run.id()))
                }
                None => anyhow::bail!(dsi_core::Error::InvalidData(format!(
                    "run id '{}' is not a plain file name; give the directory with -o PATH",
                    dsi_core::text::for_terminal(run.id())
                ))),
            };
            export::ro_crate::write(&dir, &run, parent.as_ref(), Timestamp::now())?;
            report(global, args.format, &run, &dir)?;
            Ok(ExitStatus::Ok)
        }
    }
}
