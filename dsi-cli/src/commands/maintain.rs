//! `dsi compact` and `dsi migrate`: store maintenance through the drivers
//! ([`dsi_core::Driver::compact`], [`dsi_core::DriverEntry::migrate_store`]).
//! Back-ends without the operation say so (exit 2); SQLite needs neither.

use dsi_core::Access;

use crate::cli::GlobalArgs;
use crate::exit::ExitStatus;
use crate::json::{StoreCompaction, StoreMigration};
use crate::output::{outln, print_json};
use crate::stores;

/// Bytes as MiB with one decimal.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// `dsi compact`.
pub(crate) fn compact(global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadWrite)?;
    let mut done = Vec::with_capacity(drivers.len());
    for d in &drivers {
        let compaction = d.compact()?;
        done.push(StoreCompaction {
            driver: d.name().to_owned(),
            location: d.location().to_string(),
            compaction,
        });
    }
    if global.json {
        print_json(&done)?;
        return Ok(ExitStatus::Ok);
    }
    for s in &done {
        outln!("{} store {}:", s.driver, s.location)?;
        for t in &s.compaction.tables {
            outln!(
                "  {}: {} files ({}) -> {} files ({}); {} unreferenced removed",
                t.table,
                t.files_before,
                mib(t.bytes_before),
                t.files_after,
                mib(t.bytes_after),
                t.files_removed
            )?;
        }
        for n in &s.compaction.notes {
            outln!("  {n}")?;
        }
    }
    Ok(ExitStatus::Ok)
}

/// `dsi migrate`.
pub(crate) fn migrate(global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let done: Vec<StoreMigration> = stores::migrate(global)?
        .into_iter()
        .map(|(driver, migration)| StoreMigration {
            driver: driver.to_owned(),
            migration,
        })
        .collect();
    if global.json {
        print_json(&done)?;
        return Ok(ExitStatus::Ok);
    }
    for s in &done {
        let m = &s.migration;
        if m.already_current {
            outln!(
                "{} store {}: already of the current layout",
                s.driver,
                m.location
            )?;
            continue;
        }
        outln!("{} store {}: migrated", s.driver, m.location)?;
        for t in &m.tables {
            outln!("  {}: {} files, {} rows", t.table, t.files, t.rows)?;
        }
    }
    Ok(ExitStatus::Ok)
}
