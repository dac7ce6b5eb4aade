//! [`Options`]: the typed replacement of Python's `**kwargs` for module construction.
//!
//! Each registry entry declares the options it accepts ([`OptionSpec`]); the
//! registry validates a user's options against them before calling the entry's
//! constructor, so an unknown key or a missing required one is reported with
//! its name before any work is done.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// One option a module accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct OptionSpec {
    /// The key, e.g. `store`.
    pub name: &'static str,
    /// Whether the key must be given.
    pub required: bool,
    /// One line of help.
    pub help: &'static str,
}

impl OptionSpec {
    /// A required option.
    pub const fn required(name: &'static str, help: &'static str) -> Self {
        OptionSpec {
            name,
            required: true,
            help,
        }
    }

    /// An optional option.
    pub const fn optional(name: &'static str, help: &'static str) -> Self {
        OptionSpec {
            name,
            required: false,
            help,
        }
    }
}

/// String key/value options, in key order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Options {
    values: BTreeMap<String, String>,
}

impl Options {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a key (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Adds or replaces a key.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), value.into());
    }

    /// Parses `key=value` (the command line's `--option`).
    pub fn parse_pair(pair: &str) -> Result<(String, String)> {
        match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
            _ => Err(Error::InvalidData(format!(
                "option '{pair}' must have the form key=value"
            ))),
        }
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value of a required key (already validated by the registry, but
    /// checked again here so constructors can be called directly).
    pub fn require(&self, module: &str, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| Error::config(module, format!("missing required option '{key}'")))
    }

    /// A boolean option: `true`/`1`/`yes` or `false`/`0`/`no`/empty; absent
    /// is false. The one boolean parser of dsi (see [`parse_bool`]).
    pub fn parse_bool(&self, module: &str, key: &str) -> Result<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| {
                Error::config(
                    module,
                    format!("option '{key}': invalid value '{v}': expected true or false"),
                )
            }),
        }
    }

    /// The value of a key parsed with `FromStr`, naming key and value on failure.
    pub fn parse<T>(&self, module: &str, key: &str) -> Result<Option<T>>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
    {
        self.get(key)
            .map(|v| {
                v.parse::<T>().map_err(|e| {
                    Error::config(module, format!("option '{key}': invalid value '{v}': {e}"))
                })
            })
            .transpose()
    }

    /// Iterates over key/value pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Checks the keys against a module's specification: every key must be
    /// known and every required key present.
    pub fn validate(&self, module: &str, specs: &[OptionSpec]) -> Result<()> {
        for key in self.values.keys() {
            if !specs.iter().any(|s| s.name == key) {
                let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
                let known = if known.is_empty() {
                    "it takes no options".to_owned()
                } else {
                    format!("accepted: {}", known.join(", "))
                };
                return Err(Error::config(
                    module,
                    format!("unknown option '{key}' ({known})"),
                ));
            }
        }
        for spec in specs.iter().filter(|s| s.required) {
            if !self.values.contains_key(spec.name) {
                return Err(Error::config(
                    module,
                    format!("missing required option '{}' ({})", spec.name, spec.help),
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may carry credentials: show keys only.
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Options {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Options {
            values: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// `true`/`1`/`yes`/`on` (any case) or `false`/`0`/`no`/`off`/empty; anything else is
/// `None`. Used for options and for boolean environment variables alike.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptionSpec] = &[
        OptionSpec::required("store", "path of the database"),
        OptionSpec::optional("busy_timeout_ms", "how long to wait for a lock"),
    ];

    #[test]
    fn unknown_key_is_named() {
        let o = Options::new().with("store", "x").with("colour", "red");
        let e = o.validate("sqlite", SPECS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sqlite: unknown option 'colour' (accepted: store, busy_timeout_ms)"
        );
    }

    #[test]
    fn missing_required_key_is_named() {
        let e = Options::new().validate("sqlite", SPECS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sqlite: missing required option 'store' (path of the database)"
        );
        assert!(
            Options::new()
                .with("store", "x")
                .validate("sqlite", SPECS)
                .is_ok()
        );
    }

    #[test]
    fn parse_names_key_and_value() {
        let o = Options::new().with("busy_timeout_ms", "soon");
        let e = o.parse::<u64>("sqlite", "busy_timeout_ms").unwrap_err();
        assert!(
            e.to_string()
                .contains("option 'busy_timeout_ms': invalid value 'soon'")
        );
    }

    #[test]
    fn pairs_parse() {
        assert_eq!(
            Options::parse_pair("a=b=c").unwrap(),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert!(Options::parse_pair("=x").is_err());
        assert!(Options::parse_pair("novalue").is_err());
    }

    #[test]
    fn debug_hides_values() {
        let o = Options::new().with("remote", "https://user:secret@example.org/r.git");
        assert!(!format!("{o:?}").contains("secret"));
    }
}
