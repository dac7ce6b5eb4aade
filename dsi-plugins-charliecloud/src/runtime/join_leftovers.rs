//! What a `ch-run --join` peer group leaves behind in `/dev/shm`.
//!
//! The peers of a group share a POSIX semaphore and a shared-memory segment
//! named after the group's tag: `/dev/shm/sem.ch-run_sem-TAG` and
//! `/dev/shm/ch-run_shm-TAG`. The last peer to join removes them; when a
//! peer dies before the group is complete (a killed step, a rank that never
//! started) they stay. The default tag is `SLURM_STEP_ID`, which every job
//! reuses (0, 1, …), so the next job's step with the same id on that node
//! finds them and fails: it waits 30 s for the lock and gives up (`timeout
//! waiting for join lock`), or tries to join a process that is gone (`join:
//! no PID …`).
//!
//! * [`check`] — pre-flight (E421): such files of this user that no process
//!   maps, with a step id as tag, refuse a replay with a `LAUNCH --join`
//!   before anything runs, naming the files; other stale tags are warned
//!   about.
//! * [`Snapshot`] — around each `--join` step: files that appeared during
//!   the step and that no process maps once it has ended are dsi's own
//!   leftovers, and are removed.
//!
//! Only this node's `/dev/shm` can be seen: the node dsi runs on (under
//! `sbatch`, the first node of the job; on the test cluster, every node).

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::runfile::{Diagnostic, Runfile};

/// Where the semaphores and segments live.
pub const SHM_DIR: &str = "/dev/shm";

const SEM_PREFIX: &str = "sem.ch-run_sem-";
const SHM_PREFIX: &str = "ch-run_shm-";

/// The tag of a join file's name, if it is one.
fn tag(name: &str) -> Option<&str> {
    name.strip_prefix(SEM_PREFIX)
        .or_else(|| name.strip_prefix(SHM_PREFIX))
        .filter(|t| !t.is_empty())
}

/// The join files in `dir` owned by this user, sorted.
fn join_files(dir: &Path) -> BTreeSet<PathBuf> {
    let uid = rustix::process::getuid().as_raw();
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_name().to_str().and_then(tag).is_some())
        .filter(|e| e.metadata().is_ok_and(|m| m.is_file() && m.uid() == uid))
        .map(|e| e.path())
        .collect()
}

/// Every file some process maps (from `/proc/*/maps`; only this user's
/// processes can be read, which are the only ones that can open this
/// user's 0600 files).
fn mapped_files() -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.filter_map(std::result::Result::ok) {
        if !p
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(maps) = fs::read_to_string(p.path().join("maps")) else {
            continue;
        };
        for line in maps.lines() {
            // address perms offset dev inode path
            if let Some(path) = line.splitn(6, ' ').nth(5).map(str::trim_start)
                && path.starts_with('/')
            {
                out.insert(PathBuf::from(path.trim_end_matches(" (deleted)")));
            }
        }
    }
    out
}

/// The files of `candidates` no process maps.
fn unused(candidates: BTreeSet<PathBuf>) -> Vec<PathBuf> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let mapped = mapped_files();
    candidates
        .into_iter()
        .filter(|p| !mapped.contains(p))
        .collect()
}

/// The stale join files of this user in `dir`: no process maps them.
pub fn leftovers(dir: &Path) -> Vec<PathBuf> {
    unused(join_files(dir))
}

/// Whether a tag is a Slurm step id, the default tag every job reuses.
fn is_step_id(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(tag)
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
}

fn names(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Pre-flight: with a `LAUNCH --join` in the Runfile, stale join files in
/// `dir` whose tag is a step id are E421 at that LAUNCH; other stale ones
/// are warned about.
pub fn check(runfile: &Runfile, dir: &Path) -> Result<(), Diagnostic> {
    let Some(launch) = runfile
        .steps()
        .iter()
        .filter_map(|s| s.launch.as_ref())
        .find(|l| l.join)
    else {
        return Ok(());
    };
    let (blocking, other): (Vec<PathBuf>, Vec<PathBuf>) =
        leftovers(dir).into_iter().partition(|p| is_step_id(p));
    if !other.is_empty() {
        tracing::warn!(
            "stale ch-run --join files (no process uses them): {}",
            names(&other)
        );
    }
    if blocking.is_empty() {
        return Ok(());
    }
    Err(Diagnostic::error(
        launch.line,
        launch.col,
        "E421",
        format!(
            "ch-run --join leftovers would make a step of this job wait and fail: {}",
            names(&blocking)
        ),
    )
    .with_hint(format!(
        "no process uses them; remove them: rm {}",
        names(&blocking)
    )))
}

/// The join files present before a `--join` step.
#[derive(Debug)]
pub struct Snapshot {
    dir: PathBuf,
    before: BTreeSet<PathBuf>,
}

impl Snapshot {
    /// The join files of this user in `dir` now.
    pub fn take(dir: &Path) -> Self {
        Snapshot {
            dir: dir.to_owned(),
            before: join_files(dir),
        }
    }

    /// After the step has ended: removes the join files that appeared
    /// during it and that no process maps (the step's own leftovers), and
    /// returns them.
    pub fn clean_new(&self) -> Vec<PathBuf> {
        let new: BTreeSet<PathBuf> = join_files(&self.dir)
            .into_iter()
            .filter(|p| !self.before.contains(p))
            .collect();
        unused(new)
            .into_iter()
            .filter(|p| match fs::remove_file(p) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!("cannot remove {}: {e}", p.display());
                    false
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runfile(text: &str) -> Runfile {
        Runfile::parse_str(text).expect("valid Runfile")
    }

    #[test]
    fn tags_and_step_ids() {
        assert_eq!(tag("sem.ch-run_sem-7"), Some("7"));
        assert_eq!(tag("ch-run_shm-12345"), Some("12345"));
        assert_eq!(tag("ch-run_shm-"), None);
        assert_eq!(tag("pulse-shm-1"), None);
        assert!(is_step_id(Path::new("/dev/shm/ch-run_shm-0")));
        assert!(!is_step_id(Path::new("/dev/shm/ch-run_shm-mytag")));
    }

    #[test]
    fn stale_step_files_are_e420_only_with_a_join_launch() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "sem.ch-run_sem-0",
            "ch-run_shm-0",
            "ch-run_shm-mytag",
            "other",
        ] {
            fs::write(d.path().join(n), b"x").unwrap();
        }
        let joined = runfile(
            "FROM /img.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6\nLAUNCH --join [\"srun\", \"-n\", \"2\"]\nCMD [\"true\"]\n",
        );
        let e = check(&joined, d.path()).unwrap_err().to_string();
        let p = |n: &str| d.path().join(n).display().to_string();
        assert!(
            e.starts_with("2:1: error: E421: ch-run --join leftovers"),
            "{e}"
        );
        assert!(
            e.contains(&format!("{} {}", p("ch-run_shm-0"), p("sem.ch-run_sem-0"))),
            "{e}"
        );
        assert!(!e.contains("mytag") && !e.contains("other"), "{e}");
        let plain = runfile(
            "FROM /img.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6\nLAUNCH [\"srun\", \"-n\", \"2\"]\nCMD [\"true\"]\n",
        );
        assert!(check(&plain, d.path()).is_ok());
        fs::remove_file(d.path().join("ch-run_shm-0")).unwrap();
        fs::remove_file(d.path().join("sem.ch-run_sem-0")).unwrap();
        assert!(
            check(&joined, d.path()).is_ok(),
            "only other tags left: a warning"
        );
    }

    #[test]
    fn a_snapshot_removes_only_new_unused_files() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("ch-run_shm-1"), b"old").unwrap();
        let s = Snapshot::take(d.path());
        fs::write(d.path().join("ch-run_shm-2"), b"new").unwrap();
        fs::write(d.path().join("sem.ch-run_sem-2"), b"new").unwrap();
        fs::write(d.path().join("unrelated"), b"new").unwrap();
        let removed = s.clean_new();
        assert_eq!(
            removed,
            [
                d.path().join("ch-run_shm-2"),
                d.path().join("sem.ch-run_sem-2")
            ]
        );
        assert!(d.path().join("ch-run_shm-1").exists());
        assert!(d.path().join("unrelated").exists());
    }

    #[test]
    fn a_mapped_file_is_in_use() {
        // This process maps its own executable: seen as in use.
        let exe = std::env::current_exe().unwrap().canonicalize().unwrap();
        assert!(mapped_files().contains(&exe));
        assert!(unused([exe].into()).is_empty());
    }
}
