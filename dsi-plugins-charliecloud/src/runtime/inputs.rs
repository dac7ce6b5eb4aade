//! `INPUT P` (RUNFILE-1.1 §5.1): host files and directories a Runfile pins.
//!
//! At record time each input's digest is taken — `sha256:<hex>` of a file,
//! `rftree1+sha256:<hex>` of a directory, following P if it is a symlink —
//! and kept in the record ([`InputDigest`]). Before a replay runs,
//! [`check`] takes them again: a missing input is E418, a different digest
//! or type E419, and an input the record has no digest for W402 (its digest
//! is recorded in the replay). A relative P is resolved beneath the context
//! directory (it is already pinned by the commit; INPUT then records it).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::beneath::{Beneath, resolve_beneath};
use crate::image::rftree;
use crate::runfile::{Diagnostic, Input, Runfile};

/// An input and its digest, as a record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InputDigest {
    /// The path as the Runfile normalises it.
    pub path: String,
    /// `sha256:<hex>` (file) or `rftree1+sha256:<hex>` (directory); `None`
    /// when it could not be read.
    pub digest: Option<String>,
}

/// Where `input` is on the host: absolute, or beneath `context`.
fn locate(input: &Input, context: &Path) -> Result<PathBuf, String> {
    let p = Path::new(&input.path);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    match resolve_beneath(context, p) {
        Beneath::Inside(full) => Ok(full),
        Beneath::Escapes { link, target } => Err(format!(
            "{} leaves the context directory: {} is a symlink to {}",
            input.path,
            link.display(),
            target.display()
        )),
        Beneath::Invalid(why) => Err(format!("{}: {why}", input.path)),
    }
}

/// The digest of the file or directory at `path` (symlinks followed);
/// `Ok(None)` when nothing is there.
pub fn digest_of(path: &Path) -> io::Result<Option<String>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        return rftree(path).map(Some);
    }
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file or directory"));
    }
    let mut h = Sha256::new();
    io::copy(&mut File::open(path)?, &mut h)?;
    Ok(Some(format!("sha256:{}", hex::encode(h.finalize()))))
}

/// Every input's digest now, in file order, with a warning for each one
/// that cannot be read.
pub fn record(rf: &Runfile, context: &Path) -> (Vec<InputDigest>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for i in rf.inputs() {
        let digest = match locate(i, context)
            .and_then(|p| digest_of(&p).map_err(|e| format!("{}: {e}", p.display())))
        {
            Ok(Some(d)) => Some(d),
            Ok(None) => {
                warnings.push(format!("INPUT {} does not exist", i.path));
                None
            }
            Err(e) => {
                warnings.push(format!("INPUT {e}"));
                None
            }
        };
        out.push(InputDigest {
            path: i.path.clone(),
            digest,
        });
    }
    (out, warnings)
}

/// The pre-flight check of the inputs against the `recorded` digests: the
/// first error (E418, E419) in file order, else the W402 warnings and the
/// digests now.
pub fn check(
    rf: &Runfile,
    context: &Path,
    recorded: &[InputDigest],
) -> Result<(Vec<InputDigest>, Vec<Diagnostic>), Diagnostic> {
    let mut now = Vec::new();
    let mut warnings = Vec::new();
    for i in rf.inputs() {
        let at = |code: &'static str, msg: String| Diagnostic::error(i.line, i.col, code, msg);
        let path = locate(i, context).map_err(|e| at("E418", format!("INPUT not found: {e}")))?;
        let have = digest_of(&path)
            .map_err(|e| at("E418", format!("INPUT not found: {}: {e}", path.display())))?
            .ok_or_else(|| at("E418", format!("INPUT not found: {}", path.display())))?;
        match recorded
            .iter()
            .find(|r| r.path == i.path)
            .and_then(|r| r.digest.as_ref())
        {
            Some(want) if *want != have => {
                return Err(at(
                    "E419",
                    format!("INPUT changed: {}: recorded {want}, have {have}", i.path),
                ));
            }
            Some(_) => {}
            None => warnings.push(Diagnostic::warning(
                i.line,
                i.col,
                "W402",
                format!("INPUT {} not verified: no recorded digest", i.path),
            )),
        }
        now.push(InputDigest {
            path: i.path.clone(),
            digest: Some(have),
        });
    }
    Ok((now, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = "FROM ./img/rf-tiny.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6\n";

    fn runfile(inputs: &str) -> Runfile {
        crate::runfile::parse(format!("{S1}{inputs}CMD [\"true\"]\n").as_bytes())
            .unwrap()
            .runfile
    }

    #[test]
    fn recorded_digests_are_checked_before_a_replay() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("case7.yaml"), "n: 7\n").unwrap();
        let abs = dir.path().join("abs.txt");
        std::fs::write(&abs, "x").unwrap();
        let rf = runfile(&format!("INPUT ./data\nINPUT {}\n", abs.display()));
        let (recorded, warnings) = record(&rf, dir.path());
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(
            recorded[0]
                .digest
                .as_deref()
                .unwrap()
                .starts_with("rftree1+sha256:")
        );
        assert!(
            recorded[1]
                .digest
                .as_deref()
                .unwrap()
                .starts_with("sha256:")
        );
        let (now, w) = check(&rf, dir.path(), &recorded).unwrap();
        assert_eq!(now, recorded);
        assert!(w.is_empty());

        std::fs::write(&abs, "y").unwrap();
        let e = check(&rf, dir.path(), &recorded).unwrap_err();
        assert_eq!(e.code, "E419");
        assert!(e.message.contains("INPUT changed:"), "{}", e.message);
        assert_eq!(e.line, 3);

        std::fs::remove_file(&abs).unwrap();
        let e = check(&rf, dir.path(), &recorded).unwrap_err();
        assert_eq!(e.code, "E418");

        std::fs::write(&abs, "y").unwrap();
        let (_, w) = check(&rf, dir.path(), &recorded[..1]).unwrap();
        assert_eq!(w[0].code, "W402");
    }

    #[test]
    fn a_file_replaced_by_a_directory_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in");
        std::fs::write(&p, "x").unwrap();
        let rf = runfile(&format!("INPUT {}\n", p.display()));
        let (recorded, _) = record(&rf, dir.path());
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        assert_eq!(check(&rf, dir.path(), &recorded).unwrap_err().code, "E419");
    }
}
