//! The [`Plugin`] trait: a module that fills tables, one row per call.
//!
//! A plugin's *function* says where its data comes from: a **consumer** reads
//! what exists (files, a git remote, the running system), a **producer**
//! generates new data (runs an application). The Terminal calls
//! [`Plugin::collect`] on every loaded plugin during
//! [`transload`](crate::Terminal::transload).

use std::fmt;

use crate::driver::Driver;
use crate::error::Result;
use crate::stores::Stores;
use crate::table::Collection;

/// Where a plugin's data comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PluginFunction {
    /// Reads existing data (files, streams, a git remote, the system).
    Consumer,
    /// Generates new data (runs an application).
    Producer,
}

impl fmt::Display for PluginFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginFunction::Consumer => "consumer",
            PluginFunction::Producer => "producer",
        })
    }
}

/// What a plugin may use while collecting: read access to the loaded back-ends
/// (a producer reads the artifact it replays from them).
#[derive(Clone, Copy)]
pub struct Context<'a> {
    backends: &'a [Box<dyn Driver>],
}

impl<'a> Context<'a> {
    /// A context over these back-ends.
    pub fn new(backends: &'a [Box<dyn Driver>]) -> Self {
        Context { backends }
    }

    /// A context with no back-ends.
    pub fn empty() -> Context<'static> {
        Context { backends: &[] }
    }

    /// The loaded back-ends, in load order.
    pub fn backends(&self) -> &'a [Box<dyn Driver>] {
        self.backends
    }

    /// The loaded back-ends under the one read policy ([`Stores`]).
    pub fn stores(&self) -> Stores<'a> {
        Stores::new(self.backends)
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.backends.iter().map(|d| d.name()))
            .finish()
    }
}

/// A module that produces rows.
///
/// Object safe and `Send`, so a Terminal holds `Box<dyn Plugin>`s built from
/// the registry or handed in by an embedding program.
pub trait Plugin: Send + fmt::Debug {
    /// The plugin's registered name, e.g. `hostname`.
    fn name(&self) -> &str;

    /// Consumer or producer.
    fn function(&self) -> PluginFunction;

    /// Collects one call's worth of rows (usually one row in one table named
    /// after the plugin), plus any blob content those rows refer to.
    fn collect(&mut self, ctx: &Context<'_>) -> Result<Collection>;
}
