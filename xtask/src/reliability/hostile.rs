//! Hostile input: each rejected with a clear one-line message and nothing
//! stored.
//!
//! * **Stored artifacts** — the integration test
//!   `dsi-cli/tests/hostile_artifacts.rs` stores malicious tarballs and two
//!   1 GiB zstd bombs as the repository blobs of records (true digests, so
//!   fsck passes) on every driver and runs `dsi checkout`, `dsi show` and
//!   `dsi replay --run` on each; it logs one JSON line per check, which this
//!   section turns into rows (with the bombs' time and peak RSS).
//! * **Runfiles** — one malformed Runfile per static diagnostic of
//!   `docs/RUNFILE.md` (E101–E353): `dsi runfile check` and `dsi record` on
//!   every driver must exit 65 with the spec's `FILE:LINE:COL: error: CODE:`
//!   line, and the store must be unchanged.
//! * **CSV** — ragged rows, invalid UTF-8, a 10 MB field (and a missing
//!   header, a duplicate column) through `dsi ingest csv`: exit 65, one line
//!   naming the file and line, store unchanged.
//! * **SQL injection** — a table name and CSV column names made of SQL must
//!   be stored as plain names (the `runs` table and its run ids intact);
//!   ingesting into `runs` is refused; stacked and writing statements
//!   through `dsi query` are refused, write no file, and change nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Instant;

use anyhow::Context;

use super::harness::{Ctx, Driver, Part, Row, Store, message};
use crate::json::{self, Items as _};
use crate::util::{cargo, run as sh};

const SECTION: &str = "Hostile input";

/// Every part, each a list of rows.
pub(crate) fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let parts: [(&str, Part); 4] = [
        ("stored artifacts", artifacts),
        ("Runfiles", runfiles),
        ("CSV", csv),
        ("SQL injection", sql),
    ];
    for (name, part) in parts {
        let start = Instant::now();
        let got = part(ctx).unwrap_or_else(|e| {
            vec![Row {
                section: SECTION,
                check: name.into(),
                driver: "all".into(),
                runs: "aborted".into(),
                ok: false,
                detail: format!("{e:#}"),
            }]
        });
        eprintln!(
            "xtask: reliability: hostile {name}: {} ({:.1} s)",
            if got.iter().all(|r| r.ok) {
                "ok"
            } else {
                "FAILED"
            },
            start.elapsed().as_secs_f64()
        );
        rows.extend(got);
    }
    Ok(rows)
}

// ------------------------------------------------------------ artifacts

/// One line of the hostile-artifact test's log.
struct Logged {
    driver: String,
    case: String,
    command: String,
    exit: Option<u64>,
    message: String,
    ok: bool,
    problems: Vec<String>,
    rss_kb: Option<u64>,
    seconds: Option<f64>,
    archive_bytes: Option<u64>,
}

fn artifacts(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let log = ctx.work.join("hostile-artifacts.jsonl");
    let _ = std::fs::remove_file(&log);
    let status = sh(cargo()
        .args([
            "test",
            "--workspace",
            "--all-features",
            "--test",
            "hostile_artifacts",
            "--",
            "--test-threads=2",
        ])
        .envs(&ctx.env)
        .env("DSI_RELIABILITY_LOG", &log));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let mut lines = Vec::new();
    for l in text.lines() {
        let v = json::parse(l).with_context(|| format!("parsing {}", log.display()))?;
        lines.push(Logged {
            driver: v["driver"].as_str().unwrap_or_default().into(),
            case: v["case"].as_str().unwrap_or_default().into(),
            command: v["command"].as_str().unwrap_or_default().into(),
            exit: v["exit"].as_u64(),
            message: v["message"].as_str().unwrap_or_default().into(),
            ok: v["ok"].as_bool().unwrap_or(false),
            problems: v["problems"]
                .items()
                .iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect(),
            rss_kb: v["rss_kb"].as_u64(),
            seconds: v["seconds"].as_f64(),
            archive_bytes: v["archive_bytes"].as_u64(),
        });
    }
    let mut rows = Vec::new();
    for d in Driver::ALL {
        let mine: Vec<&Logged> = lines.iter().filter(|l| l.driver == d.name()).collect();
        let is_bomb = |l: &&Logged| l.case.contains("bomb");
        let is_command = |l: &&Logged| matches!(l.command.as_str(), "checkout" | "show" | "replay");
        let failures = |ls: &[&&Logged]| -> Vec<String> {
            ls.iter()
                .filter(|l| !l.ok)
                .map(|l| {
                    if l.problems.is_empty() {
                        format!("{} / {}", l.case, l.command)
                    } else {
                        l.problems.join("; ")
                    }
                })
                .collect()
        };

        // The tarball corpus.
        let tarballs: Vec<&&Logged> = mine
            .iter()
            .filter(|l| !is_bomb(l) && (is_command(l) || l.command.starts_with("store")))
            .collect();
        let cases: std::collections::BTreeSet<&str> =
            tarballs.iter().map(|l| l.case.as_str()).collect();
        let commands = tarballs.iter().filter(|l| is_command(l)).count();
        let mut exits: BTreeMap<u64, usize> = BTreeMap::new();
        for l in tarballs.iter().filter(|l| is_command(l)) {
            *exits.entry(l.exit.unwrap_or(0)).or_default() += 1;
        }
        let fails = failures(&tarballs);
        let ok = !tarballs.is_empty() && fails.is_empty();
        let sample = tarballs
            .iter()
            .find(|l| {
                l.case == "symlink climbing out through another symlink" && l.command == "checkout"
            })
            .map(|l| format!("; e.g. `{}`", l.message))
            .unwrap_or_default();
        rows.push(Row {
            section: SECTION,
            check: "malicious tarballs as stored repositories: `dsi checkout`, `dsi show`, `dsi replay --run`".into(),
            driver: d.name().into(),
            runs: format!("{} archives × 3 commands", cases.len()),
            ok,
            detail: if ok {
                format!(
                    "all {commands} refused with one `error:` line naming the entry and the reason \
                     (exit {}); no directory, temporary file or file outside left; store unchanged \
                     (inspect after each archive, fsck at the end){sample}",
                    exits
                        .iter()
                        .map(|(e, n)| format!("{e}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else if tarballs.is_empty() {
                "no results logged".into()
            } else {
                fails.join("; ")
            },
        });

        // The bombs.
        let bombs: Vec<&&Logged> = mine
            .iter()
            .filter(|l| is_bomb(l) && is_command(l))
            .collect();
        let fails = failures(&bombs);
        let ok = !bombs.is_empty() && fails.is_empty();
        let max_rss = bombs.iter().filter_map(|l| l.rss_kb).max();
        let max_s = bombs
            .iter()
            .filter_map(|l| l.seconds)
            .fold(0.0_f64, f64::max);
        let size = bombs
            .iter()
            .filter_map(|l| l.archive_bytes)
            .max()
            .unwrap_or(0);
        rows.push(Row {
            section: SECTION,
            check:
                "1 GiB zstd bomb as a stored repository (one 1 GiB file; 1 GiB after the tar's end)"
                    .into(),
            driver: d.name().into(),
            runs: "2 bombs × 3 commands".into(),
            ok,
            detail: if ok {
                format!(
                    "{} KiB compressed; stopped by the unpack limits: `{}`; at most {max_s:.2} s, \
                     peak RSS {}",
                    size / 1024,
                    bombs.first().map_or("", |l| l.message.as_str()),
                    max_rss.map_or("not measured (no /usr/bin/time)".to_owned(), |k| format!(
                        "{} MiB",
                        k / 1024
                    ))
                )
            } else if bombs.is_empty() {
                "no results logged".into()
            } else {
                fails.join("; ")
            },
        });

        // Entry and byte limits, lowered.
        let limits: Vec<&&Logged> = mine
            .iter()
            .filter(|l| l.command.contains("lowered"))
            .collect();
        let fails = failures(&limits);
        let ok = !limits.is_empty() && fails.is_empty();
        rows.push(Row {
            section: SECTION,
            check: "entry and byte limits on a stored blob (`unpack_stored_repository`, limits lowered to 10 entries / 10 kB)".into(),
            driver: d.name().into(),
            runs: format!("{} archives", limits.len()),
            ok,
            detail: if ok {
                limits
                    .iter()
                    .map(|l| format!("`{}`", l.message))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else if limits.is_empty() {
                "no results logged".into()
            } else {
                fails.join("; ")
            },
        });
    }
    if let Err(e) = status {
        rows.push(Row {
            section: SECTION,
            check: "hostile_artifacts test".into(),
            driver: "all".into(),
            runs: "1".into(),
            ok: false,
            detail: format!("{e:#}"),
        });
    }
    Ok(rows)
}

// ------------------------------------------------------------ helpers

/// A store with one real record in it, for before/after comparisons.
fn seeded(ctx: &Ctx, driver: Driver, name: &str) -> anyhow::Result<Store> {
    let store = ctx.store(driver, name)?;
    ctx.ok(
        Some(&store),
        &["record", &ctx.runfile.display().to_string()],
    )?;
    Ok(store)
}

/// The store as compared before and after: inspect output and fsck result.
fn snapshot(ctx: &Ctx, store: &Store) -> anyhow::Result<(String, Vec<String>, bool)> {
    let state = ctx.inspect(store)?;
    let fsck = ctx.fsck(store)?;
    Ok((state.raw, ctx.run_ids(store)?, fsck.clean()))
}

/// Whether a refusal is one `error:` (or diagnostic) line plus at most a hint.
fn one_line(out: &Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    let (first, lines) = message(out);
    let total = err.lines().count();
    lines == 1 && total <= 2 && !first.is_empty()
}

// ------------------------------------------------------------ Runfiles

/// `(name, expected code, content)` with `from` the pinned FROM line.
fn runfile_corpus(from: &str) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let f = from.as_bytes();
    let cmd: &[u8] = b"CMD [\"/bin/true\"]\n";
    let with = |middle: &[u8]| [f, b"\n", middle, cmd].concat();
    vec![
        ("invalid UTF-8", "E101", with(b"LABEL a=\"\xff\xfe\"\n")),
        (
            "byte-order mark",
            "E102",
            [b"\xef\xbb\xbf", f, b"\n", cmd].concat(),
        ),
        ("control character", "E103", with(b"ENV A=\x07\n")),
        ("carriage return", "E104", [f, b"\r\n", cmd].concat()),
        (
            "escape directive",
            "E110",
            [b"# escape=`\n", f, b"\n", cmd].concat(),
        ),
        (
            "duplicate directive",
            "E111",
            [b"# runfile=1\n# runfile=1\n", f, b"\n", cmd].concat(),
        ),
        (
            "unknown version",
            "E112",
            [b"# runfile=2\n", f, b"\n", cmd].concat(),
        ),
        (
            "continuation at end of file",
            "E121",
            [f, b"\nCMD [\"/bin/true\"] \\\n"].concat(),
        ),
        (
            "empty continuation line",
            "E122",
            with(b"ENV A=1 \\\n\n B=2\n"),
        ),
        ("no keyword", "E200", with(b"=foo\n")),
        ("unknown instruction", "E201", with(b"FROBNICATE x\n")),
        ("missing arguments", "E202", with(b"WORKDIR\n")),
        ("forbidden COPY", "E203", with(b"COPY a b\n")),
        ("empty file", "E210", Vec::new()),
        (
            "first instruction not FROM",
            "E210",
            [cmd, f, b"\n"].concat(),
        ),
        ("second FROM", "E211", [f, b"\n", f, b"\n", cmd].concat()),
        (
            "FROM --platform",
            "E231",
            [b"FROM --platform=linux/amd64 dsi-test\n", cmd].concat(),
        ),
        ("FROM ... AS", "E232", [f, b" AS x\n", cmd].concat()),
        (
            "digest without host",
            "E241",
            [b"FROM dsi-test@sha256:", &[b'a'; 64][..], b"\n", cmd].concat(),
        ),
        (
            "tag with digest",
            "E242",
            [
                b"FROM 127.0.0.1:5000/x:v1@sha256:",
                &[b'a'; 64][..],
                b"\n",
                cmd,
            ]
            .concat(),
        ),
        (
            "digest not sha256",
            "E243",
            [b"FROM 127.0.0.1:5000/x@md5:", &[b'a'; 32][..], b"\n", cmd].concat(),
        ),
        (
            "malformed digest",
            "E244",
            [b"FROM 127.0.0.1:5000/x@sha256:abc\n", cmd].concat(),
        ),
        (
            "unpinned image",
            "E245",
            [b"FROM 127.0.0.1:5000/x:v1\n", cmd].concat(),
        ),
        (
            "malformed tree digest",
            "E246",
            [b"FROM --tree=rftree1+sha256:zz dsi-test\n", cmd].concat(),
        ),
        ("invalid variable name", "E251", with(b"ENV 1A=x\n")),
        ("legacy ENV", "E252", with(b"ENV A x\n")),
        ("single quote", "E253", with(b"ENV A=it's\n")),
        ("backslash", "E254", with(b"ENV A=a\\b\n")),
        ("bad JSON escape", "E256", with(b"ENV A=\"\\q\"\n")),
        ("unterminated string", "E257", with(b"ENV A=\"abc\n")),
        ("NUL in a string", "E259", with(b"ENV A=\"a\\u0000b\"\n")),
        ("duplicate label", "E272", with(b"LABEL a=1 a=2\n")),
        ("relative WORKDIR", "E291", with(b"WORKDIR tmp\n")),
        ("'..' in WORKDIR", "E292", with(b"WORKDIR /tmp/../etc\n")),
        (
            "'..' in a bind source",
            "E292",
            with(b"BIND ../../etc:/mnt\n"),
        ),
        ("BIND without DST", "E301", with(b"BIND /tmp\n")),
        ("bind onto /", "E304", with(b"BIND /tmp:/\n")),
        ("USER by name", "E311", with(b"USER root\n")),
        ("SHELL in shell form", "E321", with(b"SHELL /bin/sh -c\n")),
        (
            "two ENTRYPOINTs",
            "E332",
            with(b"ENTRYPOINT [\"/bin/sh\"]\nENTRYPOINT [\"/bin/sh\"]\n"),
        ),
        (
            "invalid JSON exec form",
            "E341",
            [f, b"\nCMD [\"/bin/true\",]\n"].concat(),
        ),
        (
            "exec form not strings",
            "E342",
            [f, b"\nCMD [1, 2]\n"].concat(),
        ),
        (
            "empty first exec element",
            "E343",
            [f, b"\nCMD [\"\"]\n"].concat(),
        ),
        ("heredoc", "E344", with(b"RUN <<EOF\necho hi\nEOF\n")),
        ("no CMD", "E351", [f, b"\nENV A=1\n"].concat()),
        ("two CMDs", "E352", [f, b"\n", cmd, cmd].concat()),
        (
            "instruction after CMD",
            "E353",
            [f, b"\n", cmd, b"ENV A=1\n"].concat(),
        ),
    ]
}

/// Whether stderr starts with the spec's diagnostic for `code` on `file`.
fn diagnostic_ok(out: &Output, file: &str, code: &str) -> bool {
    let (first, lines) = message(out);
    let Some(rest) = first.strip_prefix(&format!("{file}:")) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let line_ok = parts.next().is_some_and(|l| l.parse::<u32>().is_ok());
    let col_ok = parts.next().is_some_and(|c| c.parse::<u32>().is_ok());
    let tail = parts.next().unwrap_or_default();
    out.status.code() == Some(65)
        && line_ok
        && col_ok
        && tail.starts_with(&format!(" error: {code}: "))
        && lines == 1
}

fn runfiles(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let dir = ctx.work.join("runfiles");
    std::fs::create_dir_all(&dir)?;
    let from = std::fs::read_to_string(&ctx.runfile)?
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let corpus = runfile_corpus(&from);
    let mut files = Vec::new();
    for (i, (name, code, content)) in corpus.iter().enumerate() {
        let file = format!("runfiles/{i:02}-{code}.Runfile");
        std::fs::write(ctx.work.join(&file), content)?;
        files.push((name, code, file));
    }
    let codes: std::collections::BTreeSet<&str> = corpus.iter().map(|c| c.1).collect();

    let mut rows = Vec::new();
    let mut fails = Vec::new();
    for (name, code, file) in &files {
        let out = ctx.output(None, &["runfile", "check", file])?;
        if !diagnostic_ok(&out, file, code) {
            fails.push(format!(
                "{name}: exit {:?}, {:?}",
                out.status.code(),
                message(&out).0
            ));
        }
    }
    rows.push(Row {
        section: SECTION,
        check: "malformed Runfiles: `dsi runfile check`".into(),
        driver: "—".into(),
        runs: format!("{} files", files.len()),
        ok: fails.is_empty(),
        detail: if fails.is_empty() {
            format!(
                "all exit 65 with `FILE:LINE:COL: error: CODE: message` and the expected code \
                 ({} codes: {} … {})",
                codes.len(),
                codes.first().unwrap_or(&""),
                codes.last().unwrap_or(&"")
            )
        } else {
            fails.join("; ")
        },
    });

    for d in Driver::ALL {
        let store = seeded(ctx, d, &format!("runfiles-{}", d.name()))?;
        let before = snapshot(ctx, &store)?;
        let mut fails = Vec::new();
        for (name, code, file) in &files {
            let out = ctx.output(Some(&store), &["record", file])?;
            if !diagnostic_ok(&out, file, code) {
                fails.push(format!(
                    "{name}: exit {:?}, {:?}",
                    out.status.code(),
                    message(&out).0
                ));
            }
        }
        let after = snapshot(ctx, &store)?;
        if after != before {
            fails.push("the store changed".into());
        }
        rows.push(Row {
            section: SECTION,
            check: "malformed Runfiles: `dsi record`".into(),
            driver: d.name().into(),
            runs: format!("{} files", files.len()),
            ok: fails.is_empty(),
            detail: if fails.is_empty() {
                "all exit 65 with the same diagnostic; store unchanged (inspect, run ids, fsck)"
                    .into()
            } else {
                fails.join("; ")
            },
        });
    }
    Ok(rows)
}

// ------------------------------------------------------------ CSV

fn csv(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let dir = ctx.work.join("csv");
    std::fs::create_dir_all(&dir)?;
    let mut big = b"a\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 10_000_000));
    big.push(b'\n');
    let files: [(&str, Vec<u8>, &str); 5] = [
        (
            "ragged rows",
            b"a,b\n1,2\n3\n4,5\n".to_vec(),
            ":3: expected 2 fields (as in the header), found 1",
        ),
        (
            "invalid UTF-8",
            b"a,b\n1,\xff\xfe\n".to_vec(),
            ":2: field 2 is not valid UTF-8",
        ),
        (
            "a 10 MB field",
            big,
            ":2: a field is longer than the limit of 1048576 bytes",
        ),
        ("no header", Vec::new(), ":1: no header row"),
        (
            "duplicate column",
            b"a,a\n1,2\n".to_vec(),
            ":1: column name 'a' appears twice",
        ),
    ];
    let mut paths = Vec::new();
    for (i, (name, content, expect)) in files.iter().enumerate() {
        let rel = format!("csv/{i}.csv");
        std::fs::write(ctx.work.join(&rel), content)?;
        paths.push((*name, rel, *expect));
    }
    let time = Path::new("/usr/bin/time");
    let mut rows = Vec::new();
    for d in Driver::ALL {
        let store = seeded(ctx, d, &format!("csv-{}", d.name()))?;
        let before = snapshot(ctx, &store)?;
        let mut fails = Vec::new();
        let mut big_rss = None;
        for (name, rel, expect) in &paths {
            let args = ["ingest", "csv", rel.as_str(), "--table", "hostile"];
            let out = if *name == "a 10 MB field" && time.exists() {
                let mut c = std::process::Command::new(time);
                c.args(["-f", "rss-kb=%M"])
                    .arg(&ctx.dsi)
                    .args(store.flags())
                    .args(args);
                let inner = ctx.command(Some(&store), &args);
                c.current_dir(&ctx.work)
                    .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
                c.output()?
            } else {
                ctx.output(Some(&store), &args)?
            };
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            let lines: Vec<&str> = err
                .lines()
                .filter(|l| !l.starts_with("rss-kb=") && !l.starts_with("Command exited"))
                .collect();
            if let Some(k) = err.lines().find_map(|l| l.strip_prefix("rss-kb=")) {
                big_rss = k.trim().parse::<u64>().ok();
            }
            let want = format!("error: {rel}{expect}");
            if out.status.code() != Some(65) || lines != [want.as_str()] {
                fails.push(format!("{name}: exit {:?}, {lines:?}", out.status.code()));
            }
        }
        if snapshot(ctx, &store)? != before {
            fails.push("the store changed".into());
        }
        rows.push(Row {
            section: SECTION,
            check: "bad CSV through `dsi ingest csv` (ragged rows, invalid UTF-8, a 10 MB field, no header, duplicate column)".into(),
            driver: d.name().into(),
            runs: format!("{} files", paths.len()),
            ok: fails.is_empty(),
            detail: if fails.is_empty() {
                format!(
                    "all exit 65 with one line `error: FILE:LINE: …`; store unchanged{}",
                    big_rss.map_or(String::new(), |k| format!(
                        "; peak RSS with the 10 MB field {} MiB",
                        k / 1024
                    ))
                )
            } else {
                fails.join("; ")
            },
        });
    }
    Ok(rows)
}

// ------------------------------------------------------------ SQL

/// Statements `dsi query` must refuse; `{probe}` is a directory where none
/// of them may create a file.
const STATEMENTS: &[&str] = &[
    "SELECT 1; DROP TABLE runs",
    "SELECT * FROM runs; DELETE FROM runs",
    "DROP TABLE runs",
    "DELETE FROM runs",
    "UPDATE runs SET run_id = 'x'",
    "INSERT INTO runs (run_id) VALUES ('x')",
    "CREATE TABLE evil AS SELECT * FROM runs",
    "ALTER TABLE runs RENAME TO gone",
    "CREATE VIEW v AS SELECT * FROM runs",
    "ATTACH DATABASE '{probe}/attached.db' AS x",
    "VACUUM INTO '{probe}/copy.db'",
    "PRAGMA user_version = 7",
    "PRAGMA journal_mode = DELETE",
    "BEGIN",
    "COPY runs TO '{probe}/runs.csv'",
    "COPY (SELECT * FROM runs) TO '{probe}/runs.parquet'",
    "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '{probe}/e.csv'",
    "SET datafusion.execution.batch_size = 1",
];

const TABLE_NAME: &str = "x\"; DROP TABLE runs; --";
const COLUMN_NAME: &str = "a\"); DROP TABLE runs; --";

fn sql(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let probe = ctx.work.join("sql-probe");
    std::fs::create_dir_all(&probe)?;
    std::fs::write(ctx.work.join("one.csv"), "id,name\n1,x\n")?;
    std::fs::write(
        ctx.work.join("header.csv"),
        format!("id,\"{}\",b\n1,2,3\n", COLUMN_NAME.replace('"', "\"\"")),
    )?;
    let mut rows = Vec::new();
    for d in Driver::ALL {
        let store = seeded(ctx, d, &format!("sql-{}", d.name()))?;
        let ids = ctx.run_ids(&store)?;
        let runs = ctx.inspect(&store)?.rows("runs");
        let mut fails = Vec::new();
        let intact = |fails: &mut Vec<String>, after: &str| -> anyhow::Result<()> {
            let now = ctx.run_ids(&store)?;
            if now != ids || ctx.inspect(&store)?.rows("runs") != runs {
                fails.push(format!("`runs` changed after {after}"));
            }
            Ok(())
        };

        // Names made of SQL are just names.
        let out = ctx.output(
            Some(&store),
            &["ingest", "csv", "one.csv", "--table", TABLE_NAME],
        )?;
        let state = ctx.inspect(&store)?;
        if !out.status.success() || state.rows(TABLE_NAME) != 1 {
            fails.push(format!(
                "table name {TABLE_NAME:?}: exit {:?}, {} rows",
                out.status.code(),
                state.rows(TABLE_NAME)
            ));
        }
        intact(&mut fails, "the table-name injection")?;
        let quoted = format!(
            "SELECT count(*) AS n FROM \"{}\"",
            TABLE_NAME.replace('"', "\"\"")
        );
        let back = ctx.output(Some(&store), &["--json", "query", &quoted])?;
        let n = json::parse(&String::from_utf8_lossy(&back.stdout))
            .ok()
            .and_then(|v| v.items().first().and_then(|r| r["n"].as_u64()));
        if n != Some(1) {
            fails.push(format!(
                "querying the table back gave {n:?}: {}",
                message(&back).0
            ));
        }
        let out = ctx.output(
            Some(&store),
            &["ingest", "csv", "header.csv", "--table", "hdr"],
        )?;
        let state = ctx.inspect(&store)?;
        let cols = state.columns.get("hdr").cloned().unwrap_or_default();
        if !out.status.success() || !cols.iter().any(|c| c == COLUMN_NAME) {
            fails.push(format!(
                "column name {COLUMN_NAME:?}: exit {:?}, columns {cols:?}",
                out.status.code()
            ));
        }
        intact(&mut fails, "the column-name injection")?;

        // The records' table is not an ingest target.
        let before = snapshot(ctx, &store)?;
        let out = ctx.output(
            Some(&store),
            &["ingest", "csv", "one.csv", "--table", "runs"],
        )?;
        if out.status.code() != Some(65) || !one_line(&out) {
            fails.push(format!(
                "ingest into runs: exit {:?}, {:?}",
                out.status.code(),
                message(&out).0
            ));
        }
        if snapshot(ctx, &store)? != before {
            fails.push("ingest into runs changed the store".into());
        }

        // Stacked and writing statements.
        let mut exits: BTreeMap<i32, usize> = BTreeMap::new();
        for s in STATEMENTS {
            let q = s.replace("{probe}", &probe.display().to_string());
            let out = ctx.output(Some(&store), &["query", &q])?;
            *exits.entry(out.status.code().unwrap_or(-1)).or_default() += 1;
            if out.status.success() || !one_line(&out) {
                fails.push(format!(
                    "`{q}`: exit {:?}, {:?}",
                    out.status.code(),
                    message(&out).0
                ));
            }
            if snapshot(ctx, &store)? != before {
                fails.push(format!("`{q}` changed the store"));
            }
        }
        let written: Vec<String> = std::fs::read_dir(&probe)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !written.is_empty() {
            fails.push(format!("queries created {written:?}"));
        }
        rows.push(Row {
            section: SECTION,
            check: "SQL injection: table and column names, ingest into `runs`, stacked/writing statements via `dsi query`".into(),
            driver: d.name().into(),
            runs: format!("2 names + 1 ingest + {} statements", STATEMENTS.len()),
            ok: fails.is_empty(),
            detail: if fails.is_empty() {
                format!(
                    "names stored verbatim and queryable; `runs` intact ({runs} rows, same ids); \
                     ingest into `runs` refused (65); every statement refused with one line \
                     (exit {}), no file created, store unchanged",
                    exits
                        .iter()
                        .map(|(e, n)| format!("{e}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                fails.join("; ")
            },
        });
    }
    Ok(rows)
}
