//! The examples of RUNFILE.md §11 (valid and invalid), the argv mapping of
//! §7.1, and one case per reachable static diagnostic of §10; the examples
//! of RUNFILE-1.1 §9 and its diagnostics (§8.2) and precedence rule (§8.1).

use dsi_plugins_charliecloud::runfile::{
    ArgvContext, Compare, Diagnostic, EnvOp, ExpectTest, ImageRef, Input, Launch, MatchMode,
    PathImageKind, Report, Runfile, Severity, StepKind, Target, diagnose, for_path, parse,
};

const HEX: &str = "14d210e7a9e06824ac3ec275952f8e625fd2f4d91e107fa4cab109663d31b155";
const D: &str = "127.0.0.1:5000/rf-base@sha256:14d210e7a9e06824ac3ec275952f8e625fd2f4d91e107fa4cab109663d31b155";

/// Replace `D` (as a whole word after `FROM `/`--tree=… `) by the full reference.
fn d(src: &str) -> String {
    src.replace("{D}", D)
}

fn ok(src: &str) -> Runfile {
    match parse(d(src).as_bytes()) {
        Ok(p) => p.runfile,
        Err(e) => panic!("expected a valid Runfile, got {e}\n{src}"),
    }
}

fn fail(src: &str) -> Diagnostic {
    match parse(d(src).as_bytes()) {
        Ok(p) => panic!("expected an error, parsed {}", p.runfile.canonical()),
        Err(e) => e,
    }
}

/// Assert code and position of the error for `src`.
#[track_caller]
fn code_at(src: &str, code: &str, line: usize, col: usize) -> Diagnostic {
    let e = fail(src);
    assert_eq!(
        (e.code, e.line, e.col),
        (code, line, col),
        "{e}\n--- source ---\n{}",
        d(src)
    );
    assert_eq!(e.severity, Severity::Error);
    e
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.replace("{D}", D)).collect()
}

fn ctx() -> ArgvContext {
    ArgvContext::new("/work/ctx")
}

/// Canonicalisation is idempotent and the canonical text parses to the same
/// program (same digest).
#[track_caller]
fn assert_stable(rf: &Runfile) {
    let c = rf.canonical();
    let again = Runfile::parse_str(&c).expect("canonical form parses");
    assert_eq!(again.canonical(), c);
    assert_eq!(again.digest(), rf.digest());
    assert_eq!(again.without_positions(), rf.without_positions());
}

// ---------------------------------------------------------------- 11.1 valid

#[test]
fn v1_minimal() {
    let rf = ok("FROM {D}\nCMD [\"/opt/app/bin/hello\", \"a\", \"b c\"]\n");
    assert_eq!(
        rf.canonical(),
        d("FROM {D}\nCMD [\"/opt/app/bin/hello\", \"a\", \"b c\"]\n")
    );
    assert_eq!(rf.steps().len(), 1);
    assert_eq!(
        rf.to_ch_run_argv(0, &ctx()),
        strings(&[
            "ch-run",
            "--private-tmp",
            "--unset-env=*",
            "--set-env",
            "--env-no-expand",
            "--cd=/",
            "{D}",
            "--",
            "/opt/app/bin/hello",
            "a",
            "b c"
        ])
    );
    assert_stable(&rf);
}

const V2: &str = r#"# runfile=1

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
"#;

const V2_CANONICAL: &str = r#"FROM {D}
LABEL org.opencontainers.image.description="demo run"
LABEL gov.lanl.dsi.experiment="42"
ENV GREETING="hi there"
ENV MODE="fast"
ENV EMPTY=""
UNSETENV APP_HOME
WORKDIR /opt/app
CMD echo "greeting=$GREETING mode=$MODE" &&     echo "pwd=$(pwd) app_home=${APP_HOME:-unset} empty=[$EMPTY]" && env | sort
"#;

#[test]
fn v2_directive_comments_labels_env_continuation() {
    let parsed = parse(d(V2).as_bytes()).expect("valid");
    let rf = parsed.runfile;
    assert_eq!(rf.canonical(), d(V2_CANONICAL));
    assert_eq!(rf.from_line(), 4);
    assert_eq!(rf.from_col(), 1);
    assert_eq!(
        rf.labels(),
        [
            (
                "org.opencontainers.image.description".to_owned(),
                "demo run".to_owned()
            ),
            ("gov.lanl.dsi.experiment".to_owned(), "42".to_owned())
        ]
    );
    let text = "echo \"greeting=$GREETING mode=$MODE\" &&     echo \"pwd=$(pwd) app_home=${APP_HOME:-unset} empty=[$EMPTY]\" && env | sort";
    assert_eq!(
        rf.to_ch_run_argv(0, &ctx()),
        strings(&[
            "ch-run",
            "--private-tmp",
            "--unset-env=*",
            "--set-env",
            "--env-no-expand",
            "--set-env=GREETING='hi there'",
            "--set-env=MODE='fast'",
            "--set-env=EMPTY=''",
            "--unset-env=APP_HOME",
            "--cd=/opt/app",
            "{D}",
            "--",
            "/bin/sh",
            "-c",
            text
        ])
    );
    let step = &rf.steps()[0];
    assert_eq!((step.line, step.col, step.kind), (11, 1, StepKind::Cmd));
    assert_eq!(
        step.env_ops[3],
        EnvOp::Unset {
            name: "APP_HOME".into()
        }
    );
    assert_eq!(rf.workdirs().len(), 1);
    assert_eq!(
        (rf.workdirs()[0].path.as_str(), rf.workdirs()[0].line),
        ("/opt/app", 10)
    );
    // V-2 warns about `$`? No: `$` is only in the shell text, not in ENV values.
    assert!(parsed.warnings.is_empty());
    // The two spellings share a digest.
    assert_eq!(rf.digest(), ok(V2_CANONICAL).digest());
    assert_stable(&rf);
}

const V3: &str = r#"FROM {D}
BIND data:/data
BIND out:/out
USER 1000:1000
RUN ["/bin/sh", "-c", "sha256sum /data/input.txt > /out/input.sha256"]
RUN wc -c < /data/input.txt > /out/input.size
CMD ["/bin/cat", "/out/input.sha256", "/out/input.size"]
"#;

#[test]
fn v3_relative_binds_three_steps_numeric_user() {
    let rf = ok(V3);
    // Already canonical.
    assert_eq!(rf.canonical(), d(V3));
    assert_eq!(rf.steps().len(), 3);
    let kinds: Vec<_> = rf.steps().iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [StepKind::Run, StepKind::Run, StepKind::Cmd]);
    // §7.1 example: step 3 in context /work/ctx.
    assert_eq!(
        rf.to_ch_run_argv(2, &ctx()),
        strings(&[
            "ch-run",
            "--private-tmp",
            "--unset-env=*",
            "--set-env",
            "--env-no-expand",
            "--cd=/",
            "--bind=/work/ctx/data:/data",
            "--bind=/work/ctx/out:/out",
            "--uid=1000",
            "--gid=1000",
            "{D}",
            "--",
            "/bin/cat",
            "/out/input.sha256",
            "/out/input.size"
        ])
    );
    assert_eq!(
        rf.steps()[1].argv,
        ["/bin/sh", "-c", "wc -c < /data/input.txt > /out/input.size"]
    );
    let binds: Vec<_> = rf
        .binds()
        .iter()
        .map(|b| (b.src.as_str(), b.dst.as_str(), b.line, b.col))
        .collect();
    assert_eq!(binds, [("data", "/data", 2, 1), ("out", "/out", 3, 1)]);
    assert_eq!(
        rf.binds()[0].abs_src(std::path::Path::new("/work/ctx/")),
        "/work/ctx/data"
    );
    // --storage is the first option; the program is configurable.
    let argv = rf.to_ch_run_argv(
        0,
        &ctx()
            .with_storage("/var/tmp/u.ch")
            .with_program("/opt/ch/bin/ch-run"),
    );
    assert_eq!(
        argv[..3],
        [
            "/opt/ch/bin/ch-run",
            "--storage=/var/tmp/u.ch",
            "--private-tmp"
        ]
    );
    assert_eq!(rf.ch_run_argvs(&ctx()).len(), 3);
    assert_stable(&rf);
}

const V4: &str = r#"FROM {D}
PASSENV SLURM_* OMPI_*
SHELL ["/bin/sh", "-e", "-c"]
ENTRYPOINT ["/opt/app/bin/hello"]
CMD ["--rank", "0"]
"#;

#[test]
fn v4_entrypoint_passenv_shell() {
    let rf = ok(V4);
    assert_eq!(
        rf.canonical(),
        d(r#"FROM {D}
PASSENV SLURM_*
PASSENV OMPI_*
SHELL ["/bin/sh", "-e", "-c"]
ENTRYPOINT ["/opt/app/bin/hello"]
CMD ["--rank", "0"]
"#)
    );
    assert_eq!(
        rf.to_ch_run_argv(0, &ctx()),
        strings(&[
            "ch-run",
            "--private-tmp",
            "--unset-env=!(SLURM_*|OMPI_*)",
            "--set-env",
            "--env-no-expand",
            "--cd=/",
            "{D}",
            "--",
            "/opt/app/bin/hello",
            "--rank",
            "0"
        ])
    );
    let pats: Vec<_> = rf
        .passenv()
        .iter()
        .map(|p| (p.pattern.as_str(), p.line))
        .collect();
    assert_eq!(pats, [("SLURM_*", 2), ("OMPI_*", 2)]);
    assert_stable(&rf);
}

#[test]
fn v4_shell_applies_to_later_shell_forms_and_entrypoint_only_to_cmd() {
    let rf =
        ok("FROM {D}\nENTRYPOINT [\"/e\"]\nRUN a\nSHELL [\"/bin/bash\", \"-c\"]\nRUN b\nCMD c\n");
    let argvs: Vec<_> = rf.steps().iter().map(|s| s.argv.clone()).collect();
    assert_eq!(
        argvs,
        [
            vec!["/bin/sh", "-c", "a"],
            vec!["/bin/bash", "-c", "b"],
            vec!["/e", "/bin/bash", "-c", "c"]
        ]
    );
}

const TREE5: &str =
    "rftree1+sha256:59dabb34ed0da2a06244bdb743218f668a5f18d0f0679d425a6b2face00eddb3";

#[test]
fn v5_local_image_pinned_by_tree() {
    let src = format!("FROM --tree={TREE5} rf-base\nCMD [\"cat\", \"/opt/app/VERSION\"]\n");
    let rf = ok(&src);
    assert_eq!(rf.canonical(), src);
    assert_eq!(
        rf.image(),
        &ImageRef::Local {
            host: None,
            repo: "rf-base".into(),
            tag: None,
            tree: TREE5.into()
        }
    );
    assert_eq!(rf.image().name(), "rf-base");
    assert_eq!(rf.image().tree(), Some(TREE5));
    assert_eq!(rf.image().digest(), None);
    assert_eq!(
        rf.to_ch_run_argv(0, &ctx()),
        [
            "ch-run",
            "--private-tmp",
            "--unset-env=*",
            "--set-env",
            "--env-no-expand",
            "--cd=/",
            "rf-base",
            "--",
            "cat",
            "/opt/app/VERSION"
        ]
    );
    assert_stable(&rf);
    // Local form with host and tag.
    let rf = ok(&format!(
        "FROM --tree={TREE5} localhost:5000/lab/x:v1.2\nCMD x\n"
    ));
    assert_eq!(rf.image().name(), "localhost:5000/lab/x:v1.2");
    assert_eq!(rf.image().for_path(), "localhost+5000%lab%x+v1.2");
}

const V6: &str = r#"FROM --tree=rftree1+sha256:06cfe6c35da7577568766ecbac03ba0aa1931ace0310a19630043a79444c143c {D}
BIND /tmp:/tmp
RUN echo "written by step 1" > /tmp/rf-demo-$$.txt; ls /tmp/rf-demo-* | wc -l
CMD ["/bin/sh", "-c", "cat /tmp/rf-demo-*.txt; rm -f /tmp/rf-demo-*.txt"]
"#;

#[test]
fn v6_registry_and_tree_pin_shared_tmp() {
    let rf = ok(V6);
    assert_eq!(rf.canonical(), d(V6));
    assert_eq!(
        rf.image(),
        &ImageRef::Registry {
            host: "127.0.0.1:5000".into(),
            repo: "rf-base".into(),
            digest: format!("sha256:{HEX}"),
            tree: Some(
                "rftree1+sha256:06cfe6c35da7577568766ecbac03ba0aa1931ace0310a19630043a79444c143c"
                    .into()
            ),
        }
    );
    assert_eq!(
        rf.to_ch_run_argv(0, &ctx()),
        strings(&[
            "ch-run",
            "--private-tmp",
            "--unset-env=*",
            "--set-env",
            "--env-no-expand",
            "--cd=/",
            "--bind=/tmp:/tmp",
            "{D}",
            "--",
            "/bin/sh",
            "-c",
            "echo \"written by step 1\" > /tmp/rf-demo-$$.txt; ls /tmp/rf-demo-* | wc -l"
        ])
    );
    assert_stable(&rf);
}

#[test]
fn v7_index_digest() {
    let digest = "sha256:3289b8170000000000000000000000000000000000000000000000000000f96b";
    let rf = ok(&format!("FROM 127.0.0.1:5000/rf-multi@{digest}\nCMD x\n"));
    assert_eq!(rf.image().digest(), Some(digest));
    assert_eq!(rf.image().tree(), None);
    assert_eq!(
        for_path(&rf.image().name()),
        format!("127.0.0.1+5000%rf-multi@sha256+{}", &digest[7..])
    );
}

const V8: &str = "from {D}\n\
env  MSG=\"tab\\there \\\"quoted\\\" \\u00e9\"   PATHX=/a//b/\n\
workdir /opt//app/\n\
Bind \"./data dir:/mnt/0\"\n\
cmd   [\"printf\", \"%s\\\\n\", \"x\"]\n";

const V8_CANONICAL: &str = "FROM {D}\n\
ENV MSG=\"tab\\there \\\"quoted\\\" é\"\n\
ENV PATHX=\"/a//b/\"\n\
WORKDIR /opt/app\n\
BIND \"data dir:/mnt/0\"\n\
CMD [\"printf\", \"%s\\\\n\", \"x\"]\n";

#[test]
fn v8_normalisation() {
    // The constants spell the spec's text.
    assert!(V8.contains(r#"env  MSG="tab\there \"quoted\" \u00e9"   PATHX=/a//b/"#));
    assert!(V8.contains(r#"cmd   ["printf", "%s\\n", "x"]"#));
    let rf = ok(V8);
    assert_eq!(rf.canonical(), d(V8_CANONICAL));
    assert_eq!(rf.digest(), ok(V8_CANONICAL).digest());
    assert_eq!(
        rf.to_ch_run_argv(0, &ctx()),
        strings(&[
            "ch-run",
            "--private-tmp",
            "--unset-env=*",
            "--set-env",
            "--env-no-expand",
            "--set-env=MSG='tab\there \"quoted\" é'",
            "--set-env=PATHX='/a//b/'",
            "--cd=/opt/app",
            "--bind=/work/ctx/data dir:/mnt/0",
            "{D}",
            "--",
            "printf",
            "%s\\n",
            "x"
        ])
    );
    assert_stable(&rf);
}

#[test]
fn v9_warnings() {
    let p = parse(d("FROM {D}\nPASSENV *\nENV PATH=/opt/x/bin:$PATH\nCMD true\n").as_bytes())
        .expect("valid");
    let rendered: Vec<_> = p
        .warnings
        .iter()
        .map(|w| w.render("09-warnings.Runfile"))
        .collect();
    assert_eq!(
        rendered,
        [
            "09-warnings.Runfile:2:9: warning: W303: PASSENV * passes the entire host environment",
            "09-warnings.Runfile:3:10: warning: W301: '$' is literal; Runfiles do not substitute variables"
        ]
    );
    assert!(p.warnings.iter().all(|w| w.severity == Severity::Warning));
    // The `$` stays literal.
    assert!(
        p.runfile
            .to_ch_run_argv(0, &ctx())
            .contains(&"--set-env=PATH='/opt/x/bin:$PATH'".to_owned())
    );
}

#[test]
fn w302_ch_running() {
    let p = parse(d("FROM {D}\nENV A=1 CH_RUNNING=x\nCMD true\n").as_bytes()).expect("valid");
    let w: Vec<_> = p.warnings.iter().map(|w| (w.code, w.line, w.col)).collect();
    assert_eq!(w, [("W302", 2, 9)]);
}

#[test]
fn overview_example_of_section_1() {
    let src = r#"# runfile=1
FROM registry.example.org:5000/lab/sim@sha256:14d210e7a9e06824ac3ec275952f8e625fd2f4d91e107fa4cab109663d31b155
LABEL org.opencontainers.image.description="mesh sweep, case 7"
ENV OMP_NUM_THREADS=8 CASE="case 7"
BIND inputs:/mnt/0
BIND results:/mnt/1
WORKDIR /mnt/1
RUN ["/opt/sim/bin/prepare", "/mnt/0/case7.yaml"]
CMD /opt/sim/bin/solve --in /mnt/0/case7.yaml --out /mnt/1 > solve.log 2>&1
"#;
    let rf = ok(src);
    assert_eq!(rf.steps().len(), 2);
    assert_eq!(
        rf.image().for_path(),
        format!("registry.example.org+5000%lab%sim@sha256+{HEX}")
    );
    assert_stable(&rf);
}

#[test]
fn equivalent_spellings_share_a_digest() {
    let a = ok("FROM {D}\nENV A=1 B=\"2\"\nCMD [\"x\"]\n");
    let b = ok("# runfile=1\n\n  from\t{D}  \n# c\nEnV A=\"1\" \\\n   B=2\ncmd [ \"x\" ]   \n");
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.without_positions(), b.without_positions());
    assert_ne!(a, b, "positions differ");
    let c = ok("FROM {D}\nENV A=1 B=\"3\"\nCMD [\"x\"]\n");
    assert_ne!(a.digest(), c.digest());
    assert_eq!(a.digest().len(), "runfile1+sha256:".len() + 64);
}

// -------------------------------------------------------------- 11.2 invalid

/// Every row of §11.2, as the full rendered diagnostic.
#[test]
fn invalid_examples_of_section_11_2() {
    let upper = HEX.to_uppercase();
    let cases: Vec<(&str, String, String)> = vec![
        ("01-unpinned", "FROM 127.0.0.1:5000/rf-base:v1\nCMD true\n".into(),
         "1:6: error: E245: image reference must be pinned: '127.0.0.1:5000/rf-base:v1'".into()),
        ("02-tag-and-digest", format!("FROM 127.0.0.1:5000/rf-base:v1@sha256:{HEX}\nCMD true\n"),
         "1:6: error: E242: tag ':v1' not allowed together with a digest".into()),
        ("03-no-registry-host", format!("FROM rf-base@sha256:{HEX}\nCMD true\n"),
         "1:6: error: E241: registry host required in a digest reference".into()),
        ("04-copy", d("FROM {D}\nCOPY input.txt /data/\nCMD true\n"),
         "2:1: error: E203: instruction COPY is not allowed in a Runfile\n  hint: bake into the image or BIND".into()),
        ("05-env-legacy", d("FROM {D}\nENV FOO bar\nCMD true\n"),
         "2:5: error: E252: ENV requires NAME=VALUE".into()),
        ("06-single-quotes", d("FROM {D}\nENV A='x y'\nCMD true\n"),
         "2:7: error: E253: single quotes are not supported".into()),
        ("07-exec-form-single-quotes", d("FROM {D}\nCMD ['echo', 'hi']\n"),
         "2:6: error: E341: invalid JSON exec form: Expecting value".into()),
        ("08-after-cmd", d("FROM {D}\nCMD true\nENV X=1\n"),
         "3:1: error: E353: ENV after CMD; CMD must be the last instruction".into()),
        // §1.1-8.1: E351 is shown at the keyword of the last instruction,
        // which the spec's example 09 has on line 2.
        ("09-no-cmd", d("FROM {D}\nRUN true\n"), "2:1: error: E351: Runfile has no CMD".into()),
        ("10-relative-workdir", d("FROM {D}\nWORKDIR app\nCMD true\n"),
         "2:9: error: E291: WORKDIR must be an absolute path: 'app'".into()),
        ("11-user-name", d("FROM {D}\nUSER nobody\nCMD true\n"),
         "2:6: error: E311: USER requires numeric UID[:GID]: 'nobody'".into()),
        ("12-bind-colon", d("FROM {D}\nBIND /scratch/a:b:/mnt/0\nCMD true\n"),
         "2:6: error: E302: ':' not allowed in bind paths".into()),
        ("13-empty-continuation", d("FROM {D}\nCMD echo a \\\n\necho b\n"),
         "3:1: error: E122: empty continuation line".into()),
        ("14-escape-directive", d("# escape=`\nFROM {D}\nCMD true\n"),
         "1:1: error: E110: parser directive 'escape' is not supported in a Runfile".into()),
        ("15-env-before-from", d("ENV A=1\nFROM {D}\nCMD true\n"),
         "1:1: error: E210: first instruction must be FROM, not ENV".into()),
        ("16-crlf", d("FROM {D}\r\nCMD true\r\n"),
         "1:100: error: E104: carriage return not allowed".into()),
        ("17-uppercase-digest", format!("FROM 127.0.0.1:5000/rf-base@sha256:{upper}\nCMD true\n"),
         format!("1:6: error: E244: malformed digest 'sha256:{upper}'")),
        ("18-duplicate-label", d("FROM {D}\nLABEL a.b=1\nLABEL a.b=3\nCMD true\n"),
         "3:7: error: E272: duplicate label 'a.b' (first at line 2)".into()),
        ("19-continuation-eof", d("FROM {D}\nCMD echo a \\\n"),
         "2:12: error: E121: line continuation at end of file".into()),
        ("20-entrypoint-shell", d("FROM {D}\nENTRYPOINT /opt/app/bin/hello\nCMD [\"x\"]\n"),
         "2:12: error: E331: ENTRYPOINT must use the JSON exec form".into()),
        ("21-volume", d("FROM {D}\nVOLUME /data\nCMD true\n"),
         "2:1: error: E203: instruction VOLUME is not allowed in a Runfile\n  hint: use BIND SRC:DST".into()),
        ("22-from-as", d("FROM {D} AS run\nCMD true\n"),
         "1:101: error: E232: FROM ... AS is not supported".into()),
        ("23-two-cmd", d("FROM {D}\nCMD a\nCMD b\n"),
         "3:1: error: E352: duplicate CMD (first at line 2)".into()),
        ("24-bad-env-name", d("FROM {D}\nENV 1X=1\nCMD true\n"),
         "2:5: error: E251: invalid variable name '1X'".into()),
        ("25-bad-tree", d("FROM --tree=sha256:abc {D}\nCMD true\n"),
         "1:13: error: E246: malformed tree digest 'sha256:abc'".into()),
        ("26-passenv-bracket", d("FROM {D}\nPASSENV SLURM_[A-Z]*\nCMD true\n"),
         "2:9: error: E281: invalid PASSENV pattern 'SLURM_[A-Z]*'".into()),
        ("27-empty-exec", d("FROM {D}\nCMD []\n"),
         "2:5: error: E342: CMD exec form must be a non-empty JSON array of strings".into()),
        ("28-bind-dotdot", d("FROM {D}\nBIND ../outside:/mnt/0\nCMD true\n"),
         "2:6: error: E292: '..' not allowed in bind source: '../outside'".into()),
    ];
    assert_eq!(cases.len(), 28);
    for (name, src, want) in cases {
        let file = format!("{name}.Runfile");
        let got = match parse(src.as_bytes()) {
            Ok(_) => panic!("{name}: parsed"),
            Err(e) => e.render(&file),
        };
        // Where the spec shows no hint, the diagnostic line is compared.
        let (line, hint) = got.split_once('\n').unwrap_or((&got, ""));
        if want.contains("\n  hint: ") {
            assert_eq!(got, format!("{file}:{want}"), "{name}");
        } else {
            assert_eq!(line, format!("{file}:{want}"), "{name}");
        }
        if name == "01-unpinned" {
            assert_eq!(
                hint,
                "  hint: `dsi runfile pin 127.0.0.1:5000/rf-base:v1` prints the FROM line with \
                 the digest its registry serves",
                "{name}"
            );
        }
    }
}

#[test]
fn diagnostic_display_and_runtime_constructor() {
    let e = Diagnostic::error(2, 1, "E501", "step 1/2 exited with status 3");
    assert_eq!(
        e.to_string(),
        "2:1: error: E501: step 1/2 exited with status 3"
    );
    assert_eq!(
        e.render("r8.Runfile"),
        "r8.Runfile:2:1: error: E501: step 1/2 exited with status 3"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(e.with_hint("see the log"));
    assert!(boxed.to_string().ends_with("status 3"));
}

// ------------------------------------------------- one case per static code

#[test]
fn encoding_codes() {
    code_at("FROM {D}\nCMD echo \u{7f}\n", "E103", 2, 10);
    code_at("FROM {D}\nCMD echo \u{1b}[0m\n", "E103", 2, 10);
    code_at("FROM {D}\nCMD \0\n", "E103", 2, 5);
    code_at("\u{feff}FROM {D}\nCMD x\n", "E102", 1, 1);
    let mut bytes = d("FROM {D}\nCMD é").into_bytes();
    bytes.push(0xff);
    let e = parse(&bytes).unwrap_err();
    assert_eq!((e.code, e.line, e.col), ("E101", 2, 6));
    // Encoding is checked before syntax.
    code_at("ENV A=1\nCMD \r\n", "E104", 2, 5);
}

#[test]
fn directive_codes() {
    code_at(
        "#syntax=docker/dockerfile:1\nFROM {D}\nCMD x\n",
        "E110",
        1,
        1,
    );
    code_at("  # Escape = \\\nFROM {D}\nCMD x\n", "E110", 1, 3);
    code_at("# runfile=1\n# RUNFILE=1\nFROM {D}\nCMD x\n", "E111", 2, 1);
    code_at("# runfile = 2\nFROM {D}\nCMD x\n", "E112", 1, 13);
    // Directives end at the first blank line, comment or instruction.
    ok("# runfile=1\n\n# runfile=2\n# escape=`\nFROM {D}\nCMD x\n");
    ok("# note=1\n# escape=`\nFROM {D}\nCMD x\n");
    ok("# a comment\n# runfile=9\nFROM {D}\nCMD x\n");
}

#[test]
fn continuation_codes() {
    code_at("FROM {D}\nCMD a \\\n# c\n", "E121", 2, 7);
    code_at("FROM {D}\nCMD a \\  \t\n \t\nb\n", "E122", 3, 1);
    // Even backslashes are literal; a final line without LF is fine.
    let rf = ok("FROM {D}\nCMD echo a\\\\");
    assert_eq!(rf.steps()[0].argv[2], "echo a\\\\");
    // Comment lines inside a continuation, even ending in `\`, are dropped.
    let rf = ok("FROM {D}\nRUN [\"a\", \\\n  # x \\\n  \"b\"]\nCMD x\n");
    assert_eq!(rf.steps()[0].argv, ["a", "b"]);
}

#[test]
fn keyword_codes() {
    code_at("FROM {D}\n\"CMD\" x\n", "E200", 2, 1);
    code_at("FROM {D}\nCMD[\"x\"]\n", "E200", 2, 4);
    code_at("FROM {D}\n  RUNX x\n", "E201", 2, 3);
    code_at("FROM {D}\nCMD\n", "E202", 2, 1);
    code_at("FROM {D}\nRUN   \t \nCMD x\n", "E202", 2, 1);
    code_at("FROM\nCMD x\n", "E202", 1, 1);
    code_at(
        "FROM --tree=rftree1+sha256:59dabb34ed0da2a06244bdb743218f668a5f18d0f0679d425a6b2face00eddb3\nCMD x\n",
        "E202",
        1,
        1,
    );
    for kw in [
        "ADD",
        "COPY",
        "ARG",
        "ONBUILD",
        "EXPOSE",
        "VOLUME",
        "HEALTHCHECK",
        "STOPSIGNAL",
        "MAINTAINER",
    ] {
        let e = code_at(
            &format!("FROM {{D}}\n{} x\nCMD x\n", kw.to_lowercase()),
            "E203",
            2,
            1,
        );
        assert!(e.message.contains(kw), "{e}");
        assert!(e.hint.is_some());
    }
    let e = code_at("MAINTAINER me\nFROM {D}\n", "E203", 1, 1);
    assert_eq!(e.hint.as_deref(), Some("use LABEL"));
}

#[test]
fn ordering_codes() {
    code_at("", "E210", 1, 1);
    // An empty file is keyed at its end but shown at 1:1 (§1.1-8.1).
    code_at("# only a comment\n\n", "E210", 1, 1);
    code_at("CMD x\n", "E210", 1, 1);
    code_at("FROM {D}\nFROM {D}\nCMD x\n", "E211", 2, 1);
    code_at("FROM {D}\nRUN x", "E351", 2, 1);
    code_at("FROM {D}\n", "E351", 1, 1);
    code_at("FROM {D}\nRUN x\n  ENV A=1\n\n# end\n", "E351", 3, 3);
    code_at("FROM {D}\nCMD x\nFROM {D}\n", "E353", 3, 1);
    code_at("FROM {D}\nCMD x\n cmd y\n", "E352", 3, 2);
    code_at(
        "FROM {D}\nENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]\nCMD x\n",
        "E332",
        3,
        1,
    );
}

#[test]
fn from_codes() {
    let tree = "rftree1+sha256:59dabb34ed0da2a06244bdb743218f668a5f18d0f0679d425a6b2face00eddb3";
    code_at("FROM --platform=linux/amd64 {D}\nCMD x\n", "E231", 1, 6);
    code_at(
        &format!("FROM --tree={tree} --tree={tree} {{D}}\nCMD x\n"),
        "E231",
        1,
        93,
    );
    code_at("FROM {D} as\nCMD x\n", "E232", 1, 101);
    code_at("FROM {D} extra\nCMD x\n", "E233", 1, 101);
    code_at(
        &format!("FROM {{D}} --tree={tree}\nCMD x\n"),
        "E233",
        1,
        101,
    );
    code_at(
        &format!("FROM reg.io/a@sha512:{HEX}\nCMD x\n"),
        "E243",
        1,
        6,
    );
    code_at("FROM reg.io/a@sha256:abc\nCMD x\n", "E244", 1, 6);
    code_at("FROM reg.io/a@14d2\nCMD x\n", "E244", 1, 6);
    code_at("FROM rf-base:v1\nCMD x\n", "E245", 1, 6);
    code_at(
        "FROM --tree=rftree1+sha256:abc rf-base\nCMD x\n",
        "E246",
        1,
        13,
    );
    code_at("FROM --tree rf-base\nCMD x\n", "E246", 1, 6);
    code_at(
        &format!("FROM Reg.io/a@sha256:{HEX}\nCMD x\n"),
        "E247",
        1,
        6,
    );
    code_at(
        &format!("FROM reg.io:123456/a@sha256:{HEX}\nCMD x\n"),
        "E247",
        1,
        6,
    );
    code_at(
        &format!("FROM reg.io/A@sha256:{HEX}\nCMD x\n"),
        "E248",
        1,
        6,
    );
    code_at(
        &format!("FROM reg.io/a//b@sha256:{HEX}\nCMD x\n"),
        "E248",
        1,
        6,
    );
    code_at(&format!("FROM --tree={tree} rf:-v\nCMD x\n"), "E248", 1, 93);
    let e = code_at(
        &format!("FROM reg.io/a@sha512:{HEX}\nCMD x\n"),
        "E243",
        1,
        6,
    );
    assert_eq!(e.message, "digest algorithm must be sha256, not 'sha512'");
    // Registry host forms.
    ok(&format!("FROM localhost/a/b@sha256:{HEX}\nCMD x\n"));
    ok(&format!(
        "FROM my-reg.example.com:443/a.b/c__d-e@sha256:{HEX}\nCMD x\n"
    ));
}

#[test]
fn value_codes() {
    code_at("FROM {D}\nLABEL nokey\nCMD x\n", "E252", 2, 7);
    code_at("FROM {D}\nENV A=1 B\nCMD x\n", "E252", 2, 9);
    code_at("FROM {D}\nENV A-B=1\nCMD x\n", "E251", 2, 5);
    code_at("FROM {D}\nENV =1\nCMD x\n", "E251", 2, 5);
    code_at("FROM {D}\nUNSETENV A 2B\nCMD x\n", "E251", 2, 12);
    code_at("FROM {D}\nENV A=x'y\nCMD x\n", "E253", 2, 8);
    code_at("FROM {D}\nENV A=x\\y\nCMD x\n", "E254", 2, 8);
    code_at("FROM {D}\nENV A=x\"y\"\nCMD x\n", "E255", 2, 8);
    code_at("FROM {D}\nENV A=\"x\\qy\"\nCMD x\n", "E256", 2, 9);
    code_at("FROM {D}\nENV A=\"\\u12\"\nCMD x\n", "E256", 2, 8);
    code_at("FROM {D}\nENV A=\"\\udc00\"\nCMD x\n", "E256", 2, 8);
    code_at("FROM {D}\nENV A=\"a\tb\"\nCMD x\n", "E256", 2, 9);
    code_at("FROM {D}\nENV A=\"abc\nCMD x\n", "E257", 2, 7);
    code_at("FROM {D}\nENV A=\"abc\"def\nCMD x\n", "E258", 2, 12);
    code_at("FROM {D}\nENV A=\"a\\u0000\"\nCMD x\n", "E259", 2, 9);
    code_at("FROM {D}\nCMD [\"a\\u0000\"]\n", "E259", 2, 8);
    code_at("FROM {D}\nLABEL .a=1\nCMD x\n", "E271", 2, 7);
    code_at("FROM {D}\nLABEL a=1 b=2 a=3\nCMD x\n", "E272", 2, 15);
    code_at("FROM {D}\nPASSENV A B-C\nCMD x\n", "E281", 2, 11);
    // Values: JSON escapes, empty bare values, `#` and `=` are ordinary.
    let rf =
        ok("FROM {D}\nENV A= B=#x=y C=\"\\u00e9\\ud83d\\ude00\\/\"\nLABEL k/x-y.z_=\"\"\nCMD x\n");
    let ops: Vec<_> = rf.steps()[0]
        .env_ops
        .iter()
        .map(|o| match o {
            EnvOp::Set { name, value } => format!("{name}={value}"),
            EnvOp::Unset { name } => name.clone(),
        })
        .collect();
    assert_eq!(ops, ["A=", "B=#x=y", "C=é😀/"]);
    assert_eq!(rf.labels(), [("k/x-y.z_".to_owned(), String::new())]);
}

#[test]
fn path_codes() {
    code_at("FROM {D}\nWORKDIR \"\"\nCMD x\n", "E290", 2, 9);
    code_at("FROM {D}\nBIND :/mnt/0\nCMD x\n", "E290", 2, 6);
    code_at("FROM {D}\nBIND a:\nCMD x\n", "E290", 2, 6);
    code_at("FROM {D}\nBIND a:mnt\nCMD x\n", "E291", 2, 6);
    code_at("FROM {D}\nWORKDIR /a/../b\nCMD x\n", "E292", 2, 9);
    code_at("FROM {D}\nBIND a:/mnt/../x\nCMD x\n", "E292", 2, 6);
    code_at("FROM {D}\nWORKDIR /a /b\nCMD x\n", "E293", 2, 12);
    code_at("FROM {D}\nBIND /a\nCMD x\n", "E301", 2, 6);
    code_at("FROM {D}\nBIND \"a:/b:c\"\nCMD x\n", "E302", 2, 6);
    code_at("FROM {D}\nBIND a:/.//\nCMD x\n", "E304", 2, 6);
    code_at("FROM {D}\nBIND a:/b c:/d\nCMD x\n", "E306", 2, 11);
    code_at("FROM {D}\nWORKDIR /a'b\nCMD x\n", "E253", 2, 11);
    // Normalisation; `.` alone is the context directory.
    let rf = ok("FROM {D}\nWORKDIR /./a//b/.\nBIND .:/mnt/0\nBIND /x/./y/:/mnt//1/\nCMD x\n");
    assert_eq!(
        rf.canonical(),
        d("FROM {D}\nWORKDIR /a/b\nBIND .:/mnt/0\nBIND /x/y:/mnt/1\nCMD x\n")
    );
    let argv = rf.to_ch_run_argv(0, &ctx());
    assert!(argv.contains(&"--bind=/work/ctx:/mnt/0".to_owned()));
    assert!(argv.contains(&"--bind=/x/y:/mnt/1".to_owned()));
    // Distinct workdirs, first occurrence.
    let rf = ok("FROM {D}\nWORKDIR /a\nWORKDIR /b\nWORKDIR /a/\nCMD x\n");
    let w: Vec<_> = rf
        .workdirs()
        .iter()
        .map(|w| (w.path.as_str(), w.line))
        .collect();
    assert_eq!(w, [("/a", 2), ("/b", 3)]);
    assert_eq!(rf.steps()[0].workdir, "/a");
}

#[test]
fn user_codes() {
    for bad in [
        "x",
        "01",
        "1:",
        ":1",
        "1:2:3",
        "4294967295",
        "-1",
        "1 2",
        "1:0x1",
    ] {
        code_at(&format!("FROM {{D}}\nUSER {bad}\nCMD x\n"), "E311", 2, 6);
    }
    let rf = ok("FROM {D}\nUSER 0\nRUN a\nUSER 4294967294:0\nCMD x\n");
    assert_eq!((rf.steps()[0].uid, rf.steps()[0].gid), (Some(0), None));
    assert_eq!(
        (rf.steps()[1].uid, rf.steps()[1].gid),
        (Some(4_294_967_294), Some(0))
    );
    assert!(rf.canonical().contains("USER 0\n") && rf.canonical().contains("USER 4294967294:0\n"));
}

#[test]
fn exec_form_codes() {
    code_at("FROM {D}\nSHELL /bin/bash -c\nCMD x\n", "E321", 2, 7);
    let e = code_at("FROM {D}\nCMD [\"a\" \"b\"]\n", "E341", 2, 10);
    assert_eq!(e.message, "invalid JSON exec form: Expecting ',' delimiter");
    let e = code_at("FROM {D}\nRUN [ -f x ] && y\nCMD x\n", "E341", 2, 7);
    assert_eq!(e.message, "invalid JSON exec form: Expecting value");
    let e = code_at("FROM {D}\nCMD [\"a\"] x\n", "E341", 2, 11);
    assert_eq!(e.message, "invalid JSON exec form: Extra data");
    let e = code_at("FROM {D}\nCMD [\"a\n", "E341", 2, 6);
    assert_eq!(
        e.message,
        "invalid JSON exec form: Unterminated string starting at"
    );
    let e = code_at("FROM {D}\nCMD [\"\\x\"]\n", "E341", 2, 7);
    assert_eq!(e.message, "invalid JSON exec form: Invalid \\escape");
    code_at("FROM {D}\nCMD [\"a\",]\n", "E341", 2, 10);
    code_at("FROM {D}\nCMD [\"a\\tb\",\t\"c\td\"]\n", "E341", 2, 16);
    code_at("FROM {D}\nCMD [\"a\", 1]\n", "E342", 2, 5);
    code_at("FROM {D}\nCMD [[\"a\"]]\n", "E342", 2, 5);
    code_at(
        "FROM {D}\nENTRYPOINT [{\"a\": null}]\nCMD x\n",
        "E342",
        2,
        12,
    );
    code_at("FROM {D}\nCMD [\"\", \"a\"]\n", "E343", 2, 5);
    code_at("FROM {D}\nSHELL [\"\"]\nCMD x\n", "E343", 2, 7);
    code_at("FROM {D}\nRUN <<EOF\nCMD x\n", "E344", 2, 5);
    // Exec forms may span lines and use any JSON whitespace.
    let rf = ok("FROM {D}\nCMD [ \"a\" ,\\\n\t\"b\\u0009\" ]\n");
    assert_eq!(rf.steps()[0].argv, ["a", "b\t"]);
    assert!(rf.canonical().ends_with("CMD [\"a\", \"b\\t\"]\n"));
    // `<<` not at the start and `#` in shell forms are ordinary text.
    let rf = ok("FROM {D}\nCMD cat <<EOF # b\n");
    assert_eq!(rf.steps()[0].argv, ["/bin/sh", "-c", "cat <<EOF # b"]);
}

#[test]
fn control_characters_in_values_round_trip() {
    let rf = ok("FROM {D}\nENV A=\"\\u0001\\u007f\\b\\f\\r\\n\"\nCMD [\"\\u001f\"]\n");
    assert_eq!(
        rf.canonical(),
        d("FROM {D}\nENV A=\"\\u0001\\u007f\\b\\f\\r\\n\"\nCMD [\"\\u001f\"]\n")
    );
    assert_stable(&rf);
}

#[test]
fn columns_count_unicode_scalar_values() {
    code_at("FROM {D}\nLABEL é=1\nCMD x\n", "E271", 2, 7);
    code_at("FROM {D}\nENV É=\"ü\" B=x'\nCMD x\n", "E251", 2, 5);
    code_at("FROM {D}\nENV A=\"ü\" B=x'\nCMD x\n", "E253", 2, 14);
}

/// The committed fuzz seeds stay meaningful: `v*` are valid, `i*` invalid.
#[test]
fn fuzz_seeds_are_examples() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/runfile");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/seeds/runfile exists") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).expect("readable seed");
        let result = parse(&bytes);
        if name.starts_with('v') {
            let rf = result.unwrap_or_else(|e| panic!("{name}: {e}")).runfile;
            assert_stable(&rf);
        } else {
            assert!(result.is_err(), "{name} should be invalid");
        }
        n += 1;
    }
    assert!(n >= 8);
}

// ===================================================== RUNFILE-1.1 §9 examples

const S1: &str =
    "./img/rf-tiny.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6";
const S2: &str =
    "./img/mpi.sqfs@sha256:480588fcc60cefbe78fe1469e93cd358741d0a10c1f3b88242b3caaebb5c6fce";
const T1: &str = "rftree1+sha256:31fa8cc7c817b7040d555c8ff80f47331465b06c0502730b90f48ed728cdb3a7";

/// Expand the abbreviations of RUNFILE-1.1 §9 (and `D` of §11).
fn x(src: &str) -> String {
    src.replace("{S1}", S1)
        .replace("{S2}", S2)
        .replace("{T1}", T1)
        .replace("{D}", D)
}

fn parsed11(src: &str) -> dsi_plugins_charliecloud::runfile::Parsed {
    match parse(x(src).as_bytes()) {
        Ok(p) => p,
        Err(e) => panic!("expected a valid Runfile, got {e}\n{}", x(src)),
    }
}

/// The §9.1 checks: canonical form and digest exactly as printed, stable.
#[track_caller]
fn valid11(src: &str, canonical: &str, digest: &str) -> Runfile {
    let rf = parsed11(src).runfile;
    assert_eq!(rf.canonical(), x(canonical));
    assert_eq!(rf.digest(), format!("runfile1+sha256:{digest}"));
    assert_stable(&rf);
    rf
}

fn c_ctx() -> ArgvContext {
    ArgvContext::new("/scratch/proj").with_mount("M")
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_owned).collect()
}

#[test]
fn p1_squashfs_file_pinned_by_sha256() {
    let rf = valid11(
        "# runfile=1\nFROM {S1}\nCMD [\"cat\", \"/opt/app/VERSION\"]\n",
        "FROM {S1}\nCMD [\"cat\", \"/opt/app/VERSION\"]\n",
        "f2330f2e233883d768484bfe54e438ef50ff319b16cd98d760f1f3be683bf386",
    );
    assert_eq!(
        rf.image(),
        &ImageRef::Path {
            path: "./img/rf-tiny.sqfs".into(),
            file_digest: Some(
                "sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6".into()
            ),
            tree: None,
        }
    );
    assert!(rf.image().is_path() && !rf.image().is_local());
    assert_eq!(rf.image().digest(), None);
    // The spec's argv with C = /scratch/proj and M the mount directory; no
    // --storage even when the context has one.
    assert_eq!(
        rf.to_ch_run_argv(0, &c_ctx().with_storage("/var/tmp/u.ch")),
        words(
            "ch-run --mount=M --private-tmp --unset-env=* --set-env --env-no-expand --cd=/ /scratch/proj/img/rf-tiny.sqfs -- cat /opt/app/VERSION"
        )
    );
    // The static report's placeholder, and the resolved path once known.
    let argv = rf.to_ch_run_argv(0, &ArgvContext::new("/scratch/proj"));
    assert_eq!(argv[1], "--mount=<mount>");
    let argv = rf.to_ch_run_argv(0, &c_ctx().with_image_path("/real/rf-tiny.sqfs"));
    assert_eq!(argv[argv.len() - 4], "/real/rf-tiny.sqfs");
}

#[test]
fn p2_directory_pinned_by_tree() {
    let rf = valid11(
        "FROM --tree={T1} /scratch/proj/img/rf-tiny.dir/\nENV MODE=fast\nCMD echo \"$GREETING, mode $MODE\"\n",
        "FROM --tree={T1} /scratch/proj/img/rf-tiny.dir\nENV MODE=\"fast\"\nCMD echo \"$GREETING, mode $MODE\"\n",
        "0b06c67b08beae5da64aa353abdfc22ae2729fca3b15a30adf372a6b7e36c53d",
    );
    assert_eq!(rf.image().tree(), Some(T1));
    assert_eq!(rf.image().file_digest(), None);
    // No --mount: a --tree image alone is a directory unless the context
    // says otherwise.
    let argv = rf.to_ch_run_argv(0, &c_ctx());
    assert_eq!(
        argv,
        words("ch-run --private-tmp --unset-env=* --set-env --env-no-expand --set-env=MODE='fast' --cd=/ /scratch/proj/img/rf-tiny.dir --")
            .into_iter()
            .chain(["/bin/sh", "-c", "echo \"$GREETING, mode $MODE\""].map(String::from))
            .collect::<Vec<_>>()
    );
    let squash = c_ctx().with_image_kind(PathImageKind::SquashFs);
    assert_eq!(rf.to_ch_run_argv(0, &squash)[1], "--mount=M");
}

#[test]
fn p3_normalised_path_with_both_pins() {
    let rf = valid11(
        "from --tree={T1} ./img//./rf-tiny.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6\ncmd [\"true\"]\n",
        "FROM --tree={T1} {S1}\nCMD [\"true\"]\n",
        "c8a695cba0f8b1c8cc2e9a16b57f6748022c50a41ff5be91e380db20c8637695",
    );
    assert_eq!(rf.image().name(), "./img/rf-tiny.sqfs");
    assert_eq!(rf.image().tree(), Some(T1));
    // Both pins: a SquashFS file, --mount.
    assert_eq!(rf.to_ch_run_argv(0, &c_ctx())[1], "--mount=M");
}

const L1: &str = "FROM {S2}
LAUNCH --join [\"srun\", \"-n\", \"2\", \"--mpi=pmix\"]
PASSENV SLURM_* PMIX_*
CMD [\"/opt/hello/mpi_hello\"]
";

#[test]
fn l1_launch_join() {
    let p = parsed11(L1);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let rf = valid11(
        L1,
        "FROM {S2}\nLAUNCH --join [\"srun\", \"-n\", \"2\", \"--mpi=pmix\"]\nPASSENV SLURM_*\nPASSENV PMIX_*\nCMD [\"/opt/hello/mpi_hello\"]\n",
        "5fc1f03df03dea5668e16e28556254bed0d2b0c60262024a243dd6a8e3d516b1",
    );
    assert_eq!(
        rf.to_ch_run_argv(0, &c_ctx()),
        words(
            "srun -n 2 --mpi=pmix ch-run --join --mount=M --private-tmp --unset-env=!(SLURM_*|PMIX_*) --set-env --env-no-expand --cd=/ /scratch/proj/img/mpi.sqfs -- /opt/hello/mpi_hello"
        )
    );
    let launch = Launch {
        argv: strings(&["srun", "-n", "2", "--mpi=pmix"]),
        join: true,
        line: 2,
        col: 1,
    };
    assert_eq!(rf.launches(), std::slice::from_ref(&launch));
    assert_eq!(rf.steps()[0].launch, Some(launch));
    // The program name is replaceable after the launcher.
    let argv = rf.to_ch_run_argv(0, &c_ctx().with_program("/opt/ch/bin/ch-run"));
    assert_eq!(argv[4..6], ["/opt/ch/bin/ch-run", "--join"]);
}

const L2: &str = "FROM {S2}
PASSENV SLURM_*
LAUNCH [\"srun\", \"-n\", \"2\"]
RUN [\"sh\", \"-c\", \"echo task $SLURM_PROCID\"]
LAUNCH []
CMD [\"sh\", \"-c\", \"echo ntasks=$SLURM_NTASKS procid=${SLURM_PROCID:-unset}\"]
";

#[test]
fn l2_launch_snapshot_and_clear() {
    let p = parsed11(L2);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let rf = valid11(
        L2,
        L2,
        "2c18a7a67a73055d1cabc3c333aeb15e1581de10fc86355f9c1ace2dbdee98f5",
    );
    let run = rf.to_ch_run_argv(0, &c_ctx());
    assert_eq!(
        run[..6],
        words("srun -n 2 ch-run --mount=M --unset-env=!(SLURM_*)")[..5]
            .iter()
            .cloned()
            .chain(["--private-tmp".to_owned()])
            .collect::<Vec<_>>()
    );
    assert_eq!(run[6], "--unset-env=!(SLURM_*)");
    let cmd = rf.to_ch_run_argv(1, &c_ctx());
    assert_eq!(cmd[..2], ["ch-run", "--mount=M"]);
    assert_eq!(rf.steps()[1].launch, None);
    assert_eq!(rf.launches().len(), 1, "LAUNCH [] is no launcher");
}

const W1: &str = r#"FROM {S1}
INPUT ./data/case7.yaml
BIND data:/mnt/0
BIND out:/mnt/1
OUTPUT --ignore="^# date" --atol=1e-12 --compare=numbers --rtol=0.0010 out/energy.txt
METRIC energy --from=out/energy.txt --regex="^E_total += +(?P<value>\\S+)" --rtol=1e-9
EXPECT --no-regex="(?:^|[^A-Za-z])(?:NaN|nan)"
CMD ["/bin/sh", "-c", "/mnt/0/solve > /mnt/1/energy.txt"]
"#;

const W1_CANONICAL: &str = r#"FROM {S1}
INPUT data/case7.yaml
BIND data:/mnt/0
BIND out:/mnt/1
OUTPUT --compare=numbers --rtol=1e-3 --atol=1e-12 --ignore="^# date" out/energy.txt
METRIC energy --from=out/energy.txt --regex="^E_total += +(?P<value>\\S+)" --rtol=1e-9
EXPECT --no-regex="(?:^|[^A-Za-z])(?:NaN|nan)"
CMD ["/bin/sh", "-c", "/mnt/0/solve > /mnt/1/energy.txt"]
"#;

#[test]
fn w1_verification_items() {
    let rf = valid11(
        W1,
        W1_CANONICAL,
        "a33fb517559b83578ac6620013f2973e450527125706f31e1847c50e72e31b05",
    );
    assert_eq!(
        rf.inputs(),
        [Input {
            path: "data/case7.yaml".into(),
            line: 2,
            col: 1
        }]
    );
    let o = &rf.outputs()[0];
    assert_eq!(o.target, Target::Path("out/energy.txt".into()));
    assert_eq!(o.compare, Compare::Numbers);
    assert_eq!((o.rtol.value(), o.rtol.canonical()), (1e-3, "1e-3"));
    assert_eq!((o.atol.value(), o.atol.canonical()), (1e-12, "1e-12"));
    assert_eq!(o.ignore.len(), 1);
    assert_eq!(o.ignore[0].source(), "^# date");
    assert!(o.ignore[0].regex().is_match("# date 2026-12-01T18:40:11Z"));
    assert_eq!((o.line, o.col), (5, 1));
    let m = &rf.metrics()[0];
    assert_eq!(m.name, "energy");
    assert_eq!(m.from, Target::Path("out/energy.txt".into()));
    assert_eq!(m.match_mode, MatchMode::Last);
    assert_eq!(m.rtol.canonical(), "1e-9");
    assert!(m.atol.is_zero() && m.min.is_none() && m.max.is_none() && !m.report_only);
    let caps = m
        .regex
        .regex()
        .captures("E_total = -76.026799341270")
        .expect("matches");
    assert_eq!(&caps["value"], "-76.026799341270");
    let e = &rf.expects()[0];
    assert_eq!(e.from, Target::Stdout);
    let ExpectTest::NoRegex(re) = &e.test else {
        panic!("--no-regex expected");
    };
    assert!(re.regex().is_match("E = NaN") && !re.regex().is_match("banana"));
    assert_eq!((e.line, e.col), (7, 1));
    // The verification instructions change no argv.
    assert_eq!(
        rf.to_ch_run_argv(0, &c_ctx())[..3],
        ["ch-run", "--mount=M", "--private-tmp"]
    );
}

#[test]
fn w2_metrics_expect_lines() {
    let rf = valid11(
        r#"FROM {S1}
METRIC gflops --regex="GFLOP/s: (\\d+\\.\\d*)" --match=all --rtol=5e-2 --min=100 --unit=GFLOP/s
METRIC wall --regex="wall +([0-9.]+) s" --unit="s (wall)" --report-only --match=first
EXPECT --regex="^run complete$"
OUTPUT --compare=lines --ignore="^wall " --ignore="GFLOP/s" @stdout
CMD ["/opt/app/bench"]
"#,
        r#"FROM {S1}
METRIC gflops --regex="GFLOP/s: (\\d+\\.\\d*)" --match=all --rtol=5e-2 --min=1e2 --unit=GFLOP/s
METRIC wall --regex="wall +([0-9.]+) s" --match=first --unit="s (wall)" --report-only
EXPECT --regex="^run complete$"
OUTPUT --compare=lines --ignore="^wall " --ignore=GFLOP/s @stdout
CMD ["/opt/app/bench"]
"#,
        "4c06a6903dfdc9f2d6c9f33b1294835a13fd9b006e0b3d5daac8ec60e7aee1ea",
    );
    let [g, w] = rf.metrics() else {
        panic!("two metrics")
    };
    assert_eq!(g.match_mode, MatchMode::All);
    assert_eq!(g.min.as_ref().map(|n| n.value()), Some(100.0));
    assert_eq!(g.unit.as_deref(), Some("GFLOP/s"));
    assert_eq!(g.regex.translated(), "GFLOP/s: ([0-9]+\\.[0-9]*)");
    assert!(w.report_only && w.match_mode == MatchMode::First);
    assert_eq!(w.unit.as_deref(), Some("s (wall)"));
    let o = &rf.outputs()[0];
    assert_eq!(
        (o.compare, o.target.clone()),
        (Compare::Lines, Target::Stdout)
    );
    assert_eq!(o.ignore.len(), 2);
    assert!(
        matches!(&rf.expects()[0].test, ExpectTest::Regex(r) if r.source() == "^run complete$")
    );
}

#[test]
fn w3_respelling() {
    valid11(
        "from {S1}\noutput --compare=\"exact\" \\\n       \"@stdout\"\nOutput --compare=lines \"./@stderr\"\nmetric  t   --regex=\"(?P<value>[0-9]+)\"   --from=\"out/t.txt\"  --match=last  --rtol=0  --atol=+0.50 --min=-0 --max=1E3\ninput \"/srv/data/ref dir/\"\ncmd [\"true\"]\n",
        "FROM {S1}\nOUTPUT @stdout\nOUTPUT --compare=lines ./@stderr\nMETRIC t --from=out/t.txt --regex=\"(?P<value>[0-9]+)\" --atol=5e-1 --min=0e0 --max=1e3\nINPUT \"/srv/data/ref dir\"\nCMD [\"true\"]\n",
        "9385a7cb2e164c8e6b7944dd2b6c6d0eba17342bbc27b62a390cd3d3b9bec246",
    );
    let rf = parsed11("FROM {S1}\nOUTPUT \"./@stderr\"\nOUTPUT @stderr\nCMD x\n").runfile;
    assert_eq!(rf.outputs()[0].target, Target::Path("@stderr".into()));
    assert_eq!(rf.outputs()[1].target, Target::Stderr);
}

#[test]
fn w4_warnings_in_position_order() {
    let src = "FROM {S2}\nLABEL dsi.outputs=\"out/a.txt\"\nLAUNCH [\"mpirun\", \"-n\", \"2\"]\nOUTPUT out/a.txt\nCMD [\"/opt/hello/mpi_hello\"]\n";
    valid11(
        src,
        src,
        "34bb696a3d51f6051b5aaadf924e74c471c35ce3bd761076c92e112180869ad5",
    );
    let rendered: Vec<_> = parsed11(src)
        .warnings
        .iter()
        .map(|w| w.render("W-4"))
        .collect();
    assert_eq!(
        rendered,
        [
            "W-4:2:7: warning: W305: LABEL dsi.outputs is ignored: the Runfile declares OUTPUT or METRIC",
            "W-4:3:1: warning: W304: LAUNCH: no PASSENV pattern matches SLURM_PROCID, PMIX_RANK, PMI_RANK or OMPI_COMM_WORLD_RANK",
        ]
    );
    // diagnose() prints the same.
    let d: Vec<_> = diagnose(x(src).as_bytes())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(d.len(), 2);
    assert!(d[0].starts_with("2:7: warning: W305"));
}

#[test]
fn w304_and_w305_conditions() {
    let w = |src: &str| -> Vec<(&'static str, usize)> {
        parsed11(src)
            .warnings
            .iter()
            .map(|w| (w.code, w.line))
            .collect()
    };
    // A PASSENV after the LAUNCH but before the step counts (snapshot).
    assert!(w("FROM {S2}\nLAUNCH [\"srun\"]\nPASSENV PMIX_*\nCMD x\n").is_empty());
    // One step without a rank variable is enough; one warning per LAUNCH.
    assert_eq!(
        w("FROM {S2}\nLAUNCH [\"srun\"]\nRUN a\nRUN b\nPASSENV *\nCMD x\n"),
        [("W304", 2), ("W303", 5)]
    );
    // A LAUNCH no step snapshots warns about nothing.
    assert!(w("FROM {S2}\nLAUNCH [\"srun\"]\nLAUNCH []\nCMD x\n").is_empty());
    // dsi.outputs without OUTPUT/METRIC is the legacy list: no W305.
    assert!(w("FROM {S2}\nLABEL dsi.outputs=\"a b\"\nEXPECT --regex=x\nCMD x\n").is_empty());
    assert_eq!(
        w("FROM {S2}\nMETRIC m --regex=(x)\nLABEL a=1 dsi.outputs=a\nCMD x\n"),
        [("W305", 3)]
    );
}

// ------------------------------------------------------------ §9.2 invalid

/// Every row of RUNFILE-1.1 §9.2: line 1 is `FROM S1` unless FROM is the
/// offending line; a CMD follows.
#[test]
fn invalid_examples_of_section_9_2() {
    let s1_hex = "24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6";
    let from_cases = [
        (
            format!("FROM img/rf-tiny.sqfs@sha256:{s1_hex}"),
            "1:6: error: E241: registry host required in a digest reference",
        ),
        (
            "FROM ./img/rf-tiny.sqfs".to_owned(),
            "1:6: error: E245: image reference must be pinned: './img/rf-tiny.sqfs'",
        ),
        (
            format!("FROM ./img/rf:tiny.sqfs@sha256:{s1_hex}"),
            "1:6: error: E249: invalid character ':' in image path './img/rf:tiny.sqfs'",
        ),
    ];
    for (line, want) in from_cases {
        let src = format!("{line}\nCMD [\"true\"]\n");
        assert_eq!(fail(&src).to_string(), want, "{line}");
    }
    let cases: &[(&str, &str)] = &[
        (
            "LAUNCH srun -n 2",
            "2:8: error: E361: LAUNCH must use the JSON exec form",
        ),
        (
            "LAUNCH --join []",
            "2:8: error: E363: LAUNCH [] takes no options",
        ),
        (
            "LAUNCH [\"./bin/launch\"]",
            "2:8: error: E364: launcher must be a command name or an absolute path: './bin/launch'",
        ),
        (
            "OUTPUT --tol=1e-3 out/x.txt",
            "2:8: error: E370: unknown OUTPUT option '--tol'",
        ),
        (
            "OUTPUT --rtol=1e-3 out/x.txt",
            "2:8: error: E374: --rtol requires --compare=numbers",
        ),
        (
            "OUTPUT --compare=fuzzy out/x.txt",
            "2:18: error: E373: invalid value for --compare: 'fuzzy' (exact, lines or numbers)",
        ),
        (
            "OUTPUT --compare=numbers --rtol=1e-3 --rtol=1e-4 out/x.txt",
            "2:38: error: E371: duplicate option '--rtol'",
        ),
        (
            "OUTPUT --compare=numbers --atol=-1e-9 out/x.txt",
            "2:33: error: E376: --atol must not be negative: '-1e-9'",
        ),
        (
            "OUTPUT /scratch/out.txt",
            "2:8: error: E383: OUTPUT target must be @stdout, @stderr or a path relative to the context directory: '/scratch/out.txt'",
        ),
        (
            "OUTPUT out/x.txt --compare=lines",
            "2:18: error: E382: options must come before the TARGET",
        ),
        (
            "METRIC energy --regex=\"E = \\\\S+\"",
            "2:23: error: E379: METRIC --regex needs a capture group (a group named 'value', or group 1)",
        ),
        (
            "METRIC energy --regex=\"E = (\\\\S+\"",
            "2:23: error: E378: invalid regular expression for --regex at character 5: missing ')'",
        ),
        (
            "METRIC n --regex=\"(?P<value>[0-9]*)+\"",
            "2:18: error: E378: invalid regular expression for --regex at character 18: repeated expression can match the empty string",
        ),
        (
            "METRIC energy --regex=\"(?<value>\\\\S+)\"",
            "2:23: error: E378: invalid regular expression for --regex at character 1: unsupported group '(?<'",
        ),
        (
            "METRIC --regex=\"(x)\" energy",
            "2:8: error: E381: METRIC requires a NAME before its options",
        ),
        (
            "METRIC e --regex=\"(x)\" --max=1 --min=5",
            "2:32: error: E377: --min is greater than --max",
        ),
        (
            "METRIC e --from=out/log.txt",
            "2:28: error: E380: METRIC requires --regex",
        ),
        (
            "METRIC e --report-only=yes --regex=\"(x)\"",
            "2:10: error: E372: option '--report-only' takes no value",
        ),
        (
            "OUTPUT out/x.txt\nOUTPUT --compare=lines ./out//x.txt",
            "3:1: error: E385: duplicate OUTPUT target 'out/x.txt' (first at line 2)",
        ),
        (
            "OUTPUT --rtol=1e-3 --ignore=\"(\" x",
            "2:8: error: E374: --rtol requires --compare=numbers",
        ),
        ("ENV 1X='a'", "2:5: error: E251: invalid variable name '1X'"),
    ];
    for (lines, want) in cases {
        let src = x(&format!("FROM {{S1}}\n{lines}\nCMD [\"true\"]\n"));
        let got = match parse(src.as_bytes()) {
            Ok(_) => panic!("parsed: {lines}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, *want, "{lines}");
    }
    // The rows' checks that precedence decided: without the winner, the
    // other error is reported where the spec says it would be.
    let e = fail(&x(
        "FROM {S1}\nOUTPUT --compare=numbers --rtol=1e-3 --ignore=\"(\" x\nCMD x\n",
    ));
    assert_eq!((e.code, e.line, e.col), ("E378", 2, 47));
    let e = fail(
        &x("FROM {S1}\nOUTPUT --rtol=1e-3 --ignore=\"(\" x\nCMD x\n").replace("--rtol=1e-3 ", ""),
    );
    assert_eq!(
        (e.code, e.col),
        ("E374", 8),
        "--ignore without lines/numbers"
    );
    let e = fail(&x("FROM {S1}\nENV X1='a'\nCMD x\n"));
    assert_eq!((e.code, e.line, e.col), ("E253", 2, 8));
}

/// The three v1 cases of §1.1-8.1 ("Deviations found") give the rule's answer.
#[test]
fn v1_precedence_cases() {
    assert_eq!(
        fail(&d("FROM {D}\nCOPY\"x\" /y\nCMD x\n")).to_string(),
        "2:1: error: E203: instruction COPY is not allowed in a Runfile"
    );
    assert_eq!(
        fail(&d("FROM {D}\nENV 1X='a'\nCMD x\n")).to_string(),
        "2:5: error: E251: invalid variable name '1X'"
    );
    assert_eq!(
        fail("FROM rf@sha256:abc AS x\nCMD x\n").to_string(),
        "1:6: error: E244: malformed digest 'sha256:abc'"
    );
    // More of the rule: keyword checks before E200, operands in position
    // order, E202 at the keyword before option errors.
    code_at("RUNX\"x\"\n", "E201", 1, 1);
    code_at("CMD[\"x\"]\n", "E210", 1, 1);
    code_at("FROM {D}\nCMD x\nCMD[\"y\"]\n", "E352", 3, 1);
    code_at("FROM --tree=bad\nCMD x\n", "E202", 1, 1);
    code_at("FROM rf-base --tree=x\nCMD x\n", "E245", 1, 6);
    code_at("FROM {D}\nLABEL .a='x'\nCMD x\n", "E271", 2, 7);
    code_at("FROM {D}\nLABEL a=1 a='x'\nCMD x\n", "E272", 2, 11);
    code_at("FROM {D}\nWORKDIR \"\" /b\nCMD x\n", "E290", 2, 9);
    code_at("FROM {D}\nWORKDIR a /b\nCMD x\n", "E291", 2, 9);
    code_at("FROM {D}\nBIND /a /b:/c\nCMD x\n", "E301", 2, 6);
    code_at("FROM {D}\nBIND a:/b /c:/d'\nCMD x\n", "E306", 2, 11);
    // An interrupted instruction is E121/E122 whatever else is in it; an
    // earlier instruction's error wins.
    code_at("FROM {D}\nENV 1X=1 \\\n\nCMD x\n", "E122", 3, 1);
    code_at("FROM {D}\nENV 1X=1\nCMD x \\\n", "E251", 2, 5);
    // Encoding errors come first, wherever they are.
    code_at("COPY x\nCMD \u{202e}x\n", "E103", 2, 5);
}

#[test]
fn e103_amendment_c1_and_bidi_controls() {
    let e = fail(&d("FROM {D}\nCMD echo \u{85}\n"));
    assert_eq!(
        e.to_string(),
        "2:10: error: E103: control character U+0085 not allowed"
    );
    let e = fail(&d("FROM {D}\nLABEL a=\"x\u{2067}\"\nCMD x\n"));
    assert_eq!(
        e.to_string(),
        "2:11: error: E103: control character U+2067 not allowed"
    );
    // Escaped in JSON they are values; the canonical form escapes them so
    // that it parses again.
    let rf = ok("FROM {D}\nENV A=\"\\u0085\\u202e\\u2069\"\nCMD [\"\\u009f\"]\n");
    assert_eq!(
        rf.canonical(),
        d("FROM {D}\nENV A=\"\\u0085\\u202e\\u2069\"\nCMD [\"\\u009f\"]\n")
    );
    assert_stable(&rf);
}

// ------------------------------------------------- one case per 1.1 code

#[test]
fn path_image_codes() {
    let h = "24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6";
    let at =
        |src: String, code: &str, col: usize| code_at(&format!("{src}\nCMD x\n"), code, 1, col);
    at(format!("FROM /a@sha512:{h}"), "E243", 6);
    at("FROM /a@sha256:ABC".into(), "E244", 6);
    let e = at(format!("FROM .img/x@sha256:{h}"), "E249", 6);
    assert_eq!(
        e.message,
        "image path must be absolute or start with './': '.img/x'"
    );
    let e = at(format!("FROM ../x@sha256:{h}"), "E249", 6);
    assert_eq!(
        e.message,
        "image path must be absolute or start with './': '../x'"
    );
    let e = at(format!("FROM --tree={T1} /./"), "E249", 93);
    assert_eq!(e.message, "image path names no file: '/./'");
    at(format!("FROM ./é@sha256:{h}"), "E249", 6);
    let e = at(format!("FROM ./a/../b@sha256:{h}"), "E292", 6);
    assert_eq!(e.message, "'..' not allowed in image path: './a/../b'");
    at(format!("FROM {S1} AS x"), "E232", 97);
    // At run time, a path image that is not there: E412 at FROM, naming
    // the path joined to the context directory.
    let rf = ok(&x("FROM {S1}\nCMD x\n"));
    let e = dsi_plugins_charliecloud::image::resolve(
        rf.image(),
        rf.from_line(),
        std::path::Path::new("/nonexistent-context"),
        &dsi_plugins_charliecloud::image::Storage::new("/nonexistent"),
        &dsi_plugins_charliecloud::image::ChImage::locate("u"),
        dsi_plugins_charliecloud::image::ResolveOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "1:1: error: E412: image path not found: /nonexistent-context/img/rf-tiny.sqfs"
    );
}

#[test]
fn launch_codes() {
    let at = |line: &str, code: &str, col: usize| {
        let e = code_at(&x(&format!("FROM {{S1}}\n{line}\nCMD x\n")), code, 2, col);
        e.message
    };
    assert_eq!(
        at("LAUNCH --bind [\"a\"]", "E362", 8),
        "unknown LAUNCH option '--bind'"
    );
    assert_eq!(
        at("LAUNCH --join --join [\"a\"]", "E362", 15),
        "duplicate LAUNCH option '--join'"
    );
    assert_eq!(
        at("LAUNCH --join=1 [\"a\"]", "E372", 8),
        "option '--join' takes no value"
    );
    assert_eq!(
        at("LAUNCH --join --join []", "E363", 8),
        "LAUNCH [] takes no options"
    );
    at("LAUNCH --join srun", "E361", 15);
    at("LAUNCH --join", "E361", 14);
    assert_eq!(
        at("LAUNCH [\"srun\", 2]", "E342", 8),
        "LAUNCH exec form must be a JSON array of strings"
    );
    assert_eq!(
        at("LAUNCH [\"\"]", "E343", 8),
        "LAUNCH exec form: the first element must not be empty"
    );
    at("LAUNCH [\"srun\" \"x\"]", "E341", 16);
    at("LAUNCH --join [\"bin/srun\"]", "E364", 15);
    at("LAUNCH", "E202", 1);
    let rf = ok(&x(
        "FROM {S1}\nLAUNCH [\"/usr/bin/srun\"]\nLAUNCH [\"mpirun\"]\nCMD x\n",
    ));
    assert_eq!(rf.launches().len(), 2);
    assert_eq!(rf.steps()[0].launch.as_ref().map(|l| l.line), Some(3));
    code_at(&x("FROM {S1}\nCMD x\nLAUNCH []\n"), "E353", 3, 1);
    code_at("LAUNCH []\n", "E210", 1, 1);
}

#[test]
fn verification_codes() {
    let at = |line: &str, code: &str, col: usize| {
        code_at(&x(&format!("FROM {{S1}}\n{line}\nCMD x\n")), code, 2, col).message
    };
    // INPUT.
    assert_eq!(at("INPUT \"\"", "E290", 7), "empty path");
    assert_eq!(
        at("INPUT a/../b", "E292", 7),
        "'..' not allowed in INPUT: 'a/../b'"
    );
    assert_eq!(at("INPUT a b", "E382", 9), "INPUT takes exactly one path");
    at("INPUT a'b", "E253", 8);
    let e = code_at(
        &x("FROM {S1}\nINPUT /d/\nINPUT //d x\nCMD x\n"),
        "E385",
        3,
        1,
    );
    assert_eq!(e.message, "duplicate INPUT '/d' (first at line 2)");
    // OUTPUT.
    assert_eq!(
        at("OUTPUT --compare=lines", "E381", 8),
        "OUTPUT requires a TARGET"
    );
    assert_eq!(
        at("OUTPUT a b", "E382", 10),
        "OUTPUT takes exactly one TARGET"
    );
    assert_eq!(
        at("OUTPUT @out", "E383", 8),
        "unknown stream '@out' (@stdout or @stderr)"
    );
    at("OUTPUT a/../b", "E292", 8);
    at("OUTPUT \"\"", "E290", 8);
    assert_eq!(
        at("OUTPUT --ignore=x a", "E374", 8),
        "--ignore requires --compare=lines or --compare=numbers"
    );
    assert_eq!(
        at("OUTPUT --compare=lines --atol=1 a", "E374", 24),
        "--atol requires --compare=numbers"
    );
    assert_eq!(
        at("OUTPUT --compare a", "E372", 8),
        "option '--compare' requires a value"
    );
    assert_eq!(
        at("OUTPUT --compare= a", "E372", 8),
        "option '--compare' requires a value"
    );
    assert_eq!(
        at("OUTPUT --ignore=\"\" a", "E372", 8),
        "option '--ignore' requires a value"
    );
    assert_eq!(
        at("OUTPUT --compare=numbers --rtol=1.2.3 a", "E375", 33),
        "malformed number for --rtol: '1.2.3'"
    );
    assert_eq!(
        at(
            "OUTPUT --compare=numbers --rtol=123456789012345678 a",
            "E375",
            33
        ),
        "malformed number for --rtol: '123456789012345678'"
    );
    assert_eq!(
        at("OUTPUT --compare=numbers --rtol=1e400 a", "E376", 33),
        "--rtol out of range: '1e400'"
    );
    assert_eq!(
        at("OUTPUT --compare=lines --ignore=a{2,1} a", "E378", 33),
        "invalid regular expression for --ignore at character 2: bad repetition"
    );
    // A value that cannot be read stops the reading: no cross-option E374.
    at(
        "OUTPUT --rtol=1 --ignore='x --compare=numbers a",
        "E253",
        26,
    );
    at(
        "OUTPUT --compare=numbers --ignore=\"x --rtol=1 a",
        "E257",
        35,
    );
    // An option after the target is E382; an unknown one E370 first.
    at("OUTPUT a --x", "E370", 10);
    // METRIC.
    assert_eq!(
        at("METRIC 1e --regex=(x)", "E384", 8),
        "invalid METRIC name '1e'"
    );
    assert_eq!(
        at("METRIC \"e\" --regex=(x)", "E384", 8),
        "invalid METRIC name '\"e\"'"
    );
    at(&format!("METRIC {} --regex=(x)", "m".repeat(65)), "E384", 8);
    at(
        &format!("METRIC {} --regex=(x) --x", "m".repeat(64)),
        "E370",
        85,
    );
    assert_eq!(
        at("METRIC a b --regex=(x)", "E382", 10),
        "METRIC takes exactly one NAME"
    );
    assert_eq!(
        at("METRIC a --ignore=x --regex=(x)", "E370", 10),
        "unknown METRIC option '--ignore'"
    );
    assert_eq!(
        at("METRIC a --regex=(x) --match=every", "E373", 30),
        "invalid value for --match: 'every' (first, last or all)"
    );
    at("METRIC a --regex=(x) --from=/x", "E383", 29);
    at("METRIC a --regex=(x) --from=@err", "E383", 29);
    at("METRIC a --regex=(x) --from=../x", "E292", 29);
    at("METRIC a --regex=(x) --rtol=-1", "E376", 29);
    at("METRIC a --regex=(x) --unit=", "E372", 22);
    at(
        "METRIC a --regex=(x) --report-only --report-only",
        "E371",
        36,
    );
    at("METRIC a --regex=(?:x)", "E379", 18);
    // E381 is keyed at the end of the line: other errors win.
    at("METRIC --regex=(x) 1x", "E384", 20);
    at("METRIC --regex=(x) --from=/x a", "E383", 27);
    // E380 is keyed at the end of the line; E381 wins the tie there.
    at("METRIC --from=x", "E381", 8);
    at("METRIC a --regex", "E372", 10);
    let e = code_at(
        &x("FROM {S1}\nMETRIC a --regex=(x)\nMETRIC a --regex=(y) --bad\nCMD x\n"),
        "E385",
        3,
        1,
    );
    assert_eq!(e.message, "duplicate METRIC 'a' (first at line 2)");
    // --min ≤ --max compares binary64 values.
    ok(&x(
        "FROM {S1}\nMETRIC a --regex=(x) --min=1.0000000000000001 --max=1\nCMD x\n",
    ));
    at("METRIC a --regex=(x) --min=5 --max=abc", "E375", 36);
    // EXPECT.
    assert_eq!(
        at("EXPECT --from=x", "E380", 16),
        "EXPECT requires exactly one of --regex and --no-regex"
    );
    at("EXPECT --regex=a --no-regex=b", "E380", 18);
    at("EXPECT --no-regex=a --regex=b", "E380", 21);
    assert_eq!(
        at("EXPECT --regex=a b", "E382", 18),
        "EXPECT takes no operands"
    );
    assert_eq!(
        at("EXPECT --rtol=1 --regex=a", "E370", 8),
        "unknown EXPECT option '--rtol'"
    );
    at("EXPECT --regex=a --regex=b", "E371", 18);
    at("EXPECT --regex=a\\\\", "E254", 17);
    at("EXPECT --regex=\"a\\\\\"", "E378", 16);
    at("EXPECT --from=/etc --regex=\"(\"", "E383", 15);
    at("EXPECT", "E202", 1);
    // Multi-line instructions: E380 at the end of the last physical line.
    let e = code_at(
        &x("FROM {S1}\nMETRIC a \\\n  --from=x \\\n  --unit=s\nCMD x\n"),
        "E380",
        4,
        11,
    );
    assert_eq!(e.message, "METRIC requires --regex");
}

#[test]
fn dsi_outputs_label() {
    let e = fail(&x(
        "FROM {S1}\nLABEL a=1 dsi.outputs=\"out/a /etc/passwd\"\nCMD x\n",
    ));
    assert_eq!(
        e.to_string(),
        "2:23: error: E383: dsi.outputs path must be relative to the context directory: '/etc/passwd'"
    );
    let e = fail(&x("FROM {S1}\nLABEL dsi.outputs=\"a\\t../x\"\nCMD x\n"));
    assert_eq!(
        e.to_string(),
        "2:19: error: E292: '..' not allowed in dsi.outputs: '../x'"
    );
    // E383 is checked over all words first (the tie order at a value).
    let e = fail(&x("FROM {S1}\nLABEL dsi.outputs=\"a/../b /x\"\nCMD x\n"));
    assert_eq!(e.code, "E383");
    // Relative words, globs and `..` inside a name are fine.
    let rf = ok(&x(
        "FROM {S1}\nLABEL dsi.outputs=\"out/*.txt a..b ./c\"\nCMD x\n",
    ));
    assert_eq!(rf.labels()[0].1, "out/*.txt a..b ./c");
    // Another key is not checked.
    ok(&x("FROM {S1}\nLABEL dsi.output=/etc/passwd\nCMD x\n"));
}

#[test]
fn verification_canonical_forms() {
    let canon = |src: &str| ok(&x(src)).canonical();
    // Defaults are omitted, options are ordered, values bare when possible.
    assert_eq!(
        canon("FROM {S1}\nOUTPUT --atol=0 --rtol=0.0 --compare=numbers \"a b\"\nCMD x\n"),
        x("FROM {S1}\nOUTPUT --compare=numbers \"a b\"\nCMD x\n")
    );
    assert_eq!(
        canon("FROM {S1}\nOUTPUT --compare=lines --ignore=b --ignore=a --ignore=b -x\nCMD x\n"),
        x("FROM {S1}\nOUTPUT --compare=lines --ignore=b --ignore=a --ignore=b ./-x\nCMD x\n")
    );
    assert_eq!(
        canon(
            "FROM {S1}\nMETRIC m.x-1 --report-only --unit=\"%\" --max=+1.50E+2 --min=-.5 --atol=1 --rtol=2 --match=\"all\" --regex=(y) --from=\"@stdout\"\nCMD x\n"
        ),
        x(
            "FROM {S1}\nMETRIC m.x-1 --regex=\"(y)\" --match=all --rtol=2e0 --atol=1e0 --min=-5e-1 --max=1.5e2 --unit=% --report-only\nCMD x\n"
        )
    );
    assert_eq!(
        canon(
            "FROM {S1}\nEXPECT --regex=ok --from=@stderr\nEXPECT --no-regex=\"a b\" --from=./@stdout\nCMD x\n"
        ),
        x(
            "FROM {S1}\nEXPECT --from=@stderr --regex=ok\nEXPECT --from=./@stdout --no-regex=\"a b\"\nCMD x\n"
        )
    );
    assert_eq!(
        canon("FROM {S1}\nINPUT ./\nINPUT -x\nINPUT @y\nCMD x\n"),
        x("FROM {S1}\nINPUT .\nINPUT -x\nINPUT @y\nCMD x\n")
    );
    assert_eq!(
        canon("FROM {S1}\nlaunch  --join   [ \"a\" ,\"b\" ]\nLaunch [ ]\nCMD x\n"),
        x("FROM {S1}\nLAUNCH --join [\"a\", \"b\"]\nLAUNCH []\nCMD x\n")
    );
}

#[test]
fn static_report() {
    let p = parsed11(L1);
    let report = Report::new(&p, &ArgvContext::new("/scratch/proj"));
    let v = serde_json::to_value(&report).expect("serialisable");
    assert_eq!(
        v["digest"],
        "runfile1+sha256:5fc1f03df03dea5668e16e28556254bed0d2b0c60262024a243dd6a8e3d516b1"
    );
    assert_eq!(v["image"]["kind"], "path");
    assert_eq!(v["image"]["argument"], "/scratch/proj/img/mpi.sqfs");
    assert_eq!(v["image"]["squashfs"], true);
    assert_eq!(v["launchers"][0]["argv"][0], "srun");
    assert_eq!(v["steps"][0]["kind"], "cmd");
    assert_eq!(v["steps"][0]["line"], 4);
    assert_eq!(v["steps"][0]["launcher"]["line"], 2);
    assert_eq!(v["steps"][0]["argv"][6], "--mount=<mount>");
    let p = parsed11(W1);
    let v = serde_json::to_value(Report::new(&p, &ArgvContext::new("/c"))).expect("json");
    assert_eq!(v["inputs"][0]["path"], "data/case7.yaml");
    assert_eq!(v["outputs"][0]["compare"], "numbers");
    assert_eq!(v["outputs"][0]["rtol"], "1e-3");
    assert_eq!(v["outputs"][0]["ignore"][0], "^# date");
    assert_eq!(v["metrics"][0]["match"], "last");
    assert_eq!(v["metrics"][0]["from"], "out/energy.txt");
    assert_eq!(
        v["expectations"][0]["no_regex"],
        "(?:^|[^A-Za-z])(?:NaN|nan)"
    );
    assert_eq!(v["expectations"][0]["regex"], serde_json::Value::Null);
    assert_eq!(v["warnings"], serde_json::json!([]));
    let p = parse(x("FROM {S2}\nLAUNCH [\"mpirun\"]\nCMD x\n").as_bytes()).expect("valid");
    let v = serde_json::to_value(Report::new(&p, &ArgvContext::new("/c"))).expect("json");
    assert_eq!(
        v["warnings"][0],
        serde_json::json!({"line": 2, "col": 1, "severity": "warning", "code": "W304",
            "message": "LAUNCH: no PASSENV pattern matches SLURM_PROCID, PMIX_RANK, PMI_RANK or OMPI_COMM_WORLD_RANK",
            "hint": null})
    );
    // A registry image keeps --storage in the report's argv.
    let p = parse(d("FROM {D}\nCMD x\n").as_bytes()).expect("valid");
    let r = Report::new(&p, &ArgvContext::new("/c").with_storage("/s"));
    assert_eq!(r.image.kind, "registry");
    assert_eq!(r.steps[0].argv[1], "--storage=/s");
    assert_eq!(r.image.squashfs, None);
}

#[test]
fn every_example_regex_compiles_under_the_default_limit() {
    for src in [W1, L1] {
        for m in parsed11(src).runfile.metrics() {
            m.regex.compile().expect("compiles");
        }
    }
    let rf = parsed11(W1).runfile;
    for o in rf.outputs() {
        for r in &o.ignore {
            r.compile().expect("compiles");
        }
    }
    for e in rf.expects() {
        e.test.re1().compile().expect("compiles");
    }
}
