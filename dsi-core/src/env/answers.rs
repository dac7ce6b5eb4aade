//! What a program says about itself — `srun --version`, `mpirun
//! --version`, `ch-run --version` — read once per program file and kept in
//! the per-user file cache ([`crate::file_cache`], under `answers`), so
//! that describing this system does not start the same programs on every
//! record and replay (on a small node they competed with the replay's own
//! work and with the step's start). `srun --mpi=list` is not among them:
//! it lists the plugins of a directory that another package may change
//! without touching `srun`.
//!
//! An entry is keyed by the identity of the resolved program file (device,
//! inode, size, mtime, ctime) and, within it, by the name it is called by
//! and its arguments (Open MPI's `mpirun` prints the name it was called
//! by). Installing another version replaces the file, so it is asked
//! again. Only answers of programs that exit 0 are kept.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::file_cache::{FileCache, FileKey};

/// The program file that `program` names: itself when it holds a `/`, else
/// the first executable regular file of that name on `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
}

/// The trimmed output (standard output, then standard error) of `program
/// args…` when it exits 0, from the cache when this program file answered
/// before; else why not. `env` is set for the child (ch-run needs `USER`).
pub fn self_answer(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    self_answer_in(FileCache::user("answers").as_ref(), program, args, env)
}

fn self_answer_in(
    cache: Option<&FileCache>,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<String, String> {
    let path = find_program(program).ok_or_else(|| format!("{program}: not found on PATH"))?;
    let key = std::fs::metadata(&path).ok().map(|m| FileKey::of(&m));
    let kind = entry_kind(program, args);
    if let (Some(cache), Some(key)) = (cache, &key)
        && let Some(answer) = cache.get(key, &kind)
    {
        return Ok(answer);
    }
    let answer = run(&path, program, args, env)?;
    // Kept only when the file did not change while it answered.
    if let (Some(cache), Some(key)) = (cache, key)
        && std::fs::metadata(&path).is_ok_and(|m| FileKey::of(&m) == key)
    {
        cache.put(&key, &kind, &answer);
    }
    Ok(answer)
}

/// The entry kind of one question: `answer-` and 16 hex digits of the
/// sha256 of the name and arguments.
fn entry_kind(program: &str, args: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(program.as_bytes());
    for a in args {
        h.update([0]);
        h.update(a.as_bytes());
    }
    format!("answer-{}", &hex::encode(h.finalize())[..16])
}

/// Runs the program at `path` (called `name`; a bare name is looked up on
/// `PATH`) with `args`: its trimmed output (standard output, then standard
/// error) when it exits 0, else why not.
pub(crate) fn run(
    path: &Path,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<String, String> {
    let mut c = Command::new(path);
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().map_err(|e| format!("{name}: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text.trim().to_owned())
    } else {
        Err(format!(
            "{name} {} exited with {}: {}",
            args.join(" "),
            out.status,
            text.trim().lines().next().unwrap_or("")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_answer_is_asked_once_per_program_file() {
        let d = tempfile::tempdir().unwrap();
        let count = d.path().join("count");
        let prog = d.path().join("prog");
        let write = |version: &str| {
            std::fs::write(
                &prog,
                format!(
                    "#!/bin/sh\necho x >> {}\necho \"prog {version} $*\"\n",
                    count.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write("1.0");
        let cache = FileCache::new(d.path().join("cache"));
        let p = prog.to_str().unwrap();
        let ask = |args: &[&str]| self_answer_in(Some(&cache), p, args, &[]).unwrap();
        assert_eq!(ask(&["--version"]), "prog 1.0 --version");
        assert_eq!(ask(&["--version"]), "prog 1.0 --version");
        assert_eq!(ask(&["-V"]), "prog 1.0 -V");
        let runs = || std::fs::read_to_string(&count).unwrap().lines().count();
        assert_eq!(runs(), 2, "asked once per question");
        // Another version of the file is asked again.
        std::thread::sleep(std::time::Duration::from_millis(10));
        write("2.0");
        assert_eq!(ask(&["--version"]), "prog 2.0 --version");
        assert_eq!(runs(), 3);
        // Failures are reasons, never cached.
        let e = self_answer_in(Some(&cache), "/nonexistent/prog", &[], &[]).unwrap_err();
        assert_eq!(e, "/nonexistent/prog: not found on PATH");
    }
}
