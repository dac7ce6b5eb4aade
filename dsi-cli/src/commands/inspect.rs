//! `dsi inspect`: a summary of every selected store — tables, row counts,
//! blob bytes and the newest runs; with `--notebook PATH`, also a Jupyter
//! notebook that opens the stores with pandas (the library's
//! `records::notebook`).

use dsi_core::{Access, Stores};
use dsi_plugins_charliecloud::listing::{self, RunSummary};
use dsi_plugins_charliecloud::records::notebook;
use dsi_plugins_charliecloud::records::query::ListFilter;

use crate::cli::{GlobalArgs, InspectArgs};
use crate::exit::ExitStatus;
use crate::json::{StoreSummary, Written};
use crate::output::{outln, print_json, print_table};
use crate::stores;

/// `dsi inspect`.
pub(crate) fn run(global: &GlobalArgs, args: &InspectArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let mut out = Vec::new();
    for d in &drivers {
        let ins = d.inspect()?;
        let one = std::slice::from_ref(d);
        let newest: Vec<RunSummary> =
            listing::list(Stores::new(one), &ListFilter::default(), Some(5))
                .map(|p| p.runs)
                .unwrap_or_default();
        out.push((ins, newest));
    }
    if let Some(path) = &args.notebook {
        let inspections: Vec<_> = out.iter().map(|(ins, _)| ins.clone()).collect();
        notebook::write(path, &inspections)?;
    }
    let notebook = args
        .notebook
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    if global.json {
        let v: Vec<StoreSummary> = out
            .iter()
            .map(|(ins, newest)| StoreSummary {
                store: ins.clone(),
                newest_runs: newest.clone(),
            })
            .collect();
        match notebook {
            // With --notebook: {"format", "path"} like `dsi export`, and the stores.
            Some(p) => print_json(&Written {
                format: "ipynb".into(),
                path: p.display().to_string(),
                run_id: None,
                stores: Some(v),
            })?,
            None => print_json(&v)?,
        }
        return Ok(ExitStatus::Ok);
    }
    for (i, (ins, newest)) in out.iter().enumerate() {
        if i > 0 {
            outln!()?;
        }
        outln!("{} store at {}", ins.driver, ins.location)?;
        let rows: Vec<Vec<String>> = ins
            .tables
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.rows.to_string(),
                    t.columns.len().to_string(),
                    t.files.map(|f| f.to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        print_table(&["TABLE", "ROWS", "COLUMNS", "FILES"], &rows)?;
        outln!("blobs: {} ({} bytes)", ins.blobs, ins.blob_bytes)?;
        if !newest.is_empty() {
            outln!("newest runs:")?;
            for n in newest {
                outln!(
                    "  {}  {:<8}  {}  {}",
                    n.run_id,
                    n.function.as_str(),
                    n.recorded_at.as_deref().unwrap_or(""),
                    n.commit
                        .as_deref()
                        .map(|c| &c[..c.len().min(10)])
                        .unwrap_or("")
                )?;
            }
        }
    }
    if let Some(p) = notebook {
        outln!("\nnotebook: {}", p.display())?;
    }
    Ok(ExitStatus::Ok)
}
