//! [`KernelInfo`]: the versioned JSON document in the `kernel_info` column.
//!
//! ```json
//! {"schema": "dsi.kernel_info/1",
//!  "sections": {"kernel": {"release": "6.1.0-18-amd64", "architecture": "x86_64", …},
//!               "compile_config": "unavailable: /boot/config-6.1.0-18-amd64: No such file or directory",
//!               …}}
//! ```
//!
//! Each section is either an object of key → value or the text
//! `unavailable: <reason>`. Section names are stable within a schema version:
//! `kernel`, `boot_cmdline`, `compile_config`, `sysctl`, `modules`, `cgroup`,
//! `cpu`, `cpu_flags`, `memory`, `userns`, `charliecloud`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The schema identifier written into every document; the part after `/` is
/// the major version, which changes only when a section changes meaning.
pub const KERNEL_INFO_SCHEMA: &str = "dsi.kernel_info/1";

/// One section: values, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Section {
    /// Key → value.
    Values(BTreeMap<String, serde_json::Value>),
    /// `unavailable: <reason>`.
    Unavailable(String),
}

impl Section {
    /// A section that could not be read.
    pub fn unavailable(reason: impl std::fmt::Display) -> Self {
        Section::Unavailable(format!("unavailable: {reason}"))
    }

    /// The values, if available.
    pub fn values(&self) -> Option<&BTreeMap<String, serde_json::Value>> {
        match self {
            Section::Values(v) => Some(v),
            Section::Unavailable(_) => None,
        }
    }
}

/// The system description recorded by `system-kernel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KernelInfo {
    /// [`KERNEL_INFO_SCHEMA`] when written by this version.
    pub schema: String,
    /// Sections by name.
    pub sections: BTreeMap<String, Section>,
}

impl KernelInfo {
    /// An empty document of the current schema.
    pub fn new() -> Self {
        KernelInfo {
            schema: KERNEL_INFO_SCHEMA.to_owned(),
            sections: BTreeMap::new(),
        }
    }

    /// Parses a `kernel_info` column value, refusing a different major schema.
    pub fn from_json(text: &str) -> Result<Self> {
        let info: KernelInfo = serde_json::from_str(text)
            .map_err(|e| Error::InvalidData(format!("kernel_info is not valid: {e}")))?;
        check_schema("kernel_info", &info.schema, KERNEL_INFO_SCHEMA)?;
        Ok(info)
    }

    /// Compact JSON with sections and keys in sorted order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("KernelInfo always serialises")
    }

    /// A value by section and key.
    pub fn get(&self, section: &str, key: &str) -> Option<&serde_json::Value> {
        self.sections.get(section)?.values()?.get(key)
    }

    /// A text value by section and key.
    pub fn get_str(&self, section: &str, key: &str) -> Option<&str> {
        self.get(section, key)?.as_str()
    }
}

/// Refuses a document whose schema names another document or another major
/// version than `supported`; `column` names the document in the error.
pub(super) fn check_schema(column: &str, found: &str, supported: &str) -> Result<()> {
    let major = |s: &str| {
        s.rsplit_once('/')
            .map(|(name, v)| (name.to_owned(), v.to_owned()))
    };
    if major(found) != major(supported) {
        return Err(Error::InvalidData(format!(
            "{column} schema '{found}' is not supported (this dsi reads '{supported}')"
        )));
    }
    Ok(())
}

impl Default for KernelInfo {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_schema_check() {
        let mut k = KernelInfo::new();
        k.sections.insert(
            "kernel".into(),
            Section::Values([("release".to_owned(), serde_json::json!("6.1.0"))].into()),
        );
        k.sections
            .insert("modules".into(), Section::unavailable("no module support"));
        let text = k.to_json();
        assert_eq!(KernelInfo::from_json(&text).unwrap(), k);
        assert_eq!(k.get_str("kernel", "release"), Some("6.1.0"));
        assert!(text.contains("\"modules\":\"unavailable: no module support\""));

        let future = text.replace("dsi.kernel_info/1", "dsi.kernel_info/2");
        let e = KernelInfo::from_json(&future).unwrap_err();
        assert!(
            e.to_string()
                .contains("'dsi.kernel_info/2' is not supported"),
            "{e}"
        );
        assert!(KernelInfo::from_json("{").is_err());
    }
}
