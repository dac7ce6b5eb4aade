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
use dsi_core::{Access, Driver, DriverEntry, Migration, Options, registry};

use crate::cli::GlobalArgs;
use crate::config;

/// The selected driver entries, each with the options it is given.
fn selected(global: &GlobalArgs) -> anyhow::Result<Vec<(&'static DriverEntry, Options)>> {
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
    Ok(entries
        .into_iter()
        .map(|entry| {
            let mut options = Options::new();
            if let Some((_, store, _)) = eff.stores.iter().find(|(d, _, _)| d == entry.name) {
                options.set("store", store.clone());
            }
            for (k, v, _) in &eff.options {
                if entry.options.iter().any(|o| o.name == k) {
                    options.set(k.clone(), v.clone());
                }
            }
            (entry, options)
        })
        .collect())
}

/// Builds the selected back-ends with their options.
pub(crate) fn open(global: &GlobalArgs, access: Access) -> anyhow::Result<Vec<Box<dyn Driver>>> {
    selected(global)?
        .into_iter()
        .map(|(entry, options)| {
            entry
                .instantiate(&options, access)
                .with_context(|| format!("opening the {} store", entry.name))
        })
        .collect()
}

/// Migrates each selected store to its driver's current layout, in order.
pub(crate) fn migrate(global: &GlobalArgs) -> anyhow::Result<Vec<(&'static str, Migration)>> {
    selected(global)?
        .into_iter()
        .map(|(entry, options)| {
            let done = entry
                .migrate_store(&options)
                .with_context(|| format!("migrating the {} store", entry.name))?;
            Ok((entry.name, done))
        })
        .collect()
}
