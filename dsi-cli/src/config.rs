//! Effective settings: command-line flags, then the environment (`DSI_DRIVER`,
//! `DSI_STORE`), then `./dsi.toml`, then `$XDG_CONFIG_HOME/dsi/config.toml`
//! (default `~/.config/dsi/config.toml`), then built-in defaults. The first
//! that sets a value wins; `dsi config` shows each value and where it came from.
//!
//! ```toml
//! driver = ["sqlite"]          # or a single name: driver = "parquet"
//! store = "/scratch/lab/dsi.db"
//! [options]                    # driver options, as --option key=value
//! busy_timeout_ms = "10000"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::cli::GlobalArgs;

/// The driver used when nothing names one.
pub(crate) const DEFAULT_DRIVER: &str = "sqlite";

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable (named).
    Env(String),
    /// A configuration file (path).
    File(PathBuf),
    /// dsi's default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("command line"),
            Source::Env(v) => write!(f, "environment ({v})"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    driver: Option<OneOrMany>,
    store: Option<String>,
    #[serde(default)]
    options: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The settings in effect, each with its source.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Effective {
    /// Drivers to load.
    pub(crate) drivers: (Vec<String>, Source),
    /// The store, if any was named.
    pub(crate) store: Option<(String, Source)>,
    /// Driver options.
    pub(crate) options: Vec<(String, String, Source)>,
    /// The configuration files consulted, and whether each exists.
    pub(crate) files: Vec<(PathBuf, bool)>,
}

fn user_config() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("dsi").join("config.toml"))
}

fn read(path: &Path) -> anyhow::Result<Option<FileConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let cfg: FileConfig = toml::from_str(&text).map_err(|e| {
        dsi_core::Error::InvalidData(format!("{}: {}", path.display(), e.message()))
    })?;
    Ok(Some(cfg))
}

fn value_text(path: &Path, key: &str, v: &toml::Value) -> anyhow::Result<String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        _ => anyhow::bail!(dsi_core::Error::InvalidData(format!(
            "{}: options.{key} must be a string, number or boolean",
            path.display()
        ))),
    })
}

/// Resolves the effective settings for this invocation.
pub(crate) fn effective(global: &GlobalArgs) -> anyhow::Result<Effective> {
    let files: Vec<PathBuf> = [Some(PathBuf::from("dsi.toml")), user_config()]
        .into_iter()
        .flatten()
        .collect();
    let mut loaded = Vec::new();
    let mut consulted = Vec::new();
    for f in &files {
        let cfg = read(f)?;
        consulted.push((f.clone(), cfg.is_some()));
        if let Some(c) = cfg {
            loaded.push((f.clone(), c));
        }
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());

    let drivers = if !global.drivers.is_empty() {
        (global.drivers.clone(), Source::Flag)
    } else if let Some(v) = env("DSI_DRIVER") {
        (
            v.split(',').map(|s| s.trim().to_owned()).collect(),
            Source::Env("DSI_DRIVER".into()),
        )
    } else if let Some((p, d)) = loaded
        .iter_mut()
        .find_map(|(p, c)| c.driver.take().map(|d| (p.clone(), d)))
    {
        (d.into_vec(), Source::File(p))
    } else {
        (vec![DEFAULT_DRIVER.to_owned()], Source::Default)
    };

    let store = if let Some(s) = &global.store {
        Some((s.clone(), Source::Flag))
    } else if let Some(s) = env("DSI_STORE") {
        Some((s, Source::Env("DSI_STORE".into())))
    } else {
        loaded
            .iter()
            .find_map(|(p, c)| c.store.clone().map(|s| (s, Source::File(p.clone()))))
    };

    let mut options: Vec<(String, String, Source)> = Vec::new();
    for pair in &global.options {
        let (k, v) = dsi_core::Options::parse_pair(pair)?;
        options.push((k, v, Source::Flag));
    }
    for (p, c) in &loaded {
        for (k, v) in &c.options {
            if !options.iter().any(|(have, _, _)| have == k) {
                options.push((k.clone(), value_text(p, k, v)?, Source::File(p.clone())));
            }
        }
    }
    Ok(Effective {
        drivers,
        store,
        options,
        files: consulted,
    })
}
