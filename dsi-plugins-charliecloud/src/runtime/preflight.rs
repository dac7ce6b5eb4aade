//! Pre-flight checks (RUNFILE.md §9 step 4): what would make `ch-run` fail
//! with an unhelpful message, or a replay reach outside its directory,
//! checked before any step runs.
//!
//! * [`host_checks`] — needs no image, so `dsi record` runs it too: a BIND
//!   source missing on the host (E406), or a relative one that leaves the
//!   context directory through a symlink (E406, naming the link).
//! * [`image_checks`] — against the image's tree ([`ImageView`]: a directory
//!   or a SquashFS file), which `dsi record` has too: WORKDIR missing in the image (E408), a bind destination missing
//!   in it (E407).
//! * [`preflight()`] — all of these before a replay, and PASSENV without
//!   `ch-run --feature=extglob` (E411).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::image::{Found, ImageView};
use crate::runfile::{Diagnostic, Runfile};

use super::RunOptions;
use super::beneath::{Beneath, resolve_beneath};

/// Whether `ch-run` supports `--feature=extglob` (needed by PASSENV).
pub fn ch_run_has_extglob(ch_run: &str, user: &str) -> bool {
    Command::new(ch_run)
        .arg("--feature=extglob")
        .env("USER", user)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The checks that need only the host and the context directory.
pub fn host_checks(runfile: &Runfile, context_dir: &Path) -> Result<(), Diagnostic> {
    for b in runfile.binds() {
        let error = |message: String| Diagnostic::error(b.line, b.col, "E406", message);
        if b.src.starts_with('/') {
            // An absolute source is the author's request (RUNFILE.md §5).
            if !Path::new(&b.src).exists() {
                return Err(error(format!("bind source does not exist: {}", b.src)));
            }
            continue;
        }
        match resolve_beneath(context_dir, Path::new(&b.src)) {
            Beneath::Inside(p) if p.exists() => {}
            Beneath::Inside(_) => {
                return Err(error(format!(
                    "bind source does not exist: {}",
                    b.abs_src(context_dir)
                )));
            }
            Beneath::Escapes { link, target } => {
                return Err(error(format!(
                    "bind source {} leaves the context directory: {} is a symlink to {}",
                    b.src,
                    link.display(),
                    target.display()
                )));
            }
            Beneath::Invalid(why) => {
                return Err(error(format!("bind source {}: {why}", b.src)));
            }
        }
    }
    Ok(())
}

/// Whether [`image_checks`] has anything to look up in the image (a
/// WORKDIR or a BIND): a SquashFS image is opened only then.
pub fn image_lookups_needed(runfile: &Runfile) -> bool {
    !runfile.workdirs().is_empty() || !runfile.binds().is_empty()
}

/// The checks against the unpacked image: every WORKDIR (E408) and every
/// bind destination (E407) exists in it.
pub fn image_checks(runfile: &Runfile, image: ImageView<'_>) -> Result<(), Diagnostic> {
    workdirs_exist(runfile, image)?;
    bind_destinations_exist(runfile, image)
}

fn workdirs_exist(runfile: &Runfile, image: ImageView<'_>) -> Result<(), Diagnostic> {
    for w in runfile.workdirs() {
        if image.lookup(&w.path) != Some(Found::Dir) {
            return Err(Diagnostic::error(
                w.line,
                w.col,
                "E408",
                format!("WORKDIR {} does not exist in the image", w.path),
            ));
        }
    }
    Ok(())
}

fn bind_destinations_exist(runfile: &Runfile, image: ImageView<'_>) -> Result<(), Diagnostic> {
    for b in runfile.binds() {
        if image.lookup(&b.dst).is_none() {
            return Err(Diagnostic::error(
                b.line,
                b.col,
                "E407",
                format!("bind destination does not exist in the image: {}", b.dst),
            ));
        }
    }
    Ok(())
}

/// Pre-flight checks (RUNFILE.md §9 step 4) against the unpacked image, in
/// the order E408, E406, E407, E411.
pub fn preflight(
    runfile: &Runfile,
    image: ImageView<'_>,
    opts: &RunOptions,
) -> Result<(), Diagnostic> {
    workdirs_exist(runfile, image)?;
    host_checks(runfile, &opts.context_dir)?;
    bind_destinations_exist(runfile, image)?;
    if let Some(p) = runfile.passenv().first()
        && !ch_run_has_extglob(&opts.ch_run, &opts.user)
    {
        return Err(Diagnostic::error(
            p.line,
            p.col,
            "E411",
            format!(
                "PASSENV needs ch-run --feature=extglob, which {} lacks",
                opts.ch_run
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_sources_that_leave_through_a_link_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("data")).unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("inputs")).unwrap();
        let rf = |src: &str| {
            Runfile::parse_str(&format!(
                "FROM 127.0.0.1:5000/x@sha256:14d210e7a9e06824ac3ec275952f8e625fd2f4d91e107fa4cab109663d31b155\nBIND {src}:/mnt/0\nCMD true\n"
            ))
            .unwrap()
        };
        assert!(host_checks(&rf("data"), d.path()).is_ok());
        let e = host_checks(&rf("inputs"), d.path()).unwrap_err();
        assert_eq!(e.code, "E406");
        assert_eq!(
            e.message,
            "bind source inputs leaves the context directory: inputs is a symlink to /etc"
        );
        let e = host_checks(&rf("missing"), d.path()).unwrap_err();
        assert!(
            e.message.starts_with("bind source does not exist: "),
            "{}",
            e.message
        );
    }
}
