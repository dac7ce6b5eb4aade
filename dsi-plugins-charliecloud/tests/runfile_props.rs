//! Property tests of the Runfile parser: canonicalisation is idempotent, the
//! canonical form is the same program, and no input makes the parser panic.

use dsi_plugins_charliecloud::runfile::{ArgvContext, Runfile, parse};
use proptest::prelude::*;

const D: &str = "127.0.0.1:5000/rf-base@sha256:14d210e7a9e06824ac3ec275952f8e625fd2f4d91e107fa4cab109663d31b155";
const TREE: &str =
    "rftree1+sha256:59dabb34ed0da2a06244bdb743218f668a5f18d0f0679d425a6b2face00eddb3";

/// Valid Runfiles of RUNFILE.md §11.1 (with `D` expanded): the mutation seeds.
fn seeds() -> Vec<String> {
    [
        "FROM {D}\nCMD [\"/opt/app/bin/hello\", \"a\", \"b c\"]\n",
        "# runfile=1\n\n# Provenance run\nFROM {D}\nLABEL org.opencontainers.image.description=\"demo run\" \\\n      gov.lanl.dsi.experiment=42\nENV GREETING=\"hi there\" MODE=fast\nENV EMPTY=\nUNSETENV APP_HOME\nWORKDIR /opt/app\nCMD echo \"greeting=$GREETING mode=$MODE\" && \\\n    # a comment line inside a continuation is dropped\n    echo \"pwd=$(pwd) app_home=${APP_HOME:-unset} empty=[$EMPTY]\" && env | sort\n",
        "FROM {D}\nBIND data:/data\nBIND out:/out\nUSER 1000:1000\nRUN [\"/bin/sh\", \"-c\", \"sha256sum /data/input.txt > /out/input.sha256\"]\nRUN wc -c < /data/input.txt > /out/input.size\nCMD [\"/bin/cat\", \"/out/input.sha256\", \"/out/input.size\"]\n",
        "FROM {D}\nPASSENV SLURM_* OMPI_*\nSHELL [\"/bin/sh\", \"-e\", \"-c\"]\nENTRYPOINT [\"/opt/app/bin/hello\"]\nCMD [\"--rank\", \"0\"]\n",
        "FROM --tree={T} rf-base\nCMD [\"cat\", \"/opt/app/VERSION\"]\n",
        "FROM --tree={T} {D}\nBIND /tmp:/tmp\nRUN echo \"written by step 1\" > /tmp/rf-demo-$$.txt; ls /tmp/rf-demo-* | wc -l\nCMD [\"/bin/sh\", \"-c\", \"cat /tmp/rf-demo-*.txt; rm -f /tmp/rf-demo-*.txt\"]\n",
        "from {D}\nenv  MSG=\"tab\\there \\\"quoted\\\" \\u00e9\"   PATHX=/a//b/\nworkdir /opt//app/\nBind \"./data dir:/mnt/0\"\ncmd   [\"printf\", \"%s\\\\n\", \"x\"]\n",
        "FROM {D}\nPASSENV *\nENV PATH=/opt/x/bin:$PATH\nCMD true\n",
    ]
    .iter()
    .map(|s| s.replace("{T}", TREE).replace("{D}", D))
    .collect()
}

/// If `src` parses: canonicalisation is idempotent, the canonical form parses
/// to the same program, and argv generation works for every step.
fn check_stable(src: &[u8]) -> Result<(), TestCaseError> {
    let Ok(parsed) = parse(src) else {
        return Ok(());
    };
    let rf = parsed.runfile;
    let c1 = rf.canonical();
    let again = match Runfile::parse_str(&c1) {
        Ok(r) => r,
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "canonical form does not parse: {e}\n{c1}"
            )));
        }
    };
    prop_assert_eq!(again.canonical(), c1.clone());
    prop_assert_eq!(again.digest(), rf.digest());
    prop_assert_eq!(again.without_positions(), rf.without_positions());
    let ctx = ArgvContext::new("/work/ctx").with_storage("/s");
    prop_assert_eq!(again.ch_run_argvs(&ctx), rf.ch_run_argvs(&ctx));
    for i in 0..rf.steps().len() {
        let argv = rf.to_ch_run_argv(i, &ctx);
        prop_assert_eq!(argv.first().map(String::as_str), Some("ch-run"));
    }
    Ok(())
}

// ------------------------------------------------------ grammar generator

/// A string of "interesting" characters for values.
fn any_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'z'),
            1 => Just(' '),
            1 => Just('\t'),
            1 => Just('"'),
            1 => Just('\\'),
            1 => Just('\''),
            1 => Just('$'),
            1 => Just('#'),
            1 => Just('['),
            1 => Just(':'),
            1 => Just('/'),
            1 => Just('\n'),
            1 => Just('\u{1}'),
            1 => Just('\u{7f}'),
            1 => Just('é'),
            1 => Just('😀'),
            1 => Just('\u{2028}'),
        ],
        0..12,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// Encode `s` as a JSON string, choosing among equivalent spellings.
fn json(s: &str, style: u8) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '/' if style % 2 == 1 => out.push_str("\\/"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c if style % 3 == 2 && (c as u32) < 0x10000 && !c.is_ascii() => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if style % 3 == 2 && !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn bare_ok(s: &str) -> bool {
    !s.is_empty() && !s.contains([' ', '\t', '"', '\'', '\\', '\n', '\u{1}', '\u{7f}'])
}

/// A value: bare if possible and chosen, else JSON.
fn value(s: &str, style: u8) -> String {
    if style.is_multiple_of(4) && (s.is_empty() || bare_ok(s)) {
        s.to_owned()
    } else {
        json(s, style)
    }
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,6}"
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[a-z0-9]{1,4}",
            1 => Just(".".to_owned()),
            1 => Just(String::new()),
            1 => Just("a b".to_owned()),
            1 => Just("é".to_owned()),
        ],
        1..4,
    )
    .prop_map(|c| c.join("/"))
}

/// An exec-form array with a non-empty first element.
fn argv() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(any_text(), 1..4).prop_map(|mut v| {
        if v[0].is_empty() {
            v[0] = "x".to_owned();
        }
        v
    })
}

/// One body instruction, or RUN, written with random spelling.
fn body() -> impl Strategy<Value = String> {
    let shell_text = "[a-z$#&|<>(){}=\"' ]{0,20}[a-z]".prop_filter(
        // `#` first would make a continued line a comment line (§3.5).
        "no heredoc, exec form or comment",
        |s| {
            let t = s.trim_start();
            !t.starts_with("<<") && !t.starts_with(['[', '#'])
        },
    );
    prop_oneof![
        (
            prop::collection::vec(("[a-z][a-z0-9._/-]{0,5}", any_text()), 1..3),
            any::<u8>()
        )
            .prop_map(|(kv, st)| {
                // Keys must be unique across the file: `@@` becomes a counter.
                let ops: Vec<_> = kv
                    .iter()
                    .enumerate()
                    .map(|(i, (k, v))| format!("{k}{i}@@={}", value(v, st)))
                    .collect();
                format!("LABEL {}", ops.join(" "))
            }),
        (
            prop::collection::vec((name(), any_text()), 1..3),
            any::<u8>()
        )
            .prop_map(|(kv, st)| {
                let ops: Vec<_> = kv
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value(v, st)))
                    .collect();
                format!("ENV {}", ops.join(" "))
            }),
        prop::collection::vec(name(), 1..3).prop_map(|v| format!("UNSETENV {}", v.join(" "))),
        prop::collection::vec("[A-Za-z0-9_*?]{1,5}", 1..3)
            .prop_map(|v| format!("PASSENV {}", v.join("\t"))),
        (path(), any::<u8>())
            .prop_map(|(p, st)| format!("WORKDIR {}", value(&format!("/{p}"), st))),
        (path(), path(), any::<bool>(), any::<u8>()).prop_map(|(s, d, abs, st)| {
            let src = match (abs, s.trim_matches(['/', '.']).is_empty()) {
                (true, _) => format!("/{s}"),
                (false, true) => "s".to_owned(),
                (false, false) => s,
            };
            format!("BIND {}", value(&format!("{src}:/mnt/{d}x"), st))
        }),
        (any::<u32>(), prop::option::of(any::<u32>())).prop_map(|(u, g)| {
            let u = u.min(4_294_967_294);
            match g {
                Some(g) => format!("USER {u}:{}", g.min(4_294_967_294)),
                None => format!("USER {u}"),
            }
        }),
        (argv(), any::<u8>()).prop_map(|(v, st)| format!("SHELL {}", exec(&v, st))),
        (argv(), any::<u8>()).prop_map(|(v, st)| format!("RUN {}", exec(&v, st))),
        shell_text.prop_map(|t| format!("RUN {t}")),
    ]
}

fn exec(v: &[String], style: u8) -> String {
    let sep = if style.is_multiple_of(2) {
        ", "
    } else {
        " ,\t"
    };
    let items: Vec<_> = v.iter().map(|s| json(s, style)).collect();
    format!("[{}]", items.join(sep))
}

/// Re-spell a canonical-ish instruction line: keyword case, leading and
/// inter-token whitespace, continuation, trailing whitespace.
fn respell(line: &str, style: u8) -> String {
    let (kw, rest) = line.split_once(' ').unwrap_or((line, ""));
    let kw = match style % 3 {
        0 => kw.to_owned(),
        1 => kw.to_lowercase(),
        _ => {
            let mut k = kw.to_lowercase();
            k[..1].make_ascii_uppercase();
            k
        }
    };
    let lead = if style & 4 != 0 { "  " } else { "" };
    let gap = if style & 8 != 0 { " \t" } else { " " };
    let cont = if style & 16 != 0 {
        " \\\n# inside\n   "
    } else if style & 32 != 0 {
        "\\  \n"
    } else {
        ""
    };
    let trail = if style & 64 != 0 { " \t" } else { "" };
    format!("{lead}{kw}{gap}{cont}{rest}{trail}\n")
}

fn runfile() -> impl Strategy<Value = String> {
    let from = prop_oneof![
        Just(format!("FROM {D}")),
        Just(format!("FROM --tree={TREE} {D}")),
        Just(format!("FROM --tree={TREE} localhost:5000/a/b_c:v1.0")),
        Just(format!("FROM --tree={TREE} rf-base")),
    ];
    let cmd = prop_oneof![
        (prop::collection::vec(any_text(), 1..3), any::<u8>()).prop_map(|(mut v, st)| {
            if v[0].is_empty() {
                v[0] = "c".to_owned();
            }
            format!("CMD {}", exec(&v, st))
        }),
        "[a-z$ ]{0,10}[a-z]".prop_map(|t| format!("CMD {t}")),
    ];
    let entry = prop::option::of(Just("ENTRYPOINT [\"/e\"]".to_owned()));
    (
        any::<bool>(),
        from,
        prop::collection::vec((body(), any::<u8>(), any::<u8>()), 0..8),
        entry,
        cmd,
        any::<u8>(),
    )
        .prop_map(|(directive, from, body, entry, cmd, st)| {
            let mut out = String::new();
            if directive {
                out.push_str("# runfile=1\n");
            }
            out.push_str(&respell(&from, st));
            for (line, st, extra) in body {
                if extra.is_multiple_of(5) {
                    out.push_str("\n# comment \\\n");
                }
                out.push_str(&respell(&line, st));
            }
            if let Some(e) = entry {
                out.push_str(&respell(&e, st));
            }
            out.push_str(&respell(&cmd, st.rotate_left(3)));
            let mut n = 0;
            while let Some(i) = out.find("@@") {
                out.replace_range(i..i + 2, &format!("n{n}"));
                n += 1;
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// Generated valid Runfiles parse, canonicalise idempotently and their
    /// canonical form is the same program.
    #[test]
    fn generated_runfiles_are_stable(src in runfile()) {
        if let Err(e) = parse(src.as_bytes()) {
            return Err(TestCaseError::fail(format!("generated Runfile rejected: {e}\n{src}")));
        }
        check_stable(src.as_bytes())?;
    }

    /// Arbitrary bytes never panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse(&bytes);
    }

    /// Grammar-shaped noise never panics and whatever parses is stable.
    #[test]
    fn grammar_noise_is_stable(
        body in "([A-Za-z]{1,5}|[ \\t\\\\\"'\\[\\]{}=:/.@#$,*?0-9-]|\\\\u0000|\\n){0,60}",
        head in 0usize..3,
    ) {
        let from = [format!("FROM {D}\n"), format!("FROM --tree={TREE} x\n"), String::new()][head].clone();
        let src = format!("{from}{body}\nCMD x\n");
        check_stable(src.as_bytes())?;
        check_stable(body.as_bytes())?;
    }

    /// Random byte mutations of the §11 examples never panic, and whatever
    /// still parses is stable.
    #[test]
    fn mutated_examples_are_stable(
        seed in 0usize..8,
        edits in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = seeds()[seed].clone().into_bytes();
        for (op, at, byte) in edits {
            let byte = match byte % 4 {
                0 => b"\\\"'[]{}:=/ \t\n#$*?@.,-"[usize::from(byte) % 21],
                _ => byte,
            };
            match op {
                0 => {
                    let i = at.index(bytes.len() + 1);
                    bytes.insert(i, byte);
                }
                1 if !bytes.is_empty() => {
                    let i = at.index(bytes.len());
                    bytes.remove(i);
                }
                _ if !bytes.is_empty() => {
                    let i = at.index(bytes.len());
                    bytes[i] = byte;
                }
                _ => {}
            }
        }
        check_stable(&bytes)?;
    }
}

#[test]
fn seeds_are_valid_and_stable() {
    for s in seeds() {
        assert!(parse(s.as_bytes()).is_ok(), "{s}");
        check_stable(s.as_bytes()).expect("stable");
    }
}
