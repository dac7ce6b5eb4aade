//! Property tests of the Runfile parser: canonicalisation is idempotent, the
//! canonical form is the same program, re-spellings share a digest (keyword
//! case, option order, number spellings, bare vs JSON values, continuation
//! lines), no input makes the parser panic, and every RE1-valid expression
//! compiles with the `regex` crate.

use dsi_plugins_charliecloud::runfile::{ArgvContext, Re1, Runfile, parse};
use proptest::prelude::*;

const D: &str = "127.0.0.1:5000/rf-base@sha256:14d210e7a9e06824ac3ec275952f8e625fd2f4d91e107fa4cab109663d31b155";
const TREE: &str =
    "rftree1+sha256:59dabb34ed0da2a06244bdb743218f668a5f18d0f0679d425a6b2face00eddb3";
/// `S1` of RUNFILE-1.1 §9.
const S1: &str =
    "./img/rf-tiny.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6";

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
        // RUNFILE-1.1 §9.1.
        "from --tree={T} ./img//./rf-tiny.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6\ncmd [\"true\"]\n",
        "FROM {S}\nLAUNCH --join [\"srun\", \"-n\", \"2\", \"--mpi=pmix\"]\nPASSENV SLURM_* PMIX_*\nCMD [\"/opt/hello/mpi_hello\"]\n",
        "FROM {S}\nINPUT ./data/case7.yaml\nBIND data:/mnt/0\nOUTPUT --ignore=\"^# date\" --atol=1e-12 --compare=numbers --rtol=0.0010 out/energy.txt\nMETRIC energy --from=out/energy.txt --regex=\"^E_total += +(?P<value>\\\\S+)\" --rtol=1e-9\nEXPECT --no-regex=\"(?:^|[^A-Za-z])(?:NaN|nan)\"\nCMD [\"/bin/sh\", \"-c\", \"/mnt/0/solve > /mnt/1/energy.txt\"]\n",
        "from {S}\noutput --compare=\"exact\" \\\n       \"@stdout\"\nOutput --compare=lines \"./@stderr\"\nmetric  t   --regex=\"(?P<value>[0-9]+)\"   --from=\"out/t.txt\"  --match=last  --rtol=0  --atol=+0.50 --min=-0 --max=1E3\ninput \"/srv/data/ref dir/\"\ncmd [\"true\"]\n",
        "FROM {S}\nLABEL dsi.outputs=\"out/a.txt\"\nLAUNCH [\"mpirun\", \"-n\", \"2\"]\nOUTPUT out/a.txt\nLAUNCH []\nCMD [\"/opt/hello/mpi_hello\"]\n",
    ]
    .iter()
    .map(|s| s.replace("{T}", TREE).replace("{D}", D).replace("{S}", S1))
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
    for (i, step) in rf.steps().iter().enumerate() {
        let argv = rf.to_ch_run_argv(i, &ctx);
        let launcher = step.launch.as_ref().map_or(0, |l| l.argv.len());
        prop_assert_eq!(argv.get(launcher).map(String::as_str), Some("ch-run"));
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
        (item(), any::<u32>()).prop_map(|(it, st)| it.line(st)),
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
        Just(format!("FROM {S1}")),
        Just(format!("FROM --tree={TREE} /scratch//img/x.dir/")),
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
        body in "([A-Za-z]{1,5}|LAUNCH|INPUT|OUTPUT|METRIC|EXPECT|--compare=|--regex=|--rtol=|--from=|--ignore=|@stdout|[ \\t\\\\\"'\\[\\]{}=:/.@#$,*?0-9-]|\\\\u0000|\\n){0,60}",
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
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let seeds = seeds();
        let mut bytes = seeds[seed.index(seeds.len())].clone().into_bytes();
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

// ------------------------------------------- RUNFILE-1.1 instructions

/// An exact decimal `digits × 10^exp`, `digits` without leading or
/// trailing zeros (or `"0"`), for numbers with many spellings.
#[derive(Clone, Debug)]
struct Num {
    negative: bool,
    digits: String,
    exp: i32,
}

fn num(non_negative: bool) -> impl Strategy<Value = Num> {
    (
        any::<bool>(),
        prop_oneof![
            1 => Just("0".to_owned()),
            6 => "[1-9]([0-9]{0,4}[1-9])?",
        ],
        -12i32..12,
    )
        .prop_map(move |(neg, digits, exp)| Num {
            negative: neg && !non_negative,
            exp: if digits == "0" { 0 } else { exp },
            digits,
        })
}

impl Num {
    /// One of many equivalent spellings (`0.0010`, `1e-3`, `+10E-4`, …).
    fn spell(&self, style: u32) -> String {
        let sign = match (self.negative, style % 3) {
            (true, _) => "-",
            (false, 1) => "+",
            _ => "",
        };
        if self.digits == "0" {
            let zero =
                ["0", "0.0", ".0e5", "000", "0e-3", "0.", "00.000E+0"][(style / 3 % 7) as usize];
            return format!("{sign}{zero}");
        }
        let zeros = |n: usize| "0".repeat(n);
        let e = if style & 64 != 0 { "E" } else { "e" };
        let body = match style / 3 % 4 {
            // D × 10^exp, optionally with trailing zeros moved into D.
            0 => {
                let pad = (style / 12 % 3) as usize;
                let x = self.exp - i32::try_from(pad).expect("small");
                let plus = if x >= 0 && style & 128 != 0 { "+" } else { "" };
                format!("{}{}{e}{plus}{x}", self.digits, zeros(pad))
            }
            // d1.d2…dn × 10^(exp + n - 1), trailing zeros after the point.
            1 => {
                let n = i32::try_from(self.digits.len()).expect("short");
                let (d1, rest) = self.digits.split_at(1);
                let tail = zeros((style / 12 % 2) as usize);
                format!("{d1}.{rest}{tail}{e}{}", self.exp + n - 1)
            }
            // Plain decimal with leading zeros.
            _ => {
                let lead = zeros((style / 12 % 3) as usize);
                let point = i32::try_from(self.digits.len()).expect("short") + self.exp;
                if self.exp >= 0 {
                    format!(
                        "{lead}{}{}",
                        self.digits,
                        zeros(self.exp.unsigned_abs() as usize)
                    )
                } else if point > 0 {
                    let (a, b) = self.digits.split_at(point.unsigned_abs() as usize);
                    format!("{lead}{a}.{b}")
                } else {
                    format!(
                        "{lead}.{}{}",
                        zeros(point.unsigned_abs() as usize),
                        self.digits
                    )
                }
            }
        };
        format!("{sign}{body}")
    }

    fn value(&self) -> f64 {
        let s = format!(
            "{}{}e{}",
            if self.negative { "-" } else { "" },
            self.digits,
            self.exp
        );
        s.parse().expect("a valid f64")
    }
}

/// Valid RE1 expressions; those with a group suit METRIC.
const REGEXES: &[(&str, bool)] = &[
    ("(x)", true),
    ("^E_total += +(?P<value>\\S+)", true),
    ("GFLOP/s: (\\d+\\.\\d*)", true),
    ("wall +([0-9.]+) s", true),
    ("(?:a|b)(c)?", true),
    ("é+(ü|\\$)", true),
    ("^run complete$", false),
    ("(?:^|[^A-Za-z])(?:NaN|nan)", false),
    ("GFLOP/s", false),
    ("say \"hi\" \\\\ \\t", false),
    ("[\\w\\-]+=[^\\s]{2,5}?", false),
];

/// A path relative to the context directory, with unique part `@@`.
fn rel_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("out/f@@.txt".to_owned()),
        Just("@x@@".to_owned()),
        Just("-d@@/log".to_owned()),
        Just("res dir/@@é".to_owned()),
        Just("a/b/c@@".to_owned()),
    ]
}

/// A `--from`/target value: a stream or a path.
fn from_target() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("@stdout".to_owned()),
        Just("@stderr".to_owned()),
        Just("out/t.txt".to_owned()),
        Just("@at".to_owned()),
    ]
}

/// One RUNFILE-1.1 instruction, independent of its spelling.
#[derive(Clone, Debug)]
enum Item {
    Launch(Option<(bool, Vec<String>)>),
    Input(String),
    Output {
        compare: Option<&'static str>,
        rtol: Option<Num>,
        atol: Option<Num>,
        ignore: Vec<&'static str>,
        target: String,
    },
    Metric {
        from: Option<String>,
        regex: &'static str,
        mode: Option<&'static str>,
        rtol: Option<Num>,
        atol: Option<Num>,
        min: Option<Num>,
        max: Option<Num>,
        unit: Option<String>,
        report_only: bool,
    },
    Expect {
        from: Option<String>,
        regex: &'static str,
        negated: bool,
    },
}

fn item() -> impl Strategy<Value = Item> {
    let re = |group: bool| {
        prop::sample::select(
            REGEXES
                .iter()
                .filter(|(_, g)| *g || !group)
                .map(|(r, _)| *r)
                .collect::<Vec<_>>(),
        )
    };
    prop_oneof![
        (
            any::<bool>(),
            prop::collection::vec("[a-z0-9=/ -]{0,6}", 0..3),
            prop::sample::select(vec!["srun", "mpirun", "/usr/bin/srun", "x"]),
            any::<bool>()
        )
            .prop_map(|(join, rest, l0, empty)| {
                if empty {
                    return Item::Launch(None);
                }
                let mut argv = vec![l0.to_owned()];
                argv.extend(rest);
                Item::Launch(Some((join, argv)))
            }),
        (rel_path(), any::<bool>()).prop_map(|(p, abs)| Item::Input(if abs {
            format!("/srv/{p}")
        } else {
            p
        })),
        (
            prop::sample::select(vec![None, Some("exact"), Some("lines"), Some("numbers")]),
            prop::option::of(num(true)),
            prop::option::of(num(true)),
            prop::collection::vec(re(false), 0..3),
            rel_path(),
        )
            .prop_map(|(compare, rtol, atol, ignore, target)| {
                let numbers = compare == Some("numbers");
                let some_lines = numbers || compare == Some("lines");
                Item::Output {
                    compare,
                    rtol: rtol.filter(|_| numbers),
                    atol: atol.filter(|_| numbers),
                    ignore: if some_lines { ignore } else { Vec::new() },
                    target,
                }
            }),
        (
            (
                prop::option::of(from_target()),
                re(true),
                prop::sample::select(vec![None, Some("first"), Some("last"), Some("all")]),
                prop::option::of(num(true)),
                prop::option::of(num(true)),
            ),
            (
                prop::option::of(num(false)),
                prop::option::of(num(false)),
                prop::option::of("[A-Za-z/%() ]{1,6}"),
                any::<bool>()
            ),
        )
            .prop_map(
                |((from, regex, mode, rtol, atol), (min, max, unit, report_only))| {
                    let (min, max) = match (min, max) {
                        (Some(a), Some(b)) if a.value() > b.value() => (Some(b), Some(a)),
                        other => other,
                    };
                    Item::Metric {
                        from,
                        regex,
                        mode,
                        rtol,
                        atol,
                        min,
                        max,
                        unit,
                        report_only,
                    }
                }
            ),
        (prop::option::of(from_target()), re(false), any::<bool>()).prop_map(
            |(from, regex, negated)| Item::Expect {
                from,
                regex,
                negated
            }
        ),
    ]
}

/// A value spelled bare (if the grammar allows it and the style says so)
/// or as a JSON string in one of several escapings.
fn spell_value(v: &str, style: u32) -> String {
    let bare = !v.is_empty() && !v.contains([' ', '\t', '"', '\'', '\\']);
    if bare && style.is_multiple_of(2) {
        v.to_owned()
    } else {
        json(v, u8::try_from(style % 251).expect("small"))
    }
}

/// A target path spelled with optional `./` and doubled `/`; a path
/// beginning with `@` or `-` must keep its `./`.
fn spell_path(p: &str, style: u32) -> String {
    let mut p = if style & 2 != 0 {
        p.replacen('/', "//", 1)
    } else {
        p.to_owned()
    };
    if p.starts_with(['@', '-']) || (style & 4 != 0 && !p.starts_with('/')) {
        p = format!("./{p}");
    }
    if style & 8 != 0 && !p.starts_with(['@', '-']) {
        p.push('/');
    }
    spell_value(&p, style >> 4)
}

/// A target value: streams as `@stdout` or `"@stdout"`, paths (also `@at`,
/// a file) re-spelled.
fn spell_target(t: &str, style: u32) -> String {
    if t == "@stdout" || t == "@stderr" {
        spell_value(t, style)
    } else {
        spell_path(t, style)
    }
}

impl Item {
    /// Render with the spelling chosen by `st`: option order, value and
    /// number spellings, keyword case, continuation lines.
    fn render(&self, st: u32) -> String {
        let style = u8::try_from(st.rotate_left(7) % 256).expect("small");
        respell(&self.line(st), style).trim_end().to_owned()
    }

    /// The instruction with its keyword upper case, options in an order and
    /// values in spellings chosen by `st`, operands separated by spaces, TABs
    /// or continuations.
    fn line(&self, st: u32) -> String {
        let mut opts: Vec<String> = Vec::new();
        let mut rng = st;
        let mut next = || {
            rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            rng >> 8
        };
        let (kw, head, tail): (&str, Option<String>, Option<String>) = match self {
            Item::Launch(None) => ("LAUNCH", None, Some("[]".to_owned())),
            Item::Launch(Some((join, argv))) => {
                if *join {
                    opts.push("--join".to_owned());
                }
                let style = u8::try_from(next() % 200).expect("small");
                ("LAUNCH", None, Some(exec(argv, style)))
            }
            Item::Input(p) => ("INPUT", None, Some(spell_path(p, next()))),
            Item::Output {
                compare,
                rtol,
                atol,
                ignore,
                target,
            } => {
                if let Some(c) = compare {
                    opts.push(format!("--compare={}", spell_value(c, next())));
                }
                if let Some(n) = rtol {
                    opts.push(format!("--rtol={}", n.spell(next())));
                }
                if let Some(n) = atol {
                    opts.push(format!("--atol={}", n.spell(next())));
                }
                for r in ignore {
                    opts.push(format!("--ignore={}", spell_value(r, next())));
                }
                ("OUTPUT", None, Some(spell_path(target, next())))
            }
            Item::Metric {
                from,
                regex,
                mode,
                rtol,
                atol,
                min,
                max,
                unit,
                report_only,
            } => {
                if let Some(f) = from {
                    opts.push(format!("--from={}", spell_target(f, next())));
                }
                opts.push(format!("--regex={}", spell_value(regex, next())));
                if let Some(m) = mode {
                    opts.push(format!("--match={}", spell_value(m, next())));
                }
                for (name, n) in [
                    ("--rtol", rtol),
                    ("--atol", atol),
                    ("--min", min),
                    ("--max", max),
                ] {
                    if let Some(n) = n {
                        opts.push(format!("{name}={}", n.spell(next())));
                    }
                }
                if let Some(u) = unit {
                    opts.push(format!("--unit={}", spell_value(u, next())));
                }
                if *report_only {
                    opts.push("--report-only".to_owned());
                }
                ("METRIC", Some("m@@".to_owned()), None)
            }
            Item::Expect {
                from,
                regex,
                negated,
            } => {
                if let Some(f) = from {
                    opts.push(format!("--from={}", spell_target(f, next())));
                }
                let name = if *negated { "--no-regex" } else { "--regex" };
                opts.push(format!("{name}={}", spell_value(regex, next())));
                ("EXPECT", None, None)
            }
        };
        // Options in any order (LAUNCH has at most one), but `--ignore`s
        // keep theirs: it is part of the program.
        let ignores: Vec<String> = opts
            .iter()
            .filter(|o| o.starts_with("--ignore="))
            .cloned()
            .collect();
        for i in (1..opts.len()).rev() {
            let j = usize::try_from(next()).expect("u32 fits") % (i + 1);
            opts.swap(i, j);
        }
        let mut ignores = ignores.into_iter();
        for o in &mut opts {
            if o.starts_with("--ignore=") {
                *o = ignores.next().expect("as many");
            }
        }
        let mut parts: Vec<String> = head.into_iter().collect();
        parts.extend(opts);
        parts.extend(tail);
        let mut line = kw.to_owned();
        for (k, p) in parts.into_iter().enumerate() {
            if k > 0 {
                line.push_str(match next() % 5 {
                    0 => " \\\n    ",
                    1 => " \t",
                    _ => " ",
                });
            } else {
                line.push(' ');
            }
            line.push_str(&p);
        }
        line
    }
}

/// A Runfile made of `items` in spelling `st`, with `@@` made unique.
fn runfile_of(items: &[Item], st: u32) -> String {
    let mut out = format!("FROM {S1}\n");
    for (k, it) in items.iter().enumerate() {
        let st = st
            .wrapping_mul(31)
            .wrapping_add(u32::try_from(k).expect("few"));
        out.push_str(&it.render(st));
        out.push('\n');
    }
    out.push_str("CMD [\"true\"]\n");
    let mut n = 0;
    while let Some(i) = out.find("@@") {
        out.replace_range(i..i + 2, &format!("u{n}"));
        n += 1;
    }
    out
}

// --------------------------------------------------------------- RE1

/// Random text over RE1's alphabet: mostly invalid, sometimes valid.
fn re1_noise() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                "a", "b", "é", " ", ".", "*", "+", "?", "??", "(", ")", "(?:", "(?P<n>",
                "(?P<value>", "[", "]", "[^", "{2}", "{1,3}", "{0,}", "|", "^", "$", "\\d",
                "\\W", "\\s", "\\S", "\\.", "\\\\", "\\t", "\\-", "-", "a-z", "0-9", "&", "~",
                "/", "#",
            ]),
        ],
        1..24,
    )
    .prop_map(|v| v.concat())
}

/// Structurally valid RE1 expressions (weight and empty repeats may still
/// make some invalid).
fn re1_tree() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        prop::sample::select(vec![
            "a", "é", ".", "\\d", "\\D", "\\w", "\\W", "\\s", "\\S", "\\.", "\\\\", "\\t", "-",
            "#", " "
        ])
        .prop_map(str::to_owned),
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "z", "a-f", "0-9", "\\d", "\\W", "\\S", "\\-", "é", ".", "\\]", "\\^", "^"
            ]),
            1..5
        )
        .prop_map(|items| {
            let mut s = items.concat();
            if s.starts_with('^') {
                s.insert(0, 'x');
            }
            format!("[{s}]")
        }),
        prop::collection::vec(
            prop::sample::select(vec!["a", "z", "a-f", "\\d", "\\D", "\\s"]),
            1..4
        )
        .prop_map(|items| format!("[^{}]", items.concat())),
    ];
    let quant = prop::sample::select(vec![
        "", "", "*", "+", "?", "??", "*?", "{3}", "{2,}", "{0,7}", "{10}", "{100}", "{1000}",
        "{1,500}?",
    ]);
    let piece = (atom, quant).prop_map(|(a, q)| format!("{a}{q}"));
    let leaf = prop::collection::vec(piece, 1..4).prop_map(|v| v.concat());
    leaf.prop_recursive(4, 24, 3, |inner| {
        let quant = prop::sample::select(vec!["", "*", "+", "?", "{2}", "{3,5}", "{10}", "{100}"]);
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["(", "(?:", "(?P<g>"]),
                quant
            )
                .prop_map(|(r, open, q)| format!("{open}{r}){q}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}|{b}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("^{a}{b}$")),
        ]
    })
}

#[track_caller]
fn assert_compiles(re: &Re1) {
    if let Err(e) = re.compile() {
        panic!(
            "RE1-valid {:?} (as {:?}) does not compile: {e}",
            re.source(),
            re.translated()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Re-spellings of the same 1.1 instructions (keyword case, option order,
    /// number spellings, bare vs JSON values, continuation lines) parse to
    /// the same program with the same canonical form and digest; the
    /// canonical form is stable.
    #[test]
    fn respellings_share_a_digest(
        items in prop::collection::vec(item(), 1..6),
        st1 in any::<u32>(),
        st2 in any::<u32>(),
    ) {
        let a = runfile_of(&items, st1);
        let b = runfile_of(&items, st2);
        let pa = match parse(a.as_bytes()) {
            Ok(p) => p.runfile,
            Err(e) => return Err(TestCaseError::fail(format!("rejected: {e}\n{a}"))),
        };
        let pb = match parse(b.as_bytes()) {
            Ok(p) => p.runfile,
            Err(e) => return Err(TestCaseError::fail(format!("rejected: {e}\n{b}"))),
        };
        prop_assert_eq!(pa.canonical(), pb.canonical(), "\n{}\n---\n{}", a, b);
        prop_assert_eq!(pa.digest(), pb.digest());
        prop_assert_eq!(pa.without_positions(), pb.without_positions());
        check_stable(a.as_bytes())?;
    }

    /// The number spellings of the generator denote one canonical number.
    #[test]
    fn number_spellings_are_one_number(n in num(false), st1 in any::<u32>(), st2 in any::<u32>()) {
        let src = |st: u32| format!(
            "FROM {S1}\nMETRIC m --regex=(x) --min={}\nCMD x\n",
            n.spell(st)
        );
        let a = parse(src(st1).as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", src(st1))))?;
        let b = parse(src(st2).as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", src(st2))))?;
        let (ma, mb) = (&a.runfile.metrics()[0], &b.runfile.metrics()[0]);
        prop_assert_eq!(&ma.min, &mb.min);
        let min = ma.min.as_ref().expect("given");
        prop_assert_eq!(min.value(), n.value());
        prop_assert_eq!(a.runfile.digest(), b.runfile.digest());
    }

    /// Every RE1-valid expression of the noise generator compiles.
    #[test]
    fn re1_valid_noise_compiles(src in re1_noise()) {
        if let Ok(re) = Re1::new(&src) {
            assert_compiles(&re);
        }
    }

    /// Every RE1-valid structured expression compiles, up to weight 1000.
    #[test]
    fn re1_valid_trees_compile(src in re1_tree()) {
        if let Ok(re) = Re1::new(&src) {
            assert_compiles(&re);
        }
    }
}

/// The worst cases at weight 1000 (large Unicode classes, nested counted
/// repetitions, captures) compile under the crate's default size limit; one
/// more unit of weight is rejected.
#[test]
fn re1_worst_cases_at_weight_1000_compile() {
    let cases = [
        ".{1000}",
        "\\W{1000}",
        "\\D{1000}",
        "\\S{1000}",
        "[^a]{1000}",
        "[^é]{0,1000}",
        ".{999,}",
        ".{0,1000}?",
        "(.){1000}",
        "(?P<value>\\W){1000}",
        "(?:(?:(?:\\W){10}){10}){10}",
        "(?:.|\\W){500}",
        "[^\\d\\D]{500}",
        "[\\W\\S]{500}",
        "[^a-z\\d\\s]{333}",
        "(?:\\W\\S\\D\\w){250}",
        "(?:[^\\w][^\\s]){500}",
        "(?:a|b|c|d|e|f|g|h|i|j){100}",
        "(?:(.)(.)){500}",
        "\\W{500}\\S{500}",
    ];
    for src in cases {
        let re = Re1::new(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_compiles(&re);
    }
    for src in [
        ".{500}.{501}",
        "\\W{1000}a",
        "[ab]{501}",
        "(?:.|\\W){501}",
        "(.){999,}.",
    ] {
        let e = Re1::new(src).expect_err(src);
        assert!(e.reason.starts_with("too large"), "{src}: {e}");
    }
    // A class weighing 1 would admit this; its item count rejects it.
    let wide: String = ('!'..='~').filter(|c| c.is_ascii_alphanumeric()).collect();
    let e = Re1::new(&format!("[^{wide}]{{1000}}")).expect_err("too large");
    assert_eq!(e.position, 1);
}

/// The RE1 generators are not vacuous: a good share of their output is
/// valid, including large repetitions, so the compile properties test
/// something.
#[test]
fn re1_generators_produce_valid_expressions() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let sample = |runner: &mut TestRunner, s: &BoxedStrategy<String>| -> (usize, usize) {
        let (mut valid, mut large) = (0, 0);
        for _ in 0..2000 {
            let src = s.new_tree(runner).expect("tree").current();
            if Re1::new(&src).is_ok() {
                valid += 1;
                if src.contains("{100") || src.contains("{500}") || src.contains("{1,500}") {
                    large += 1;
                }
            }
        }
        (valid, large)
    };
    let (valid, large) = sample(&mut runner, &re1_tree().boxed());
    assert!(
        valid > 600 && large > 50,
        "trees: {valid} valid, {large} large"
    );
    let (valid, _) = sample(&mut runner, &re1_noise().boxed());
    assert!(valid > 100, "noise: {valid} valid");
}
