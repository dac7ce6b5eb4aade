//! `runtime::preflight` and `runtime::execute` against real ch-run 0.31 and
//! the test image pulled from the test registry (RUNFILE.md §7, §9, §11).
//! Needs the test services (`cargo xtask services start`, then export
//! `target/dsi-services/env`); without them every test fails.
//!
//! Every test resolves its image into its own temporary ch-image storage.
//! Tests that need a host variable set or send a signal to their own
//! process run their body in a child process (this test binary, filtered to
//! that one test), so they are isolated whatever the test runner.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Buffer, Scratch, buffer, sha256_hex, test_image, text, user};
use dsi_plugins_charliecloud::image::ImageView;
use dsi_plugins_charliecloud::runfile::Runfile;
use dsi_plugins_charliecloud::runtime::{RunOptions, RunOutcome, execute, preflight};

/// A Runfile with `{D}` replaced by the test image.
fn d(src: &str) -> String {
    src.replace("{D}", &test_image())
}

/// Options running in `s`'s storage and context, with in-memory sinks.
fn options(s: &Scratch) -> (RunOptions, Buffer, Buffer) {
    let (out, err) = (buffer(), buffer());
    let mut o = RunOptions::new(&s.ctx, user());
    o.storage = Some(s.storage.root().to_path_buf());
    o.stdout = out.clone();
    o.stderr = err.clone();
    (o, out, err)
}

/// Writes and parses the Runfile, resolves its image into `s`'s storage.
fn prepare(s: &Scratch, src: &str) -> (Runfile, std::path::PathBuf) {
    let rf = s.runfile(&d(src));
    let img = s
        .resolve(&rf, true, false)
        .unwrap_or_else(|e| panic!("resolve: {}", e.render("Runfile")));
    (rf, img.image_dir)
}

/// Output of a run: the outcome, stdout and stderr.
struct Ran {
    outcome: RunOutcome,
    out: String,
    err: String,
}

/// Resolves, pre-flights and executes `src` in `s`.
fn run(s: &Scratch, src: &str) -> Ran {
    let (rf, dir) = prepare(s, src);
    let (opts, out, err) = options(s);
    preflight(&rf, ImageView::Dir(&dir), &opts).unwrap_or_else(|e| panic!("preflight: {e}"));
    let outcome = execute(&rf, &opts).unwrap_or_else(|e| panic!("execute: {e}"));
    Ran {
        outcome,
        out: text(&out),
        err: text(&err),
    }
}

fn sorted_names(env_output: &str) -> Vec<&str> {
    let mut names: Vec<&str> = env_output
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    names.sort_unstable();
    names
}

const CHILD: &str = "DSI_TEST_CHILD";

/// In the parent: runs test `name` of this binary in a child process with
/// `env` added and asserts that it passed; returns false. In that child:
/// returns true (the caller then does the work).
fn in_child(name: &str, env: &[(&str, &str)]) -> bool {
    if std::env::var(CHILD).as_deref() == Ok(name) {
        return true;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child test {name} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

#[test]
fn v1_output_is_streamed_and_hashed() {
    let s = Scratch::new();
    let r = run(
        &s,
        "FROM {D}\nCMD [\"/opt/app/bin/hello\", \"a\", \"b c\"]\n",
    );
    let expected = "hello argv: a b c\ncwd: /\nGREETING=hello world\n";
    assert_eq!(r.out, expected);
    assert_eq!(r.err, "");
    let o = &r.outcome;
    assert_eq!((o.exit_code, o.signal, &o.failure), (0, None, &None));
    assert_eq!(o.steps.len(), 1);
    let step = &o.steps[0];
    assert_eq!((step.line, step.kind), (2, "cmd"));
    assert_eq!((step.exit_code, step.signal), (Some(0), None));
    assert_eq!(step.ch_run_error, None);
    assert_eq!(
        step.argv,
        [
            "ch-run".to_owned(),
            format!("--storage={}", s.storage.root().display()),
            "--private-tmp".to_owned(),
            "--unset-env=*".to_owned(),
            "--set-env".to_owned(),
            "--env-no-expand".to_owned(),
            "--cd=/".to_owned(),
            test_image(),
            "--".to_owned(),
            "/opt/app/bin/hello".to_owned(),
            "a".to_owned(),
            "b c".to_owned(),
        ]
    );
    assert_eq!(step.stdout_sha256, sha256_hex(expected.as_bytes()));
    assert_eq!(step.stderr_sha256, sha256_hex(b""));
    assert_eq!(o.stdout_sha256, sha256_hex(expected.as_bytes()));
    assert_eq!(o.stderr_sha256, sha256_hex(b""));
    assert!(o.passenv.is_empty());
}

#[test]
fn run_digests_cover_the_output_of_all_steps_in_order() {
    let s = Scratch::new();
    let r = run(
        &s,
        "FROM {D}\nRUN echo one; echo e1 >&2\nRUN [\"/bin/echo\", \"two\"]\nCMD echo three; echo e3 >&2\n",
    );
    assert_eq!(r.out, "one\ntwo\nthree\n");
    assert_eq!(r.err, "e1\ne3\n");
    let o = &r.outcome;
    assert_eq!(o.exit_code, 0);
    let lines: Vec<(usize, &str)> = o.steps.iter().map(|s| (s.line, s.kind)).collect();
    assert_eq!(lines, [(2, "run"), (3, "run"), (4, "cmd")]);
    assert_eq!(o.stdout_sha256, sha256_hex(b"one\ntwo\nthree\n"));
    assert_eq!(o.stderr_sha256, sha256_hex(b"e1\ne3\n"));
    assert_eq!(o.steps[1].stdout_sha256, sha256_hex(b"two\n"));
    assert_eq!(o.steps[1].stderr_sha256, sha256_hex(b""));
}

#[test]
fn v2_environment_is_the_image_and_runfile_only() {
    let s = Scratch::new();
    let r = run(
        &s,
        r#"# runfile=1

# Provenance run for experiment 42 (comments and blank lines are not canonical)
FROM {D}
LABEL org.opencontainers.image.description="demo run" \
      gov.lanl.dsi.experiment=42
ENV GREETING="hi there" MODE=fast
ENV EMPTY=
UNSETENV APP_HOME
WORKDIR /opt/app
CMD echo "greeting=$GREETING mode=$MODE" && \
    # a comment line inside a continuation is dropped
    echo "pwd=$(pwd) app_home=${APP_HOME:-unset} empty=[$EMPTY]" && env | sort
"#,
    );
    assert_eq!(r.outcome.exit_code, 0, "{}", r.err);
    let (head, env) = r.out.split_at(r.out.find("CH_RUNNING=").unwrap());
    assert_eq!(
        head,
        "greeting=hi there mode=fast\npwd=/opt/app app_home=unset empty=[]\n"
    );
    assert_eq!(
        sorted_names(env),
        [
            "CH_RUNNING",
            "EMPTY",
            "GREETING",
            "MODE",
            "PATH",
            "PWD",
            "SHLVL"
        ]
    );
    for line in [
        "EMPTY=",
        "GREETING=hi there",
        "MODE=fast",
        "PATH=/bin",
        "PWD=/opt/app",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} not in\n{env}");
    }
}

/// Hermeticity (§1 decision 3): a host `SECRET_TOKEN` in dsi's environment
/// (which ch-run inherits) is not visible in the container unless PASSENV
/// names it; then it is, and it is recorded.
#[test]
fn host_environment_enters_only_through_passenv() {
    const SECRET: &str = "s3cr3t 'value' $HOME";
    if !in_child(
        "host_environment_enters_only_through_passenv",
        &[("SECRET_TOKEN", SECRET)],
    ) {
        return;
    }
    assert_eq!(std::env::var("SECRET_TOKEN").unwrap(), SECRET);

    let s = Scratch::new();
    let r = run(&s, "FROM {D}\nCMD [\"/bin/env\"]\n");
    assert_eq!(r.outcome.exit_code, 0, "{}", r.err);
    assert_eq!(
        sorted_names(&r.out),
        ["APP_HOME", "CH_RUNNING", "GREETING", "PATH"],
        "{}",
        r.out
    );
    assert!(r.outcome.passenv.is_empty());

    let (rf, dir) = prepare(
        &s,
        "FROM {D}\nPASSENV SECRET_* NOTHING_MATCHES_?\nCMD [\"/bin/env\"]\n",
    );
    let (opts, out, err) = options(&s);
    preflight(&rf, ImageView::Dir(&dir), &opts).unwrap();
    let o = execute(&rf, &opts).unwrap();
    let out = text(&out);
    assert_eq!(o.exit_code, 0, "{}", text(&err));
    assert!(
        o.steps[0]
            .argv
            .contains(&"--unset-env=!(SECRET_*|NOTHING_MATCHES_?)".to_owned())
    );
    assert_eq!(
        sorted_names(&out),
        ["APP_HOME", "CH_RUNNING", "GREETING", "PATH", "SECRET_TOKEN"]
    );
    assert!(out.lines().any(|l| l == format!("SECRET_TOKEN={SECRET}")));
    assert_eq!(o.passenv, [("SECRET_TOKEN".to_owned(), SECRET.to_owned())]);
}

/// V-3: relative bind sources resolve against the context directory; files
/// written through a bind appear on the host, owned by the invoking user.
#[test]
fn v3_relative_binds_and_numeric_user() {
    let s = Scratch::new();
    std::fs::create_dir(s.ctx.join("data")).unwrap();
    std::fs::create_dir(s.ctx.join("out")).unwrap();
    let input = b"hello provenance\n";
    std::fs::write(s.ctx.join("data/input.txt"), input).unwrap();
    let r = run(
        &s,
        r#"FROM {D}
BIND data:/data
BIND ./out:/out
USER 1000:1000
RUN ["/bin/sh", "-c", "sha256sum /data/input.txt > /out/input.sha256"]
RUN wc -c < /data/input.txt > /out/input.size
CMD ["/bin/cat", "/out/input.sha256", "/out/input.size"]
"#,
    );
    let sum = format!("{}  /data/input.txt\n", sha256_hex(input));
    assert_eq!(r.out, format!("{sum}17\n"), "{}", r.err);
    assert_eq!(r.outcome.exit_code, 0);
    assert_eq!(r.outcome.steps.len(), 3);
    let argv = &r.outcome.steps[0].argv;
    let ctx = s.ctx.display();
    for opt in [
        format!("--bind={ctx}/data:/data"),
        format!("--bind={ctx}/out:/out"),
        "--uid=1000".to_owned(),
        "--gid=1000".to_owned(),
    ] {
        assert!(argv.contains(&opt), "{opt} not in {argv:?}");
    }
    let out = s.ctx.join("out");
    assert_eq!(
        std::fs::read_to_string(out.join("input.sha256")).unwrap(),
        sum
    );
    assert_eq!(
        std::fs::read_to_string(out.join("input.size")).unwrap(),
        "17\n"
    );
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata(out.join("input.size")).unwrap().uid();
    assert_eq!(uid, rustix::process::geteuid().as_raw());
}

/// §11.3 r4: the pre-flight errors, positioned at their instructions.
#[test]
fn preflight_errors_e406_e407_e408_e411() {
    let s = Scratch::new();
    let (_, dir) = prepare(&s, "FROM {D}\nCMD true\n");
    let (opts, _, _) = options(&s);
    std::fs::create_dir(s.ctx.join("data")).unwrap();
    let check = |src: &str| {
        let rf = s.runfile(&d(src));
        preflight(&rf, ImageView::Dir(&dir), &opts).map_err(|e| e.to_string())
    };
    let ctx = s.ctx.display();
    assert_eq!(
        check(
            "FROM {D}\nWORKDIR /nonexistent\nBIND missing:/data\nBIND data:/srv/data\nCMD true\n"
        ),
        Err("2:1: error: E408: WORKDIR /nonexistent does not exist in the image".to_owned())
    );
    assert_eq!(
        check("FROM {D}\nWORKDIR /opt/app\nBIND missing:/data\nBIND data:/srv/data\nCMD true\n"),
        Err(format!(
            "3:1: error: E406: bind source does not exist: {ctx}/missing"
        ))
    );
    assert_eq!(
        check("FROM {D}\nWORKDIR /opt/app\nBIND data:/data\nBIND data:/srv/data\nCMD true\n"),
        Err("4:1: error: E407: bind destination does not exist in the image: /srv/data".to_owned())
    );
    // A WORKDIR that is a file is not a directory.
    assert_eq!(
        check("FROM {D}\nWORKDIR /opt/app/VERSION\nCMD true\n"),
        Err("2:1: error: E408: WORKDIR /opt/app/VERSION does not exist in the image".to_owned())
    );
    // Paths through the image's own symlinks (/bin/sh -> busybox) resolve
    // inside the image.
    assert_eq!(
        check("FROM {D}\nWORKDIR /srv\nBIND data:/bin/sh\nPASSENV SLURM_*\nCMD true\n"),
        Ok(())
    );
    // ch-run 0.31 has extglob; a ch-run without it is E411 at the PASSENV.
    let mut no_extglob = opts.clone();
    no_extglob.ch_run = "/bin/false".to_owned();
    let rf = s.runfile(&d("FROM {D}\nPASSENV SLURM_*\nCMD true\n"));
    assert_eq!(
        preflight(&rf, ImageView::Dir(&dir), &no_extglob).map_err(|e| e.to_string()),
        Err(
            "2:1: error: E411: PASSENV needs ch-run --feature=extglob, which /bin/false lacks"
                .to_owned()
        )
    );
}

/// §11.3 r8: the first failing step stops the run; CMD is not run.
#[test]
fn failing_run_step_stops_before_cmd() {
    let s = Scratch::new();
    let r = run(&s, "FROM {D}\nRUN exit 3\nCMD echo never\n");
    let o = &r.outcome;
    assert_eq!(r.out, "");
    assert_eq!(o.exit_code, 3);
    assert_eq!(o.signal, None);
    assert_eq!(o.steps.len(), 1);
    assert_eq!((o.steps[0].exit_code, o.steps[0].signal), (Some(3), None));
    assert_eq!(o.steps[0].ch_run_error, None);
    assert_eq!(
        o.failure.as_ref().unwrap().to_string(),
        "2:1: error: E501: step 1/2 exited with status 3"
    );
}

#[test]
fn step_killed_by_a_signal_is_recorded() {
    let s = Scratch::new();
    let r = run(&s, "FROM {D}\nCMD kill -TERM $$\n");
    let o = &r.outcome;
    assert_eq!((o.steps[0].exit_code, o.steps[0].signal), (None, Some(15)));
    assert_eq!((o.exit_code, o.signal), (128 + 15, Some(15)));
    assert_eq!(
        o.failure.as_ref().unwrap().to_string(),
        "2:1: error: E501: step 1/1 was killed by signal 15"
    );
}

/// SIGINT received by dsi while a step runs goes to the container (its whole
/// process group, so the shell's `sleep` ends too); dsi survives, records
/// the signal, and runs no further step.
#[test]
fn sigint_to_dsi_is_forwarded_to_the_container() {
    if !in_child("sigint_to_dsi_is_forwarded_to_the_container", &[]) {
        return;
    }
    let s = Scratch::new();
    let (rf, dir) = prepare(
        &s,
        "FROM {D}\nRUN echo ready; sleep 30; echo not reached\nCMD echo never\n",
    );
    let (opts, out, _) = options(&s);
    preflight(&rf, ImageView::Dir(&dir), &opts).unwrap();
    let t0 = Instant::now();
    let run = std::thread::spawn(move || execute(&rf, &opts));
    while text(&out) != "ready\n" {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no output: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::INT).unwrap();
    let o = run.join().unwrap().unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "sleep was not interrupted"
    );
    assert_eq!(text(&out), "ready\n");
    assert_eq!(o.steps.len(), 1);
    assert_eq!((o.steps[0].exit_code, o.steps[0].signal), (None, Some(2)));
    assert_eq!((o.exit_code, o.signal), (128 + 2, Some(2)));
    assert_eq!(
        o.failure.as_ref().unwrap().to_string(),
        "2:1: error: E501: step 1/2 was killed by signal 2"
    );
}

/// ch-run's own failures exit 1 like the command could; its error line is
/// kept (§7.4).
#[test]
fn ch_run_error_is_captured() {
    let s = Scratch::new();
    let r = run(&s, "FROM {D}\nCMD [\"/opt/app/bin/nonexistent\", \"x\"]\n");
    let o = &r.outcome;
    assert_eq!(o.exit_code, 1);
    assert_eq!(o.steps[0].exit_code, Some(1));
    let e = o.steps[0].ch_run_error.as_deref().unwrap();
    assert!(e.starts_with("ch-run["), "{e}");
    assert!(
        e.contains(
            "]: error: can't execve(2): /opt/app/bin/nonexistent: No such file or directory"
        ),
        "{e}"
    );
    assert!(r.err.starts_with(e), "{}", r.err);
    assert_eq!(
        o.failure.as_ref().unwrap().to_string(),
        "2:1: error: E501: step 1/1 exited with status 1"
    );
}
