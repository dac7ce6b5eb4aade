//! `dsi collect [PLUGIN]...`: run plugins through the Terminal and store (or
//! print) what they collect — by default the environment plugins `hostname`
//! and `system-kernel`, one row each.

use dsi_core::Access;

use crate::cli::{CollectArgs, GlobalArgs};
use crate::exit::ExitStatus;
use crate::output::{self, outln};
use crate::stores;

/// The plugins run when none is named.
const DEFAULT_PLUGINS: &[&str] = &["hostname", "system-kernel"]; // not a runs column

/// `dsi collect`.
pub(crate) fn run(global: &GlobalArgs, args: &CollectArgs) -> anyhow::Result<ExitStatus> {
    let names: Vec<&str> = if args.plugins.is_empty() {
        DEFAULT_PLUGINS.to_vec()
    } else {
        args.plugins.iter().map(String::as_str).collect()
    };
    let drivers = if args.print {
        Vec::new()
    } else {
        stores::open(global, Access::ReadWrite)?
    };
    let (collection, done) = dsi_core::collect::collect(&names, drivers)?;
    if args.print {
        output::print_collection(&collection, global.json)?;
    } else if global.json {
        output::print_json(&done)?;
    } else {
        outln!(
            "stored 1 row in {} ({} back-end{})",
            done.tables.join(", "),
            done.backends,
            if done.backends == 1 { "" } else { "s" }
        )?;
    }
    Ok(ExitStatus::Ok)
}
