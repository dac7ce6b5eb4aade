//! Hostile *records*: repositories that unpack as archives but try to run
//! code on the next `git status` (hooks, `core.fsmonitor` in a submodule's
//! or a nested repository's config), redirect git (`commondir`,
//! alternates), leave the replay's directory through symlinks in the
//! commit's tree (as a BIND source or a declared output), read host files
//! as outputs (`/etc/passwd`, `../x`, a FIFO and `/dev/zero` the container
//! makes), inflate a few kilobytes of packed deltas to hundreds of MiB (a
//! git object bomb), or print terminal escapes and bidi overrides from
//! every field. Each is stored with consistent digests in a real store of
//! every driver, then `checkout` (and `git status`, `git log`, `git commit`
//! in the result), `show`, `export` (every format), `fsck` and `replay` run
//! on it: no marker file appears, no canary's content or digest reaches the
//! store or the output, peak memory stays under a cap, and each refusal is
//! one line naming what was refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use dsi_core::{BlobRef, Collection, Query};
use dsi_plugins_charliecloud::records::{RunRecord, query};

use super::{Store, dsi_cmd, listing, log, time_line};
use crate::common::*;

/// What one command must do with a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Succeed.
    Ok,
    /// Fail with one line containing this.
    Refuse(&'static str),
}

/// A hostile repository.
struct RepoCase {
    name: &'static str,
    /// The Runfile committed (after the FROM line).
    body: &'static str,
    /// Mutates the prepared repository `repo` (a git work tree with the
    /// Runfile committed) before it is tarred; `sandbox` is a directory
    /// outside it for canaries and markers.
    mutate: fn(&Path, &Path),
    /// checkout, show, export, replay.
    want: [Want; 4],
}

/// The commands run on each case, and which of [`RepoCase::want`] applies.
const COMMANDS: [(&str, usize); 6] = [
    ("checkout", 0),
    ("show", 1),
    ("export json", 2),
    ("export prov", 2),
    ("export ro-crate", 2),
    ("replay", 3),
];

/// A marker an attack would create.
fn marker(sandbox: &Path) -> PathBuf {
    sandbox.join("PWNED")
}

fn canary_dir(sandbox: &Path) -> PathBuf {
    sandbox.join("canary-dir")
}

fn canary_file(sandbox: &Path) -> PathBuf {
    sandbox.join("canary-secret")
}

const CANARY: &str = "canary-content-8f2e1d";

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fsmonitor_config(m: &Path) -> String {
    format!("[core]\n\tfsmonitor = touch {}\n", m.display())
}

fn hook(dir: &Path, name: &str, m: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\ntouch {}\n", m.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Commits `tree_edit` (a shell script run in the work tree) and then
/// removes from the work tree what it added, so that only the commit's
/// tree (git objects) holds it: materialising must catch it, not the tar.
fn commit_then_hide(repo: &Path, add: &str, hide: &str) {
    sh(repo, add);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "hostile tree"]);
    sh(repo, hide);
}

/// A pack holding a 16 MiB blob of zeros and a delta that copies it 16
/// times (a 256 MiB blob): a few kilobytes that inflate to 256 MiB.
fn delta_bomb(repo: &Path) {
    use flate2::Compression;
    use flate2::write::ZlibEncoder;
    use sha1::{Digest, Sha1};
    use std::io::Write;
    const BASE: usize = 16 << 20;
    const COPIES: usize = 16;
    fn varint_header(kind: u8, mut size: usize) -> Vec<u8> {
        let mut out = vec![(kind << 4) | (size & 0x0f) as u8];
        size >>= 4;
        while size > 0 {
            *out.last_mut().unwrap() |= 0x80;
            out.push((size & 0x7f) as u8);
            size >>= 7;
        }
        out
    }
    fn size_varint(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }
    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    let mut pack = b"PACK".to_vec();
    pack.extend(2u32.to_be_bytes());
    pack.extend(2u32.to_be_bytes());
    let base_offset = pack.len();
    pack.extend(varint_header(3, BASE));
    pack.extend(zlib(&vec![0u8; BASE]));
    let delta_offset = pack.len();
    // Delta: base size, result size, then copies of 8 MiB from offset 0
    // (opcode 0x80 | 0x40: no offset bytes, only the third size byte, 0x80).
    let mut delta = size_varint(BASE);
    delta.extend(size_varint(BASE * COPIES));
    for _ in 0..COPIES * 2 {
        delta.extend([0x80 | 0x40, 0x80]);
    }
    pack.extend(varint_header(6, delta.len()));
    let mut back = delta_offset - base_offset;
    let mut ofs = vec![(back & 0x7f) as u8];
    back >>= 7;
    while back > 0 {
        back -= 1;
        ofs.insert(0, 0x80 | (back & 0x7f) as u8);
        back >>= 7;
    }
    pack.extend(ofs);
    pack.extend(zlib(&delta));
    let sum = Sha1::digest(&pack);
    pack.extend(sum);
    let dir = repo.join(".git/objects/pack");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = repo.join("bomb.pack");
    std::fs::write(&tmp, &pack).unwrap();
    let out = Command::new("git")
        .args(["index-pack", "--stdin", "--keep=test"])
        .current_dir(repo)
        .stdin(std::fs::File::open(&tmp).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "index-pack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&tmp).unwrap();
    // The big blob's name: hash of the 256 MiB result.
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", BASE * COPIES).as_bytes());
    let zeros = vec![0u8; BASE];
    for _ in 0..COPIES {
        h.update(&zeros);
    }
    let big = hex(&h.finalize());
    let runfile = git(repo, &["rev-parse", "HEAD:Runfile"]).trim().to_owned();
    let tree_spec = format!("100644 blob {runfile}\tRunfile\n100644 blob {big}\tbig\n");
    let tree = pipe(repo, &["mktree"], &tree_spec);
    let head = git(repo, &["rev-parse", "HEAD"]).trim().to_owned();
    let commit = pipe(
        repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@h",
            "commit-tree",
            tree.trim(),
            "-p",
            &head,
        ],
        "bomb",
    );
    git(repo, &["update-ref", "HEAD", commit.trim()]);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn pipe(dir: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut c = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Escapes, a bidi override and a C1 control in the commit message and author.
const ESC: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J";
const BIDI: &str = "\u{202e}fdp.exe";

fn cases() -> Vec<RepoCase> {
    use Want::{Ok as Pass, Refuse};
    let all = |w: &'static str| [Refuse(w); 4];
    vec![
        RepoCase {
            name: "fsmonitor in a submodule's config",
            body: "CMD [\"true\"]\n",
            mutate: |r, s| {
                std::fs::create_dir_all(r.join(".git/modules/sub")).unwrap();
                std::fs::write(
                    r.join(".git/modules/sub/config"),
                    fsmonitor_config(&marker(s)),
                )
                .unwrap();
            },
            want: all("submodule metadata"),
        },
        RepoCase {
            name: "hooks",
            body: "CMD [\"true\"]\n",
            mutate: |r, s| {
                hook(&r.join(".git/hooks"), "post-checkout", &marker(s));
                hook(&r.join(".git/hooks"), "post-index-change", &marker(s));
            },
            want: all("hooks would run on the recipient's machine"),
        },
        RepoCase {
            name: "a nested .git with fsmonitor and hooks",
            body: "CMD [\"true\"]\n",
            mutate: |r, s| {
                std::fs::create_dir_all(r.join("sub/.git")).unwrap();
                std::fs::write(r.join("sub/.git/config"), fsmonitor_config(&marker(s))).unwrap();
                hook(&r.join("sub/.git/hooks"), "post-checkout", &marker(s));
            },
            want: all("nested git metadata"),
        },
        RepoCase {
            name: "commondir naming another repository",
            body: "CMD [\"true\"]\n",
            mutate: |r, s| {
                let other = s.join("other-repo");
                std::fs::create_dir_all(&other).unwrap();
                git(&other, &["init", "-q"]);
                std::fs::write(
                    r.join(".git/commondir"),
                    format!("{}/.git\n", other.display()),
                )
                .unwrap();
            },
            want: all("commondir makes git use another repository"),
        },
        RepoCase {
            name: "alternates naming a host path",
            body: "CMD [\"true\"]\n",
            mutate: |r, s| {
                std::fs::create_dir_all(r.join(".git/objects/info")).unwrap();
                std::fs::write(
                    r.join(".git/objects/info/alternates"),
                    format!("{}\n", s.join("host-objects").display()),
                )
                .unwrap();
            },
            want: all("alternates make git read objects from host paths"),
        },
        RepoCase {
            name: "a tree symlink as a BIND source",
            body: "BIND inputs:/mnt/0\nCMD [\"/bin/sh\", \"-c\", \"touch /mnt/0/written-by-the-container\"]\n",
            mutate: |r, s| {
                let target = canary_dir(s).display().to_string();
                commit_then_hide(r, &format!("ln -s {target} inputs"), "rm inputs");
            },
            want: [Pass, Pass, Pass, Refuse("inputs: symlink to")],
        },
        RepoCase {
            name: "a tree symlink as a declared output",
            body: "LABEL dsi.outputs=\"secret\"\nCMD [\"true\"]\n",
            mutate: |r, s| {
                let target = canary_file(s).display().to_string();
                commit_then_hide(r, &format!("ln -s {target} secret"), "rm secret");
            },
            want: [Pass, Pass, Pass, Refuse("secret: symlink to")],
        },
        RepoCase {
            name: "dsi.outputs naming /etc/passwd",
            body: "LABEL dsi.outputs=\"/etc/passwd\"\nCMD [\"true\"]\n",
            mutate: |_, _| {},
            want: [
                Pass,
                Pass,
                Pass,
                Refuse("E383: dsi.outputs path must be relative"),
            ],
        },
        RepoCase {
            name: "dsi.outputs naming ../x",
            body: "LABEL dsi.outputs=\"../x\"\nCMD [\"true\"]\n",
            mutate: |_, _| {},
            want: [
                Pass,
                Pass,
                Pass,
                Refuse("E292: '..' not allowed in dsi.outputs"),
            ],
        },
        RepoCase {
            name: "a git object bomb (256 MiB from a few KiB of deltas)",
            body: "CMD [\"true\"]\n",
            mutate: |r, _| delta_bomb(r),
            want: all("corrupt or hostile repository: object"),
        },
        RepoCase {
            name: "escapes and bidi controls in the commit message and author",
            body: "CMD [\"true\"]\n",
            mutate: |r, _| {
                let author = format!("Mallory {BIDI}");
                git(
                    r,
                    &[
                        "-c",
                        &format!("user.name={author}"),
                        "commit",
                        "-q",
                        "--allow-empty",
                        "-m",
                        &format!("innocent {ESC} \u{9b}31m {BIDI}"),
                    ],
                );
            },
            want: [Pass; 4],
        },
    ]
}

/// Tars a directory as it is (nothing filtered), zstd-compressed.
fn raw_pack(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    let tar = b.into_inner().unwrap();
    zstd::encode_all(&tar[..], 3).unwrap()
}

/// Every byte sequence that must never reach a terminal.
fn raw_controls(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (bad, name) in [
        ('\u{1b}', "ESC"),
        ('\u{202e}', "RLO"),
        ('\u{9b}', "CSI"),
        ('\u{7}', "BEL"),
    ] {
        if text.contains(bad) {
            found.push(name.to_owned());
        }
    }
    found
}

/// Runs one case on one store; returns the problems.
fn check_case(driver: &str, c: &RepoCase) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let sandbox = root.join("sandbox");
    std::fs::create_dir_all(canary_dir(&sandbox)).unwrap();
    std::fs::write(canary_file(&sandbox), CANARY).unwrap();
    let store = Store::new(driver, root);
    std::fs::create_dir_all(root.join("store")).unwrap();

    // A real record, then the hostile repository stored as another one.
    let repo = root.join("src/proj");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    // git init's sample hooks: only the hooks case has hooks.
    std::fs::remove_dir_all(repo.join(".git/hooks")).unwrap();
    write_runfile(&repo, c.body);
    git(&repo, &["add", "Runfile"]);
    git(&repo, &["commit", "-q", "-m", "runfile"]);
    let mut args = store.flags();
    args.extend(["--json".into(), "record".into(), "Runfile".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    write_runfile(&root.join("src"), "CMD [\"true\"]\n");
    let real = json(&run(&root.join("src"), &args));
    (c.mutate)(&repo, &sandbox);
    let archive = raw_pack(&repo);
    // Read the branch directly: a hostile commondir misleads git itself.
    let commit = std::fs::read_to_string(repo.join(".git/refs/heads/main"))
        .unwrap()
        .trim()
        .to_owned();
    let d = store.open();
    let row = d
        .get(&Query::Table(query::by_id(
            real["record"]["run_id"].as_str().unwrap(),
        )))
        .unwrap()
        .into_tables()
        .remove(0);
    let mut hostile = RunRecord::from_row(&row, 0).unwrap();
    hostile.run_id = "0H0STILERECORD000000000000".into();
    hostile.commit = Some(commit);
    let blob = BlobRef::of_bytes(&archive);
    hostile.repository = Some(blob);
    if c.name.starts_with("escapes") {
        hostile.image.reference = Some(format!("img{ESC}{BIDI}"));
        if let Some(u) = hostile.user.as_mut() {
            u.hostname = Some(format!("host{ESC}"));
            u.moniker = Some(format!("user{BIDI}"));
        }
    }
    d.put_blob(&blob, &mut &archive[..]).unwrap();
    d.put(&Collection::of(hostile.to_table().unwrap())).unwrap();
    drop(d);

    let mut problems = Vec::new();
    let id = hostile.run_id.clone();
    for (command, which) in COMMANDS {
        let want = c.want[which];
        let work = root.join("work");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        let outside_before = listing(&sandbox);
        let mut argv = store.flags();
        match command {
            "checkout" => argv.extend(["checkout".into(), id.clone(), "co".into()]),
            "show" => argv.extend(["show".into(), id.clone()]),
            "replay" => argv.extend(["replay".into(), id.clone()]),
            export => argv.extend([
                "export".into(),
                id.clone(),
                "-f".into(),
                export.trim_start_matches("export ").into(),
                "-o".into(),
                "exported".into(),
            ]),
        }
        let time = Path::new("/usr/bin/time");
        let wrap = time.exists().then_some(time);
        let out = dsi_cmd(&work, &tmp, wrap).args(&argv).output().unwrap();
        let err = stderr(&out);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let (rss_kb, _) = time_line(&err);
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| !l.starts_with("dsi-time: ") && !l.starts_with("Command exited"))
            .collect();
        let mut fail = |p: String| problems.push(format!("{driver} / {}: {command}: {p}", c.name));
        match want {
            Want::Ok if !out.status.success() => fail(format!("failed: {err}")),
            Want::Refuse(_) if out.status.success() => fail("succeeded".into()),
            Want::Refuse(w) => match lines.as_slice() {
                [first] | [first, _] if first.contains("error: ") && first.contains(w) => {}
                _ => fail(format!(
                    "expected one error line containing {w:?}, got {err:?}"
                )),
            },
            Want::Ok => {}
        }
        for bad in raw_controls(&stdout).into_iter().chain(raw_controls(&err)) {
            fail(format!("printed a raw {bad}"));
        }
        if stdout.contains(CANARY) || err.contains(CANARY) {
            fail("printed the canary".into());
        }
        if let Some(kb) = rss_kb
            && kb > 512 * 1024
        {
            fail(format!("peak RSS {kb} KiB"));
        }
        // In a checkout, ordinary git work must not run anything.
        let co = work.join("co");
        if co.exists() {
            for args in [
                &["status", "--porcelain"][..],
                &["log", "--format=%s"],
                &[
                    "-c",
                    "user.name=u",
                    "-c",
                    "user.email=u@h",
                    "commit",
                    "-q",
                    "--allow-empty",
                    "-m",
                    "mine",
                ],
            ] {
                let o = Command::new("git")
                    .args(args)
                    .current_dir(&co)
                    .env("HOME", &tmp)
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .output()
                    .unwrap();
                if !o.status.success() {
                    fail(format!(
                        "git {args:?} in the checkout: {}",
                        String::from_utf8_lossy(&o.stderr)
                    ));
                }
            }
            let other = sandbox.join("other-repo");
            if other.exists() && git(&other, &["rev-list", "--all"]).trim() != "" {
                fail("a commit landed in another repository".into());
            }
            std::fs::remove_dir_all(&co).unwrap();
        }
        let exported = work.join("exported");
        if exported.is_dir() {
            std::fs::remove_dir_all(&exported).unwrap();
        } else if exported.exists() {
            let text = std::fs::read_to_string(&exported).unwrap_or_default();
            if serde_json::from_str::<serde_json::Value>(&text).is_err() {
                fail("the export is not JSON".into());
            }
            std::fs::remove_file(&exported).unwrap();
        }
        if marker(&sandbox).exists() {
            fail("the marker file appeared".into());
        }
        if listing(&canary_dir(&sandbox)) != std::collections::BTreeSet::new() {
            fail("something was written into the canary directory".into());
        }
        let outside_after = listing(&sandbox);
        if outside_after != outside_before {
            fail(format!(
                "files outside changed: {outside_before:?} -> {outside_after:?}"
            ));
        }
        log(serde_json::json!({
            "driver": driver, "case": c.name, "command": command, "exit": out.status.code(),
            "message": lines.first().copied().unwrap_or(""), "ok": problems.is_empty(),
            "problems": problems, "rss_kb": rss_kb, "seconds": null, "archive_bytes": archive.len(),
        }));
    }
    // fsck reads every record: a repository that does not unpack is named.
    let mut argv = store.flags();
    argv.extend(["--json".into(), "fsck".into()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = run(root, &argv);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let unpack_refused = c.want[0] != Want::Ok;
    let named = report["problems"].as_array().map_or(0, Vec::len);
    if unpack_refused != (named == 1) {
        problems.push(format!(
            "{driver} / {}: fsck reported {named} problems: {report}",
            c.name
        ));
    }
    // No canary content or digest in the store.
    let digest = BlobRef::of_bytes(CANARY.as_bytes()).sha256_hex();
    if store.contains(&[CANARY, &digest]) {
        problems.push(format!(
            "{driver} / {}: the canary reached the store",
            c.name
        ));
    }
    problems
}

fn every_case(driver: &str) {
    let mut problems = Vec::new();
    for c in cases() {
        problems.extend(check_case(driver, &c));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn hostile_records_are_inert_on_sqlite() {
    every_case("sqlite");
}

#[test]
fn hostile_records_are_inert_on_parquet() {
    every_case("parquet");
}

#[test]
fn hostile_records_are_inert_on_s3() {
    every_case("s3");
}

/// A worktree and a shared clone are refused at record time (their records
/// would lose history when the other repository moves).
#[test]
fn worktrees_and_shared_clones_are_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let main = d.join("main");
    std::fs::create_dir(&main).unwrap();
    git(&main, &["init", "-q"]);
    git(&main, &["commit", "-q", "--allow-empty", "-m", "first"]);
    git(&main, &["worktree", "add", "-q", "../wt"]);
    git(d, &["clone", "-q", "--shared", "main", "shared"]);
    write_runfile(d, "CMD [\"true\"]\n");
    for (repo, expect) in [
        (
            "wt",
            "is a linked git worktree or a submodule (its .git is a file)",
        ),
        ("shared", "is not self-contained"),
    ] {
        let out = run(d, &["record", "Runfile", "--repo", repo]);
        assert_eq!(out.status.code(), Some(65), "{repo}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(expect), "{repo}: {err}");
        assert_eq!(err.lines().count(), 1, "{repo}: {err}");
    }
    assert_eq!(store_counts(d), (0, 0), "nothing stored");
}
