//! `dsi collect [PLUGIN]...`: run plugins through the Terminal and store (or
//! print) what they collect — by default the environment plugins `hostname`
//! and `system-kernel`, one row each.

use dsi_core::{Access, HandlerOutput, Interaction, ModuleKind, Options, Terminal};

use crate::cli::{CollectArgs, GlobalArgs};
use crate::exit::ExitStatus;
use crate::output;
use crate::output::outln;
use crate::stores;

/// The plugins run when none is named.
const DEFAULT_PLUGINS: &[&str] = &["hostname", "system-kernel"]; // not a runs column

/// `dsi collect`.
pub(crate) fn run(global: &GlobalArgs, args: &CollectArgs) -> anyhow::Result<ExitStatus> {
    let mut terminal = Terminal::new();
    let names: Vec<&str> = if args.plugins.is_empty() {
        DEFAULT_PLUGINS.to_vec()
    } else {
        args.plugins.iter().map(String::as_str).collect()
    };
    for name in names {
        terminal.load_module(ModuleKind::Plugin, name, &Options::new())?;
    }
    if !args.print {
        for d in stores::open(global, Access::ReadWrite)? {
            terminal.load_driver(d)?;
        }
    }
    terminal.transload()?;
    if args.print {
        output::print_collection(terminal.middleware(), global.json)?;
        return Ok(ExitStatus::Ok);
    }
    let HandlerOutput::Stored { backends } = terminal.artifact_handler(Interaction::Put)? else {
        unreachable!("put answers Stored");
    };
    let tables: Vec<String> = terminal
        .middleware()
        .tables()
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    if global.json {
        output::print_json(&crate::json::Collected { tables, backends })?;
    } else {
        outln!(
            "stored 1 row in {} ({} back-end{})",
            tables.join(", "),
            backends,
            if backends == 1 { "" } else { "s" }
        )?;
    }
    Ok(ExitStatus::Ok)
}
