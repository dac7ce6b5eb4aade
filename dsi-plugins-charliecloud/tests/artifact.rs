//! The git artifact: deterministic packing, round trips through unpacking,
//! and a corpus of malicious tarballs built here, each refused with a message
//! naming the entry and nothing written outside the target.

use std::io::Write;
use std::path::Path;

use dsi_plugins_charliecloud::artifact::{self, Limits, UnpackError, repo};

fn commit(dir: &Path, files: &[(&str, &[u8])]) -> git2::Oid {
    let r = repo::open_or_init(dir).unwrap();
    let sig = git2::Signature::new("t", "t@h", &git2::Time::new(1_700_000_000, 0)).unwrap();
    let mut last = None;
    for (path, content) in files {
        last = Some(repo::commit_file(&r, Path::new(path), content, "m", &sig).unwrap());
    }
    last.unwrap()
}

#[test]
fn packing_is_deterministic_and_round_trips() {
    let a = tempfile::tempdir().unwrap();
    commit(
        a.path(),
        &[("Runfile", b"FROM x\n"), ("data/in.txt", b"17\n")],
    );
    std::os::unix::fs::symlink("data/in.txt", a.path().join("link")).unwrap();
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@h"])
            .args(args)
            .current_dir(a.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    git(&["add", "link"]);
    git(&["commit", "-q", "-m", "link"]);
    let r = git2::Repository::open(a.path()).unwrap();
    let c = r.head().unwrap().peel_to_commit().unwrap().id();
    r.remote("origin", "https://alice:s3cret@example.org/r.git")
        .unwrap();

    let p1 = artifact::pack(a.path(), None).unwrap();
    // Touching the index (as `git status` may) does not change the artifact.
    r.index().unwrap().write().unwrap();
    let p2 = artifact::pack(a.path(), None).unwrap();
    assert_eq!(p1.blob, p2.blob, "same repository, same bytes");
    let bytes = std::fs::read(&p1.file).unwrap();
    let text = String::from_utf8_lossy(&zstd::decode_all(&bytes[..]).unwrap()).into_owned();
    assert!(!text.contains("s3cret"), "no credentials in the artifact");
    assert!(
        !text.contains("example.org"),
        "no remote URL in the artifact"
    );

    let out = tempfile::tempdir().unwrap();
    let unpacked = artifact::unpack_repository(&bytes[..], out.path(), &Limits::default()).unwrap();
    assert_eq!(
        unpacked.repo.head().unwrap().peel_to_commit().unwrap().id(),
        c
    );
    assert_eq!(
        std::fs::read(out.path().join("data/in.txt")).unwrap(),
        b"17\n"
    );
    assert_eq!(
        std::fs::read_link(out.path().join("link")).unwrap(),
        Path::new("data/in.txt")
    );
    let status = std::process::Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(out.path())
        .output()
        .unwrap();
    assert!(status.status.success());
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "",
        "clean work tree"
    );
    let fsck = std::process::Command::new("git")
        .args(["fsck", "--strict"])
        .current_dir(out.path())
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stderr)
    );
}

#[test]
fn a_hostile_git_config_and_hooks_are_not_taken_from_the_archive() {
    let src = tempfile::tempdir().unwrap();
    commit(src.path(), &[("Runfile", b"x\n")]);
    // A tarball by hand that carries a config with a command: the config
    // is rebuilt from dsi's rules, so the command is gone. (`git init`'s
    // sample hooks are left out, as dsi's own packing leaves them out.)
    let mut entries = tar_of_dir(src.path());
    entries.retain(|e| !e.path.starts_with(b".git/hooks"));
    entries.push(Entry::file(
        ".git/config",
        b"[core]\n\tfsmonitor = touch /tmp/dsi-pwned\n",
        0o644,
    ));
    let out = tempfile::tempdir().unwrap();
    artifact::unpack_repository(&zstd_tar(&entries)[..], out.path(), &Limits::default()).unwrap();
    let cfg = std::fs::read_to_string(out.path().join(".git/config")).unwrap();
    assert!(!cfg.contains("fsmonitor"), "{cfg}");

    // A hook is refused outright (dsi never packs one), and nothing of it
    // is written.
    entries.push(Entry::file(
        ".git/hooks/post-checkout",
        b"#!/bin/sh\ntouch /tmp/dsi-pwned\n",
        0o755,
    ));
    let out = tempfile::tempdir().unwrap();
    let e = artifact::unpack_repository(&zstd_tar(&entries)[..], out.path(), &Limits::default())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("hooks would run on the recipient's machine"),
        "{e}"
    );
    assert!(!out.path().join(".git/hooks/post-checkout").exists());
}

/// One tar entry of the hand-made corpus.
struct Entry {
    path: Vec<u8>,
    kind: tar::EntryType,
    data: Vec<u8>,
    link: Option<Vec<u8>>,
    mode: u32,
}

impl Entry {
    fn file(path: &str, data: &[u8], mode: u32) -> Self {
        Entry {
            path: path.as_bytes().to_vec(),
            kind: tar::EntryType::Regular,
            data: data.to_vec(),
            link: None,
            mode,
        }
    }
    fn dir(path: &str) -> Self {
        Entry {
            path: path.as_bytes().to_vec(),
            kind: tar::EntryType::Directory,
            data: vec![],
            link: None,
            mode: 0o755,
        }
    }
    fn link(path: &str, kind: tar::EntryType, target: &str) -> Self {
        Entry {
            path: path.as_bytes().to_vec(),
            kind,
            data: vec![],
            link: Some(target.as_bytes().to_vec()),
            mode: 0o777,
        }
    }
}

/// The entries of a real repository directory (files and dirs only).
fn tar_of_dir(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                out.push(Entry::dir(&rel));
                stack.push(e.path());
            } else if ft.is_file() && rel != ".git/config" {
                out.push(Entry::file(&rel, &std::fs::read(e.path()).unwrap(), 0o644));
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Writes raw tar headers (bypassing the tar crate's path checks) and zstd-compresses.
fn zstd_tar(entries: &[Entry]) -> Vec<u8> {
    let mut tar_bytes = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_old();
        {
            let raw = h.as_old_mut();
            raw.name[..e.path.len()].copy_from_slice(&e.path);
            if let Some(l) = &e.link {
                raw.linkname[..l.len()].copy_from_slice(l);
            }
        }
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_size(e.data.len() as u64);
        h.set_mtime(0);
        h.set_cksum();
        tar_bytes.extend_from_slice(h.as_bytes());
        tar_bytes.extend_from_slice(&e.data);
        let pad = (512 - e.data.len() % 512) % 512;
        tar_bytes.extend(std::iter::repeat_n(0u8, pad));
    }
    tar_bytes.extend(std::iter::repeat_n(0u8, 1024));
    zstd::encode_all(&tar_bytes[..], 3).unwrap()
}

fn refused(entries: &[Entry], limits: &Limits) -> (String, tempfile::TempDir) {
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let e = artifact::unpack(&zstd_tar(entries)[..], &target, limits).expect_err("must be refused");
    (e.to_string(), parent)
}

/// Nothing may exist beside the target directory after a refusal.
fn nothing_outside(parent: &tempfile::TempDir) {
    let names: Vec<String> = std::fs::read_dir(parent.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["target"],
        "something was written outside the target"
    );
}

#[test]
fn malicious_tarballs_are_refused_naming_the_entry() {
    let cases: Vec<(Vec<Entry>, &str)> = vec![
        (
            vec![Entry::file("/etc/dsi-evil", b"x", 0o644)],
            "refusing archive entry '/etc/dsi-evil': absolute path",
        ),
        (
            vec![Entry::file("../evil", b"x", 0o644)],
            "refusing archive entry '../evil': '..' in path",
        ),
        (
            vec![Entry::file("a/../../evil", b"x", 0o644)],
            "refusing archive entry 'a/../../evil': '..' in path",
        ),
        (
            vec![Entry::link("l", tar::EntryType::Symlink, "/etc/passwd")],
            "refusing archive entry 'l': symlink target '/etc/passwd' leaves the target directory",
        ),
        (
            vec![
                Entry::dir("d"),
                Entry::link("d/l", tar::EntryType::Symlink, "../../x"),
            ],
            "refusing archive entry 'd/l': symlink target '../../x' leaves the target directory",
        ),
        (
            vec![
                Entry::link("up", tar::EntryType::Symlink, "."),
                Entry::file("up/f", b"x", 0o644),
            ],
            "refusing archive entry 'up/f': path passes through a symlink",
        ),
        (
            vec![Entry::link("h", tar::EntryType::Link, "../outside")],
            "refusing archive entry 'h': hard link target '../outside' leaves the target directory",
        ),
        (
            vec![Entry::link("h", tar::EntryType::Link, "/etc/passwd")],
            "refusing archive entry 'h': hard link target '/etc/passwd' leaves the target directory",
        ),
        (
            vec![Entry::link("h", tar::EntryType::Link, "missing")],
            "refusing archive entry 'h': hard link target 'missing' is not a file unpacked before it",
        ),
        (
            vec![Entry {
                kind: tar::EntryType::Char,
                ..Entry::file("dev", b"", 0o644)
            }],
            "refusing archive entry 'dev': character device",
        ),
        (
            vec![Entry {
                kind: tar::EntryType::Block,
                ..Entry::file("blk", b"", 0o644)
            }],
            "refusing archive entry 'blk': block device",
        ),
        (
            vec![Entry {
                kind: tar::EntryType::Fifo,
                ..Entry::file("fifo", b"", 0o644)
            }],
            "refusing archive entry 'fifo': fifo",
        ),
        (
            vec![
                Entry::file("twice", b"1", 0o644),
                Entry::file("twice", b"2", 0o644),
            ],
            "refusing archive entry 'twice': duplicate entry",
        ),
    ];
    for (entries, expected) in cases {
        let (msg, parent) = refused(&entries, &Limits::default());
        assert_eq!(msg, expected);
        nothing_outside(&parent);
    }
}

#[test]
fn limits_on_entries_bytes_and_window_are_enforced() {
    let many: Vec<Entry> = (0..20)
        .map(|i| Entry::file(&format!("f{i}"), b"x", 0o644))
        .collect();
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    assert_eq!(
        refused(&many, &limits).0,
        "archive exceeds the limit of 10 entries"
    );

    let big = vec![Entry::file("big", &vec![0u8; 100_000], 0o644)];
    let limits = Limits {
        max_bytes: 10_000,
        ..Limits::default()
    };
    assert_eq!(
        refused(&big, &limits).0,
        "archive exceeds the limit of 10000 bytes"
    );

    // A frame that asks for a 256 MiB window against a 2^20 limit.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    enc.long_distance_matching(true).unwrap();
    enc.window_log(28).unwrap();
    enc.write_all(&[0u8; 4096]).unwrap();
    let bomb = enc.finish().unwrap();
    let target = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_window_log: 20,
        ..Limits::default()
    };
    let e = artifact::unpack(&bomb[..], target.path(), &limits).unwrap_err();
    assert!(matches!(e, UnpackError::Io(_)), "{e}");
    assert!(e.to_string().contains("cannot unpack archive"), "{e}");
}

#[test]
fn a_corrupted_artifact_is_detected_by_its_digest() {
    let src = tempfile::tempdir().unwrap();
    commit(src.path(), &[("Runfile", b"x\n")]);
    let packed = artifact::pack(src.path(), None).unwrap();
    let mut bytes = std::fs::read(&packed.file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x55;
    let out = tempfile::tempdir().unwrap();
    let reader = dsi_core::blob::VerifyingReader::new(&bytes[..], packed.blob);
    assert!(artifact::unpack(reader, out.path(), &Limits::default()).is_err());
}
