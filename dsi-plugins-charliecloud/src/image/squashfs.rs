//! A SquashFS image read in-process (RUNFILE-1.1 §3), with `backhand`: its
//! `rftree1` tree digest built from the inodes (no mount, no `unsquashfs`)
//! and the look-ups of the pre-flight checks (WORKDIR and bind destinations
//! inside the image).
//!
//! The file is untrusted: a damaged or hostile image is an error naming the
//! file, never a panic. backhand keeps every inode in memory (about 100
//! bytes each, the same as a tree digest's records) and decompresses one
//! data block at a time while a file is hashed.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use backhand::{FilesystemReader, InnerNode};
use sha2::{Digest, Sha256};

use super::tree::TreeRecords;

/// The first four bytes of a (little-endian, version 4) SquashFS image.
pub const MAGIC: &[u8; 4] = b"hsqs";

/// Whether the file at `path` starts with [`MAGIC`].
pub fn has_magic(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 4];
    let mut f = File::open(path)?;
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..])? {
            0 => return Ok(false),
            n => got += n,
        }
    }
    Ok(&head == MAGIC)
}

/// What an entry of an image is, for the pre-flight look-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A symbolic link to this target.
    Symlink(PathBuf),
    /// A regular file, device, pipe or socket.
    Other,
}

/// An opened SquashFS image.
pub struct SquashFs {
    path: PathBuf,
    fs: FilesystemReader<'static>,
}

impl std::fmt::Debug for SquashFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SquashFs")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn invalid(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: not a readable SquashFS image: {e}", path.display()),
    )
}

impl SquashFs {
    /// Reads the superblock, inode and directory tables of the image at
    /// `path` (file contents are read only when hashed).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let fs = FilesystemReader::from_reader(BufReader::with_capacity(128 * 1024, file))
            .map_err(|e| invalid(path, e))?;
        Ok(SquashFs {
            path: path.to_path_buf(),
            fs,
        })
    }

    /// The number of entries, the root included.
    pub fn len(&self) -> usize {
        self.fs.files().count()
    }

    /// Whether the image has no entry at all (never true of a readable one:
    /// it has its root).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `rftree1+sha256:<hex>` of the image's contents, equal to the tree
    /// digest of the same tree unpacked (RUNFILE.md §8.4): the root is R,
    /// TYPE and MODE come from the inodes, a file's payload is the SHA-256
    /// of its decompressed bytes.
    pub fn tree_digest(&self) -> io::Result<String> {
        let mut records = TreeRecords::default();
        let mut buf = vec![0u8; 256 * 1024];
        for node in self.fs.files() {
            let full = node.fullpath.as_os_str().as_bytes();
            let rel = full.strip_prefix(b"/").unwrap_or(full);
            if rel.is_empty() || TreeRecords::skipped(rel) {
                continue;
            }
            let mode = u32::from(node.header.permissions);
            match &node.inner {
                InnerNode::File(file) => {
                    let mut reader = self
                        .fs
                        .file(file)
                        .reader_checked()
                        .map_err(|e| invalid(&self.path, e))?;
                    let mut h = Sha256::new();
                    let mut len = 0usize;
                    loop {
                        let n = reader.read(&mut buf).map_err(|e| {
                            invalid(&self.path, format!("{}: {e}", node.fullpath.display()))
                        })?;
                        if n == 0 {
                            break;
                        }
                        len += n;
                        h.update(&buf[..n]);
                    }
                    if len != file.file_len() {
                        return Err(invalid(
                            &self.path,
                            format!(
                                "{}: {len} bytes read of {}",
                                node.fullpath.display(),
                                file.file_len()
                            ),
                        ));
                    }
                    records.push('f', mode, &hex::encode(h.finalize()), rel);
                }
                InnerNode::Dir(_) => records.push('d', mode, "-", rel),
                InnerNode::Symlink(link) => {
                    let payload = hex::encode(Sha256::digest(link.link.as_os_str().as_bytes()));
                    records.push('l', 0, &payload, rel);
                }
                InnerNode::CharacterDevice(_) => records.push('c', 0, "-", rel),
                InnerNode::BlockDevice(_) => records.push('b', 0, "-", rel),
                InnerNode::NamedPipe => records.push('p', 0, "-", rel),
                InnerNode::Socket => records.push('s', 0, "-", rel),
            }
        }
        Ok(records.digest())
    }

    /// The entry at the absolute image path `path` (`/usr/bin`), without
    /// following a final symbolic link.
    pub fn entry(&self, path: &Path) -> Option<EntryKind> {
        let want = Path::new("/").join(path);
        let nodes = &self.fs.root.nodes;
        let i = nodes
            .binary_search_by(|n| n.fullpath.as_path().cmp(&want))
            .ok()?;
        Some(match &nodes[i].inner {
            InnerNode::Dir(_) => EntryKind::Dir,
            InnerNode::Symlink(l) => EntryKind::Symlink(l.link.clone()),
            _ => EntryKind::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_is_checked_on_the_first_four_bytes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        std::fs::write(&p, b"hsqs and more").unwrap();
        assert!(has_magic(&p).unwrap());
        std::fs::write(&p, b"hsq").unwrap();
        assert!(!has_magic(&p).unwrap());
        std::fs::write(&p, b"version: 1\n").unwrap();
        assert!(!has_magic(&p).unwrap());
    }

    #[test]
    fn a_file_with_the_magic_but_no_filesystem_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bad.sqfs");
        let mut bytes = b"hsqs".to_vec();
        bytes.extend(std::iter::repeat_n(0xa5u8, 4096));
        std::fs::write(&p, &bytes).unwrap();
        let e = SquashFs::open(&p).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("bad.sqfs"), "{e}");
    }
}
