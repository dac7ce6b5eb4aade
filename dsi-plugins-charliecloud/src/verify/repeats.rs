//! `--repeat N` (RUNFILE-1.1 §7 "Repeats"): N replays on one system, each
//! with its verdict; the overall verdict is the worst. Per METRIC (and list
//! position): n, mean, sample standard deviation (n − 1), coefficient of
//! variation (stdev / |mean|, null when the mean is 0), min and max. An
//! item whose content or values differ between repeats is marked
//! `nondeterministic` in every repeat.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::tokens::single_number;
use super::{ItemKind, Verdict, Verification};

/// The statistics of one metric (one list position) over the repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricSummary {
    /// The metric's name.
    pub name: String,
    /// The position in its list (`--match=all`), if it has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Repeats that gave a number.
    pub n: u64,
    /// Their mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); null for one value.
    pub stdev: Option<f64>,
    /// stdev / |mean|; null when the mean is 0 or there is no stdev.
    pub cov: Option<f64>,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// `--unit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl MetricSummary {
    /// `name` or `name[i]`.
    pub fn label(&self) -> String {
        match self.index {
            Some(i) => format!("{}[{i}]", self.name),
            None => self.name.clone(),
        }
    }
}

/// What N repeats came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepeatSummary {
    /// The worst verdict of the repeats.
    pub verdict: Verdict,
    /// Per metric and list position.
    pub metrics: Vec<MetricSummary>,
    /// Items whose content or values differed between repeats.
    pub nondeterministic: Vec<String>,
}

/// A metric and its list position (`None` for a single value).
type MetricKey = (String, Option<usize>);

/// Sums up the repeats' verifications and marks their nondeterministic items.
pub fn summarise(repeats: &mut [Verification]) -> RepeatSummary {
    let verdict = repeats
        .iter()
        .map(|v| v.verdict)
        .max()
        .unwrap_or(Verdict::Unverifiable);
    // What each item showed in each repeat: a digest or a list of values.
    let mut seen: BTreeMap<(u8, String), Vec<Option<String>>> = BTreeMap::new();
    let mut values: BTreeMap<MetricKey, (Vec<f64>, Option<String>)> = BTreeMap::new();
    for v in repeats.iter() {
        for item in &v.items {
            let shown = match item.kind {
                ItemKind::Output => item.sha256.clone(),
                ItemKind::Metric => item.values.as_ref().map(|v| v.join("\u{1f}")),
                ItemKind::Expect => continue,
            };
            seen.entry((kind_order(item.kind), item.name.clone()))
                .or_default()
                .push(shown);
            if item.kind == ItemKind::Metric
                && let Some(vals) = &item.values
            {
                let several = vals.len() > 1;
                for (i, text) in vals.iter().enumerate() {
                    if let Some(x) = single_number(text) {
                        let e = values
                            .entry((item.name.clone(), several.then_some(i)))
                            .or_insert_with(|| (Vec::new(), item.unit.clone()));
                        e.0.push(x);
                    }
                }
            }
        }
    }
    let changing: Vec<(u8, String)> = seen
        .into_iter()
        .filter(|(_, shown)| shown.windows(2).any(|w| w[0] != w[1]))
        .map(|(k, _)| k)
        .collect();
    for v in repeats.iter_mut() {
        for item in &mut v.items {
            if changing.contains(&(kind_order(item.kind), item.name.clone())) {
                item.nondeterministic = true;
            }
        }
    }
    let metrics = values
        .into_iter()
        .map(|((name, index), (xs, unit))| statistics(name, index, &xs, unit))
        .collect();
    RepeatSummary {
        verdict,
        metrics,
        nondeterministic: changing.into_iter().map(|(_, n)| n).collect(),
    }
}

fn kind_order(k: ItemKind) -> u8 {
    match k {
        ItemKind::Output => 0,
        ItemKind::Metric => 1,
        ItemKind::Expect => 2,
    }
}

fn statistics(
    name: String,
    index: Option<usize>,
    xs: &[f64],
    unit: Option<String>,
) -> MetricSummary {
    let n = xs.len();
    let mean = xs.iter().sum::<f64>() / n as f64;
    let stdev = (n > 1).then(|| {
        let ss: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    MetricSummary {
        name,
        index,
        n: n as u64,
        mean,
        stdev,
        cov: stdev.filter(|_| mean != 0.0).map(|s| s / mean.abs()),
        min: xs.iter().copied().fold(f64::INFINITY, f64::min),
        max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        unit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{Item, ItemStatus};

    fn run(gflops: [&str; 2], wall: &str) -> Verification {
        let mut g = Item::new(ItemKind::Metric, "gflops", 2, ItemStatus::WithinTolerance);
        g.values = Some(gflops.map(str::to_owned).to_vec());
        let mut w = Item::new(ItemKind::Metric, "wall", 3, ItemStatus::Differs);
        w.values = Some(vec![wall.to_owned()]);
        w.counted = false;
        Verification {
            verdict: Verdict::ReproducedWithinTolerance,
            reference: Some("P".into()),
            note: None,
            items: vec![g, w],
        }
    }

    #[test]
    fn worked_example_x3() {
        let mut runs = vec![
            run(["798.1", "803.3"], "12.52"),
            run(["821.0", "799.6"], "12.07"),
            run(["790.2", "811.0"], "12.88"),
        ];
        let s = summarise(&mut runs);
        assert_eq!(s.verdict, Verdict::ReproducedWithinTolerance);
        assert_eq!(s.nondeterministic, ["gflops", "wall"]);
        assert!(
            runs.iter()
                .all(|r| r.items.iter().all(|i| i.nondeterministic))
        );
        let g0 = &s.metrics[0];
        assert_eq!(g0.label(), "gflops[0]");
        assert_eq!(g0.n, 3);
        assert!((g0.mean - 803.1).abs() < 1e-9);
        assert!((g0.stdev.unwrap() - 15.997).abs() < 5e-4);
        assert!((g0.cov.unwrap() - 1.99e-2).abs() < 5e-5);
        assert_eq!((g0.min, g0.max), (790.2, 821.0));
        let g1 = &s.metrics[1];
        assert!((g1.mean - 804.633).abs() < 5e-4);
        assert!((g1.stdev.unwrap() - 5.816).abs() < 5e-4);
        assert!((g1.cov.unwrap() - 7.23e-3).abs() < 5e-6);
        let w = &s.metrics[2];
        assert_eq!(w.label(), "wall");
        assert!((w.mean - 12.49).abs() < 1e-9);
        assert!((w.stdev.unwrap() - 0.406).abs() < 5e-4);
        assert!((w.cov.unwrap() - 3.25e-2).abs() < 5e-5);
    }

    #[test]
    fn identical_repeats_are_deterministic_and_zero_means_have_no_cov() {
        let mut runs = vec![run(["0", "1"], "1"), run(["0", "1"], "1")];
        let s = summarise(&mut runs);
        assert!(s.nondeterministic.is_empty());
        assert_eq!(s.metrics[0].stdev, Some(0.0));
        assert_eq!(s.metrics[0].cov, None);
    }
}
