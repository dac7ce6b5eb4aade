//! Digests of the declared outputs after a run (`LABEL dsi.outputs`),
//! read without leaving the context directory.
//!
//! The container may have written anything into a directory it had bound
//! read-write — a symlink to `/etc/shadow`, a FIFO — so each output is
//! resolved beneath the context directory ([`super::beneath`]), opened with
//! `O_NOFOLLOW | O_NONBLOCK` (a FIFO or device never blocks the replay) and
//! hashed only if it is a regular file of at most [`MAX_OUTPUT_BYTES`].
//! Anything else is recorded as missing, with a warning saying why.
//! (Absolute paths and `..` are refused when the Runfile is parsed.)

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::beneath::{Beneath, resolve_beneath};
use crate::records::OutputDigest;

/// The label naming output files (space or TAB separated words).
pub const OUTPUTS_LABEL: &str = "dsi.outputs";

/// Largest output hashed (64 GiB): a bound on the time a replay spends on it.
pub const MAX_OUTPUT_BYTES: u64 = 64 << 30;

/// The digest of each declared output, and a warning for each refused one.
pub fn digests(paths: &[String], context: &Path) -> (Vec<OutputDigest>, Vec<String>) {
    let mut out = Vec::with_capacity(paths.len());
    let mut warnings = Vec::new();
    for p in paths {
        let sha256 = match hash_beneath(context, Path::new(p)) {
            Ok(d) => d,
            Err(why) => {
                warnings.push(format!("output {p} not recorded: {why}"));
                None
            }
        };
        out.push(OutputDigest {
            path: p.clone(),
            sha256,
        });
    }
    (out, warnings)
}

/// `Ok(None)` when the output does not exist; `Err` says why it is refused.
fn hash_beneath(context: &Path, rel: &Path) -> Result<Option<String>, String> {
    let Some(file) = open_beneath(context, rel)? else {
        return Ok(None);
    };
    let mut h = Sha256::new();
    std::io::copy(&mut file.take(MAX_OUTPUT_BYTES), &mut h)
        .map_err(|e| format!("reading it: {e}"))?;
    Ok(Some(hex::encode(h.finalize())))
}

/// Opens an output the container wrote, beneath `context`: `Ok(None)` when
/// it does not exist; `Err` says why it is refused (it leaves the context
/// directory, is not a regular file, or is over [`MAX_OUTPUT_BYTES`]).
pub fn open_beneath(context: &Path, rel: &Path) -> Result<Option<std::fs::File>, String> {
    let full = match resolve_beneath(context, rel) {
        Beneath::Inside(p) => p,
        Beneath::Escapes { link, target } => {
            return Err(format!(
                "{} is a symlink to {}, outside the context directory",
                link.display(),
                target.display()
            ));
        }
        Beneath::Invalid(why) => return Err(why.to_owned()),
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_flags())
        .open(&full)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open it: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot stat it: {e}"))?;
    if !meta.is_file() {
        return Err(if meta.is_dir() {
            "it is a directory (name the files in it)".to_owned()
        } else {
            "it is not a regular file (a fifo, socket or device)".to_owned()
        });
    }
    if meta.len() > MAX_OUTPUT_BYTES {
        return Err(format!(
            "it is {} bytes, over the limit of {MAX_OUTPUT_BYTES}",
            meta.len()
        ));
    }
    Ok(Some(file))
}

/// `O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`.
fn libc_flags() -> i32 {
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC)
        .bits()
        .cast_signed()
}

/// The words of `LABEL dsi.outputs`, if the Runfile has it.
pub fn declared(labels: &[(String, String)]) -> Vec<String> {
    labels
        .iter()
        .find(|(k, _)| k == OUTPUTS_LABEL)
        .map(|(_, v)| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn only_regular_files_inside_are_hashed() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path();
        std::fs::create_dir(c.join("out")).unwrap();
        std::fs::write(c.join("out/a.txt"), "a").unwrap();
        symlink("/etc/passwd", c.join("out/secret")).unwrap();
        symlink("a.txt", c.join("out/alias")).unwrap();
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            c.join("out/fifo"),
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let names: Vec<String> = [
            "out/a.txt",
            "out/alias",
            "out/secret",
            "out/fifo",
            "out",
            "out/none",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let (digests, warnings) = digests(&names, c);
        let a = hex::encode(Sha256::digest(b"a"));
        let got: Vec<Option<&str>> = digests.iter().map(|d| d.sha256.as_deref()).collect();
        assert_eq!(
            got,
            [Some(a.as_str()), Some(a.as_str()), None, None, None, None]
        );
        assert_eq!(
            warnings,
            [
                "output out/secret not recorded: out/secret is a symlink to /etc/passwd, outside the context directory",
                "output out/fifo not recorded: it is not a regular file (a fifo, socket or device)",
                "output out not recorded: it is a directory (name the files in it)",
            ]
        );
    }
}
