//! Hostile stored artifacts through the commands that read them back.
//!
//! For every driver (sqlite, parquet, s3 on the test server) a store holding
//! one real record is given more records whose repository blob is a
//! malicious tarball — absolute paths, `..`, symlinks and hard links that
//! leave the target (directly or through another symlink), a `.git` that is
//! not a directory, devices, fifos, duplicates, garbage — or a zstd bomb (a
//! few kilobytes that expand to 1 GiB). Each blob is stored under its true
//! digest, so `dsi fsck` passes and only the unpacker stands in the way.
//! `dsi checkout`, `dsi show` and `dsi replay --run` must each refuse it with
//! one `error:` line (and at most a hint) naming the problem, leave nothing
//! behind (no checkout directory, no temporary files, nothing outside), and
//! leave the store exactly as it was. The bomb must be stopped by the unpack
//! limits within bounded time and memory (peak RSS measured with GNU time
//! when it is installed). The entry and byte limits, which take a million
//! entries or 64 GiB at their defaults, are checked through the same stored
//! blobs and `unpack_stored_repository` with lowered limits.
//!
//! With `DSI_RELIABILITY_LOG=FILE`, every check appends one JSON line to FILE
//! (read by `cargo xtask reliability`). Needs the test services.

#![cfg(all(feature = "sqlite", feature = "parquet", feature = "s3"))]

mod common;
mod hostile_records;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;
use dsi_core::{BlobRef, Collection, Driver, Query};
use dsi_plugins_charliecloud::artifact::{self, Limits};
use dsi_plugins_charliecloud::records::{RunRecord, query};

/// One tar entry, written with raw headers (bypassing the tar crate's checks).
struct Entry {
    path: String,
    kind: tar::EntryType,
    data: Vec<u8>,
    link: &'static str,
}

fn file(path: &str, data: &[u8]) -> Entry {
    Entry {
        path: path.to_owned(),
        kind: tar::EntryType::Regular,
        data: data.to_vec(),
        link: "",
    }
}

fn dir(path: &str) -> Entry {
    Entry {
        path: path.to_owned(),
        kind: tar::EntryType::Directory,
        data: vec![],
        link: "",
    }
}

fn link(path: &str, kind: tar::EntryType, target: &'static str) -> Entry {
    Entry {
        path: path.to_owned(),
        kind,
        data: vec![],
        link: target,
    }
}

fn special(path: &str, kind: tar::EntryType) -> Entry {
    Entry {
        path: path.to_owned(),
        kind,
        data: vec![],
        link: "",
    }
}

fn tar_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..e.path.len()].copy_from_slice(e.path.as_bytes());
        h.as_old_mut().linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        h.set_entry_type(e.kind);
        h.set_mode(0o644);
        h.set_size(e.data.len() as u64);
        h.set_mtime(0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn zstd_tar(entries: &[Entry]) -> Vec<u8> {
    zstd::encode_all(&tar_bytes(entries)[..], 3).unwrap()
}

/// `frames` MiB of zeros as concatenated zstd frames (a few dozen bytes each).
fn zero_frames(frames: usize) -> Vec<u8> {
    let frame = zstd::encode_all(&vec![0u8; 1 << 20][..], 19).unwrap();
    frame.repeat(frames)
}

/// A tar holding one 1 GiB file of zeros: a few tens of kilobytes.
fn gib_bomb() -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_path("big").unwrap();
    h.set_size(1 << 30);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = zstd::encode_all(&h.as_bytes()[..], 3).unwrap();
    out.extend(zero_frames(1024));
    out.extend(zstd::encode_all(&[0u8; 1024][..], 3).unwrap());
    out
}

/// An empty tar followed by 1 GiB of zeros after its end marker.
fn trailing_bomb() -> Vec<u8> {
    let mut out = zstd::encode_all(&[0u8; 1024][..], 3).unwrap();
    out.extend(zero_frames(1024));
    out
}

/// A hostile archive and the words its refusal must contain.
struct Case {
    name: &'static str,
    archive: Vec<u8>,
    expect: &'static str,
    /// Measure time and peak RSS (the bombs).
    measure: bool,
}

fn case(name: &'static str, entries: &[Entry], expect: &'static str) -> Case {
    Case {
        name,
        archive: zstd_tar(entries),
        expect,
        measure: false,
    }
}

fn corpus() -> Vec<Case> {
    use tar::EntryType::{Block, Char, Fifo, Link, Symlink};
    vec![
        case(
            "absolute path",
            &[file("/tmp/dsi-hostile-abs", b"x")],
            "refusing archive entry '/tmp/dsi-hostile-abs': absolute path",
        ),
        case(
            "'..' in path",
            &[file("../evil", b"x")],
            "refusing archive entry '../evil': '..' in path",
        ),
        case(
            "'..' inside path",
            &[dir("a"), file("a/../../evil", b"x")],
            "'..' in path",
        ),
        case(
            "symlink to an absolute path",
            &[link("l", Symlink, "/etc/passwd")],
            "symlink target '/etc/passwd' leaves the target directory",
        ),
        case(
            "symlink climbing out",
            &[dir("d"), link("d/l", Symlink, "../../x")],
            "symlink target '../../x' leaves the target directory",
        ),
        case(
            "symlink climbing out through another symlink",
            &[link("a", Symlink, "."), link("b", Symlink, "a/..")],
            "symlink target 'a/..' has '..' after a name",
        ),
        case(
            "write through a symlink",
            &[link("up", Symlink, "."), file("up/f", b"x")],
            "path passes through a symlink",
        ),
        case(
            "'.git' as a symlink",
            &[
                dir("g"),
                file("g/config", b"[core]\n\tfsmonitor = touch /tmp/dsi-pwned\n"),
                link(".git", Symlink, "g"),
            ],
            "'.git' must be a directory",
        ),
        case(
            "'.git' as a gitdir file",
            &[dir("g"), file(".git", b"gitdir: g\n")],
            "'.git' must be a directory",
        ),
        case(
            "hard link leaving the target",
            &[link("h", Link, "../outside")],
            "hard link target '../outside' leaves the target directory",
        ),
        case(
            "hard link to an absolute path",
            &[link("h", Link, "/etc/passwd")],
            "hard link target '/etc/passwd' leaves the target directory",
        ),
        case(
            "hard link to nothing unpacked",
            &[link("h", Link, "missing")],
            "is not a file unpacked before it",
        ),
        case(
            "character device",
            &[special("dev", Char)],
            "character device",
        ),
        case("block device", &[special("blk", Block)], "block device"),
        case("fifo", &[special("fifo", Fifo)], "fifo"),
        case(
            "duplicate entry",
            &[file("twice", b"1"), file("twice", b"2")],
            "duplicate entry",
        ),
        case(
            "no git repository",
            &[file("Runfile", b"FROM x\n")],
            "holds no usable git repository",
        ),
        Case {
            name: "not zstd",
            archive: b"this is not a zstd stream".repeat(40),
            expect: "cannot unpack archive: bad zstd stream",
            measure: false,
        },
        Case {
            name: "truncated zstd",
            archive: zstd_tar(&[file("a", &[7u8; 5000])])[..20].to_vec(),
            expect: "cannot unpack archive: bad zstd stream",
            measure: false,
        },
        Case {
            name: "tar header checksum mismatch",
            archive: {
                let mut t = tar_bytes(&[file("a", b"x")]);
                t[148] ^= 1;
                zstd::encode_all(&t[..], 3).unwrap()
            },
            expect: "cannot unpack archive: bad tar stream",
            measure: false,
        },
        Case {
            name: "1 GiB zstd bomb (one file)",
            archive: gib_bomb(),
            expect: "archive exceeds the limit of a 1024:1 compression ratio",
            measure: true,
        },
        Case {
            name: "1 GiB zstd bomb (after the end of the tar)",
            archive: trailing_bomb(),
            expect: "archive exceeds the limit of a 1024:1 compression ratio",
            measure: true,
        },
    ]
}

/// Where a driver's store lives.
enum Store {
    Sqlite(PathBuf),
    Parquet(PathBuf),
    S3(String),
}

impl Store {
    fn new(driver: &str, root: &Path) -> Store {
        match driver {
            "sqlite" => Store::Sqlite(root.join("store/dsi.db")),
            "parquet" => Store::Parquet(root.join("store/dsi-data")),
            _ => {
                let bucket = required_env("DSI_TEST_S3_BUCKET");
                required_env("AWS_ENDPOINT_URL");
                let suffix: String = root
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect();
                Store::S3(format!("s3://{bucket}/hostile-{suffix}"))
            }
        }
    }

    fn driver(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Parquet(_) => "parquet",
            Store::S3(_) => "s3",
        }
    }

    fn flags(&self) -> Vec<String> {
        let store = match self {
            Store::Sqlite(p) | Store::Parquet(p) => p.display().to_string(),
            Store::S3(u) => u.clone(),
        };
        vec![
            "--driver".into(),
            self.driver().into(),
            "--store".into(),
            store,
        ]
    }

    fn open(&self) -> Box<dyn Driver> {
        match self {
            Store::Sqlite(p) => Box::new(dsi_driver_sqlite::SqliteDriver::open(p).unwrap()),
            Store::Parquet(p) => Box::new(dsi_driver_parquet::Dataset::open_local(p).unwrap()),
            Store::S3(u) => Box::new(
                dsi_driver_s3::S3Builder::from_env(u)
                    .unwrap()
                    .open()
                    .unwrap(),
            ),
        }
    }
}

impl Store {
    /// Whether any byte of the store (the SQLite files, the dataset's
    /// files, the bucket's objects) holds one of `needles`.
    fn contains(&self, needles: &[&str]) -> bool {
        let hit = |bytes: &[u8]| {
            needles
                .iter()
                .any(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes()))
        };
        match self {
            Store::Sqlite(p) | Store::Parquet(p) => {
                let root = if p.is_dir() {
                    p.clone()
                } else {
                    p.parent().unwrap().to_path_buf()
                };
                let mut stack = vec![root];
                while let Some(d) = stack.pop() {
                    for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                        let path = e.path();
                        if path.is_dir() {
                            stack.push(path);
                        } else if hit(&std::fs::read(&path).unwrap_or_default()) {
                            return true;
                        }
                    }
                }
                false
            }
            Store::S3(url) => {
                use dsi_driver_parquet::object_store::ObjectStoreExt as _;
                use futures_util_stream::collect_objects;
                let ds = dsi_driver_s3::S3Builder::from_env(url)
                    .unwrap()
                    .open()
                    .unwrap();
                let objects = collect_objects(&ds);
                objects.iter().any(|path| {
                    let bytes = ds
                        .block_on(async { ds.store().get(path).await?.bytes().await })
                        .unwrap_or_default();
                    hit(&bytes)
                })
            }
        }
    }
}

/// Listing a dataset's objects (recursively, by delimiter) through the
/// dataset's own runtime.
mod futures_util_stream {
    use dsi_driver_parquet::Dataset;
    use dsi_driver_parquet::object_store::path::Path;

    pub(crate) fn collect_objects(ds: &Dataset) -> Vec<Path> {
        ds.block_on(walk(ds, ds.prefix().clone()))
    }

    fn walk<'a>(
        ds: &'a Dataset,
        dir: Path,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Path>> + 'a>> {
        Box::pin(async move {
            let page = ds.store().list_with_delimiter(Some(&dir)).await.unwrap();
            let mut out: Vec<Path> = page.objects.into_iter().map(|o| o.location).collect();
            for p in page.common_prefixes {
                out.extend(walk(ds, p).await);
            }
            out
        })
    }
}

/// Every path under `root` (relative), with its kind and size.
fn listing(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if rel == "store" {
                continue;
            }
            out.insert(format!("{rel} {:?} {}", m.file_type(), m.len()));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// Appends one JSON line to `$DSI_RELIABILITY_LOG`, if set.
fn log(line: serde_json::Value) {
    if let Ok(path) = std::env::var("DSI_RELIABILITY_LOG") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
}

/// `GNU time`'s `%M %e` line, if it wrapped the command.
fn time_line(stderr: &str) -> (Option<u64>, Option<f64>) {
    let Some(last) = stderr.lines().last() else {
        return (None, None);
    };
    let Some(rest) = last.strip_prefix("dsi-time: ") else {
        return (None, None);
    };
    let mut it = rest.split_whitespace();
    (
        it.next().and_then(|k| k.parse().ok()),
        it.next().and_then(|s| s.parse().ok()),
    )
}

struct Seeded {
    store: Store,
    ids: Vec<String>,
}

/// A store with one real record and, for each archive, a record whose
/// repository blob is that archive.
fn seed(driver: &str, root: &Path, archives: &[&[u8]]) -> Seeded {
    let store = Store::new(driver, root);
    std::fs::create_dir_all(root.join("store")).unwrap();
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    write_runfile(&src, "CMD [\"/bin/true\"]\n");
    let mut args = store.flags();
    args.extend(["--json".into(), "record".into(), "Runfile".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let rec = json(&run(&src, &args));
    let real_id = rec["record"]["run_id"].as_str().unwrap().to_owned();

    let d = store.open();
    let row = d
        .get(&Query::Table(query::by_id(&real_id)))
        .unwrap()
        .into_tables()
        .remove(0);
    let real = RunRecord::from_row(&row, 0).unwrap();
    let mut ids = Vec::new();
    for (i, archive) in archives.iter().enumerate() {
        let blob = BlobRef::of_bytes(archive);
        d.put_blob(&blob, &mut &archive[..]).unwrap();
        let mut hostile = real.clone();
        hostile.run_id = format!("0H0STILE{i:018}");
        hostile.repository = Some(blob);
        d.put(&Collection::of(hostile.to_table().unwrap())).unwrap();
        ids.push(hostile.run_id);
    }
    Seeded { store, ids }
}

/// `dsi --json inspect` or `dsi --json fsck` of the store (fsck exits 74:
/// it unpacks every repository, and reports the hostile ones).
fn state(store: &Store, cwd: &Path, command: &str) -> String {
    let mut args = store.flags();
    args.extend(["--json".into(), command.into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(cwd, &args);
    let want = if command == "fsck" { 74 } else { 0 };
    assert_eq!(out.status.code(), Some(want), "{command}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs one refusing command; returns the problems found.
fn refuse(s: &Seeded, root: &Path, case: &Case, id: &str, command: &str) -> Vec<String> {
    let work = root.join("work");
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let sandbox_before = listing(root);
    let mut args = s.store.flags();
    match command {
        "checkout" => args.extend(["checkout".into(), id.into(), "co".into()]),
        "show" => args.extend(["show".into(), id.into()]),
        _ => args.extend(["replay".into(), id.into()]),
    }
    let time = Path::new("/usr/bin/time");
    let wrap = (case.measure && time.exists()).then_some(time);
    let start = Instant::now();
    let out: Output = dsi_cmd(&work, &tmp, wrap).args(&args).output().unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let err = stderr(&out);
    let (rss_kb, _) = time_line(&err);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("dsi-time: ") && !l.starts_with("Command exited"))
        .collect();
    let mut problems = Vec::new();
    let mut fail = |p: String| {
        problems.push(format!(
            "{} / {}: {command}: {p}",
            s.store.driver(),
            case.name
        ))
    };
    if out.status.success() {
        fail("succeeded".into());
    }
    match lines.as_slice() {
        [first] | [first, _] if first.starts_with("error: ") && first.contains(case.expect) => {}
        _ => fail(format!(
            "expected one error line containing {:?}, got {err:?}",
            case.expect
        )),
    }
    if let [_, second] = lines.as_slice()
        && !second.starts_with("hint: ")
    {
        fail(format!("second line is not a hint: {second:?}"));
    }
    let sandbox_after = listing(root);
    if sandbox_after != sandbox_before {
        let added: Vec<_> = sandbox_after.difference(&sandbox_before).collect();
        let removed: Vec<_> = sandbox_before.difference(&sandbox_after).collect();
        fail(format!(
            "files changed: added {added:?}, removed {removed:?}"
        ));
    }
    if Path::new("/tmp/dsi-hostile-abs").exists() {
        fail("wrote /tmp/dsi-hostile-abs".into());
    }
    if case.measure && seconds > 120.0 {
        fail(format!("took {seconds:.1} s"));
    }
    if let Some(kb) = rss_kb
        && kb > 512 * 1024
    {
        fail(format!("peak RSS {kb} KiB"));
    }
    log(serde_json::json!({
        "driver": s.store.driver(),
        "case": case.name,
        "command": command,
        "exit": out.status.code(),
        "message": lines.first().copied().unwrap_or(""),
        "ok": problems.is_empty(),
        "problems": problems,
        "rss_kb": rss_kb,
        "seconds": seconds,
        "archive_bytes": case.archive.len(),
    }));
    problems
}

/// `dsi` for a hostile command: in `work`, temporary files in `tmp`;
/// `time` wraps it in GNU time to measure peak RSS.
fn dsi_cmd(work: &Path, tmp: &Path, time: Option<&Path>) -> std::process::Command {
    let dsi = env!("CARGO_BIN_EXE_dsi");
    let mut c = match time {
        Some(t) => {
            let mut c = std::process::Command::new(t);
            c.args(["-f", "dsi-time: %M %e", dsi]);
            c
        }
        None => std::process::Command::new(dsi),
    };
    build_storage();
    hermetic(&mut c, work);
    c.current_dir(work).env("TMPDIR", tmp);
    c
}

/// The entry and byte limits through a stored blob, with lowered limits.
fn lowered_limits(s: &Seeded, root: &Path) -> Vec<String> {
    let d = s.store.open();
    let mut problems = Vec::new();
    let many: Vec<Entry> = (0..20).map(|i| file(&format!("f{i}"), b"x")).collect();
    let cases = [
        (
            "more entries than the limit",
            zstd_tar(&many),
            Limits {
                max_entries: 10,
                ..Limits::default()
            },
            "archive exceeds the limit of 10 entries",
        ),
        (
            "more bytes than the limit",
            zstd_tar(&[file("big", &vec![0u8; 100_000])]),
            Limits {
                max_bytes: 10_000,
                ..Limits::default()
            },
            "archive exceeds the limit of 10000 bytes",
        ),
    ];
    for (name, archive, limits, expect) in cases {
        let blob = BlobRef::of_bytes(&archive);
        d.put_blob(&blob, &mut &archive[..]).unwrap();
        let parent = root.join("limits");
        let target = parent.join("target");
        std::fs::create_dir_all(&target).unwrap();
        let r = artifact::unpack_stored_repository(d.get_blob(&blob).unwrap(), &target, &limits);
        let message = match r {
            Ok(_) => "unpacked".to_owned(),
            Err(e) => e.to_string(),
        };
        let mut p = Vec::new();
        if message != expect {
            p.push(format!("{} / {name}: got {message:?}", s.store.driver()));
        }
        let names: Vec<_> = std::fs::read_dir(&parent)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        if names != ["target"] {
            p.push(format!(
                "{} / {name}: wrote outside: {names:?}",
                s.store.driver()
            ));
        }
        std::fs::remove_dir_all(&parent).unwrap();
        log(serde_json::json!({
            "driver": s.store.driver(),
            "case": name,
            "command": "unpack_stored_repository (lowered limits)",
            "exit": null,
            "message": message,
            "ok": p.is_empty(),
            "problems": p,
            "rss_kb": null,
            "seconds": null,
            "archive_bytes": archive.len(),
        }));
        problems.extend(p);
    }
    problems
}

fn every_case(driver: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cases = corpus();
    let archives: Vec<&[u8]> = cases.iter().map(|c| c.archive.as_slice()).collect();
    let s = seed(driver, root, &archives);
    let inspect = state(&s.store, root, "inspect");
    let fsck = state(&s.store, root, "fsck");
    let report: serde_json::Value = serde_json::from_str(&fsck).unwrap();
    let mut problems = Vec::new();
    // fsck names every hostile repository, and nothing else.
    let named = report["problems"].as_array().unwrap();
    if named.len() != s.ids.len() {
        problems.push(format!(
            "{driver}: fsck found {} problems for {} hostile records: {fsck}",
            named.len(),
            s.ids.len()
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(900);
    for (c, id) in cases.iter().zip(&s.ids) {
        for command in ["checkout", "show", "replay"] {
            problems.extend(refuse(&s, root, c, id, command));
        }
        // The store, as every command sees it, is unchanged.
        let ok = state(&s.store, root, "inspect") == inspect;
        if !ok {
            problems.push(format!("{driver} / {}: the store changed", c.name));
        }
        log(serde_json::json!({
            "driver": driver, "case": c.name, "command": "store unchanged (inspect)",
            "ok": ok, "problems": [], "exit": null, "message": "",
            "rss_kb": null, "seconds": null, "archive_bytes": c.archive.len(),
        }));
        assert!(Instant::now() < deadline, "hostile cases took too long");
    }
    let ok = state(&s.store, root, "fsck") == fsck;
    if !ok {
        problems.push(format!(
            "{driver}: fsck differs after the hostile commands:\n{fsck}\n{}",
            state(&s.store, root, "fsck")
        ));
    }
    log(serde_json::json!({
        "driver": driver, "case": "all", "command": "fsck unchanged",
        "ok": ok, "problems": [], "exit": null, "message": "",
        "rss_kb": null, "seconds": null, "archive_bytes": null,
    }));
    problems.extend(lowered_limits(&s, root));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn hostile_artifacts_are_refused_by_sqlite_stores() {
    every_case("sqlite");
}

#[test]
fn hostile_artifacts_are_refused_by_parquet_stores() {
    every_case("parquet");
}

#[test]
fn hostile_artifacts_are_refused_by_s3_stores() {
    every_case("s3");
}

#[test]
fn the_bombs_are_tiny_and_expand_to_a_gib() {
    for bomb in [gib_bomb(), trailing_bomb()] {
        assert!(bomb.len() < 128 << 10, "{} bytes", bomb.len());
        let mut dec = zstd::stream::read::Decoder::new(&bomb[..]).unwrap();
        let n = std::io::copy(&mut dec, &mut std::io::sink()).unwrap();
        assert!(n >= 1 << 30, "{n} bytes");
    }
}
