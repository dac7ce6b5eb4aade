//! What a verification concludes (RUNFILE-1.1 §7): each item's
//! [`ItemStatus`], the run's [`Verdict`] by the five rules, and the exit
//! status `dsi replay --verify` gives it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::compare::{Difference, NumberStatistics};

/// How one item compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ItemStatus {
    /// Byte-identical (a METRIC: the same captured texts; an EXPECT: met).
    Identical,
    /// Not identical, but equal under the comparison's rules.
    WithinTolerance,
    /// Different beyond the comparison's rules.
    Differs,
    /// Absent in the replay, or not a number.
    Missing,
    /// The reference's content is not available.
    Unverifiable,
    /// An EXPECT not met, or a METRIC outside `--min`/`--max`.
    Failed,
}

impl ItemStatus {
    /// The status as written (`within-tolerance`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Identical => "identical",
            ItemStatus::WithinTolerance => "within-tolerance",
            ItemStatus::Differs => "differs",
            ItemStatus::Missing => "missing",
            ItemStatus::Unverifiable => "unverifiable",
            ItemStatus::Failed => "failed",
        }
    }
}

/// A run's verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every counted item identical.
    Reproduced,
    /// Every counted item identical or within tolerance.
    ReproducedWithinTolerance,
    /// Nothing to compare some item with.
    Unverifiable,
    /// An item differs or is missing.
    NotReproduced,
    /// A step failed, or an item failed.
    Failed,
}

impl Verdict {
    /// Every verdict, best first.
    pub const ALL: [Verdict; 5] = [
        Verdict::Reproduced,
        Verdict::ReproducedWithinTolerance,
        Verdict::Unverifiable,
        Verdict::NotReproduced,
        Verdict::Failed,
    ];

    /// The verdict as written (`reproduced-within-tolerance`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::ReproducedWithinTolerance => "reproduced-within-tolerance",
            Verdict::Unverifiable => "unverifiable",
            Verdict::NotReproduced => "not-reproduced",
            Verdict::Failed => "failed",
        }
    }

    /// The overall verdict (§7), by the first rule that applies: a failed
    /// step or item, then differs/missing, unverifiable, within tolerance.
    pub fn of(step_failed: bool, statuses: impl IntoIterator<Item = ItemStatus>) -> Verdict {
        let mut worst = if step_failed {
            Verdict::Failed
        } else {
            Verdict::Reproduced
        };
        for s in statuses {
            let v = match s {
                ItemStatus::Identical => Verdict::Reproduced,
                ItemStatus::WithinTolerance => Verdict::ReproducedWithinTolerance,
                ItemStatus::Unverifiable => Verdict::Unverifiable,
                ItemStatus::Differs | ItemStatus::Missing => Verdict::NotReproduced,
                ItemStatus::Failed => Verdict::Failed,
            };
            worst = worst.max(v);
        }
        worst
    }

    /// What `dsi replay --verify` exits with: 0 for (within-tolerance)
    /// reproduced, 2 for unverifiable, 1 otherwise (a failed step keeps its
    /// own status, which the caller applies first).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Reproduced | Verdict::ReproducedWithinTolerance => 0,
            Verdict::Unverifiable => 2,
            Verdict::NotReproduced | Verdict::Failed => 1,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a verdict ({})",
                    Verdict::ALL.map(Verdict::as_str).join(", ")
                )
            })
    }
}

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// An `OUTPUT` (or a legacy output).
    Output,
    /// A `METRIC`.
    Metric,
    /// An `EXPECT`.
    Expect,
}

/// One verified item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// OUTPUT, METRIC or EXPECT.
    pub kind: ItemKind,
    /// The target (`@stdout`, a path), the metric's name, or the EXPECT's
    /// test (`--regex=RE`).
    pub name: String,
    /// Line of its instruction (0 for a legacy output).
    pub line: usize,
    /// `exact`, `lines` or `numbers` (outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<String>,
    /// How it compared.
    pub status: ItemStatus,
    /// Whether it counts in the verdict (not `--report-only`).
    pub counted: bool,
    /// Why, in one line, when the status needs a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The first difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<Difference>,
    /// Numbers compared (`numbers` outputs, metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics: Option<NumberStatistics>,
    /// The replay's digest of the target (outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The reference's digest of the target (outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_sha256: Option<String>,
    /// The replay's captured texts (metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// The reference's captured texts (metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_values: Option<Vec<String>>,
    /// `--unit` (metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Content or values differed between repeats (`--repeat`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nondeterministic: bool,
}

impl Item {
    /// An item of `kind` named `name` at `line`, with `status`.
    pub fn new(kind: ItemKind, name: impl Into<String>, line: usize, status: ItemStatus) -> Item {
        Item {
            kind,
            name: name.into(),
            line,
            compare: None,
            status,
            counted: true,
            reason: None,
            difference: None,
            statistics: None,
            sha256: None,
            reference_sha256: None,
            values: None,
            reference_values: None,
            unit: None,
            nondeterministic: false,
        }
    }

    /// The item in one line, as reports show it: what it is, then its
    /// statistics, first difference or reason (`OUTPUT out/e.txt (numbers):
    /// 9 numbers, 5 differing in spelling, max abs 2.0e-10, max rel 6.5e-2`).
    pub fn summary(&self) -> String {
        let mut s = match self.kind {
            ItemKind::Output => format!(
                "OUTPUT {} ({})",
                self.name,
                self.compare.as_deref().unwrap_or("exact")
            ),
            ItemKind::Metric => format!("METRIC {}", self.name),
            ItemKind::Expect => format!("EXPECT {}", self.name),
        };
        let mut details = Vec::new();
        if let Some(st) = &self.statistics {
            let maxima = format!(
                "max abs {}, max rel {}",
                short(st.max_abs),
                short(st.max_rel)
            );
            details.push(if self.kind == ItemKind::Output {
                format!(
                    "{} numbers, {} differing in spelling, {maxima}",
                    st.numbers, st.differing_spelling
                )
            } else {
                maxima
            });
        }
        if let Some(d) = &self.difference {
            let at = |p: &super::Position| match &p.token {
                Some(t) => format!("{}:{} '{t}'", p.line, p.column),
                None => format!("{}:{}", p.line, p.column),
            };
            details.push(format!(
                "replay {} / reference {}",
                at(&d.replay),
                at(&d.reference)
            ));
        }
        if let Some(values) = &self.values
            && self.kind == ItemKind::Metric
        {
            let unit = self
                .unit
                .as_deref()
                .map_or(String::new(), |u| format!(" {u}"));
            let reference = match &self.reference_values {
                Some(p) => format!(" (reference {})", p.join(", ")),
                None => String::new(),
            };
            details.push(format!("{}{unit}{reference}", values.join(", ")));
        }
        if let Some(r) = &self.reason {
            details.push(r.clone());
        }
        if !self.counted {
            details.push("report only, not counted".to_owned());
        }
        if self.nondeterministic {
            details.push("nondeterministic".to_owned());
        }
        if !details.is_empty() {
            s.push_str(": ");
            s.push_str(&details.join("; "));
        }
        s
    }

    /// The same item with `reason`.
    pub fn because(mut self, reason: impl Into<String>) -> Item {
        self.reason = Some(reason.into());
        self
    }
}

/// A statistic with two significant digits (`2.0e-10`), or `inf`.
fn short(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x.is_finite() {
        format!("{x:.1e}")
    } else {
        x.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_rule_that_applies_wins() {
        use ItemStatus::*;
        assert_eq!(Verdict::of(false, []), Verdict::Reproduced);
        assert_eq!(Verdict::of(true, [Identical]), Verdict::Failed);
        assert_eq!(
            Verdict::of(false, [Identical, Failed, Differs]),
            Verdict::Failed
        );
        assert_eq!(
            Verdict::of(false, [Unverifiable, Missing]),
            Verdict::NotReproduced
        );
        assert_eq!(
            Verdict::of(false, [WithinTolerance, Unverifiable]),
            Verdict::Unverifiable
        );
        assert_eq!(
            Verdict::of(false, [Identical, WithinTolerance]),
            Verdict::ReproducedWithinTolerance
        );
    }

    #[test]
    fn exit_codes_and_spellings() {
        assert_eq!(Verdict::Reproduced.exit_code(), 0);
        assert_eq!(Verdict::ReproducedWithinTolerance.exit_code(), 0);
        assert_eq!(Verdict::Unverifiable.exit_code(), 2);
        assert_eq!(Verdict::NotReproduced.exit_code(), 1);
        assert_eq!(Verdict::Failed.exit_code(), 1);
        for v in Verdict::ALL {
            assert_eq!(v.as_str().parse::<Verdict>(), Ok(v));
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
        assert!(
            "ok".parse::<Verdict>()
                .unwrap_err()
                .contains("not a verdict")
        );
    }
}
