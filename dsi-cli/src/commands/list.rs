//! `dsi list`: records and replays, newest first, filtered without SQL so it
//! works on every driver.

use dsi_core::{Driver, Error, Filter, FilterOp, Query, Table, TableQuery, Timestamp, Value};
use dsi_plugins_charliecloud::records::{RUNS, text_at};
use serde_json::json;

use crate::backends;
use crate::cli::{GlobalArgs, ListArgs};
use crate::exit::ExitStatus;
use crate::output::outln;
use crate::output::{print_json, print_table};

/// The filters of `dsi list` as a table query.
pub(crate) fn query(args: &ListArgs) -> anyhow::Result<TableQuery> {
    let mut q = TableQuery::new(RUNS).order_by("recorded_at", true);
    if let Some(i) = &args.image {
        q = q.filter(Filter::new("image_ref", FilterOp::StartsWith, i.as_str()));
    }
    if let Some(h) = &args.host {
        q = q.filter(Filter::new("hostname", FilterOp::Eq, h.as_str()));
    }
    if let Some(c) = &args.commit {
        q = q.filter(Filter::new(
            "commit",
            FilterOp::StartsWith,
            c.to_ascii_lowercase(),
        ));
    }
    if let Some(f) = &args.function {
        q = q.filter(Filter::new("function", FilterOp::Eq, f.as_str()));
    }
    if let Some(s) = &args.since {
        let t = parse_since(s)?;
        q = q.filter(Filter::new("recorded_at", FilterOp::Ge, t));
    }
    if !args.all {
        q = q.limit(args.limit);
    }
    Ok(q)
}

/// `--since`: an RFC 3339 time, a date (`2026-11-29`), or an age (`90m`, `12h`, `7d`).
fn parse_since(s: &str) -> anyhow::Result<Timestamp> {
    if let Ok(t) = Timestamp::parse_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(t) = Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z")) {
        return Ok(t);
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let secs: i64 = match (num.parse::<i64>(), unit) {
        (Ok(n), "m") => n * 60,
        (Ok(n), "h") => n * 3600,
        (Ok(n), "d") => n * 86_400,
        _ => anyhow::bail!(Error::InvalidData(format!(
            "--since '{s}': expected a date (2026-11-29), a time (RFC 3339) or an age (90m, 12h, 7d)"
        ))),
    };
    Ok(Timestamp::from_micros(
        Timestamp::now().as_micros() - secs * 1_000_000,
    ))
}

/// Rows from every back-end (the first that has the table), newest first.
pub(crate) fn rows(stores: &[Box<dyn Driver>], q: &TableQuery) -> anyhow::Result<Option<Table>> {
    for d in stores {
        match d.get(&Query::Table(q.clone())) {
            Ok(c) => return Ok(c.into_tables().into_iter().next()),
            Err(Error::NotFound { what }) if what == format!("table '{RUNS}'") => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

fn short(s: Option<String>, n: usize) -> String {
    s.map(|s| s.chars().take(n).collect()).unwrap_or_default()
}

/// `dsi list`.
pub(crate) fn run(global: &GlobalArgs, args: &ListArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let table = rows(&stores, &query(args)?)?;
    let n = table.as_ref().map_or(0, Table::num_rows);
    if global.json {
        let items: Vec<serde_json::Value> = (0..n)
            .map(|r| {
                let t = table.as_ref().expect("rows exist");
                let get = |c: &str| t.get(r, c).map_or(serde_json::Value::Null, Value::to_json);
                json!({
                    "run_id": get("run_id"), "function": get("function"), "recorded_at": get("recorded_at"),
                    "parent_run_id": get("parent_run_id"), "commit": get("commit"), "image": get("image_ref"),
                    "image_digest": get("image_digest"), "exit_code": get("exit_code"),
                    "duration_ms": get("duration_ms"), "hostname": get("hostname"),
                })
            })
            .collect();
        print_json(&items)?;
        return Ok(ExitStatus::Ok);
    }
    let Some(t) = table else {
        outln!("no runs recorded yet")?;
        return Ok(ExitStatus::Ok);
    };
    let rows: Vec<Vec<String>> = (0..n)
        .map(|r| {
            let when = t
                .get(r, "recorded_at")
                .map(ToString::to_string)
                .unwrap_or_default();
            vec![
                short(text_at(&t, r, "run_id"), 26),
                short(text_at(&t, r, "function"), 8),
                when.chars().take(19).collect::<String>().replace('T', " "),
                short(text_at(&t, r, "commit"), 10),
                t.get(r, "exit_code")
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                short(text_at(&t, r, "hostname"), 20),
                short(text_at(&t, r, "image_ref"), 60),
            ]
        })
        .collect();
    print_table(
        &[
            "RUN",
            "FUNCTION",
            "RECORDED (UTC)",
            "COMMIT",
            "EXIT",
            "HOST",
            "IMAGE",
        ],
        &rows,
    )?;
    Ok(ExitStatus::Ok)
}
