//! [`diff`]: structured differences between two [`KernelInfo`] documents,
//! per section — the input of the replay compatibility check;
//! [`diff_sections`] does the same for any two maps of sections.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::kernel_info::{KernelInfo, Section};

/// A key whose value differs.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Changed {
    /// The key.
    pub key: String,
    /// Value in the first document.
    pub before: serde_json::Value,
    /// Value in the second document.
    pub after: serde_json::Value,
}

/// A key present on one side only.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: serde_json::Value,
}

/// A section that became (un)available or appeared/disappeared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AvailabilityChange {
    /// `available`, `absent` or `unavailable: <reason>` in the first document.
    pub before: String,
    /// The same for the second document.
    pub after: String,
}

/// Differences within one section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, schemars::JsonSchema)]
pub struct SectionDiff {
    /// Keys in both with different values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<Changed>,
    /// Keys only in the second document.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<Entry>,
    /// Keys only in the first document.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Entry>,
    /// Set when the section's availability differs (then the key lists are empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<AvailabilityChange>,
}

impl SectionDiff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.availability.is_none()
    }
}

/// Differences between two documents: only sections that differ are present.
#[derive(Debug, Clone, PartialEq, Default, Serialize, schemars::JsonSchema)]
pub struct KernelDiff {
    /// Section name → its differences.
    pub sections: BTreeMap<String, SectionDiff>,
}

impl KernelDiff {
    /// Whether the two documents describe the same system.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// The change of one key, if it changed.
    pub fn changed(&self, section: &str, key: &str) -> Option<&Changed> {
        self.sections
            .get(section)?
            .changed
            .iter()
            .find(|c| c.key == key)
    }
}

fn describe(s: Option<&Section>) -> String {
    match s {
        None => "absent".into(),
        Some(Section::Values(_)) => "available".into(),
        Some(Section::Unavailable(reason)) => reason.clone(),
    }
}

/// Compares `a` (e.g. the recorded system) with `b` (e.g. today's).
pub fn diff(a: &KernelInfo, b: &KernelInfo) -> KernelDiff {
    diff_sections(&a.sections, &b.sections)
}

/// Compares two maps of sections (of one document, or of several merged,
/// such as a [`KernelInfo`] and a [`SchedulerInfo`](super::SchedulerInfo)).
pub fn diff_sections(a: &BTreeMap<String, Section>, b: &BTreeMap<String, Section>) -> KernelDiff {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = KernelDiff::default();
    for name in names {
        let (sa, sb) = (a.get(name), b.get(name));
        let d = match (sa, sb) {
            (Some(Section::Values(va)), Some(Section::Values(vb))) => diff_values(va, vb),
            _ if sa == sb => SectionDiff::default(),
            _ => SectionDiff {
                availability: Some(AvailabilityChange {
                    before: describe(sa),
                    after: describe(sb),
                }),
                ..SectionDiff::default()
            },
        };
        if !d.is_empty() {
            out.sections.insert(name.clone(), d);
        }
    }
    out
}

fn diff_values(
    a: &BTreeMap<String, serde_json::Value>,
    b: &BTreeMap<String, serde_json::Value>,
) -> SectionDiff {
    let mut d = SectionDiff::default();
    for (k, va) in a {
        match b.get(k) {
            Some(vb) if vb == va => {}
            Some(vb) => d.changed.push(Changed {
                key: k.clone(),
                before: va.clone(),
                after: vb.clone(),
            }),
            None => d.removed.push(Entry {
                key: k.clone(),
                value: va.clone(),
            }),
        }
    }
    for (k, vb) in b {
        if !a.contains_key(k) {
            d.added.push(Entry {
                key: k.clone(),
                value: vb.clone(),
            });
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(sections: &[(&str, Section)]) -> KernelInfo {
        let mut k = KernelInfo::new();
        for (n, s) in sections {
            k.sections.insert((*n).into(), s.clone());
        }
        k
    }

    fn values(kv: &[(&str, serde_json::Value)]) -> Section {
        Section::Values(
            kv.iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn identical_documents_have_no_diff() {
        let a = info(&[("kernel", values(&[("release", json!("6.1"))]))]);
        assert!(diff(&a, &a.clone()).is_empty());
    }

    #[test]
    fn changed_added_removed_per_section() {
        let a = info(&[
            (
                "kernel",
                values(&[("release", json!("6.1")), ("architecture", json!("x86_64"))]),
            ),
            (
                "cpu_flags",
                values(&[("avx2", json!(true)), ("sse4_2", json!(true))]),
            ),
        ]);
        let b = info(&[
            (
                "kernel",
                values(&[("release", json!("6.8")), ("architecture", json!("x86_64"))]),
            ),
            (
                "cpu_flags",
                values(&[("sse4_2", json!(true)), ("avx512f", json!(true))]),
            ),
        ]);
        let d = diff(&a, &b);
        assert_eq!(d.sections.len(), 2);
        let c = d.changed("kernel", "release").unwrap();
        assert_eq!(
            (c.before.clone(), c.after.clone()),
            (json!("6.1"), json!("6.8"))
        );
        let f = &d.sections["cpu_flags"];
        assert_eq!(f.removed[0].key, "avx2");
        assert_eq!(f.added[0].key, "avx512f");
        assert!(f.changed.is_empty());
    }

    #[test]
    fn availability_changes_are_reported() {
        let a = info(&[("compile_config", values(&[("CONFIG_X", json!("y"))]))]);
        let b = info(&[
            ("compile_config", Section::unavailable("no /boot")),
            ("userns", values(&[])),
        ]);
        let d = diff(&a, &b);
        let av = d.sections["compile_config"].availability.as_ref().unwrap();
        assert_eq!(av.before, "available");
        assert_eq!(av.after, "unavailable: no /boot");
        let av = d.sections["userns"].availability.as_ref().unwrap();
        assert_eq!(av.before, "absent");
        let json = serde_json::to_value(&d).unwrap();
        assert!(json["sections"]["compile_config"].get("changed").is_none());
    }
}
