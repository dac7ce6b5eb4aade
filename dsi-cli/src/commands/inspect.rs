//! `dsi inspect`: a summary of every selected store — tables, row counts,
//! blob bytes and the newest runs; with `--notebook PATH`, also a Jupyter
//! notebook that opens the stores with pandas ([`super::notebook`]).

use dsi_core::{Filter, FilterOp, Query, TableQuery};
use dsi_plugins_charliecloud::records::{RUNS, text_at};
use serde_json::json;

use crate::backends;
use crate::cli::{GlobalArgs, InspectArgs};
use crate::exit::ExitStatus;
use crate::output::outln;
use crate::output::{print_json, print_table};

/// `dsi inspect`.
pub(crate) fn run(global: &GlobalArgs, args: &InspectArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let mut out = Vec::new();
    for d in &stores {
        let ins = d.inspect()?;
        let newest = d
            .get(&Query::Table(
                TableQuery::new(RUNS)
                    .filter(Filter::new("run_id", FilterOp::Ne, ""))
                    .order_by("recorded_at", true)
                    .limit(5),
            ))
            .ok()
            .and_then(|c| c.into_tables().into_iter().next());
        let newest: Vec<serde_json::Value> = newest
            .map(|t| {
                (0..t.num_rows())
                    .map(|r| {
                        json!({
                            "run_id": text_at(&t, r, "run_id"),
                            "function": text_at(&t, r, "function"),
                            "recorded_at": t.get(r, "recorded_at").map(ToString::to_string),
                            "commit": text_at(&t, r, "commit"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push((ins, newest));
    }
    if let Some(path) = &args.notebook {
        let inspections: Vec<_> = out.iter().map(|(ins, _)| ins.clone()).collect();
        super::notebook::write(path, &inspections)?;
    }
    let notebook = args
        .notebook
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    if global.json {
        let v: Vec<serde_json::Value> = out
            .iter()
            .map(|(ins, newest)| json!({"store": ins, "newest_runs": newest}))
            .collect();
        match notebook {
            // With --notebook: {"format", "path"} like `dsi export`, and the stores.
            Some(p) => print_json(&json!({
                "format": "ipynb",
                "path": p.display().to_string(),
                "stores": v,
            }))?,
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
                    n["run_id"].as_str().unwrap_or(""),
                    n["function"].as_str().unwrap_or(""),
                    n["recorded_at"].as_str().unwrap_or(""),
                    n["commit"]
                        .as_str()
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
