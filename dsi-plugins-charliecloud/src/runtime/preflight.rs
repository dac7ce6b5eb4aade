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
//! * [`preflight()`] — all of these before a replay, PASSENV without
//!   `ch-run --feature=extglob` (E411), the launchers (E416, E417) and
//!   stale `ch-run --join` files (E421, [`super::join_leftovers`]).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use crate::image::{Found, ImageView};
use crate::runfile::{Diagnostic, Runfile};

use super::RunOptions;
use super::beneath::{Beneath, resolve_beneath};

/// Whether `ch-run` supports `--feature=extglob` (needed by PASSENV).
///
/// Asked once per (`ch_run`, `user`) in a process: the answer is kept, and
/// [`prefetch_extglob`] may have asked already in the background.
pub fn ch_run_has_extglob(ch_run: &str, user: &str) -> bool {
    *extglob_answer(ch_run, user).get_or_init(|| probe_extglob(ch_run, user))
}

/// Starts asking `ch_run --feature=extglob` in the background, so that the
/// pre-flight check of a PASSENV Runfile does not wait for the process.
pub fn prefetch_extglob(ch_run: &str, user: &str) {
    let answer = extglob_answer(ch_run, user);
    if answer.get().is_none() {
        let (ch_run, user) = (ch_run.to_owned(), user.to_owned());
        std::thread::spawn(move || {
            answer.get_or_init(|| probe_extglob(&ch_run, &user));
        });
    }
}

/// The shared answer for (`ch_run`, `user`), set by whoever asks first.
fn extglob_answer(ch_run: &str, user: &str) -> Arc<OnceLock<bool>> {
    type Answers = Mutex<HashMap<(String, String), Arc<OnceLock<bool>>>>;
    static ANSWERS: OnceLock<Answers> = OnceLock::new();
    let mut answers = ANSWERS
        .get_or_init(Answers::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(
        answers
            .entry((ch_run.to_owned(), user.to_owned()))
            .or_default(),
    )
}

/// The answer of the `ch_run` found on PATH: from the digest cache when it
/// holds one for that binary (by device, inode, size and times), else asked
/// and kept.
fn probe_extglob(ch_run: &str, user: &str) -> bool {
    use crate::image::digest_cache::{DigestCache, DigestKind, FileKey};
    let key = super::find_program(ch_run)
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| FileKey::of(&m));
    let cache = DigestCache::from_env();
    if let (Some(k), Some(c)) = (&key, &cache)
        && let Some(answer) = c.get(k, DigestKind::ChRunExtglob)
    {
        return answer == "yes";
    }
    let answer = ask_extglob(ch_run, user);
    if let (Some(k), Some(c)) = (&key, &cache) {
        c.put(
            k,
            DigestKind::ChRunExtglob,
            if answer { "yes" } else { "no" },
        );
    }
    answer
}

fn ask_extglob(ch_run: &str, user: &str) -> bool {
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

/// The launchers of the Runfile's `LAUNCH` lines (RUNFILE-1.1 §4.3): L0
/// not on `PATH` is E416; `srun` with `SLURM_JOB_ID` unset (`slurm_job_id`
/// is its value here) is E417, because every step of a replay must run in
/// one allocation. Checked at each LAUNCH a step uses, in file order.
pub fn launch_checks(runfile: &Runfile, slurm_job_id: Option<&str>) -> Result<(), Diagnostic> {
    let mut seen = std::collections::BTreeSet::new();
    for l in runfile.steps().iter().filter_map(|s| s.launch.as_ref()) {
        if !seen.insert(l.line) {
            continue;
        }
        let l0 = &l.argv[0];
        if super::find_program(l0).is_none() {
            return Err(Diagnostic::error(
                l.line,
                l.col,
                "E416",
                format!("launcher not found on PATH: {l0}"),
            ));
        }
        let base = l0.rsplit('/').next().unwrap_or(l0);
        if base == "srun" && slurm_job_id.is_none_or(str::is_empty) {
            return Err(Diagnostic::error(
                l.line,
                l.col,
                "E417",
                "srun needs a Slurm allocation (SLURM_JOB_ID is not set)",
            )
            .with_hint("run inside salloc/sbatch, or use dsi replay --slurm"));
        }
    }
    Ok(())
}

/// Pre-flight checks (RUNFILE.md §9 step 4, RUNFILE-1.1 §4.3) against the
/// image, in the order E408, E406, E407, E411, then the launchers (E416,
/// E417) and the `--join` leftovers in `/dev/shm` (E421).
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
    launch_checks(runfile, std::env::var("SLURM_JOB_ID").ok().as_deref())?;
    super::join_leftovers::check(runfile, Path::new(super::join_leftovers::SHM_DIR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchers_are_found_on_path_and_srun_needs_an_allocation() {
        let rf = |launch: &str| {
            Runfile::parse_str(&format!(
                "FROM /img.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6\nPASSENV SLURM_*\n{launch}\nCMD true\n"
            ))
            .unwrap()
        };
        let e = launch_checks(&rf(r#"LAUNCH ["mpiexec.hydra-not-here"]"#), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "3:1: error: E416: launcher not found on PATH: mpiexec.hydra-not-here"
        );
        let e = launch_checks(&rf(r#"LAUNCH ["/bin/true"]"#), None);
        assert!(e.is_ok(), "{e:?}");
        // srun as an absolute path, to test E417 wherever srun is installed.
        let dir = tempfile::tempdir().unwrap();
        let srun = dir.path().join("srun");
        std::fs::write(&srun, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&srun, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let l = format!(r#"LAUNCH ["{}", "-n", "2"]"#, srun.display());
        let e = launch_checks(&rf(&l), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "3:1: error: E417: srun needs a Slurm allocation (SLURM_JOB_ID is not set)"
        );
        assert!(launch_checks(&rf(&l), Some("42")).is_ok());
        // LAUNCH [] clears it: nothing to check.
        assert!(launch_checks(&rf(r#"LAUNCH []"#), None).is_ok());
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
