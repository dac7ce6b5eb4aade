//! The [`Terminal`]: a home for plugins and an interface for drivers, with the
//! semantics of the 2023 DSI Terminal.
//!
//! * modules are loaded by registered name ([`Terminal::load_module`]) or
//!   handed in as values ([`Terminal::load_plugin`], [`Terminal::load_driver`]);
//!   loading a name that is already loaded changes nothing;
//! * [`Terminal::transload`] runs every plugin and merges their tables into
//!   the middleware: tables of the same name from several plugins are merged
//!   side by side and short columns are padded with nulls; a further
//!   transload appends rows;
//! * after the first transload, plugins can no longer be loaded or unloaded
//!   (drivers still can);
//! * [`Terminal::artifact_handler`] runs an [`Interaction`] over every loaded
//!   back-end.
//!
//! Nothing here prints: every problem is returned as an [`Error`].
//!
//! ```
//! use dsi_core::{ModuleKind, Options, Terminal, Interaction, memory::MemoryDriver};
//! let mut t = Terminal::new();
//! t.load_module(ModuleKind::Plugin, "hostname", &Options::new())?;
//! t.load_driver(Box::new(MemoryDriver::new()))?;
//! t.transload()?;
//! t.transload()?;
//! assert_eq!(t.middleware().table("hostname").unwrap().num_rows(), 2);
//! t.artifact_handler(Interaction::Put)?;
//! # Ok::<(), dsi_core::Error>(())
//! ```

use serde::Serialize;

use crate::driver::{Access, Driver, DriverFunction, Inspection, Query};
use crate::error::{Error, ModuleKind, Result};
use crate::options::{OptionSpec, Options};
use crate::plugin::{Context, Plugin};
use crate::registry;
use crate::table::Collection;

/// What [`Terminal::artifact_handler`] does with the loaded back-ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Interaction {
    /// Write the middleware (blobs first, then rows) to every back-end.
    Put,
    /// Replace the middleware with what the back-ends return for the query
    /// (results of several back-ends are appended in load order).
    Get(Query),
    /// Summarise every back-end.
    Inspect,
}

/// What [`Terminal::artifact_handler`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerOutput {
    /// The middleware was written to this many back-ends.
    Stored {
        /// Number of back-ends written to.
        backends: usize,
    },
    /// The middleware now holds what was read.
    Read,
    /// One inspection per back-end, in load order.
    Inspected(Vec<Inspection>),
}

/// Whether a load changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOutcome {
    /// The module is now loaded.
    Loaded,
    /// A module of that name was already loaded; nothing changed.
    AlreadyLoaded,
}

/// A module known to the registry, as listed by [`Terminal::list_available_modules`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ModuleInfo {
    /// Plugin or driver.
    pub kind: ModuleKind,
    /// Registered name.
    pub name: String,
    /// `consumer`, `producer`, `back-end` or `front-end`.
    pub function: String,
    /// One-line summary.
    pub summary: String,
    /// The options it accepts.
    pub options: Vec<OptionSpec>,
}

/// The DSI core: loaded plugins, loaded drivers and the middleware.
#[derive(Debug, Default)]
pub struct Terminal {
    plugins: Vec<Box<dyn Plugin>>,
    drivers: Vec<Box<dyn Driver>>,
    middleware: Collection,
    transloaded: bool,
}

impl Terminal {
    /// An empty Terminal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every registered module of one kind, sorted by name.
    pub fn list_available_modules(kind: ModuleKind) -> Result<Vec<ModuleInfo>> {
        Ok(match kind {
            ModuleKind::Plugin => registry::plugins()?
                .into_iter()
                .map(|e| ModuleInfo {
                    kind,
                    name: e.name.into(),
                    function: e.function.to_string(),
                    summary: e.summary.into(),
                    options: e.options.to_vec(),
                })
                .collect(),
            ModuleKind::Driver => registry::drivers()?
                .into_iter()
                .map(|e| ModuleInfo {
                    kind,
                    name: e.name.into(),
                    function: e.function.to_string(),
                    summary: e.summary.into(),
                    options: e.options.to_vec(),
                })
                .collect(),
        })
    }

    /// The loaded modules: plugins, then drivers, each in load order.
    pub fn list_loaded_modules(&self) -> Vec<(ModuleKind, String)> {
        self.plugins
            .iter()
            .map(|p| (ModuleKind::Plugin, p.name().to_owned()))
            .chain(
                self.drivers
                    .iter()
                    .map(|d| (ModuleKind::Driver, d.name().to_owned())),
            )
            .collect()
    }

    /// Loads a registered module by name with validated options.
    pub fn load_module(
        &mut self,
        kind: ModuleKind,
        name: &str,
        options: &Options,
    ) -> Result<LoadOutcome> {
        match kind {
            ModuleKind::Plugin => {
                self.check_plugin_unlocked("load", name)?;
                if self.is_loaded(kind, name) {
                    return Ok(LoadOutcome::AlreadyLoaded);
                }
                let p = registry::plugin(name)?.instantiate(options)?;
                self.load_plugin(p)
            }
            ModuleKind::Driver => {
                let d = registry::driver(name)?.instantiate(options, Access::ReadWrite)?;
                self.load_driver(d)
            }
        }
    }

    /// Loads a plugin value (for programs that build their own).
    pub fn load_plugin(&mut self, plugin: Box<dyn Plugin>) -> Result<LoadOutcome> {
        self.check_plugin_unlocked("load", plugin.name())?;
        if self.is_loaded(ModuleKind::Plugin, plugin.name()) {
            return Ok(LoadOutcome::AlreadyLoaded);
        }
        self.plugins.push(plugin);
        Ok(LoadOutcome::Loaded)
    }

    /// Loads a driver value (allowed at any time).
    /// A driver instance is identified by its name and its location: two
    /// SQLite stores at different paths are two drivers; the same store
    /// loaded twice is one.
    pub fn load_driver(&mut self, driver: Box<dyn Driver>) -> Result<LoadOutcome> {
        let location = driver.location();
        if self
            .drivers
            .iter()
            .any(|d| d.name() == driver.name() && d.location() == location)
        {
            return Ok(LoadOutcome::AlreadyLoaded);
        }
        self.drivers.push(driver);
        Ok(LoadOutcome::Loaded)
    }

    /// Unloads a module by name.
    pub fn unload_module(&mut self, kind: ModuleKind, name: &str) -> Result<()> {
        if kind == ModuleKind::Plugin {
            self.check_plugin_unlocked("unload", name)?;
        }
        let not_loaded = || Error::NotFound {
            kind: match kind {
                ModuleKind::Plugin => "plugin",
                ModuleKind::Driver => "driver",
            },
            key: name.to_owned(),
            place: Some(format!("the loaded {kind}s")),
        };
        match kind {
            ModuleKind::Plugin => {
                let i = self
                    .plugins
                    .iter()
                    .position(|p| p.name() == name)
                    .ok_or_else(not_loaded)?;
                self.plugins.remove(i);
            }
            ModuleKind::Driver => {
                let i = self
                    .drivers
                    .iter()
                    .position(|d| d.name() == name)
                    .ok_or_else(not_loaded)?;
                self.drivers.remove(i);
            }
        }
        Ok(())
    }

    fn is_loaded(&self, kind: ModuleKind, name: &str) -> bool {
        // Drivers are told apart by name and location (see load_driver).
        kind == ModuleKind::Plugin && self.plugins.iter().any(|p| p.name() == name)
    }

    fn check_plugin_unlocked(&self, action: &str, name: &str) -> Result<()> {
        if self.transloaded {
            return Err(Error::Refused(format!(
                "cannot {action} plugin '{name}' after transload; plugins are locked once data has been collected (drivers may still be loaded)"
            )));
        }
        Ok(())
    }

    /// Runs every loaded plugin and appends its rows to the middleware.
    /// If any plugin fails, the middleware is left as it was.
    pub fn transload(&mut self) -> Result<()> {
        let ctx = Context::new(&self.drivers);
        let mut round = Collection::new();
        for p in &mut self.plugins {
            let collected = p.collect(&ctx)?;
            for t in collected.tables() {
                if let Some(e) = registry::refused_table(p.name(), t.name()) {
                    return Err(e);
                }
            }
            for b in collected.blobs() {
                round.push_blob(b.clone());
            }
            for t in collected.into_tables() {
                match round.table_mut(t.name()) {
                    Some(existing) => existing.merge_columns(t)?,
                    None => round.push(t)?,
                }
            }
        }
        let mut next = self.middleware.clone();
        next.append(round)?;
        self.middleware = next;
        self.transloaded = true;
        Ok(())
    }

    /// Runs an interaction over every loaded back-end.
    pub fn artifact_handler(&mut self, interaction: Interaction) -> Result<HandlerOutput> {
        let backends = self
            .drivers
            .iter()
            .filter(|d| d.function() == DriverFunction::BackEnd);
        match interaction {
            Interaction::Put => {
                let mut n = 0;
                for d in backends {
                    put_collection(d.as_ref(), &self.middleware)?;
                    n += 1;
                }
                Ok(HandlerOutput::Stored { backends: n })
            }
            Interaction::Get(query) => {
                let mut read = Collection::new();
                for d in backends {
                    read.append(d.get(&query)?)?;
                }
                self.middleware = read;
                Ok(HandlerOutput::Read)
            }
            Interaction::Inspect => Ok(HandlerOutput::Inspected(
                backends.map(|d| d.inspect()).collect::<Result<_>>()?,
            )),
        }
    }

    /// The middleware.
    pub fn middleware(&self) -> &Collection {
        &self.middleware
    }

    /// The loaded drivers, in load order.
    pub fn drivers(&self) -> &[Box<dyn Driver>] {
        &self.drivers
    }

    /// The loaded drivers under the one read policy.
    pub fn stores(&self) -> crate::stores::Stores<'_> {
        crate::stores::Stores::new(&self.drivers)
    }

    /// Whether a transload has happened (plugins are then locked).
    pub fn is_transloaded(&self) -> bool {
        self.transloaded
    }
}

/// Writes a collection to one back-end: its blob content first, then its rows,
/// so a stored row never refers to content that is not there.
pub fn put_collection(driver: &dyn Driver, collection: &Collection) -> Result<()> {
    for b in collection.blobs() {
        let mut content = b.open()?;
        driver.put_blob(&b.blob_ref(), &mut content)?;
    }
    driver.put(collection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryDriver;
    use crate::plugin::PluginFunction;
    use crate::table::{Column, Table};
    use crate::value::{DataType, Value};

    /// A plugin that writes `rows` rows of one column into table `table`.
    #[derive(Debug)]
    struct Rows {
        name: &'static str,
        table: &'static str,
        column: &'static str,
        rows: i64,
        fail: bool,
    }

    impl Plugin for Rows {
        fn name(&self) -> &str {
            self.name
        }
        fn function(&self) -> PluginFunction {
            PluginFunction::Consumer
        }
        fn collect(&mut self, _ctx: &Context<'_>) -> Result<Collection> {
            if self.fail {
                return Err(Error::plugin(self.name, "source vanished"));
            }
            let values = (0..self.rows).map(Value::Int).collect();
            Ok(Collection::of(Table::from_columns(
                self.table,
                vec![Column::new(self.column, DataType::Int, values)?],
            )?))
        }
    }

    fn rows(name: &'static str, column: &'static str, rows: i64) -> Box<Rows> {
        Box::new(Rows {
            name,
            table: "t",
            column,
            rows,
            fail: false,
        })
    }

    #[test]
    fn loading_a_module_by_name() {
        let mut t = Terminal::new();
        assert_eq!(
            t.load_module(ModuleKind::Plugin, "hostname", &Options::new())
                .unwrap(),
            LoadOutcome::Loaded
        );
        assert_eq!(
            t.list_loaded_modules(),
            vec![(ModuleKind::Plugin, "hostname".to_owned())]
        );
    }

    #[test]
    fn loading_twice_does_not_duplicate() {
        let mut t = Terminal::new();
        t.load_module(ModuleKind::Plugin, "hostname", &Options::new())
            .unwrap();
        assert_eq!(
            t.load_module(ModuleKind::Plugin, "hostname", &Options::new())
                .unwrap(),
            LoadOutcome::AlreadyLoaded
        );
        assert_eq!(t.list_loaded_modules().len(), 1);
        t.transload().unwrap();
        assert_eq!(t.middleware().table("hostname").unwrap().num_rows(), 1);
    }

    #[test]
    fn unloading_a_module() {
        let mut t = Terminal::new();
        t.load_module(ModuleKind::Plugin, "hostname", &Options::new())
            .unwrap();
        t.unload_module(ModuleKind::Plugin, "hostname").unwrap();
        assert!(t.list_loaded_modules().is_empty());
        let e = t.unload_module(ModuleKind::Plugin, "hostname").unwrap_err();
        assert_eq!(
            e.to_string(),
            "plugin 'hostname' not found in the loaded plugins"
        );
    }

    inventory::submit! {
        crate::registry::ReservedTable {
            name: "term_reserved",
            writers: &["owner"],
            holds: "the test's records",
        }
    }

    #[test]
    fn reserved_tables_are_written_only_by_their_plugins() {
        for (plugin, table, refused) in [
            ("other", "TERM_RESERVED", true),
            ("owner", "term_reserved", false),
            ("owner", "_DSI_blobs", true),
        ] {
            let mut t = Terminal::new();
            t.load_plugin(Box::new(Rows {
                name: plugin,
                table,
                column: "x",
                rows: 1,
                fail: false,
            }))
            .unwrap();
            let r = t.transload();
            assert_eq!(r.is_err(), refused, "{plugin} writing {table}: {r:?}");
            if let Err(e) = r {
                assert!(e.to_string().contains(table), "{e}");
                assert!(t.middleware().is_empty());
            }
        }
    }

    #[test]
    fn plugins_are_locked_after_transload_but_drivers_are_not() {
        let mut t = Terminal::new();
        t.load_plugin(rows("a", "x", 1)).unwrap();
        t.transload().unwrap();
        let e = t.load_plugin(rows("b", "y", 1)).unwrap_err();
        assert!(matches!(e, Error::Refused(_)), "{e}");
        assert!(
            e.to_string()
                .starts_with("cannot load plugin 'b' after transload")
        );
        let e = t.unload_module(ModuleKind::Plugin, "a").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot unload plugin 'a' after transload")
        );
        let e = t
            .load_module(ModuleKind::Plugin, "hostname", &Options::new())
            .unwrap_err();
        assert!(matches!(e, Error::Refused(_)));
        assert_eq!(
            t.load_driver(Box::new(MemoryDriver::new())).unwrap(),
            LoadOutcome::Loaded
        );
        t.unload_module(ModuleKind::Driver, "memory").unwrap();
    }

    #[test]
    fn repeated_transloads_append_rows() {
        let mut t = Terminal::new();
        t.load_plugin(rows("a", "x", 2)).unwrap();
        for _ in 0..3 {
            t.transload().unwrap();
        }
        let table = t.middleware().table("t").unwrap();
        assert_eq!(table.num_rows(), 6);
        assert_eq!(table.get(4, "x"), Some(&Value::Int(0)));
    }

    #[test]
    fn plugins_of_different_row_counts_are_padded() {
        let mut t = Terminal::new();
        t.load_plugin(rows("a", "x", 3)).unwrap();
        t.load_plugin(rows("b", "y", 1)).unwrap();
        t.transload().unwrap();
        let table = t.middleware().table("t").unwrap();
        assert_eq!(table.num_rows(), 3);
        assert_eq!(
            table.column("y").unwrap().values(),
            &[Value::Int(0), Value::Null, Value::Null]
        );
    }

    #[test]
    fn a_failing_plugin_leaves_the_middleware_unchanged() {
        let mut t = Terminal::new();
        t.load_plugin(rows("a", "x", 1)).unwrap();
        t.load_plugin(Box::new(Rows {
            name: "bad",
            table: "t",
            column: "y",
            rows: 1,
            fail: true,
        }))
        .unwrap();
        let e = t.transload().unwrap_err();
        assert_eq!(e.to_string(), "bad: source vanished");
        assert!(t.middleware().is_empty());
        assert!(!t.is_transloaded());
    }

    #[test]
    fn artifact_handler_puts_gets_and_inspects_every_backend() {
        let a = MemoryDriver::new();
        let b = MemoryDriver::named("memory-2");
        let mut t = Terminal::new();
        t.load_plugin(rows("a", "x", 2)).unwrap();
        t.load_driver(Box::new(a.clone())).unwrap();
        t.load_driver(Box::new(b.clone())).unwrap();
        t.transload().unwrap();
        assert_eq!(
            t.artifact_handler(Interaction::Put).unwrap(),
            HandlerOutput::Stored { backends: 2 }
        );
        let HandlerOutput::Inspected(ins) = t.artifact_handler(Interaction::Inspect).unwrap()
        else {
            panic!("inspect returns inspections");
        };
        assert_eq!(ins.len(), 2);
        assert!(ins.iter().all(|i| i.tables[0].rows == 2));

        t.unload_module(ModuleKind::Driver, "memory-2").unwrap();
        t.artifact_handler(Interaction::Get(Query::Table(crate::TableQuery::new("t"))))
            .unwrap();
        assert_eq!(t.middleware().table("t").unwrap().num_rows(), 2);
    }
}
