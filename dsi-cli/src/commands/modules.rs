//! `dsi plugins` and `dsi drivers`: what this build contains.

use dsi_core::{ModuleInfo, ModuleKind, Terminal};

use crate::cli::GlobalArgs;
use crate::exit::ExitStatus;
use crate::output::{print_json, print_table};

fn show(global: &GlobalArgs, modules: Vec<ModuleInfo>) -> anyhow::Result<ExitStatus> {
    if global.json {
        print_json(&modules)?;
    } else {
        let rows: Vec<Vec<String>> = modules
            .iter()
            .map(|m| {
                let opts: Vec<String> = m
                    .options
                    .iter()
                    .map(|o| {
                        if o.required {
                            format!("{}=", o.name)
                        } else {
                            format!("[{}=]", o.name)
                        }
                    })
                    .collect();
                vec![
                    m.name.clone(),
                    m.function.clone(),
                    compact(&opts),
                    m.summary.clone(),
                ]
            })
            .collect();
        print_table(&["NAME", "FUNCTION", "OPTIONS", "SUMMARY"], &rows)?;
    }
    Ok(ExitStatus::Ok)
}

/// The options column: all of them when short, else the first few and a
/// count (`dsi drivers --json` lists every option with its help).
fn compact(opts: &[String]) -> String {
    let all = opts.join(" ");
    if all.chars().count() <= 32 {
        return all;
    }
    let mut shown = String::new();
    let mut n = 0;
    for o in opts {
        if shown.chars().count() + o.chars().count() > 24 {
            break;
        }
        if !shown.is_empty() {
            shown.push(' ');
        }
        shown.push_str(o);
        n += 1;
    }
    format!("{shown} +{} more", opts.len() - n)
}

/// `dsi plugins`.
pub(crate) fn plugins(global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    show(
        global,
        Terminal::list_available_modules(ModuleKind::Plugin)?,
    )
}

/// `dsi drivers`.
pub(crate) fn drivers(global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    show(
        global,
        Terminal::list_available_modules(ModuleKind::Driver)?,
    )
}
