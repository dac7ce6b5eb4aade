//! `dsi list`: records and replays, newest first, filtered without SQL so it
//! works on every driver; says when it cut the output.

use dsi_core::{Access, Stores, Timestamp};
use dsi_plugins_charliecloud::listing::{self, ListPage, RunSummary};
use dsi_plugins_charliecloud::records::query::{Condition, ListFilter, parse_since};

use crate::cli::{GlobalArgs, ListArgs, RecordFilterArgs};
use crate::exit::ExitStatus;
use crate::output::{outln, print_json, print_table};
use crate::stores;

/// The filter of the record filter options (`dsi list`, `dsi campaign start`).
pub(crate) fn record_filter(args: &RecordFilterArgs) -> anyhow::Result<ListFilter> {
    Ok(ListFilter {
        image: args.image.clone(),
        host: args.host.clone(),
        commit: args.commit.clone(),
        since: match &args.since {
            Some(s) => Some(parse_since(s, Timestamp::now())?),
            None => None,
        },
        conditions: args
            .conditions
            .iter()
            .map(|c| Condition::parse(c))
            .collect::<Result<_, _>>()?,
        ..ListFilter::default()
    })
}

/// The filter of `dsi list`'s options.
fn filter(args: &ListArgs) -> anyhow::Result<ListFilter> {
    Ok(ListFilter {
        function: args.function.as_deref().and_then(|f| f.parse().ok()),
        verdict: args
            .verdict
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        ..record_filter(&args.filter)?
    })
}

fn short(s: Option<&str>, n: usize) -> String {
    s.map(|s| s.chars().take(n).collect()).unwrap_or_default()
}

/// One table row of a summary.
pub(crate) fn row(r: &RunSummary) -> Vec<String> {
    vec![
        r.run_id.clone(),
        r.function.as_str().to_owned(),
        short(r.recorded_at.as_deref(), 19).replace('T', " "),
        short(r.commit.as_deref(), 10),
        r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
        r.verdict.map(|v| v.as_str().to_owned()).unwrap_or_default(),
        short(r.hostname.as_deref(), 20),
        short(r.image.reference.as_deref(), 60),
    ]
}

/// The table header of [`row`].
pub(crate) const HEADER: &[&str] = &[
    "RUN",
    "FUNCTION",
    "RECORDED (UTC)",
    "COMMIT",
    "EXIT",
    "VERDICT",
    "HOST",
    "IMAGE",
];

/// `dsi list`.
pub(crate) fn run(global: &GlobalArgs, args: &ListArgs) -> anyhow::Result<ExitStatus> {
    let drivers = stores::open(global, Access::ReadOnly)?;
    let limit = (!args.all).then_some(args.limit);
    let page: ListPage = listing::list(Stores::new(&drivers), &filter(args)?, limit)?;
    if global.json {
        print_json(&page)?;
        return Ok(ExitStatus::Ok);
    }
    if page.runs.is_empty() {
        outln!("no runs recorded yet")?;
        return Ok(ExitStatus::Ok);
    }
    let rows: Vec<Vec<String>> = page.runs.iter().map(row).collect();
    print_table(HEADER, &rows)?;
    if page.total > page.runs.len() as u64 {
        outln!(
            "{} of {} shown; -n N or --all for more",
            page.runs.len(),
            page.total
        )?;
    }
    Ok(ExitStatus::Ok)
}
