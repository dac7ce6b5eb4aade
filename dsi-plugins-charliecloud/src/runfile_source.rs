//! Reading a Runfile's bytes, from disk or from a repository, bounded.
//!
//! A Runfile is a few hundred bytes; one from a store or a remote is
//! untrusted input, and parsing costs memory in proportion to its size, so
//! dsi reads at most [`MAX_RUNFILE_BYTES`] (a dsi limit, not part of the
//! language) and checks while reading, not after.

use std::io::Read;
use std::path::Path;

use dsi_core::{Error, Result};

/// The largest Runfile dsi reads (1 MiB).
pub const MAX_RUNFILE_BYTES: u64 = 1 << 20;

/// The bytes of a Runfile on disk: a regular file of at most
/// [`MAX_RUNFILE_BYTES`], errors naming the file.
pub fn read_from_disk(path: &Path) -> Result<Vec<u8>> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::io(format!("cannot read Runfile {shown}"), e))?;
    if meta.is_dir() {
        return Err(Error::InvalidData(format!(
            "{shown} is a directory, not a Runfile"
        )));
    }
    if !meta.is_file() {
        return Err(Error::InvalidData(format!(
            "{shown} is not a regular file (a fifo, socket or device), not a Runfile"
        )));
    }
    let f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot read Runfile {shown}"), e))?;
    let mut bytes = Vec::new();
    f.take(MAX_RUNFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("cannot read Runfile {shown}"), e))?;
    if bytes.len() as u64 > MAX_RUNFILE_BYTES {
        return Err(too_large(&shown.to_string()));
    }
    Ok(bytes)
}

/// The error for a Runfile over the limit.
pub fn too_large(name: &str) -> Error {
    Error::InvalidData(format!(
        "{name} is larger than {} KiB: not a Runfile (dsi reads at most that much)",
        MAX_RUNFILE_BYTES >> 10
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_and_devices_are_refused_without_reading_them_whole() {
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("Runfile");
        std::fs::write(&big, vec![b'#'; (MAX_RUNFILE_BYTES + 10) as usize]).unwrap();
        let e = read_from_disk(&big).unwrap_err().to_string();
        assert!(
            e.ends_with("is larger than 1024 KiB: not a Runfile (dsi reads at most that much)"),
            "{e}"
        );
        let e = read_from_disk(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_from_disk(d.path()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }
}
