//! Fuzz the hostile-input-safe unpacker
//! (`dsi_plugins_charliecloud::artifact::unpack`): no input may panic, and
//! whatever it does, nothing may be written outside the target directory.
//!
//! The input is a tar stream; it is zstd-compressed here (level 1) unless it
//! already starts with the zstd magic, so the fuzzer works on tar headers
//! directly but can still feed the decoder garbage. Each input unpacks into
//! `target/` next to a sentinel file `outside`; afterwards the parent must
//! hold exactly those two, the sentinel must be unchanged and have no other
//! hard link, every symlink under `target/` must resolve (on disk, following
//! other symlinks) to a path inside it, `.git` (if any) must be a real
//! directory without hooks and with dsi's own config, and the stats must
//! respect the limits.
//!
//! Run from the repository root: `cargo fuzz run -s none unpack
//! fuzz/corpus/unpack fuzz/seeds/unpack -- -dict=fuzz/unpack.dict`.

#![no_main]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use dsi_plugins_charliecloud::artifact::{Limits, unpack};
use libfuzzer_sys::fuzz_target;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const SENTINEL: &[u8] = b"sentinel: must never change";

/// A private directory for the whole fuzzing process (in memory when
/// `/dev/shm` exists: file system metadata is most of the work).
fn sandbox() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("a temporary directory")
    })
    .path()
}

/// Resolves `rel` (relative to `root`) the way the kernel would, following
/// symlinks, without touching anything outside `root`: `None` if it leaves
/// `root` (or loops).
fn resolve(root: &Path, rel: &Path, depth: usize) -> Option<PathBuf> {
    if depth > 40 {
        return None;
    }
    let mut cur = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => {
                let next = cur.join(n);
                match fs::symlink_metadata(root.join(&next)) {
                    Ok(m) if m.file_type().is_symlink() => {
                        let target = fs::read_link(root.join(&next)).ok()?;
                        if target.is_absolute() {
                            return None;
                        }
                        cur = resolve(root, &cur.join(target), depth + 1)?;
                    }
                    _ => cur = next,
                }
            }
            Component::ParentDir => {
                if !cur.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(cur)
}

fn check_tree(root: &Path, dir: &Path) {
    for e in fs::read_dir(root.join(dir)).expect("readable").flatten() {
        let rel = dir.join(e.file_name());
        let m = fs::symlink_metadata(e.path()).expect("stat");
        let t = m.file_type();
        if t.is_symlink() {
            assert!(
                resolve(root, &rel, 0).is_some(),
                "symlink {} -> {:?} leaves the target",
                rel.display(),
                fs::read_link(e.path())
            );
        } else if t.is_dir() {
            check_tree(root, &rel);
        } else {
            assert!(t.is_file(), "{} is a special file", rel.display());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = if data.starts_with(&ZSTD_MAGIC) {
        data.to_vec()
    } else {
        zstd::encode_all(data, 1).expect("compressing in memory")
    };
    let parent = sandbox().join("p");
    let _ = fs::remove_dir_all(&parent);
    let target = parent.join("target");
    fs::create_dir_all(&target).expect("creating the target");
    fs::write(parent.join("outside"), SENTINEL).expect("writing the sentinel");
    let limits = Limits {
        max_entries: 256,
        max_bytes: 1 << 20,
        max_window_log: 20,
        ..Limits::default()
    };
    let result = unpack(&input[..], &target, &limits);

    let mut names: Vec<String> = fs::read_dir(&parent)
        .expect("readable")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["outside", "target"], "something was written outside");
    let sentinel = fs::symlink_metadata(parent.join("outside")).expect("stat");
    assert!(sentinel.file_type().is_file());
    assert_eq!(sentinel.nlink(), 1, "the sentinel was hard-linked");
    assert_eq!(fs::read(parent.join("outside")).expect("read"), SENTINEL);
    let top: Vec<_> = fs::read_dir(sandbox()).expect("readable").flatten().collect();
    assert_eq!(top.len(), 1, "something was written beside the parent");
    check_tree(&target, Path::new(""));
    // Git's hooks and config never come from the archive: `.git` is a real
    // directory, without hooks, whose config (if any) is dsi's own.
    let git = target.join(".git");
    if let Ok(m) = fs::symlink_metadata(&git) {
        assert!(m.is_dir(), "'.git' is not a directory");
        assert!(!git.join("hooks").exists(), "'.git/hooks' was unpacked");
        if let Ok(cfg) = fs::read(git.join("config")) {
            assert!(
                cfg.starts_with(b"[core]\n\trepositoryformatversion = 0\n"),
                "'.git/config' came from the archive"
            );
        }
    }
    if let Ok(stats) = result {
        assert!(stats.entries <= limits.max_entries);
        assert!(stats.bytes <= limits.max_bytes);
    }
});
