//! Effective settings: command-line flags, then the environment (`DSI_DRIVER`,
//! `DSI_STORE`), then `./dsi.toml`, then `$XDG_CONFIG_HOME/dsi/config.toml`
//! (default `~/.config/dsi/config.toml`), then built-in defaults. The first
//! that sets a value wins; `dsi config` shows each value and where it came from.
//!
//! Several drivers take one store each: `--driver sqlite --driver parquet
//! --store a.db --store data/` pairs them in order; `--driver parquet=data/`
//! names both at once.
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
    /// Stores named for drivers: (driver, store, source).
    pub(crate) stores: Vec<(String, String, Source)>,
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

/// Whether an option's value is a secret: shown as `***` by `dsi config`
/// and never logged.
pub(crate) fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "token", "password", "credential"]
        .iter()
        .any(|w| k.contains(w))
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
    let env = |name: &str| -> anyhow::Result<Option<String>> {
        match std::env::var_os(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.into_string().map(Some).map_err(|v| {
                anyhow::anyhow!(dsi_core::Error::config(
                    "configuration",
                    format!(
                        "{name} is not valid UTF-8 ({}); dsi takes store paths and driver names as UTF-8",
                        v.to_string_lossy()
                    )
                ))
            }),
        }
    };

    // `--driver NAME=STORE` names a driver and its store at once.
    let mut flag_stores: Vec<(String, String)> = Vec::new();
    let flag_drivers: Vec<String> = global
        .drivers
        .iter()
        .map(|d| match d.split_once('=') {
            Some((name, store)) => {
                flag_stores.push((name.to_owned(), store.to_owned()));
                name.to_owned()
            }
            None => d.clone(),
        })
        .collect();
    let drivers = if !flag_drivers.is_empty() {
        (flag_drivers, Source::Flag)
    } else if let Some(v) = env("DSI_DRIVER")? {
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

    // Stores: `--driver NAME=STORE`, then `--store` (one per driver, in
    // order, or one for a single driver), then DSI_STORE, then the files.
    let names = &drivers.0;
    let pair = |values: Vec<String>,
                source: Source|
     -> anyhow::Result<Vec<(String, String, Source)>> {
        match (values.len(), names.len()) {
            (0, _) => Ok(Vec::new()),
            (v, d) if v == d => Ok(names
                .iter()
                .cloned()
                .zip(values)
                .map(|(n, s)| (n, s, source.clone()))
                .collect()),
            (1, _) => Err(anyhow::anyhow!(dsi_core::Error::config(
                names.join(", "),
                format!(
                    "one store ({source}) for {} drivers: give one --store per --driver, in order, or --driver NAME=STORE",
                    names.len()
                )
            ))),
            (v, d) => Err(anyhow::anyhow!(dsi_core::Error::config(
                names.join(", "),
                format!(
                    "{v} stores for {d} drivers: give one --store per --driver, in the same order"
                )
            ))),
        }
    };
    let mut stores: Vec<(String, String, Source)> = flag_stores
        .into_iter()
        .map(|(n, s)| (n, s, Source::Flag))
        .collect();
    if stores.is_empty() {
        stores = if !global.stores.is_empty() {
            pair(global.stores.clone(), Source::Flag)?
        } else if let Some(s) = env("DSI_STORE")? {
            pair(vec![s], Source::Env("DSI_STORE".into()))?
        } else if let Some((p, s)) = loaded
            .iter()
            .find_map(|(p, c)| c.store.clone().map(|s| (p.clone(), s)))
        {
            pair(vec![s], Source::File(p))?
        } else {
            Vec::new()
        };
    } else if !global.stores.is_empty() {
        anyhow::bail!(dsi_core::Error::config(
            names.join(", "),
            "give stores either as --driver NAME=STORE or with --store, not both"
        ));
    }

    let mut options: Vec<(String, String, Source)> = Vec::new();
    for pair in &global.options {
        let (k, v) = dsi_core::Options::parse_pair(pair).map_err(|_| {
            dsi_core::Error::config("--option", format!("'{pair}' must have the form key=value"))
        })?;
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
        stores,
        options,
        files: consulted,
    })
}
