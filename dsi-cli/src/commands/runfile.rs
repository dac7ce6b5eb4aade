//! `dsi runfile check FILE`: the Runfile linter.
//!
//! Prints the spec's diagnostics (`FILE:LINE:COL: error: CODE: message`,
//! then `  hint: …`), exits 65 on a static error; warnings do not change the
//! exit status. `--json` prints the library's static report
//! (`runfile::Report`: canonical form, digest, warnings, image, launchers,
//! inputs, outputs, metrics, expectations and each step's ch-run argv for
//! `--context`, default the Runfile's directory, and `--storage`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use dsi_plugins_charliecloud::runfile::{self, ArgvContext, Report};

use crate::cli::{GlobalArgs, RunfileCheckArgs, RunfilePinArgs};
use crate::exit::{Diagnosed, ExitStatus};
use crate::output::{outln, print_json};

/// `dsi runfile check`.
pub(crate) fn check(global: &GlobalArgs, args: &RunfileCheckArgs) -> anyhow::Result<ExitStatus> {
    let name = args.file.display().to_string();
    let source = dsi_plugins_charliecloud::runfile_source::read_from_disk(&args.file)?;
    let parsed = runfile::parse(&source)
        .map_err(|d| Diagnosed::new(d.render(&name), ExitStatus::DataErr))?;
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
        print_json(&Report::new(&parsed, &ctx))?;
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

/// A pin's diagnostic as one error line (and its hint), with `status`.
fn diagnosed(d: &dsi_plugins_charliecloud::runfile::Diagnostic, status: ExitStatus) -> Diagnosed {
    let mut text = format!("error: {}: {}", d.code, d.message);
    if let Some(h) = &d.hint {
        text.push_str(&format!("\nhint: {h}"));
    }
    Diagnosed::new(text, status)
}

/// `dsi runfile pin IMAGE`: the tree digest of an image in storage, as the
/// FROM line of a Runfile (the local form needs it; the registry form may add it).
pub(crate) fn pin(global: &GlobalArgs, args: &RunfilePinArgs) -> anyhow::Result<ExitStatus> {
    use dsi_plugins_charliecloud::image::{self, Storage, rftree};
    use dsi_plugins_charliecloud::settings::user_name;
    let storage = match &args.ch_storage {
        Some(s) => Storage::new(s),
        None => Storage::from_env(&user_name()),
    };
    if args.image.starts_with('/') || args.image.starts_with('.') {
        let cwd = std::env::current_dir().context("the current directory")?;
        let pinned = image::path::pin_path(&args.image, &cwd, &storage).map_err(|d| {
            // A path no Runfile can name is invalid input (E2xx);
            // one that is not there, or not an image, is unavailable.
            let status = if d.code.starts_with("E2") {
                ExitStatus::DataErr
            } else {
                ExitStatus::Unavailable
            };
            diagnosed(&d, status)
        })?;
        if global.json {
            print_json(&crate::json::Pinned {
                image: args.image.clone(),
                tree: Some(pinned.tree),
                digest: pinned.file_digest,
                from: pinned.from,
            })?;
        } else {
            outln!("{}", pinned.from)?;
        }
        return Ok(ExitStatus::Ok);
    }
    if image::pin::is_registry_tag(&args.image) {
        let pinned = image::pin::pin_tag(
            &args.image,
            &storage,
            &image::ChImage::locate(&user_name()),
            args.arch.as_deref(),
        )
        .map_err(|d| diagnosed(&d, ExitStatus::Unavailable))?;
        if global.json {
            print_json(&crate::json::Pinned {
                image: args.image.clone(),
                tree: None,
                digest: Some(pinned.digest),
                from: pinned.from,
            })?;
        } else {
            outln!("{}", pinned.from)?;
        }
        return Ok(ExitStatus::Ok);
    }
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
            tree: Some(tree),
            digest: None,
            from,
        })?;
    } else {
        outln!("{from}")?;
    }
    Ok(ExitStatus::Ok)
}
