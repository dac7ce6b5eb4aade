//! The driver conformance suite: one set of round-trip checks that every
//! back-end runs from its `tests/conformance.rs` (feature `conformance`).
//!
//! The checks panic on failure, like assertions in a test. Each uses its own
//! table names, so they can share one store. Capabilities are parameters, not
//! skips: a driver says what it offers in [`Capabilities`] and the suite
//! checks exactly that. Not part of the stable API.

use std::collections::BTreeSet;
use std::io::{self, Read};

use crate::blob::{BlobRef, copy_verified, read_verified};
use crate::driver::{BlobPut, Driver, Filter, FilterOp, Query, TableQuery};
use crate::error::{Error, Result};
use crate::table::{Collection, Column, Table};
use crate::value::{DataType, Timestamp, Value};

/// Opens the store under test; called again to "reopen" it.
pub type Opener<'a> = dyn Fn() -> Result<Box<dyn Driver>> + Sync + 'a;

/// What the driver under test offers.
pub struct Capabilities<'a> {
    /// Blob content is streamed, so storing and reading a 256 MiB blob keeps
    /// the process's peak memory far below the blob's size.
    pub bounded_blob_memory: bool,
    /// `Query::Sql` is answered.
    pub sql: bool,
    /// Overwrites stored content of a blob behind the driver's back.
    pub corrupt_blob: &'a dyn Fn(&BlobRef, &[u8]) -> Result<()>,
}

/// Runs every check against a fresh store.
pub fn run_all(open: &Opener<'_>, caps: &Capabilities<'_>) {
    let d = open().expect("open the store under test");
    round_trip_all_types(d.as_ref());
    hostile_names(d.as_ref());
    empty_and_wide_tables(d.as_ref());
    repeated_puts_append(d.as_ref());
    schema_evolution_and_atomic_put(d.as_ref());
    filters_order_and_limit(d.as_ref());
    missing_table_is_not_found(d.as_ref());
    small_blobs(d.as_ref());
    corrupted_blob_is_detected(d.as_ref(), caps);
    if caps.sql {
        sql_queries(d.as_ref());
    }
    inspect_reports_tables_and_blobs(d.as_ref());
    drop(d);
    survives_reopen(open);
    concurrent_writers(open);
    large_blob_streamed(open().expect("reopen").as_ref(), caps.bounded_blob_memory);
}

fn get_table(d: &dyn Driver, name: &str) -> Table {
    let c = d
        .get(&Query::Table(TableQuery::new(name)))
        .unwrap_or_else(|e| panic!("{}: get '{name}': {e}", d.name()));
    assert_eq!(c.tables().len(), 1, "{}: get returns one table", d.name());
    c.tables()[0].clone()
}

fn put(d: &dyn Driver, t: &Table) {
    d.put(&Collection::of(t.clone()))
        .unwrap_or_else(|e| panic!("{}: put '{}': {e}", d.name(), t.name()));
}

fn assert_same(d: &dyn Driver, expected: &Table, actual: &Table) {
    assert_eq!(actual.name(), expected.name(), "{}: table name", d.name());
    assert_eq!(
        actual.schema(),
        expected.schema(),
        "{}: schema of '{}'",
        d.name(),
        expected.name()
    );
    assert_eq!(
        actual.num_rows(),
        expected.num_rows(),
        "{}: rows of '{}'",
        d.name(),
        expected.name()
    );
    for (a, e) in actual.columns().iter().zip(expected.columns()) {
        for (row, (x, y)) in a.values().iter().zip(e.values()).enumerate() {
            let same = match (x, y) {
                // Compared by value: SQLite stores integral REALs as integers,
                // so -0.0 reads back as 0.0 there (documented in its crate).
                (Value::Float(p), Value::Float(q)) => p == q,
                _ => x == y,
            };
            assert!(
                same,
                "{}: '{}'.'{}' row {row}: stored {y:?}, read back {x:?}",
                d.name(),
                expected.name(),
                e.name()
            );
        }
    }
}

/// The table used by the all-types check.
pub fn all_types_table(name: &str) -> Table {
    let blob = BlobRef::of_bytes(b"conformance");
    let col = |n: &str, t, v: Vec<Value>| Column::new(n, t, v).expect("valid column");
    Table::from_columns(
        name,
        vec![
            col(
                "b",
                DataType::Bool,
                vec![true.into(), false.into(), Value::Null, true.into()],
            ),
            col(
                "i",
                DataType::Int,
                vec![i64::MIN.into(), 0i64.into(), Value::Null, i64::MAX.into()],
            ),
            col(
                "f",
                DataType::Float,
                vec![
                    (-0.0f64).into(),
                    f64::INFINITY.into(),
                    Value::Null,
                    1.0e-300.into(),
                ],
            ),
            col(
                "t",
                DataType::Text,
                vec![
                    "".into(),
                    "ünïcødé ✓ \u{1F600}".into(),
                    Value::Null,
                    "it's \"quoted\"; -- not sql\n\ttab".into(),
                ],
            ),
            col(
                "y",
                DataType::Bytes,
                vec![
                    Vec::new().into(),
                    vec![0u8, 255, 0, 1].into(),
                    Value::Null,
                    vec![7u8; 1000].into(),
                ],
            ),
            col(
                "r",
                DataType::Blob,
                vec![blob.into(), Value::Null, Value::Null, blob.into()],
            ),
            col(
                "ts",
                DataType::Timestamp,
                vec![
                    Timestamp::from_micros(0).into(),
                    Timestamp::from_micros(-1_000_001).into(),
                    Value::Null,
                    Timestamp::from_micros(1_796_000_000_123_456).into(),
                ],
            ),
            col("n", DataType::Text, vec![Value::Null; 4]),
        ],
    )
    .expect("valid table")
}

/// Every value type, nulls in every column, extreme values.
pub fn round_trip_all_types(d: &dyn Driver) {
    let t = all_types_table("conf_types");
    put(d, &t);
    assert_same(d, &t, &get_table(d, "conf_types"));
}

/// Unicode names and names that would break naive SQL.
pub fn hostile_names(d: &dyn Driver) {
    let names = [
        "a b",
        "x\"; DROP TABLE conf_types; --",
        "ünï",
        "select",
        "'",
        "[x]",
        "`y`",
    ];
    let columns = names
        .iter()
        .enumerate()
        .map(|(i, n)| Column::new(*n, DataType::Int, vec![Value::Int(i as i64)]).expect("column"))
        .collect();
    let t = Table::from_columns("données ✓ \"; DROP TABLE conf_types; --", columns).expect("table");
    put(d, &t);
    assert_same(d, &t, &get_table(d, t.name()));
    // The injection attempt did nothing.
    assert_eq!(
        get_table(d, "conf_types").num_rows(),
        4,
        "{}: conf_types intact",
        d.name()
    );
    let f = TableQuery::new(t.name()).filter(Filter::new(names[1], FilterOp::Eq, 1i64));
    let got = d
        .get(&Query::Table(f))
        .expect("filter on a hostile column name");
    assert_eq!(got.tables()[0].num_rows(), 1);
}

/// A table with columns and no rows; a table with 500 columns.
pub fn empty_and_wide_tables(d: &dyn Driver) {
    let empty = Table::with_schema("conf_empty", &[("a", DataType::Int), ("b", DataType::Text)])
        .expect("table");
    put(d, &empty);
    assert_same(d, &empty, &get_table(d, "conf_empty"));

    let columns = (0..500)
        .map(|i| {
            let t = DataType::ALL[i % DataType::ALL.len()];
            let v = match t {
                DataType::Bool => Value::Bool(i % 2 == 0),
                DataType::Int => Value::Int(i as i64),
                DataType::Float => Value::Float(i as f64 / 3.0),
                DataType::Text => Value::Text(format!("v{i}")),
                DataType::Bytes => Value::Bytes(vec![i as u8; 3]),
                DataType::Blob => Value::Blob(BlobRef::of_bytes(&i.to_le_bytes())),
                DataType::Timestamp => Value::Timestamp(Timestamp::from_micros(i as i64)),
            };
            Column::new(format!("c{i:03}"), t, vec![v, Value::Null]).expect("column")
        })
        .collect();
    let wide = Table::from_columns("conf_wide", columns).expect("table");
    put(d, &wide);
    assert_same(d, &wide, &get_table(d, "conf_wide"));
}

fn int_table(name: &str, column: &str, values: impl IntoIterator<Item = i64>) -> Table {
    Table::from_columns(
        name,
        vec![
            Column::new(
                column,
                DataType::Int,
                values.into_iter().map(Value::Int).collect(),
            )
            .expect("column"),
        ],
    )
    .expect("table")
}

/// Two puts of the same table append, in order.
pub fn repeated_puts_append(d: &dyn Driver) {
    put(d, &int_table("conf_append", "n", 0..3));
    put(d, &int_table("conf_append", "n", 3..5));
    let got = get_table(d, "conf_append");
    assert_same(d, &int_table("conf_append", "n", 0..5), &got);
}

/// A later put may add a column; a type change is refused and a put that
/// fails in its second table leaves the first unwritten.
pub fn schema_evolution_and_atomic_put(d: &dyn Driver) {
    put(d, &int_table("conf_evolve", "a", [1]));
    let mut two = int_table("conf_evolve", "a", [2]);
    two.add_column(Column::new("b", DataType::Text, vec!["x".into()]).expect("column"))
        .expect("add");
    put(d, &two);
    let got = get_table(d, "conf_evolve");
    assert_eq!(
        got.column("b").expect("b").values(),
        &[Value::Null, "x".into()],
        "{}",
        d.name()
    );

    let mut c = Collection::new();
    c.push(int_table("conf_atomic", "a", [1])).expect("push");
    c.push(
        Table::from_columns(
            "conf_evolve",
            vec![Column::new("a", DataType::Text, vec!["not an int".into()]).expect("column")],
        )
        .expect("table"),
    )
    .expect("push");
    let e = d.put(&c).expect_err("a type change must be refused");
    assert!(
        e.to_string().contains("'a'"),
        "{}: the error names the column: {e}",
        d.name()
    );
    assert!(
        matches!(
            d.get(&Query::Table(TableQuery::new("conf_atomic"))),
            Err(Error::NotFound { kind: "table", .. })
        ),
        "{}: nothing of a failed put is visible",
        d.name()
    );
    assert_eq!(get_table(d, "conf_evolve").num_rows(), 2);
}

/// Filters, order and limit agree with the in-memory evaluation.
pub fn filters_order_and_limit(d: &dyn Driver) {
    let t = all_types_table("conf_filter");
    put(d, &t);
    let queries = [
        TableQuery::new("conf_filter").filter(Filter::new("i", FilterOp::Ge, 0i64)),
        TableQuery::new("conf_filter").filter(Filter::new("t", FilterOp::StartsWith, "ün")),
        TableQuery::new("conf_filter").filter(Filter::new("b", FilterOp::Eq, true)),
        TableQuery::new("conf_filter").filter(Filter::new(
            "ts",
            FilterOp::Lt,
            Timestamp::from_micros(0),
        )),
        TableQuery::new("conf_filter")
            .filter(Filter::new("i", FilterOp::Ne, 0i64))
            .order_by("i", true),
        TableQuery::new("conf_filter").order_by("t", false).limit(2),
        TableQuery::new("conf_filter").filter(Filter::new("f", FilterOp::Gt, 0.5)),
    ];
    for q in queries {
        let expected = q.apply(t.clone()).expect("in-memory");
        let got = d
            .get(&Query::Table(q.clone()))
            .unwrap_or_else(|e| panic!("{}: {q:?}: {e}", d.name()));
        assert_same(d, &expected, &got.tables()[0]);
    }
    let e = d
        .get(&Query::Table(
            TableQuery::new("conf_filter").filter(Filter::new("nope", FilterOp::Eq, 1i64)),
        ))
        .expect_err("unknown column");
    assert!(e.to_string().contains("'nope'"), "{}: {e}", d.name());
}

/// A table that was never written is `NotFound`, naming it.
pub fn missing_table_is_not_found(d: &dyn Driver) {
    let e = d
        .get(&Query::Table(TableQuery::new("conf_never_written")))
        .expect_err("missing table");
    assert!(e.is_not_found("table"), "{}: {e}", d.name());
    assert!(
        e.to_string().contains("conf_never_written"),
        "{}: {e}",
        d.name()
    );
}

/// Small blobs: stored once, read back, wrong content refused.
pub fn small_blobs(d: &dyn Driver) {
    let content = b"small blob content".to_vec();
    let r = BlobRef::of_bytes(&content);
    assert_eq!(
        d.put_blob(&r, &mut &content[..]).expect("put_blob"),
        BlobPut::Stored
    );
    assert_eq!(
        d.put_blob(&r, &mut &content[..]).expect("put_blob"),
        BlobPut::AlreadyPresent
    );
    assert!(d.has_blob(&r).expect("has_blob"));
    assert!(d.list_blobs().expect("list_blobs").contains(&r));
    assert_eq!(
        read_verified(d.get_blob(&r).expect("get_blob")).expect("read"),
        content
    );

    let empty = BlobRef::of_bytes(b"");
    d.put_blob(&empty, &mut io::empty()).expect("empty blob");
    assert_eq!(
        read_verified(d.get_blob(&empty).expect("get")).expect("read"),
        b""
    );

    let claimed = BlobRef::of_bytes(b"what was promised");
    let e = d
        .put_blob(&claimed, &mut &b"something else"[..])
        .expect_err("mismatch");
    assert!(matches!(e, Error::Corrupt(_)), "{}: {e}", d.name());
    assert!(
        !d.has_blob(&claimed).expect("has_blob"),
        "{}: nothing stored",
        d.name()
    );
    let e = d.get_blob(&claimed).expect_err("absent");
    assert!(e.is_not_found("blob"), "{}: {e}", d.name());
}

/// Content changed in storage is detected when read.
pub fn corrupted_blob_is_detected(d: &dyn Driver, caps: &Capabilities<'_>) {
    let content = b"content that will be damaged".to_vec();
    let r = BlobRef::of_bytes(&content);
    d.put_blob(&r, &mut &content[..]).expect("put_blob");
    (caps.corrupt_blob)(&r, b"content that WILL be damaged").expect("corrupt");
    let e = d
        .get_blob(&r)
        .and_then(read_verified)
        .expect_err("corruption must be detected");
    assert!(matches!(e, Error::Corrupt(_)), "{}: {e}", d.name());
    assert!(e.to_string().contains(&r.sha256_hex()), "{}: {e}", d.name());
}

/// SQL pass-through answers with typed values.
pub fn sql_queries(d: &dyn Driver) {
    let c = d
        .get(&Query::Sql("SELECT count(*) AS n FROM conf_append".into()))
        .expect("sql");
    assert_eq!(
        c.tables()[0].get(0, "n"),
        Some(&Value::Int(5)),
        "{}",
        d.name()
    );
}

/// Data written, then the driver dropped and the store opened again.
pub fn survives_reopen(open: &Opener<'_>) {
    {
        let d = open().expect("open");
        put(d.as_ref(), &int_table("conf_reopen", "n", [42]));
    }
    let d = open().expect("reopen");
    assert_same(
        d.as_ref(),
        &int_table("conf_reopen", "n", [42]),
        &get_table(d.as_ref(), "conf_reopen"),
    );
    assert_eq!(get_table(d.as_ref(), "conf_types").num_rows(), 4);
}

/// Eight threads, each with its own handle, put 25 rows each: 200 rows, none
/// lost or duplicated.
pub fn concurrent_writers(open: &Opener<'_>) {
    const THREADS: i64 = 8;
    const PUTS: i64 = 25;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let d = open().expect("open in thread");
                for i in 0..PUTS {
                    put(
                        d.as_ref(),
                        &int_table("conf_concurrent", "n", [t * 1000 + i]),
                    );
                }
            });
        }
    });
    let d = open().expect("open");
    let got = get_table(d.as_ref(), "conf_concurrent");
    let seen: BTreeSet<i64> = got
        .column("n")
        .expect("n")
        .values()
        .iter()
        .map(|v| v.as_int().expect("int"))
        .collect();
    assert_eq!(
        got.num_rows(),
        (THREADS * PUTS) as usize,
        "{}: rows",
        d.name()
    );
    assert_eq!(
        seen.len(),
        (THREADS * PUTS) as usize,
        "{}: no duplicates",
        d.name()
    );
}

/// Deterministic, incompressible-enough content of a given length.
#[derive(Debug)]
pub struct PatternReader {
    remaining: u64,
    block: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl PatternReader {
    /// `len` bytes of pattern.
    pub fn new(len: u64) -> Self {
        PatternReader {
            remaining: len,
            block: 0,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for PatternReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        if self.pos == self.buf.len() {
            self.buf = (0..(1u32 << 16))
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ self.block as u8)
                .collect();
            self.buf[..8].copy_from_slice(&self.block.to_le_bytes());
            self.block += 1;
            self.pos = 0;
        }
        let n = out
            .len()
            .min(self.buf.len() - self.pos)
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// `inspect` lists every table written so far with its row count and
/// columns, and counts the stored blobs and their bytes.
pub fn inspect_reports_tables_and_blobs(d: &dyn Driver) {
    let t = int_table("conf_inspect", "n", [1, 2, 3]);
    put(d, &t);
    let ins = d
        .inspect()
        .unwrap_or_else(|e| panic!("{}: inspect: {e}", d.name()));
    assert_eq!(ins.driver, d.name(), "inspect names its driver");
    assert_eq!(
        ins.location,
        d.location(),
        "{}: inspect's location",
        d.name()
    );
    let info = ins
        .tables
        .iter()
        .find(|i| i.name == "conf_inspect")
        .unwrap_or_else(|| panic!("{}: inspect lists the table just written", d.name()));
    assert_eq!(info.rows, 3, "{}: rows of conf_inspect", d.name());
    assert_eq!(info.columns.len(), 1);
    assert_eq!(info.columns[0].name, "n");
    assert_eq!(info.columns[0].data_type, DataType::Int);
    let names: Vec<&str> = ins.tables.iter().map(|t| t.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "{}: tables in name order", d.name());
    let listed = d.list_blobs().expect("list blobs");
    assert_eq!(ins.blobs, listed.len() as u64, "{}: blob count", d.name());
    assert_eq!(
        ins.blob_bytes,
        listed.iter().map(BlobRef::len).sum::<u64>(),
        "{}: blob bytes",
        d.name()
    );
    assert!(
        !names
            .iter()
            .any(|n| n.to_ascii_lowercase().starts_with("_dsi")),
        "{}: internal tables are not listed: {names:?}",
        d.name()
    );
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A 256 MiB blob written and read back as streams. With
/// `bounded_blob_memory`, the peak resident memory may grow by at most 64 MiB.
pub fn large_blob_streamed(d: &dyn Driver, bounded_blob_memory: bool) {
    const LEN: u64 = 256 << 20;
    let r = BlobRef::compute(&mut PatternReader::new(LEN)).expect("hash pattern");
    // Reset the peak-RSS watermark (Linux: "5" clears VmHWM for this process).
    // A check that cannot measure fails: it would otherwise pass unseen.
    if bounded_blob_memory {
        std::fs::write("/proc/self/clear_refs", "5")
            .expect("cannot reset the peak-RSS watermark (/proc/self/clear_refs): memory bound not measurable");
    }
    let before = peak_rss_kib();
    assert_eq!(
        d.put_blob(&r, &mut PatternReader::new(LEN))
            .expect("put large blob"),
        BlobPut::Stored
    );
    let n = copy_verified(d.get_blob(&r).expect("get large blob"), &mut io::sink())
        .expect("read large blob");
    assert_eq!(n, LEN);
    if bounded_blob_memory {
        let (Some(b), Some(a)) = (before, peak_rss_kib()) else {
            panic!(
                "{}: cannot read VmHWM from /proc/self/status: memory bound not measurable",
                d.name()
            );
        };
        assert!(
            a.saturating_sub(b) < 64 * 1024,
            "{}: peak RSS grew by {} MiB while streaming a 256 MiB blob",
            d.name(),
            a.saturating_sub(b) / 1024
        );
    }
}
