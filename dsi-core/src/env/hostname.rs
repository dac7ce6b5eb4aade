//! The `hostname` plugin: POSIX identity plus the host name, one row in table
//! `hostname` per transload.

use crate::error::Result;
use crate::options::Options;
use crate::plugin::{Context, Plugin, PluginFunction};
use crate::registry::PluginEntry;
use crate::table::{Collection, Column, Table};
use crate::value::{DataType, Value};

use super::PosixIdentity;

/// Records the host name and the POSIX identity.
#[derive(Debug, Default)]
pub struct Hostname;

impl Hostname {
    /// The host name from `uname` (`nodename`).
    pub fn current() -> String {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    }

    /// The `hostname` column, one row.
    pub fn column() -> Result<Column> {
        Column::new(
            "hostname",
            DataType::Text,
            vec![Value::Text(Self::current())],
        )
    }
}

impl Plugin for Hostname {
    fn name(&self) -> &str {
        "hostname"
    }

    fn function(&self) -> PluginFunction {
        PluginFunction::Consumer
    }

    fn collect(&mut self, _ctx: &Context<'_>) -> Result<Collection> {
        let mut columns = PosixIdentity::current().columns()?;
        columns.push(Self::column()?);
        Ok(Collection::of(Table::from_columns("hostname", columns)?))
    }
}

inventory::submit! {
    PluginEntry {
        name: "hostname",
        function: PluginFunction::Consumer,
        summary: "host name and POSIX identity (uid, effective_gid, moniker, gid_list)",
        options: &[],
        build: |_: &Options| Ok(Box::new(Hostname)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_one_row() {
        let c = Hostname.collect(&Context::empty()).unwrap();
        let t = c.table("hostname").unwrap();
        assert_eq!(t.num_rows(), 1);
        assert_eq!(
            t.get(0, "hostname").and_then(Value::as_text),
            Some(Hostname::current().as_str())
        );
    }
}
