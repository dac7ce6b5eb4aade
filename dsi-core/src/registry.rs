//! The module registry: every plugin and driver linked into the program,
//! registered with [`inventory`].
//!
//! A crate registers a module with one item-level `inventory::submit!` of a
//! [`PluginEntry`] or [`DriverEntry`]. Registrations survive only in crates
//! the final binary names (`use dsi_driver_sqlite as _;`), so `dsi-cli` keeps
//! one such line per enabled feature. Listing is sorted by name and a
//! duplicate name is an error, since inventory's order is unspecified.
//!
//! ```
//! use dsi_core::registry;
//! let names: Vec<_> = registry::plugins().unwrap().iter().map(|p| p.name).collect();
//! assert!(names.contains(&"hostname"));
//! assert!(names.contains(&"system-kernel"));
//! ```

use crate::driver::{Access, Driver, DriverFunction};
use crate::error::{Error, ModuleKind, Result};
use crate::maintenance::Migration;
use crate::options::{OptionSpec, Options};
use crate::plugin::{Plugin, PluginFunction};

/// A registered plugin.
#[derive(Debug)]
pub struct PluginEntry {
    /// Unique name, e.g. `hostname`.
    pub name: &'static str,
    /// Consumer or producer.
    pub function: PluginFunction,
    /// One line saying what it records.
    pub summary: &'static str,
    /// The options it accepts.
    pub options: &'static [OptionSpec],
    /// Constructor; called only with validated options.
    pub build: fn(&Options) -> Result<Box<dyn Plugin>>,
}

/// A registered driver.
#[derive(Debug)]
pub struct DriverEntry {
    /// Unique name, e.g. `sqlite`.
    pub name: &'static str,
    /// Back-end or front-end.
    pub function: DriverFunction,
    /// One line saying what it stores or shows.
    pub summary: &'static str,
    /// The options it accepts.
    pub options: &'static [OptionSpec],
    /// Constructor; called only with validated options. With
    /// [`Access::ReadOnly`] it must create and modify nothing.
    pub build: fn(&Options, Access) -> Result<Box<dyn Driver>>,
    /// Converts a store of an earlier layout to the current one, for
    /// back-ends that have had more than one (`None`: nothing to migrate).
    pub migrate: Option<fn(&Options) -> Result<Migration>>,
}

/// A table that only some plugins may write: the records a workflow depends
/// on (the Charliecloud plugins reserve `runs`). Names compare
/// case-insensitively, as SQLite's do. The Terminal refuses any other
/// plugin's rows for it, whichever program embeds it.
#[derive(Debug)]
pub struct ReservedTable {
    /// The table name.
    pub name: &'static str,
    /// The plugins that write it.
    pub writers: &'static [&'static str],
    /// What it holds, for the refusal message (e.g. `dsi's records`).
    pub holds: &'static str,
}

inventory::collect!(PluginEntry);
inventory::collect!(DriverEntry);
inventory::collect!(ReservedTable);

/// The reserved table a plugin may not write, if `table` is one and `plugin`
/// is not among its writers. Names starting with `_dsi` (any case) are
/// reserved for every plugin.
pub fn refused_table(plugin: &str, table: &str) -> Option<Error> {
    if table
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("_dsi"))
    {
        return Some(Error::InvalidData(format!(
            "table name '{table}' is reserved (names starting with '_dsi' are dsi's own)"
        )));
    }
    let reserved = inventory::iter::<ReservedTable>
        .into_iter()
        .find(|r| r.name.eq_ignore_ascii_case(table))?;
    if reserved.writers.contains(&plugin) {
        return None;
    }
    Some(Error::InvalidData(format!(
        "table '{table}' holds {}; write into another table",
        reserved.holds
    )))
}

impl PluginEntry {
    /// Validates the options against [`PluginEntry::options`] and builds the plugin.
    pub fn instantiate(&self, options: &Options) -> Result<Box<dyn Plugin>> {
        options.validate(self.name, self.options)?;
        (self.build)(options)
    }
}

impl DriverEntry {
    /// Validates the options against [`DriverEntry::options`] and builds the
    /// driver for the given access.
    pub fn instantiate(&self, options: &Options, access: Access) -> Result<Box<dyn Driver>> {
        options.validate(self.name, self.options)?;
        (self.build)(options, access)
    }

    /// Validates the options and migrates the store they name to the
    /// current layout ([`DriverEntry::migrate`]); a back-end with one
    /// layout is [`Error::NotSupported`].
    pub fn migrate_store(&self, options: &Options) -> Result<Migration> {
        options.validate(self.name, self.options)?;
        match self.migrate {
            Some(migrate) => migrate(options),
            None => Err(Error::not_supported("migrate", self.name)),
        }
    }
}

/// Sorts entries by name and rejects duplicates.
fn sorted_unique<T>(
    mut entries: Vec<&'static T>,
    name: fn(&T) -> &'static str,
    kind: ModuleKind,
) -> Result<Vec<&'static T>> {
    entries.sort_by_key(|e| name(e));
    if let Some(w) = entries.windows(2).find(|w| name(w[0]) == name(w[1])) {
        return Err(Error::AlreadyExists {
            what: format!("{kind} name '{}' (registered twice)", name(w[0])),
        });
    }
    Ok(entries)
}

/// Every registered plugin, sorted by name.
pub fn plugins() -> Result<Vec<&'static PluginEntry>> {
    sorted_unique(
        inventory::iter::<PluginEntry>.into_iter().collect(),
        |e| e.name,
        ModuleKind::Plugin,
    )
}

/// Every registered driver, sorted by name.
pub fn drivers() -> Result<Vec<&'static DriverEntry>> {
    sorted_unique(
        inventory::iter::<DriverEntry>.into_iter().collect(),
        |e| e.name,
        ModuleKind::Driver,
    )
}

/// The plugin with this name; an unknown name lists the available ones.
pub fn plugin(name: &str) -> Result<&'static PluginEntry> {
    let all = plugins()?;
    find(all, name, |e| e.name, ModuleKind::Plugin)
}

/// The driver with this name; an unknown name lists the available ones.
pub fn driver(name: &str) -> Result<&'static DriverEntry> {
    let all = drivers()?;
    find(all, name, |e| e.name, ModuleKind::Driver)
}

fn find<T>(
    all: Vec<&'static T>,
    name: &str,
    name_of: fn(&T) -> &'static str,
    kind: ModuleKind,
) -> Result<&'static T> {
    all.iter()
        .copied()
        .find(|e| name_of(e) == name)
        .ok_or_else(|| Error::UnknownModule {
            kind,
            name: name.to_owned(),
            available: all.iter().map(|e| name_of(e).to_owned()).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fake(&'static str);

    #[test]
    fn duplicates_are_rejected_and_listing_is_sorted() {
        static A: Fake = Fake("b");
        static B: Fake = Fake("a");
        static C: Fake = Fake("b");
        let sorted = sorted_unique(vec![&A, &B], |f| f.0, ModuleKind::Driver).unwrap();
        assert_eq!(sorted.iter().map(|f| f.0).collect::<Vec<_>>(), ["a", "b"]);
        let e = sorted_unique(vec![&A, &B, &C], |f| f.0, ModuleKind::Driver).unwrap_err();
        assert_eq!(
            e.to_string(),
            "driver name 'b' (registered twice) already exists"
        );
    }

    #[test]
    fn unknown_names_list_the_available_ones() {
        let e = plugin("no-such-plugin").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("unknown plugin 'no-such-plugin'; available: "),
            "{msg}"
        );
        assert!(
            msg.contains("hostname") && msg.contains("system-kernel"),
            "{msg}"
        );
    }

    #[test]
    fn options_are_validated_before_building() {
        let e = plugin("hostname")
            .unwrap()
            .instantiate(&Options::new().with("verbose", "1"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "hostname: unknown option 'verbose' (it takes no options)"
        );
    }
}
