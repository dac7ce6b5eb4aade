//! Pre-flight checks (RUNFILE.md §9 step 4): what would make `ch-run` fail
//! with an unhelpful message, or a replay reach outside its directory,
//! checked before any step runs.
//!
//! * [`host_checks`] — needs no image, so `dsi record` runs it too: a BIND
//!   source missing on the host (E406), or a relative one that leaves the
//!   context directory through a symlink (E406, naming the link).
//! * [`image_checks`] — against the unpacked image, which `dsi record` has
//!   too: WORKDIR missing in the image (E408), a bind destination missing
//!   in it (E407).
//! * [`preflight()`] — all of these before a replay, and PASSENV without
//!   `ch-run --feature=extglob` (E411).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::runfile::{Diagnostic, Runfile};

use super::RunOptions;
use super::beneath::{Beneath, resolve_beneath};

/// Looks `path` (absolute) up in the image rooted at `root` as the container
/// sees it: symbolic links are followed with `root` as `/` (an absolute
/// target, or `..` above the top, never leaves the image). `None` if it does
/// not exist or a link loop exceeds 40 links.
pub(crate) fn image_lookup(root: &Path, path: &str) -> Option<std::fs::Metadata> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::path::Component;

    let mut todo: VecDeque<OsString> = VecDeque::new();
    let push_front = |todo: &mut VecDeque<OsString>, p: &Path| {
        for c in p.components().rev() {
            match c {
                Component::Normal(n) => todo.push_front(n.to_owned()),
                Component::ParentDir => todo.push_front("..".into()),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
    };
    push_front(&mut todo, Path::new(path));
    let mut here = root.to_path_buf();
    let mut depth = 0usize;
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            if depth > 0 {
                here.pop();
                depth -= 1;
            }
            continue;
        }
        let next = here.join(&c);
        let meta = std::fs::symlink_metadata(&next).ok()?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return None;
            }
            let target = std::fs::read_link(&next).ok()?;
            if target.is_absolute() {
                here = root.to_path_buf();
                depth = 0;
            }
            push_front(&mut todo, &target);
        } else {
            here = next;
            depth += 1;
        }
    }
    std::fs::metadata(&here).ok()
}

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

/// The checks against the unpacked image: every WORKDIR (E408) and every
/// bind destination (E407) exists in it.
pub fn image_checks(runfile: &Runfile, image_dir: &Path) -> Result<(), Diagnostic> {
    workdirs_exist(runfile, image_dir)?;
    bind_destinations_exist(runfile, image_dir)
}

fn workdirs_exist(runfile: &Runfile, image_dir: &Path) -> Result<(), Diagnostic> {
    for w in runfile.workdirs() {
        if !image_lookup(image_dir, &w.path).is_some_and(|m| m.is_dir()) {
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

fn bind_destinations_exist(runfile: &Runfile, image_dir: &Path) -> Result<(), Diagnostic> {
    for b in runfile.binds() {
        if image_lookup(image_dir, &b.dst).is_none() {
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
pub fn preflight(runfile: &Runfile, image_dir: &Path, opts: &RunOptions) -> Result<(), Diagnostic> {
    workdirs_exist(runfile, image_dir)?;
    host_checks(runfile, &opts.context_dir)?;
    bind_destinations_exist(runfile, image_dir)?;
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
    fn image_lookup_follows_links_inside_the_image() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/share")).unwrap();
        std::fs::write(r.join("usr/share/f"), "x").unwrap();
        // Absolute and escaping links resolve inside the image, not on the host.
        std::os::unix::fs::symlink("/usr/share", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../usr", r.join("up")).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("hostetc")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        assert!(image_lookup(r, "/abs").unwrap().is_dir());
        assert!(image_lookup(r, "/abs/f").unwrap().is_file());
        assert!(image_lookup(r, "/up/share/f").unwrap().is_file());
        assert!(image_lookup(r, "/usr/../usr/share").unwrap().is_dir());
        assert!(image_lookup(r, "/hostetc").is_none());
        assert!(image_lookup(r, "/loop").is_none());
        assert!(image_lookup(r, "/nonexistent").is_none());
        assert!(image_lookup(r, "/").unwrap().is_dir());
    }

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
