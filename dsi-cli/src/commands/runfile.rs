//! `dsi runfile check FILE`: the Runfile linter.
//!
//! Prints the spec's diagnostics (`FILE:LINE:COL: error: CODE: message`,
//! then `  hint: …`), exits 65 on a static error; warnings do not change the
//! exit status. `--json` prints `{canonical, digest, warnings, steps: [{line,
//! kind, argv}]}` with each step's ch-run argv for `--context` (default: the
//! Runfile's directory) and `--storage`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use dsi_plugins_charliecloud::runfile::{self, ArgvContext, Diagnostic, StepKind};
use serde_json::json;

use crate::cli::{GlobalArgs, RunfileCheckArgs, RunfilePinArgs};
use crate::exit::{Diagnosed, ExitStatus};
use crate::output::outln;
use crate::output::print_json;

/// A diagnostic as JSON.
pub(crate) fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    json!({
        "line": d.line,
        "col": d.col,
        "severity": d.severity.as_str(),
        "code": d.code,
        "message": d.message,
        "hint": d.hint,
    })
}

/// `dsi runfile check`.
pub(crate) fn check(global: &GlobalArgs, args: &RunfileCheckArgs) -> anyhow::Result<ExitStatus> {
    let name = args.file.display().to_string();
    let source = dsi_plugins_charliecloud::runfile_source::read_from_disk(&args.file)?;
    let parsed = match runfile::parse(&source) {
        Ok(p) => p,
        Err(d) => {
            if global.json {
                print_json(&json!({"error": diagnostic_json(&d)}))?;
            }
            return Err(Diagnosed::new(d.render(&name), ExitStatus::DataErr).into());
        }
    };
    for w in &parsed.warnings {
        eprintln!("{}", w.render(&name));
    }
    let rf = &parsed.runfile;
    if global.json {
        let context = match &args.context {
            Some(c) => c.clone(),
            None => std::path::absolute(&args.file)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from(".")),
        };
        let mut ctx = ArgvContext::new(context);
        if let Some(s) = &args.storage {
            ctx = ctx.with_storage(s);
        }
        let steps: Vec<serde_json::Value> = rf
            .steps()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({
                    "line": s.line,
                    "kind": match s.kind { StepKind::Run => "run", StepKind::Cmd => "cmd" },
                    "argv": rf.to_ch_run_argv(i, &ctx),
                })
            })
            .collect();
        print_json(&json!({
            "canonical": rf.canonical(),
            "digest": rf.digest(),
            "warnings": parsed.warnings.iter().map(diagnostic_json).collect::<Vec<_>>(),
            "steps": steps, // not a runs column
        }))?;
    } else {
        let n = rf.steps().len();
        outln!(
            "{name}: valid Runfile, {n} step{}, image {}, {}",
            if n == 1 { "" } else { "s" },
            rf.image().name(),
            rf.digest()
        )?;
    }
    Ok(ExitStatus::Ok)
}

/// `dsi runfile pin IMAGE`: the tree digest of an image in storage, as the
/// FROM line of a Runfile (the local form needs it; the registry form may add it).
pub(crate) fn pin(global: &GlobalArgs, args: &RunfilePinArgs) -> anyhow::Result<ExitStatus> {
    use dsi_plugins_charliecloud::image::{Storage, rftree};
    use dsi_plugins_charliecloud::settings::user_name;
    let storage = match &args.ch_storage {
        Some(s) => Storage::new(s),
        None => Storage::from_env(&user_name()),
    };
    let dir = storage.img_dir(&runfile::for_path(&args.image));
    if !dir.is_dir() {
        anyhow::bail!(dsi_core::Error::not_found_in(
            "image",
            args.image.clone(),
            format!("ch-image storage {}", storage.root().display())
        ));
    }
    let tree =
        rftree(&dir).with_context(|| format!("computing the tree digest of {}", dir.display()))?;
    let from = format!("FROM --tree={tree} {}", args.image);
    if global.json {
        print_json(&crate::json::Pinned {
            image: args.image.clone(),
            tree,
            from,
        })?;
    } else {
        outln!("{from}")?;
    }
    Ok(ExitStatus::Ok)
}
