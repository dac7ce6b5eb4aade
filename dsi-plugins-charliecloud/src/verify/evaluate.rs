//! The items of a replay (RUNFILE-1.1 §5.5–5.6, §7): every OUTPUT compared
//! with the reference's text, every METRIC extracted and compared, every
//! EXPECT checked — or, for a Runfile that declares no OUTPUT and no
//! METRIC, the legacy items (`OUTPUT @stdout` and each word of
//! `LABEL dsi.outputs`, exact).
//!
//! Texts are read through [`RunTexts`]: the replay's are on disk, the
//! reference's in a store (or known only by digest, above the size limit).

use std::collections::BTreeMap;
use std::io::{self, BufRead};

use super::compare::{self, Comparison, NumberStatistics, pass};
use super::lines::Lines;
use super::tokens::single_number;
use super::verdict::{Item, ItemKind, ItemStatus};
use crate::runfile::{Compare, Expect, ExpectTest, MatchMode, Metric, Output, Runfile, Target};
use crate::runtime::outputs;

/// A text's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextDigest {
    /// `sha256` of its bytes, in hex.
    pub sha256: String,
    /// Its length in bytes.
    pub size: u64,
}

/// The texts of one run, by target spelling (`@stdout`, `@stderr`, a path).
pub trait RunTexts {
    /// The target's digest, or why it has none (absent, refused).
    fn digest(&self, target: &str) -> Result<TextDigest, String>;
    /// Its content, or `None` when only its digest was kept.
    fn open(&self, target: &str) -> io::Result<Option<Box<dyn BufRead + '_>>>;
}

/// The run a replay is compared with.
pub struct Reference<'t> {
    /// Its run id.
    pub run_id: String,
    /// Its texts.
    pub texts: &'t dyn RunTexts,
    /// Its METRIC captures, by name.
    pub metrics: BTreeMap<String, Vec<String>>,
}

/// What a replay's items are compared against.
#[derive(Clone, Copy)]
pub enum Against<'r, 't> {
    /// A reference run.
    Run(&'r Reference<'t>),
    /// None: the reason (no earlier successful replay).
    Nothing(&'r str),
}

/// An OUTPUT item, as the Runfile declares it or as a legacy output.
struct Compared<'a> {
    spelling: String,
    compare: Compare,
    rtol: f64,
    atol: f64,
    ignore: Vec<&'a regex::Regex>,
    line: usize,
}

/// The OUTPUT targets a Runfile compares (the legacy ones when it declares
/// no OUTPUT and no METRIC), spelled as targets.
pub fn compared_targets(rf: &Runfile) -> Vec<String> {
    outputs_of(rf).into_iter().map(|c| c.spelling).collect()
}

/// Every target the items read: compared outputs, METRIC and EXPECT
/// sources, without repeats, in first-use order.
pub fn read_targets(rf: &Runfile) -> Vec<String> {
    let mut all = compared_targets(rf);
    for t in rf
        .metrics()
        .iter()
        .map(|m| &m.from)
        .chain(rf.expects().iter().map(|e| &e.from))
    {
        let s = t.spelling().into_owned();
        if !all.contains(&s) {
            all.push(s);
        }
    }
    all
}

fn outputs_of(rf: &Runfile) -> Vec<Compared<'_>> {
    if rf.outputs().is_empty() && rf.metrics().is_empty() {
        let legacy = std::iter::once(Target::Stdout.spelling().into_owned()).chain(
            outputs::declared(rf.labels())
                .into_iter()
                .map(|w| Target::Path(w).spelling().into_owned()),
        );
        return legacy
            .map(|spelling| Compared {
                spelling,
                compare: Compare::Exact,
                rtol: 0.0,
                atol: 0.0,
                ignore: Vec::new(),
                line: 0,
            })
            .collect();
    }
    rf.outputs().iter().map(declared).collect()
}

fn declared(o: &Output) -> Compared<'_> {
    Compared {
        spelling: o.target.spelling().into_owned(),
        compare: o.compare,
        rtol: o.rtol.value(),
        atol: o.atol.value(),
        ignore: o.ignore.iter().map(|r| r.regex()).collect(),
        line: o.line,
    }
}

/// Every item of `rf` for the replay's `texts`, against `against`.
pub fn items(rf: &Runfile, texts: &dyn RunTexts, against: Against<'_, '_>) -> Vec<Item> {
    let mut items = Vec::new();
    for o in outputs_of(rf) {
        items.push(output_item(&o, texts, against));
    }
    for m in rf.metrics() {
        items.push(metric_item(m, texts, against));
    }
    for e in rf.expects() {
        items.push(expect_item(e, texts));
    }
    items
}

fn output_item(o: &Compared<'_>, texts: &dyn RunTexts, against: Against<'_, '_>) -> Item {
    let mut item = Item::new(ItemKind::Output, &o.spelling, o.line, ItemStatus::Identical);
    item.compare = Some(o.compare.as_str().to_owned());
    let have = match texts.digest(&o.spelling) {
        Ok(d) => d,
        Err(why) => return with(item, ItemStatus::Missing, why),
    };
    item.sha256 = Some(have.sha256.clone());
    let p = match against {
        Against::Run(p) => p,
        Against::Nothing(why) => return with(item, ItemStatus::Unverifiable, why),
    };
    let want = match p.texts.digest(&o.spelling) {
        Ok(d) => d,
        Err(why) => {
            return with(
                item,
                ItemStatus::Unverifiable,
                format!("reference run {}: {why}", p.run_id),
            );
        }
    };
    item.reference_sha256 = Some(want.sha256.clone());
    if have == want {
        return item;
    }
    let opened = (|| -> io::Result<Option<Comparison>> {
        let (Some(r), Some(reference)) = (texts.open(&o.spelling)?, p.texts.open(&o.spelling)?)
        else {
            return Ok(None);
        };
        let ignore: Vec<regex::Regex> = o.ignore.iter().map(|&r| r.clone()).collect();
        Ok(Some(match o.compare {
            Compare::Exact => compare::exact(r, reference)?,
            Compare::Lines => compare::lines(r, reference, &ignore)?,
            Compare::Numbers => compare::numbers(r, reference, &ignore, o.rtol, o.atol)?,
        }))
    })();
    match opened {
        Err(e) => with(
            item,
            ItemStatus::Unverifiable,
            format!("reading the texts: {e}"),
        ),
        Ok(None) if o.compare == Compare::Exact => with(
            item,
            ItemStatus::Differs,
            "digests differ (reference content not stored)",
        ),
        Ok(None) => with(
            item,
            ItemStatus::Unverifiable,
            "reference content not stored",
        ),
        Ok(Some(c)) => {
            item.statistics = c.statistics;
            match c.difference {
                Some(d) => {
                    item.difference = Some(d);
                    item.status = ItemStatus::Differs;
                    item
                }
                // Digests differ, yet no difference (exact cannot get here
                // unless a text changed while read).
                None if o.compare == Compare::Exact => {
                    with(item, ItemStatus::Differs, "digests differ")
                }
                None => {
                    item.status = ItemStatus::WithinTolerance;
                    item
                }
            }
        }
    }
}

fn with(mut item: Item, status: ItemStatus, reason: impl Into<String>) -> Item {
    item.status = status;
    item.because(reason)
}

/// The METRIC's captured texts from `lines`: group `value`, else group 1,
/// of each line's first match; lines where it is unset are skipped.
pub fn capture(m: &Metric, reader: impl BufRead) -> io::Result<Vec<String>> {
    let re = m.regex.regex();
    let group = re
        .capture_names()
        .position(|n| n == Some("value"))
        .unwrap_or(1);
    let mut lines = Lines::new(reader);
    let mut values = Vec::new();
    while lines.advance()? {
        let Some(caps) = re.captures(lines.text()) else {
            continue;
        };
        let Some(v) = caps.get(group) else { continue };
        match m.match_mode {
            MatchMode::First => return Ok(vec![v.as_str().to_owned()]),
            MatchMode::Last => {
                values.clear();
                values.push(v.as_str().to_owned());
            }
            MatchMode::All => values.push(v.as_str().to_owned()),
        }
    }
    Ok(values)
}

fn metric_item(m: &Metric, texts: &dyn RunTexts, against: Against<'_, '_>) -> Item {
    let mut item = Item::new(ItemKind::Metric, &m.name, m.line, ItemStatus::Identical);
    item.counted = !m.report_only;
    item.unit.clone_from(&m.unit);
    let from = m.from.spelling();
    let captured = match texts.open(&from) {
        Ok(Some(r)) => capture(m, r),
        Ok(None) => Err(io::Error::other("content not kept")),
        Err(e) => Err(e),
    };
    let values = match (texts.digest(&from), captured) {
        (Err(why), _) => return with(item, ItemStatus::Missing, format!("{from}: {why}")),
        (_, Err(e)) => return with(item, ItemStatus::Missing, format!("reading {from}: {e}")),
        (_, Ok(v)) => v,
    };
    item.values = Some(values.clone());
    if values.is_empty() {
        return with(
            item,
            ItemStatus::Missing,
            format!("no line of {from} matches"),
        );
    }
    let mut numbers = Vec::with_capacity(values.len());
    for v in &values {
        match single_number(v) {
            Some(x) => numbers.push(x),
            None => {
                return with(item, ItemStatus::Missing, format!("not a number: '{v}'"));
            }
        }
    }
    for (v, &x) in values.iter().zip(&numbers) {
        let given = m.min.is_some() || m.max.is_some();
        if let Some(min) = &m.min
            && (x < min.value() || (x.is_nan() && given))
        {
            return with(
                item,
                ItemStatus::Failed,
                format!("{v} below --min={}", min.canonical()),
            );
        }
        if let Some(max) = &m.max
            && (x > max.value() || (x.is_nan() && given))
        {
            return with(
                item,
                ItemStatus::Failed,
                format!("{v} above --max={}", max.canonical()),
            );
        }
    }
    let p = match against {
        Against::Run(p) => p,
        Against::Nothing(why) => return with(item, ItemStatus::Unverifiable, why),
    };
    let Some(want) = p.metrics.get(&m.name) else {
        return with(
            item,
            ItemStatus::Unverifiable,
            format!("reference run {} has no value for {}", p.run_id, m.name),
        );
    };
    item.reference_values = Some(want.clone());
    if *want == values {
        return item;
    }
    if want.len() != values.len() {
        return with(
            item,
            ItemStatus::Differs,
            format!("{} values, the reference has {}", values.len(), want.len()),
        );
    }
    let (rtol, atol) = (m.rtol.value(), m.atol.value());
    let mut stats = NumberStatistics::default();
    let mut first_fail = None;
    for (i, ((sa, &a), sb)) in values.iter().zip(&numbers).zip(want).enumerate() {
        let Some(b) = single_number(sb) else {
            return with(
                item,
                ItemStatus::Unverifiable,
                format!("reference value is not a number: '{sb}'"),
            );
        };
        stats.add(sa, a, sb, b);
        if first_fail.is_none() && !pass(a, b, rtol, atol) {
            first_fail = Some(i);
        }
    }
    item.statistics = Some(stats);
    match first_fail {
        Some(i) => {
            let at = if values.len() > 1 {
                format!("[{i}]")
            } else {
                String::new()
            };
            with(
                item,
                ItemStatus::Differs,
                format!("{}{at}: {} vs reference {}", m.name, values[i], want[i]),
            )
        }
        None => {
            item.status = ItemStatus::WithinTolerance;
            item
        }
    }
}

fn expect_item(e: &Expect, texts: &dyn RunTexts) -> Item {
    let (flag, re) = match &e.test {
        ExpectTest::Regex(r) => ("--regex", r),
        ExpectTest::NoRegex(r) => ("--no-regex", r),
    };
    let from = e.from.spelling();
    let name = format!("{flag}={} {from}", re.source());
    let item = Item::new(ItemKind::Expect, name, e.line, ItemStatus::Identical);
    if let Err(why) = texts.digest(&from) {
        return with(item, ItemStatus::Failed, format!("{from}: {why}"));
    }
    let found = (|| -> io::Result<Option<u64>> {
        let Some(r) = texts.open(&from)? else {
            return Err(io::Error::other("content not kept"));
        };
        let mut lines = Lines::new(r);
        while lines.advance()? {
            if re.regex().is_match(lines.text()) {
                return Ok(Some(lines.number()));
            }
        }
        Ok(None)
    })();
    match (&e.test, found) {
        (_, Err(err)) => with(item, ItemStatus::Failed, format!("reading {from}: {err}")),
        (ExpectTest::Regex(_), Ok(Some(_))) | (ExpectTest::NoRegex(_), Ok(None)) => item,
        (ExpectTest::Regex(_), Ok(None)) => with(item, ItemStatus::Failed, "no line matches"),
        (ExpectTest::NoRegex(_), Ok(Some(n))) => {
            with(item, ItemStatus::Failed, format!("line {n} matches"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Verdict;

    /// Texts held in memory; `None` content means "digest only".
    #[derive(Default)]
    struct Mem(BTreeMap<String, (String, bool)>);

    impl Mem {
        fn with(mut self, target: &str, text: &str) -> Self {
            self.0.insert(target.into(), (text.into(), true));
            self
        }
        fn digest_only(mut self, target: &str, text: &str) -> Self {
            self.0.insert(target.into(), (text.into(), false));
            self
        }
    }

    impl RunTexts for Mem {
        fn digest(&self, target: &str) -> Result<TextDigest, String> {
            use sha2::Digest;
            let (t, _) = self.0.get(target).ok_or("absent in the replay")?;
            Ok(TextDigest {
                sha256: hex::encode(sha2::Sha256::digest(t.as_bytes())),
                size: t.len() as u64,
            })
        }
        fn open(&self, target: &str) -> io::Result<Option<Box<dyn BufRead + '_>>> {
            Ok(match self.0.get(target) {
                Some((t, true)) => Some(Box::new(t.as_bytes())),
                _ => None,
            })
        }
    }

    const S1: &str = "FROM ./img/rf-tiny.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6\n";

    fn runfile(body: &str) -> Runfile {
        crate::runfile::parse(format!("{S1}{body}CMD [\"true\"]\n").as_bytes())
            .expect("valid Runfile")
            .runfile
    }

    fn verdict(items: &[Item]) -> Verdict {
        Verdict::of(false, items.iter().filter(|i| i.counted).map(|i| i.status))
    }

    const W2: &str = "METRIC gflops --regex=\"GFLOP/s: (\\\\d+\\\\.\\\\d*)\" --match=all --rtol=5e-2 --min=100 --unit=GFLOP/s\n\
        METRIC wall --regex=\"wall +([0-9.]+) s\" --unit=\"s (wall)\" --report-only --match=first\n\
        EXPECT --regex=\"^run complete$\"\n\
        OUTPUT --compare=lines --ignore=\"^wall \" --ignore=\"GFLOP/s\" @stdout\n";

    fn bench_out(a: &str, b: &str, wall: &str) -> String {
        format!("GFLOP/s: {a}\nGFLOP/s: {b}\nwall {wall} s\nrun complete\n")
    }

    fn reference<'a>(p: &'a Mem, metrics: &[(&str, &[&str])]) -> Reference<'a> {
        Reference {
            run_id: "P".into(),
            texts: p,
            metrics: metrics
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
        }
    }

    #[test]
    fn worked_example_x3_one_repeat() {
        let rf = runfile(W2);
        let p = Mem::default().with("@stdout", &bench_out("812.4", "806.9", "12.31"));
        let p = reference(&p, &[("gflops", &["812.4", "806.9"]), ("wall", &["12.31"])]);
        let r = Mem::default().with("@stdout", &bench_out("798.1", "803.3", "12.52"));
        let got = items(&rf, &r, Against::Run(&p));
        let by = |n: &str| got.iter().find(|i| i.name.starts_with(n)).unwrap();
        assert_eq!(by("@stdout").status, ItemStatus::WithinTolerance);
        let g = by("gflops");
        assert_eq!(g.status, ItemStatus::WithinTolerance);
        assert_eq!(
            format!("{:.2e}", g.statistics.as_ref().unwrap().max_rel),
            "1.76e-2"
        );
        let w = by("wall");
        assert_eq!(w.status, ItemStatus::Differs);
        assert!(!w.counted);
        assert_eq!(by("--regex").status, ItemStatus::Identical);
        assert_eq!(verdict(&got), Verdict::ReproducedWithinTolerance);
    }

    #[test]
    fn bounds_fail_and_large_changes_differ() {
        let rf = runfile(W2);
        let p = Mem::default().with("@stdout", &bench_out("812.4", "806.9", "12.31"));
        let p = reference(&p, &[("gflops", &["812.4", "806.9"]), ("wall", &["12.31"])]);
        let r = Mem::default().with("@stdout", &bench_out("96.0", "803.3", "12.5"));
        let got = items(&rf, &r, Against::Run(&p));
        let g = got.iter().find(|i| i.name == "gflops").unwrap();
        assert_eq!(g.status, ItemStatus::Failed);
        assert_eq!(g.reason.as_deref(), Some("96.0 below --min=1e2"));
        assert_eq!(verdict(&got), Verdict::Failed);
        let r = Mem::default().with("@stdout", &bench_out("712.0", "803.3", "12.5"));
        let got = items(&rf, &r, Against::Run(&p));
        let g = got.iter().find(|i| i.name == "gflops").unwrap();
        assert_eq!(g.status, ItemStatus::Differs);
        assert_eq!(
            format!("{:.3}", g.statistics.as_ref().unwrap().max_rel),
            "0.124"
        );
        assert_eq!(verdict(&got), Verdict::NotReproduced);
    }

    #[test]
    fn without_a_reference_items_are_unverifiable_but_expect_counts() {
        let rf = runfile(W2);
        let r = Mem::default().with("@stdout", &bench_out("798.1", "803.3", "12.52"));
        let got = items(&rf, &r, Against::Nothing("no earlier replay"));
        assert_eq!(verdict(&got), Verdict::Unverifiable);
        let r = Mem::default().with("@stdout", "GFLOP/s: 800.0\n");
        let got = items(&rf, &r, Against::Nothing("no earlier replay"));
        let e = got.iter().find(|i| i.kind == ItemKind::Expect).unwrap();
        assert_eq!(e.status, ItemStatus::Failed);
        assert_eq!(verdict(&got), Verdict::Failed);
    }

    #[test]
    fn metric_values_that_are_not_numbers_are_missing() {
        let rf = runfile("METRIC t --regex=\"t=(\\\\S+)\"\n");
        let r = Mem::default().with("@stdout", "t=12abc\n");
        let got = items(&rf, &r, Against::Nothing("-"));
        assert_eq!(got[0].status, ItemStatus::Missing);
        assert_eq!(got[0].reason.as_deref(), Some("not a number: '12abc'"));
        let r = Mem::default().with("@stdout", "nothing\n");
        let got = items(&rf, &r, Against::Nothing("-"));
        assert_eq!(got[0].status, ItemStatus::Missing);
    }

    #[test]
    fn legacy_runfiles_compare_stdout_and_labelled_outputs_exactly() {
        let rf = runfile("LABEL dsi.outputs=\"out/a.txt out/b.txt\"\n");
        assert_eq!(compared_targets(&rf), ["@stdout", "out/a.txt", "out/b.txt"]);
        let p = Mem::default()
            .with("@stdout", "hi\n")
            .with("out/a.txt", "1\n")
            .with("out/b.txt", "x\n");
        let p = reference(&p, &[]);
        let r = Mem::default()
            .with("@stdout", "hi\n")
            .with("out/a.txt", "2\n");
        let got = items(&rf, &r, Against::Run(&p));
        let st: Vec<_> = got.iter().map(|i| i.status).collect();
        assert_eq!(
            st,
            [
                ItemStatus::Identical,
                ItemStatus::Differs,
                ItemStatus::Missing
            ]
        );
        assert_eq!(verdict(&got), Verdict::NotReproduced);
    }

    #[test]
    fn a_reference_kept_by_digest_only() {
        let rf = runfile("OUTPUT --compare=numbers @stdout\nOUTPUT out/x\n");
        let p = Mem::default()
            .digest_only("@stdout", "1\n")
            .digest_only("out/x", "a\n");
        let p = reference(&p, &[]);
        let r = Mem::default().with("@stdout", "1.0\n").with("out/x", "b\n");
        let got = items(&rf, &r, Against::Run(&p));
        assert_eq!(got[0].status, ItemStatus::Unverifiable);
        assert_eq!(
            got[0].reason.as_deref(),
            Some("reference content not stored")
        );
        assert_eq!(got[1].status, ItemStatus::Differs);
        // Equal digests are identical whatever was kept.
        let r = Mem::default().with("@stdout", "1\n").with("out/x", "a\n");
        let got = items(&rf, &r, Against::Run(&p));
        assert!(got.iter().all(|i| i.status == ItemStatus::Identical));
    }
}
