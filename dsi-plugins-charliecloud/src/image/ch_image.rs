//! Running `ch-image` as an argv, never through a shell.
//!
//! Debian's `/usr/bin/ch-image` starts with `#!/usr/bin/env python3`, but its
//! modules (`lark`, `requests`) are installed for Debian's `/usr/bin/python3`;
//! when another `python3` comes first on PATH (pyenv, conda, a venv) the
//! script fails to import them. [`ChImage::locate`] therefore runs the script
//! with `/usr/bin/python3` when its shebang asks `env` for `python3` and that
//! interpreter exists. `DSI_CH_IMAGE` names another `ch-image`, and
//! `DSI_CH_IMAGE_PYTHON` another interpreter.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How `ch-image` is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChImage {
    argv: Vec<OsString>,
    user: String,
}

/// The outcome of one `ch-image` call.
#[derive(Debug, Clone)]
pub struct ChImageOutput {
    /// Whether it exited 0.
    pub success: bool,
    /// Standard output and standard error, in that order.
    pub text: String,
}

impl ChImageOutput {
    /// The text after the last `error: ` line, or the last line if none:
    /// what ch-image said went wrong.
    pub fn error_message(&self) -> String {
        let lines: Vec<&str> = self
            .text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        lines
            .iter()
            .rev()
            .find_map(|l| l.split_once("error: ").map(|(_, m)| m.to_owned()))
            .or_else(|| lines.last().map(|l| (*l).to_owned()))
            .unwrap_or_else(|| "no output".to_owned())
    }

    /// Whether ch-image refused because another process holds the storage lock.
    pub fn storage_locked(&self) -> bool {
        self.text.contains("storage directory is already in use")
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn shebang(script: &Path) -> Option<String> {
    let mut f = std::fs::File::open(script).ok()?;
    let mut head = [0u8; 128];
    let n = f.read(&mut head).ok()?;
    let line = head[..n].split(|b| *b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    text.strip_prefix("#!").map(|s| s.trim().to_owned())
}

impl ChImage {
    /// Finds `ch-image` and the interpreter it needs. `user` is passed as
    /// `USER` (Charliecloud requires it).
    pub fn locate(user: &str) -> Self {
        let script = std::env::var_os("DSI_CH_IMAGE")
            .map(PathBuf::from)
            .or_else(|| find_on_path("ch-image"))
            .unwrap_or_else(|| PathBuf::from("ch-image"));
        let python = std::env::var_os("DSI_CH_IMAGE_PYTHON")
            .map(PathBuf::from)
            .or_else(|| {
                let debian = Path::new("/usr/bin/python3");
                let wants_env_python =
                    shebang(&script).is_some_and(|s| s == "/usr/bin/env python3");
                (wants_env_python && debian.exists()).then(|| debian.to_path_buf())
            });
        let argv = match python {
            Some(p) => vec![p.into_os_string(), script.into_os_string()],
            None => vec![script.into_os_string()],
        };
        ChImage {
            argv,
            user: user.to_owned(),
        }
    }

    /// The argv prefix used to start ch-image.
    pub fn argv(&self) -> &[OsString] {
        &self.argv
    }

    /// Runs `ch-image --storage=S ARGS…` with stdin closed, capturing output.
    /// A refusal because the storage is locked by another process (ch-image
    /// has one lock per storage) is retried with back-off (0.25 s doubling,
    /// at most 2 s apart) for as long as dsi waits for its own image locks
    /// (`DSI_IMAGE_LOCK_TIMEOUT`), then returned.
    pub fn run(&self, storage: &Path, args: &[&str]) -> std::io::Result<ChImageOutput> {
        let _span = tracing::info_span!("ch-image", command = %args.join(" ")).entered();
        tracing::debug!(storage = %storage.display(), "running ch-image {}", args.join(" "));
        let mut delay = Duration::from_millis(250);
        let deadline = std::time::Instant::now() + super::lock::timeout();
        let mut said = false;
        loop {
            let mut command = Command::new(&self.argv[0]);
            command
                .args(&self.argv[1..])
                .arg(format!("--storage={}", storage.display()))
                .args(args)
                .env("USER", &self.user)
                .stdin(Stdio::null());
            let out = if args.first() == Some(&"pull") {
                with_download_progress(&storage.join("dlcache"), || command.output())?
            } else {
                command.output()?
            };
            let result = ChImageOutput {
                success: out.status.success(),
                text: String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            };
            if result.success || !result.storage_locked() || std::time::Instant::now() >= deadline {
                return Ok(result);
            }
            if !said {
                said = true;
                tracing::info!(
                    "ch-image storage {} is locked by another process: waiting",
                    storage.display()
                );
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}

/// Runs `f` (a `ch-image pull`) while reporting, every quarter second, how
/// many bytes the download cache `dlcache` has grown by as the current
/// span's progress ([`dsi_core::progress`]).
fn with_download_progress<T>(dlcache: &Path, f: impl FnOnce() -> T) -> T {
    let span = tracing::Span::current();
    let before = dir_bytes(dlcache);
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let _entered = span.enter();
            // Checked every 50 ms, so that the pull is not held up.
            for tick in 1_u64.. {
                if finished.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
                if tick % 5 == 0 {
                    dsi_core::progress::done(dir_bytes(dlcache).saturating_sub(before));
                }
            }
        });
        let out = f();
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
        out
    })
}

/// The bytes of the files directly in `dir` (the download cache is flat).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_takes_the_last_error_line() {
        let o = ChImageOutput {
            success: false,
            text: "pulling image:    x\nerror: unauthorized or not in registry: 127.0.0.1:5/x\nhint: check\n".into(),
        };
        assert_eq!(
            o.error_message(),
            "unauthorized or not in registry: 127.0.0.1:5/x"
        );
        let o = ChImageOutput {
            success: false,
            text: "\nsomething broke\n".into(),
        };
        assert_eq!(o.error_message(), "something broke");
    }

    #[test]
    fn debian_script_runs_under_debian_python() {
        let c = ChImage::locate("root");
        if Path::new("/usr/bin/ch-image").exists() && Path::new("/usr/bin/python3").exists() {
            assert_eq!(c.argv()[0], OsString::from("/usr/bin/python3"));
        }
        assert!(
            c.argv()
                .last()
                .unwrap()
                .to_string_lossy()
                .ends_with("ch-image")
        );
    }
}
