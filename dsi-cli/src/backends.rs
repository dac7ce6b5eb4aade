//! Opening the back-ends named on the command line.
//!
//! `--driver NAME` (repeatable; default `sqlite`) selects drivers, `--store`
//! is given to each as its `store` option, and each `--option key=value` goes
//! to every selected driver that accepts that key; a key that no selected
//! driver accepts is an error naming it.

use anyhow::{Context, bail};
use dsi_core::{Driver, Options, registry};

use crate::cli::GlobalArgs;

/// The driver used when none is named.
pub(crate) const DEFAULT_DRIVER: &str = "sqlite";

/// Builds the selected back-ends with their options.
pub(crate) fn open(global: &GlobalArgs) -> anyhow::Result<Vec<Box<dyn Driver>>> {
    let names: Vec<&str> = if global.drivers.is_empty() {
        vec![DEFAULT_DRIVER]
    } else {
        global.drivers.iter().map(String::as_str).collect()
    };
    let entries = names
        .iter()
        .map(|n| registry::driver(n))
        .collect::<Result<Vec<_>, _>>()?;
    let pairs = global
        .options
        .iter()
        .map(|p| Options::parse_pair(p))
        .collect::<Result<Vec<_>, _>>()?;
    for (key, _) in &pairs {
        if !entries
            .iter()
            .any(|e| e.options.iter().any(|o| o.name == key))
        {
            bail!(dsi_core::Error::config(
                names.join(", "),
                format!("no selected driver accepts option '{key}'")
            ));
        }
    }
    let mut drivers = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut options = Options::new();
        if let Some(store) = &global.store {
            options.set("store", store.clone());
        }
        for (k, v) in &pairs {
            if entry.options.iter().any(|o| o.name == k) {
                options.set(k.clone(), v.clone());
            }
        }
        let driver = entry
            .instantiate(&options)
            .with_context(|| format!("opening the {} store", entry.name))?;
        drivers.push(driver);
    }
    Ok(drivers)
}
