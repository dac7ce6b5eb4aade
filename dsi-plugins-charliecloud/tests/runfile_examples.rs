//! The examples of RUNFILE.md §11 (valid and invalid), the argv mapping of
//! §7.1, and one case per reachable static diagnostic of §10.

use dsi_plugins_charliecloud::runfile::{
    ArgvContext, Diagnostic, EnvOp, ImageRef, Runfile, Severity, StepKind, for_path, parse,
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
        ("09-no-cmd", d("FROM {D}\n"), "2:1: error: E351: Runfile has no CMD".into()),
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
        assert_eq!(got, format!("{file}:{want}"), "{name}");
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
    code_at("# only a comment\n\n", "E210", 3, 1);
    code_at("CMD x\n", "E210", 1, 1);
    code_at("FROM {D}\nFROM {D}\nCMD x\n", "E211", 2, 1);
    code_at("FROM {D}\nRUN x", "E351", 2, 6);
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
