//! The `rftree1` tree digest of RUNFILE.md §8.4.
//!
//! For a directory R: walk without following symlinks; skip R itself,
//! top-level names starting with `.git`, and `ch/git.pickle`; for every
//! remaining entry emit `TYPE SP MODE SP PAYLOAD SP PATH NUL` (TYPE one of
//! `f d l c b p s`; MODE the four octal digits of `st_mode & 07777` for files
//! and directories, else `0000`; PAYLOAD the hex SHA-256 of a file's content
//! or of a link's target bytes, else `-`); sort the records by PATH bytewise,
//! concatenate and hash. Ownership, times, xattrs and hard-link identity do
//! not count.
//!
//! Memory holds one record per entry (about 100 bytes) and one 256 KiB read
//! buffer; file contents are streamed.

use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Prefix of every tree digest.
pub const TREE_PREFIX: &str = "rftree1+sha256:";

/// Computes `rftree1+sha256:<hex>` of the directory `root`.
pub fn rftree(root: &Path) -> io::Result<String> {
    let mut records = TreeRecords::default();
    let mut buf = vec![0u8; 256 * 1024];
    walk(root, &mut Vec::new(), &mut records, &mut buf)?;
    Ok(records.digest())
}

/// The §8.4 records of a tree, collected in any order and hashed sorted by
/// path: shared by the directory walk and the SquashFS reader (`squashfs`).
#[derive(Debug, Default)]
pub(crate) struct TreeRecords {
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

impl TreeRecords {
    /// Whether the entry at `rel` (relative to the root, `/`-separated) is
    /// left out: top-level names starting with `.git`, and `ch/git.pickle`.
    pub(crate) fn skipped(rel: &[u8]) -> bool {
        let top_level = !rel.contains(&b'/');
        (top_level && rel.starts_with(b".git")) || rel == b"ch/git.pickle"
    }

    /// Adds `TYPE SP MODE SP PAYLOAD SP PATH NUL`; `mode` counts for `f`
    /// and `d` only (`0000` otherwise), `payload` is `-` when there is none.
    pub(crate) fn push(&mut self, kind: char, mode: u32, payload: &str, rel: &[u8]) {
        let mode = if matches!(kind, 'f' | 'd') {
            mode & 0o7777
        } else {
            0
        };
        let mut record = format!("{kind} {mode:04o} {payload} ").into_bytes();
        record.extend_from_slice(rel);
        record.push(0);
        self.records.push((rel.to_vec(), record));
    }

    /// `rftree1+sha256:<hex>` of the records sorted by path.
    pub(crate) fn digest(mut self) -> String {
        self.records.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut h = Sha256::new();
        for (_, record) in &self.records {
            h.update(record);
        }
        format!("{TREE_PREFIX}{}", hex::encode(h.finalize()))
    }
}

fn walk(dir: &Path, rel: &mut Vec<u8>, out: &mut TreeRecords, buf: &mut [u8]) -> io::Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| with_path(e, dir))?;
    for entry in entries {
        let entry = entry.map_err(|e| with_path(e, dir))?;
        let name = entry.file_name();
        let base = rel.len();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(name.as_bytes());
        if !TreeRecords::skipped(rel) {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).map_err(|e| with_path(e, &path))?;
            let ft = meta.file_type();
            let perm = meta.mode();
            if ft.is_file() {
                out.push('f', perm, &file_digest(&path, buf)?, rel);
            } else if ft.is_dir() {
                out.push('d', perm, "-", rel);
                walk(&path, rel, out, buf)?;
            } else if ft.is_symlink() {
                let target = fs::read_link(&path).map_err(|e| with_path(e, &path))?;
                let payload = hex::encode(Sha256::digest(target.as_os_str().as_bytes()));
                out.push('l', 0, &payload, rel);
            } else {
                let kind = if ft.is_char_device() {
                    'c'
                } else if ft.is_block_device() {
                    'b'
                } else if ft.is_fifo() {
                    'p'
                } else {
                    's'
                };
                out.push(kind, 0, "-", rel);
            }
        }
        rel.truncate(base);
    }
    Ok(())
}

fn file_digest(path: &Path, buf: &mut [u8]) -> io::Result<String> {
    let mut f = fs::File::open(path).map_err(|e| with_path(e, path))?;
    let mut h = Sha256::new();
    loop {
        let n = f.read(buf).map_err(|e| with_path(e, path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("opt/app")).unwrap();
        fs::write(r.join("opt/app/VERSION"), "v1\n").unwrap();
        std::os::unix::fs::symlink("opt/app", r.join("app")).unwrap();
        fs::create_dir(r.join(".git")).unwrap();
        fs::write(r.join(".git/HEAD"), "x").unwrap();
        fs::write(r.join(".gitignore"), "x").unwrap();
        fs::create_dir(r.join("ch")).unwrap();
        fs::write(r.join("ch/git.pickle"), "x").unwrap();
        fs::set_permissions(r.join("opt"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(r.join("opt/app"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(r.join("ch"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(r.join("opt/app/VERSION"), fs::Permissions::from_mode(0o644)).unwrap();
        d
    }

    #[test]
    fn digest_matches_the_specified_record_format() {
        let d = tree();
        let records = [
            format!("l 0000 {} app\0", hex::encode(Sha256::digest(b"opt/app"))),
            "d 0755 - ch\0".to_owned(),
            "d 0755 - opt\0".to_owned(),
            "d 0755 - opt/app\0".to_owned(),
            format!(
                "f 0644 {} opt/app/VERSION\0",
                hex::encode(Sha256::digest(b"v1\n"))
            ),
        ]
        .concat();
        let expected = format!(
            "{TREE_PREFIX}{}",
            hex::encode(Sha256::digest(records.as_bytes()))
        );
        assert_eq!(rftree(d.path()).unwrap(), expected);
    }

    #[test]
    fn content_and_mode_changes_change_the_digest_metadata_does_not() {
        let d = tree();
        let before = rftree(d.path()).unwrap();
        // git metadata and ch/git.pickle are skipped.
        fs::write(d.path().join(".git/HEAD"), "y").unwrap();
        fs::write(d.path().join("ch/git.pickle"), "y").unwrap();
        assert_eq!(rftree(d.path()).unwrap(), before);
        fs::set_permissions(
            d.path().join("opt/app/VERSION"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        assert_ne!(rftree(d.path()).unwrap(), before);
        fs::set_permissions(
            d.path().join("opt/app/VERSION"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(rftree(d.path()).unwrap(), before);
        fs::write(d.path().join("opt/app/VERSION"), "v2\n").unwrap();
        assert_ne!(rftree(d.path()).unwrap(), before);
    }
}
