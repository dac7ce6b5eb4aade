//! `dsi inspect --notebook PATH`: a Jupyter notebook (nbformat 4.5) that
//! opens the stores with pandas, as the 2023 DSI Parquet driver's inspect did.
//!
//! A markdown cell describes each store (driver, location, tables and their
//! rows, from [`dsi_core::Driver::inspect`]); a code cell per store loads its
//! `runs` table into `frames[LABEL]`:
//!
//! * `sqlite` — `sqlite3.connect(path)` and `pd.read_sql_query(…)`;
//! * `parquet` — the Delta table: `deltalake.DeltaTable(path + "/runs")`;
//! * `s3` — the same at its `s3://` URL, with exactly the endpoint, region
//!   and scheme dsi used as `storage_options` (an `AWS_ENDPOINT_URL` in the
//!   notebook's environment does not redirect it to another store) and the
//!   credentials read from the environment when the notebook runs (none
//!   are written into it).
//!
//! Then `runs` is the first store's frame, and two cells show the runs per
//! function and the newest runs, and the `kernel_info` of the newest run.
//! Paths are absolute, so the notebook runs from any directory. It lives
//! with the records because its code names their columns.

use std::path::{Path, PathBuf};

use dsi_core::{Error, Inspection, Location, Timestamp};
use serde_json::{Value, json};

use super::RUNS;

/// A Python string literal (JSON's escapes are Python's).
fn py(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "''".into())
}

/// Notebook `source`: lines, each but the last ending in a newline.
fn source(text: &str) -> Value {
    let text = text.trim_end_matches('\n');
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    json!(lines)
}

fn markdown(id: &str, text: &str) -> Value {
    json!({"cell_type": "markdown", "id": id, "metadata": {}, "source": source(text)})
}

fn code(id: &str, text: &str) -> Value {
    json!({
        "cell_type": "code",
        "execution_count": null,
        "id": id,
        "metadata": {},
        "outputs": [],
        "source": source(text),
    })
}

/// An absolute path for a store path (a file or a directory).
fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

/// The code that loads the store's `runs` into `frames[label]`, or `None`
/// for a driver pandas cannot read.
fn load_code(ins: &Inspection, label: &str, has_runs: bool) -> Option<String> {
    let target = format!("frames[{}]", py(label));
    if !has_runs {
        return Some(format!(
            "# The store has no `runs` table yet.\n{target} = pd.DataFrame()\n"
        ));
    }
    match &ins.location {
        Location::File { path } => {
            let path = absolute(path).display().to_string();
            Some(format!(
                "import sqlite3\n\
                 \n\
                 con = sqlite3.connect({path})\n\
                 try:\n    \
                     {target} = pd.read_sql_query(\"SELECT * FROM {RUNS} ORDER BY recorded_at DESC\", con)\n\
                 finally:\n    \
                     con.close()\n\
                 {target}.head()\n",
                path = py(&path),
            ))
        }
        Location::Directory { path } => {
            let path = absolute(path).display().to_string();
            Some(format!(
                "from deltalake import DeltaTable\n\
                 \n\
                 path = {path}\n\
                 {target} = DeltaTable(path + \"/{RUNS}\").to_pandas()\n\
                 {target}.head()\n",
                path = py(&path),
            ))
        }
        Location::ObjectStore {
            url,
            endpoint,
            region,
            allow_http,
        } => {
            let uri = format!("{}/{RUNS}", url.trim_end_matches('/'));
            let endpoint = endpoint.as_deref().map_or_else(|| "None".to_owned(), py);
            let region = py(region.as_deref().unwrap_or("us-east-1"));
            let allow_http = if *allow_http { "True" } else { "False" };
            Some(format!(
                "import os\n\
                 from deltalake import DeltaTable\n\
                 \n\
                 # Exactly the endpoint and region dsi used (not AWS_ENDPOINT_URL from the\n\
                 # environment, which could name another store). Credentials are read from\n\
                 # the environment here and never stored in the notebook.\n\
                 endpoint = {endpoint}\n\
                 options = {{\"AWS_REGION\": {region}}}\n\
                 if endpoint:\n    \
                     options[\"AWS_ENDPOINT_URL\"] = endpoint\n\
                 if {allow_http}:\n    \
                     options[\"AWS_ALLOW_HTTP\"] = \"true\"\n\
                 for variable in (\"AWS_ACCESS_KEY_ID\", \"AWS_SECRET_ACCESS_KEY\", \"AWS_SESSION_TOKEN\"):\n    \
                     if os.environ.get(variable):\n        \
                         options[variable] = os.environ[variable]\n\
                 {target} = DeltaTable({uri}, storage_options=options).to_pandas()\n\
                 {target}.head()\n",
                uri = py(&uri),
            ))
        }
        Location::Other { .. } => None,
    }
}

/// The markdown describing the stores.
fn describe(stores: &[Inspection], now: Timestamp) -> String {
    let mut md = format!(
        "# dsi store{}\n\nWritten by `dsi inspect --notebook` (dsi {}) at {}. \
         Each store's `runs` table (one row per record or replay) is loaded into \
         `frames`; `runs` is the first store's.\n",
        if stores.len() == 1 { "" } else { "s" },
        env!("CARGO_PKG_VERSION"),
        now.to_rfc3339()
    );
    for ins in stores {
        let location = match &ins.location {
            Location::File { path } | Location::Directory { path } => {
                absolute(path).display().to_string()
            }
            other => other.to_string(),
        };
        md.push_str(&format!(
            "\n## {} store at `{location}`\n\n| table | rows | columns |\n|---|---:|---:|\n",
            ins.driver
        ));
        for t in &ins.tables {
            md.push_str(&format!(
                "| `{}` | {} | {} |\n",
                t.name,
                t.rows,
                t.columns.len()
            ));
        }
        if ins.tables.is_empty() {
            md.push_str("| (none) | | |\n");
        }
        md.push_str(&format!(
            "\nBlobs: {} ({} bytes).\n",
            ins.blobs, ins.blob_bytes
        ));
    }
    md
}

const SETUP: &str = "\
import json

import pandas as pd

pd.set_option(\"display.max_colwidth\", 80)
frames = {}
";

const SUMMARY: &str = "\
runs = next(iter(frames.values()), pd.DataFrame())
if runs.empty:
    print(\"no runs recorded yet\")
else:
    runs = runs.convert_dtypes()  # nullable integers: exit_code stays 0, not 0.0
    runs[\"recorded_at\"] = pd.to_datetime(runs[\"recorded_at\"], utc=True, format=\"ISO8601\")
    # Runs per function: consumer = record, producer = replay.
    display(runs.groupby(\"function\").size().rename(\"runs\").to_frame())
    shown = [c for c in [\"run_id\", \"function\", \"recorded_at\", \"commit\", \"exit_code\",
                         \"duration_ms\", \"hostname\", \"image_ref\"] if c in runs.columns]
    display(runs.sort_values(\"recorded_at\", ascending=False)[shown].head(10))
";

const KERNEL: &str = "\
# The system of the newest run that recorded one (`kernel_info`, JSON).
with_info = runs.dropna(subset=[\"kernel_info\"]) if \"kernel_info\" in runs.columns else runs.iloc[0:0]
if with_info.empty:
    print(\"no run has kernel_info\")
else:
    newest = with_info.sort_values(\"recorded_at\", ascending=False).iloc[0]
    kernel_info = json.loads(newest[\"kernel_info\"])
    sections = kernel_info.get(\"sections\", {})
    print(f\"run {newest['run_id']} on {newest['hostname']}: {kernel_info.get('schema')}\")
    print(\"sections:\", \", \".join(sorted(sections)))
    summary = {name: sections[name] for name in (\"kernel\", \"cpu\", \"memory\", \"cgroup\", \"charliecloud\")
               if isinstance(sections.get(name), dict)}
    display(pd.DataFrame([(s, k, str(v)) for s, d in summary.items() for k, v in d.items()],
                         columns=[\"section\", \"key\", \"value\"]))
";

/// The notebook for the stores.
pub fn notebook(stores: &[Inspection], now: Timestamp) -> Value {
    let mut cells = vec![
        markdown("store", &describe(stores, now)),
        code("setup", SETUP),
    ];
    for (i, ins) in stores.iter().enumerate() {
        let label = if stores.len() == 1 {
            ins.driver.clone()
        } else {
            format!("{}:{i}", ins.driver)
        };
        let has_runs = ins.tables.iter().any(|t| t.name == RUNS);
        let id = format!("load-{i}");
        match load_code(ins, &label, has_runs) {
            Some(text) => cells.push(code(&id, &text)),
            None => cells.push(markdown(
                &id,
                &format!(
                    "The {} driver has no pandas reader here; query it with `dsi query`.",
                    ins.driver
                ),
            )),
        }
    }
    cells.push(code("runs", SUMMARY));
    cells.push(code("kernel-info", KERNEL));
    json!({
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    })
}

/// Writes the notebook to `path`.
pub fn write(path: &Path, stores: &[Inspection]) -> dsi_core::Result<()> {
    let mut text = serde_json::to_vec_pretty(&notebook(stores, Timestamp::now()))
        .map_err(|e| Error::InvalidData(e.to_string()))?;
    text.push(b'\n');
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use dsi_core::driver::TableInfo;

    use super::*;

    fn store(driver: &str, location: Location) -> Inspection {
        Inspection {
            driver: driver.into(),
            location,
            tables: vec![TableInfo {
                name: "runs".into(),
                columns: Vec::new(),
                rows: 3,
                files: None,
            }],
            blobs: 1,
            blob_bytes: 2045,
        }
    }

    fn sources(nb: &Value) -> Vec<String> {
        nb["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["source"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn sqlite_and_parquet_stores_are_opened_by_absolute_path() {
        let nb = notebook(
            &[
                store(
                    "sqlite",
                    Location::File {
                        path: "/data/dsi.db".into(),
                    },
                ),
                store(
                    "parquet",
                    Location::Directory {
                        path: "/data/ds".into(),
                    },
                ),
            ],
            Timestamp::from_micros(0),
        );
        assert_eq!(nb["nbformat"], 4);
        assert_eq!(nb["nbformat_minor"], 5);
        let s = sources(&nb);
        assert!(
            s[0].contains("## sqlite store at `/data/dsi.db`"),
            "{}",
            s[0]
        );
        assert!(s[0].contains("| `runs` | 3 | 0 |"), "{}", s[0]);
        assert!(
            s[2].contains("sqlite3.connect(\"/data/dsi.db\")"),
            "{}",
            s[2]
        );
        assert!(
            s[2].contains(
                "pd.read_sql_query(\"SELECT * FROM runs ORDER BY recorded_at DESC\", con)"
            )
        );
        assert!(s[3].contains("path = \"/data/ds\""), "{}", s[3]);
        assert!(
            s[3].contains("frames[\"parquet:1\"] = DeltaTable(path + \"/runs\").to_pandas()"),
            "{}",
            s[3]
        );
        let ids: Vec<&str> = nb["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            ["store", "setup", "load-0", "load-1", "runs", "kernel-info"]
        );
    }

    #[test]
    fn s3_reads_credentials_from_the_environment_only() {
        let nb = notebook(
            &[store(
                "s3",
                Location::ObjectStore {
                    url: "s3://bucket/pre".into(),
                    endpoint: Some("http://127.0.0.1:9000".into()),
                    region: Some("eu-1".into()),
                    allow_http: true,
                },
            )],
            Timestamp::from_micros(0),
        );
        let s = sources(&nb);
        let load = &s[2];
        assert!(
            load.contains("DeltaTable(\"s3://bucket/pre/runs\", storage_options=options)"),
            "{load}"
        );
        assert!(
            load.contains("endpoint = \"http://127.0.0.1:9000\"\n"),
            "{load}"
        );
        assert!(load.contains("{\"AWS_REGION\": \"eu-1\"}"), "{load}");
        assert!(
            load.contains("if True:\n    options[\"AWS_ALLOW_HTTP\"]"),
            "{load}"
        );
        assert!(load.contains("\"AWS_SECRET_ACCESS_KEY\", \"AWS_SESSION_TOKEN\""));
        assert!(!load.contains("secret"), "{load}");
    }

    #[test]
    fn an_unknown_driver_or_an_empty_store_still_gives_a_notebook() {
        let mut empty = store(
            "sqlite",
            Location::File {
                path: "/x/dsi.db".into(),
            },
        );
        empty.tables.clear();
        let other = store(
            "memory",
            Location::Other {
                description: "x".into(),
            },
        );
        let nb = notebook(&[other, empty], Timestamp::from_micros(0));
        let s = sources(&nb);
        assert_eq!(nb["cells"][2]["cell_type"], "markdown");
        assert!(
            s[3].contains("frames[\"sqlite:1\"] = pd.DataFrame()"),
            "{}",
            s[3]
        );
    }

    #[test]
    fn sources_split_into_lines() {
        assert_eq!(source("a\nb\n"), json!(["a\n", "b"]));
    }
}
