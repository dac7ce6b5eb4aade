//! Opening the back-ends selected by the effective settings ([`config`]).
//!
//! `--driver NAME` (repeatable; default `sqlite`) selects drivers, `--store`
//! is given to each as its `store` option, and each `--option key=value` goes
//! to every selected driver that accepts that key; a key that no selected
//! driver accepts is an error naming it and where it came from.
//!
//! Read commands open stores [`Access::ReadOnly`] (nothing is created or
//! changed; a missing store is an error naming it); only the commands that
//! record open them for writing.

use anyhow::Context;
use dsi_core::{Access, Driver, Options, registry};

use crate::cli::GlobalArgs;
use crate::config;

/// Builds the selected back-ends with their options.
pub(crate) fn open(global: &GlobalArgs, access: Access) -> anyhow::Result<Vec<Box<dyn Driver>>> {
    let eff = config::effective(global)?;
    let names = &eff.drivers.0;
    let entries = names
        .iter()
        .map(|n| registry::driver(n))
        .collect::<Result<Vec<_>, _>>()?;
    for (key, _, source) in &eff.options {
        if !entries
            .iter()
            .any(|e| e.options.iter().any(|o| o.name == key))
        {
            anyhow::bail!(dsi_core::Error::config(
                names.join(", "),
                format!("no selected driver accepts option '{key}' (from {source})")
            ));
        }
    }
    let mut drivers = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut options = Options::new();
        if let Some((_, store, _)) = eff.stores.iter().find(|(d, _, _)| d == entry.name) {
            options.set("store", store.clone());
        }
        for (k, v, _) in &eff.options {
            if entry.options.iter().any(|o| o.name == k) {
                options.set(k.clone(), v.clone());
            }
        }
        let driver = entry
            .instantiate(&options, access)
            .with_context(|| format!("opening the {} store", entry.name))?;
        drivers.push(driver);
    }
    Ok(drivers)
}
