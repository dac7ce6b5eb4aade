//! `dsi config`: the effective settings and where each came from.

use crate::json::{ConfigFile, Setting, Settings};

use crate::cli::GlobalArgs;
use crate::config;
use crate::exit::ExitStatus;
use crate::output::outln;
use crate::output::{print_json, print_table};

/// An option's value as `dsi config` shows it: secrets as `***`.
fn shown(key: &str, value: &str) -> String {
    if config::is_secret(key) {
        "***".into()
    } else {
        value.to_owned()
    }
}

/// `dsi config`.
pub(crate) fn show(global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let eff = config::effective(global)?;
    if global.json {
        print_json(&Settings {
            driver: Setting {
                driver: None,
                key: None,
                value: eff.drivers.0.clone().into(),
                source: eff.drivers.1.to_string(),
            },
            stores: eff
                .stores
                .iter()
                .map(|(d, v, s)| Setting {
                    driver: Some(d.clone()),
                    key: None,
                    value: v.clone().into(),
                    source: s.to_string(),
                })
                .collect(),
            options: eff
                .options
                .iter()
                .map(|(k, v, s)| Setting {
                    driver: None,
                    key: Some(k.clone()),
                    value: shown(k, v).into(),
                    source: s.to_string(),
                })
                .collect(),
            files: eff
                .files
                .iter()
                .map(|(p, e)| ConfigFile {
                    path: p.display().to_string(),
                    exists: *e,
                })
                .collect(),
        })?;
        return Ok(ExitStatus::Ok);
    }
    let mut rows = vec![vec![
        "driver".to_owned(),
        eff.drivers.0.join(", "),
        eff.drivers.1.to_string(),
    ]];
    if eff.stores.is_empty() {
        rows.push(vec![
            "store".into(),
            "(each driver's default)".into(),
            "default".into(),
        ]);
    }
    for (d, v, s) in &eff.stores {
        rows.push(vec![format!("store ({d})"), v.clone(), s.to_string()]);
    }
    for (k, v, s) in &eff.options {
        rows.push(vec![format!("option {k}"), shown(k, v), s.to_string()]);
    }
    print_table(&["SETTING", "VALUE", "FROM"], &rows)?;
    outln!()?;
    for (p, exists) in &eff.files {
        outln!(
            "{} {}",
            if *exists { "read   " } else { "absent " },
            p.display()
        )?;
    }
    Ok(ExitStatus::Ok)
}
