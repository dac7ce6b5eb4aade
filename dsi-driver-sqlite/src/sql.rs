//! Rows in and out of SQLite: typed put, filtered get, read-only SQL
//! pass-through and inspection.
//!
//! Identifiers are always quoted with [`quote`]; values are always bound
//! parameters. The only text spliced into statements is quoted identifiers,
//! fixed keywords and `?` placeholders.

use std::path::Path;

use dsi_core::{
    BlobRef, Column, ColumnInfo, DataType, Error, Filter, FilterOp, Inspection, Table, TableInfo,
    TableQuery, Timestamp, Value,
};
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::schema::{
    INTERNAL_PREFIX, decl_type, declared_columns, from_decl_type, is_reserved, quote,
    record_column, recorded_columns,
};

/// An error inside a statement: a database error with what was being done,
/// or a dsi error (bad data, unknown table) ready to return.
#[derive(Debug)]
pub(crate) enum SqlError {
    Db {
        what: String,
        source: rusqlite::Error,
    },
    Dsi(Error),
}

impl SqlError {
    pub(crate) fn into_error(self, path: &Path) -> Error {
        match self {
            SqlError::Db { what, source } => crate::err(path, &what, source),
            SqlError::Dsi(e) => e,
        }
    }
}

impl From<Error> for SqlError {
    fn from(e: Error) -> Self {
        SqlError::Dsi(e)
    }
}

type SqlResult<T> = Result<T, SqlError>;

fn db(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> SqlError {
    let what = what.into();
    move |source| SqlError::Db { what, source }
}

/// The columns of a table with their dsi types, or `None` if it does not
/// exist. The type dsi recorded in `_dsi_columns` wins over the declared
/// type, which another tool may have rewritten (see `schema`).
fn table_columns(conn: &Connection, table: &str) -> SqlResult<Option<Vec<(String, DataType)>>> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()
        .map_err(db(format!("looking up table '{table}'")))?;
    if exists.is_none() {
        return Ok(None);
    }
    let declared =
        declared_columns(conn, table).map_err(db(format!("reading columns of '{table}'")))?;
    let recorded =
        recorded_columns(conn, table).map_err(db(format!("reading column types of '{table}'")))?;
    declared
        .into_iter()
        .map(|(name, decl)| {
            let t = match recorded.get(&name) {
                Some(t) => *t,
                None => column_type(table, &name, &decl)?,
            };
            Ok((name, t))
        })
        .collect::<SqlResult<Vec<_>>>()
        .map(Some)
}

fn column_type(table: &str, name: &str, decl: &str) -> SqlResult<DataType> {
    from_decl_type(decl).ok_or_else(|| {
        SqlError::Dsi(Error::InvalidData(format!(
            "column '{name}' of table '{table}' has declared type '{decl}', which dsi cannot read"
        )))
    })
}

fn check_table_name(name: &str) -> SqlResult<()> {
    if is_reserved(name) || name.to_ascii_lowercase().starts_with("sqlite_") {
        return Err(SqlError::Dsi(Error::InvalidData(format!(
            "table name '{name}' is reserved (names starting with '{INTERNAL_PREFIX}' or 'sqlite_')"
        ))));
    }
    Ok(())
}

/// Converts a dsi value to what is bound for it.
pub(crate) fn to_sql(table: &str, column: &str, v: &Value) -> SqlResult<ToSqlOutput<'static>> {
    Ok(ToSqlOutput::Owned(match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Float(f) if f.is_nan() => {
            return Err(SqlError::Dsi(Error::InvalidData(format!(
                "column '{column}' of table '{table}': NaN cannot be stored in SQLite (it would read back as null)"
            ))));
        }
        Value::Float(f) => SqlValue::Real(*f),
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Bytes(b) => SqlValue::Blob(b.clone()),
        Value::Blob(b) => SqlValue::Text(blob_json(b)),
        Value::Timestamp(t) => SqlValue::Text(t.to_rfc3339()),
    }))
}

fn blob_json(b: &BlobRef) -> String {
    format!("{{\"sha256\":\"{}\",\"len\":{}}}", b.sha256_hex(), b.len())
}

fn parse_blob_json(text: &str) -> Option<BlobRef> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let digest = BlobRef::parse_hex_digest(v.get("sha256")?.as_str()?).ok()?;
    Some(BlobRef::new(digest, v.get("len")?.as_u64()?))
}

/// Converts a stored value back to a dsi value of type `t`.
fn from_sql(t: DataType, v: ValueRef<'_>, table: &str, column: &str) -> SqlResult<Value> {
    let bad = |what: &str| {
        SqlError::Dsi(Error::InvalidData(format!(
            "column '{column}' of table '{table}' is {t} but holds {what}"
        )))
    };
    Ok(match (t, v) {
        (_, ValueRef::Null) => Value::Null,
        (DataType::Bool, ValueRef::Integer(i)) => Value::Bool(i != 0),
        (DataType::Int, ValueRef::Integer(i)) => Value::Int(i),
        // pandas writes an integer column that has nulls as REAL.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::float_cmp,
            reason = "only integral values within i64 are accepted"
        )]
        (DataType::Int, ValueRef::Real(f)) if f.fract() == 0.0 && f.abs() < 9.0e18 => {
            Value::Int(f as i64)
        }
        (DataType::Bool, ValueRef::Real(f)) if f == 0.0 || f == 1.0 => Value::Bool(f != 0.0),
        (DataType::Float, ValueRef::Real(f)) => Value::Float(f),
        #[allow(
            clippy::cast_precision_loss,
            reason = "an integer in a REAL column reads as a float"
        )]
        (DataType::Float, ValueRef::Integer(i)) => Value::Float(i as f64),
        (DataType::Text, ValueRef::Text(s)) => Value::Text(String::from_utf8_lossy(s).into_owned()),
        (DataType::Text, ValueRef::Integer(i)) => Value::Text(i.to_string()),
        (DataType::Text, ValueRef::Real(f)) => Value::Text(f.to_string()),
        (DataType::Bytes, ValueRef::Blob(b)) => Value::Bytes(b.to_vec()),
        (DataType::Bytes, ValueRef::Text(b)) => Value::Bytes(b.to_vec()),
        (DataType::Blob, ValueRef::Text(s)) => Value::Blob(
            std::str::from_utf8(s)
                .ok()
                .and_then(parse_blob_json)
                .ok_or_else(|| bad("text that is not a blob reference"))?,
        ),
        (DataType::Timestamp, ValueRef::Text(s)) => {
            let s = std::str::from_utf8(s).map_err(|_| bad("invalid UTF-8"))?;
            Value::Timestamp(
                Timestamp::parse_rfc3339(s).map_err(|_| bad(&format!("'{s}', not a timestamp")))?,
            )
        }
        (_, ValueRef::Integer(_)) => return Err(bad("an integer")),
        (_, ValueRef::Real(_)) => return Err(bad("a float")),
        (_, ValueRef::Text(_)) => return Err(bad("text")),
        (_, ValueRef::Blob(_)) => return Err(bad("bytes")),
    })
}

/// Indexes a timestamp column when it is created: records are listed
/// newest first (`ORDER BY recorded_at DESC LIMIT n`) and filtered by time,
/// which without an index reads every row of the table.
fn index_if_timestamp(conn: &Connection, table: &str, column: &str, ty: DataType) -> SqlResult<()> {
    if ty != DataType::Timestamp {
        return Ok(());
    }
    conn.execute(
        &format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
            quote(&format!("_dsi_index:{table}:{column}")),
            quote(table),
            quote(column)
        ),
        [],
    )
    .map_err(db(format!("indexing column '{column}' of '{table}'")))?;
    Ok(())
}

/// Appends a table's rows inside the caller's transaction, creating the
/// table or adding new columns as needed.
pub(crate) fn put_table(conn: &Connection, table: &Table) -> SqlResult<()> {
    let name = table.name();
    check_table_name(name)?;
    match table_columns(conn, name)? {
        None => {
            if table.num_columns() == 0 {
                return Err(SqlError::Dsi(Error::InvalidData(format!(
                    "table '{name}' has no columns; SQLite cannot store it"
                ))));
            }
            let cols: Vec<String> = table
                .columns()
                .iter()
                .map(|c| format!("{} {}", quote(c.name()), decl_type(c.data_type())))
                .collect();
            conn.execute(
                &format!("CREATE TABLE {} ({})", quote(name), cols.join(", ")),
                [],
            )
            .map_err(db(format!("creating table '{name}'")))?;
            for c in table.columns() {
                index_if_timestamp(conn, name, c.name(), c.data_type())?;
                record_column(conn, name, c.name(), c.data_type())
                    .map_err(db(format!("recording the type of '{}'", c.name())))?;
            }
        }
        Some(existing) => {
            for c in table.columns() {
                match existing.iter().find(|(n, _)| n == c.name()) {
                    Some((_, have)) => {
                        let have = *have;
                        if have != c.data_type() {
                            return Err(SqlError::Dsi(Error::InvalidData(format!(
                                "column '{}' of table '{name}' is {have} in the store but {} in the rows put",
                                c.name(),
                                c.data_type()
                            ))));
                        }
                    }
                    None => {
                        conn.execute(
                            &format!(
                                "ALTER TABLE {} ADD COLUMN {} {}",
                                quote(name),
                                quote(c.name()),
                                decl_type(c.data_type())
                            ),
                            [],
                        )
                        .map_err(db(format!("adding column '{}' to '{name}'", c.name())))?;
                        index_if_timestamp(conn, name, c.name(), c.data_type())?;
                        record_column(conn, name, c.name(), c.data_type())
                            .map_err(db(format!("recording the type of '{}'", c.name())))?;
                    }
                }
            }
        }
    }
    if table.num_rows() == 0 {
        return Ok(());
    }
    let names: Vec<String> = table.columns().iter().map(|c| quote(c.name())).collect();
    let marks = vec!["?"; names.len()].join(", ");
    let mut stmt = conn
        .prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            quote(name),
            names.join(", ")
        ))
        .map_err(db(format!("preparing insert into '{name}'")))?;
    let mut row = Vec::with_capacity(table.num_columns());
    for r in 0..table.num_rows() {
        row.clear();
        for c in table.columns() {
            row.push(to_sql(name, c.name(), &c.values()[r])?);
        }
        stmt.execute(params_from_iter(row.iter()))
            .map_err(db(format!("inserting into '{name}'")))?;
    }
    Ok(())
}

fn op_sql(op: FilterOp) -> &'static str {
    match op {
        FilterOp::Eq => "=",
        FilterOp::Ne => "<>",
        FilterOp::Lt => "<",
        FilterOp::Le => "<=",
        FilterOp::Gt => ">",
        FilterOp::Ge => ">=",
        FilterOp::StartsWith => unreachable!("rendered separately"),
    }
}

/// The `WHERE` clause of a query's filters and its parameters.
fn where_clause(
    q: &TableQuery,
    cols: &[(String, DataType)],
) -> SqlResult<(String, Vec<ToSqlOutput<'static>>)> {
    let name = q.table.as_str();
    let mut sql = String::new();
    let mut params: Vec<ToSqlOutput<'static>> = Vec::new();
    for (i, Filter { column, op, value }) in q.filters.iter().enumerate() {
        if !cols.iter().any(|(n, _)| n == column) {
            return Err(no_column(name, column));
        }
        sql.push_str(if i == 0 { " WHERE " } else { " AND " });
        if *op == FilterOp::StartsWith {
            let Value::Text(prefix) = value else {
                sql.push('0'); // never true, as in Filter::matches
                continue;
            };
            // substr/length count characters; no LIKE, so no wildcards.
            sql.push_str(&format!("substr({}, 1, length(?)) = ?", quote(column)));
            params.push(ToSqlOutput::Owned(SqlValue::Text(prefix.clone())));
            params.push(ToSqlOutput::Owned(SqlValue::Text(prefix.clone())));
        } else {
            sql.push_str(&format!("{} {} ?", quote(column), op_sql(*op)));
            params.push(to_sql(name, column, value)?);
        }
    }
    Ok((sql, params))
}

fn no_column(table: &str, column: &str) -> SqlError {
    SqlError::Dsi(Error::not_found_in(
        "column",
        column,
        format!("table '{table}'"),
    ))
}

fn no_table(table: &str) -> SqlError {
    SqlError::Dsi(Error::not_found("table", table))
}

/// Reads a table with the query's filters, order, limit and projection done
/// by SQLite.
pub(crate) fn get_table(conn: &Connection, q: &TableQuery) -> SqlResult<Table> {
    let name = q.table.as_str();
    let all = table_columns(conn, name)?.ok_or_else(|| no_table(name))?;
    // Only the columns asked for (those that exist), in table order.
    let cols: Vec<(String, DataType)> = match &q.columns {
        Some(wanted) => all
            .iter()
            .filter(|(n, _)| wanted.iter().any(|w| w == n))
            .cloned()
            .collect(),
        None => all.clone(),
    };
    let select: Vec<String> = cols.iter().map(|(n, _)| quote(n)).collect();
    let select = if select.is_empty() {
        "1".to_owned()
    } else {
        select.join(", ")
    };
    let (filter_sql, mut params) = where_clause(q, &all)?;
    let mut sql = format!("SELECT {select} FROM {}{filter_sql}", quote(name));
    match &q.order_by {
        Some(o) => {
            if !all.iter().any(|(n, _)| n == &o.column) {
                return Err(no_column(name, &o.column));
            }
            let dir = if o.descending { "DESC" } else { "ASC" };
            sql.push_str(&format!(
                " ORDER BY {} {dir}, rowid {dir}",
                quote(&o.column)
            ));
        }
        None => sql.push_str(" ORDER BY rowid"),
    }
    if let Some(n) = q.limit {
        sql.push_str(" LIMIT ?");
        params.push(ToSqlOutput::Owned(SqlValue::Integer(
            i64::try_from(n).unwrap_or(i64::MAX),
        )));
    }

    let mut stmt = conn
        .prepare(&sql)
        .map_err(db(format!("reading table '{name}'")))?;
    let mut rows = stmt
        .query(params_from_iter(params.iter()))
        .map_err(db(format!("reading table '{name}'")))?;
    let mut values: Vec<Vec<Value>> = vec![Vec::new(); cols.len()];
    while let Some(row) = rows.next().map_err(db(format!("reading table '{name}'")))? {
        for (i, (col, t)) in cols.iter().enumerate() {
            let v = row
                .get_ref(i)
                .map_err(db(format!("reading table '{name}'")))?;
            values[i].push(from_sql(*t, v, name, col)?);
        }
    }
    let columns = cols
        .iter()
        .zip(values)
        .map(|((n, t), v)| Column::new(n, *t, v))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Table::from_columns(name, columns)?)
}

/// Counts the rows a query's filters select.
pub(crate) fn count_rows(conn: &Connection, q: &TableQuery) -> SqlResult<u64> {
    let name = q.table.as_str();
    let all = table_columns(conn, name)?.ok_or_else(|| no_table(name))?;
    let (filter_sql, params) = where_clause(q, &all)?;
    let n: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM {}{filter_sql}", quote(name)),
            params_from_iter(params.iter()),
            |r| r.get(0),
        )
        .map_err(db(format!("counting rows of '{name}'")))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Runs a read-only SQL statement; the result is a table named `query`.
///
/// Column types come from the declared type when the column is a plain table
/// column, otherwise from the values (integers and floats together become
/// floats; anything mixed with text becomes text).
pub(crate) fn run_query(conn: &Connection, sql: &str) -> SqlResult<Table> {
    let refused = || {
        SqlError::Dsi(Error::Refused(
            "only read-only SQL is accepted; records are written by dsi commands".into(),
        ))
    };
    let mut stmt = conn.prepare(sql).map_err(|e| match e {
        // The statement itself is at fault (syntax, unknown table or
        // column, several statements): invalid input, not a store error.
        rusqlite::Error::SqlInputError { .. } | rusqlite::Error::MultipleStatement => {
            SqlError::Dsi(Error::InvalidData(format!("SQL query: {e}")))
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::Unknown => {
            SqlError::Dsi(Error::InvalidData(format!("SQL query: {e}")))
        }
        e => db("preparing the query")(e),
    })?;
    // SQLite counts transaction control (BEGIN, SAVEPOINT, …) as read-only;
    // an open transaction would block every later put on this connection.
    if !stmt.readonly() || !conn.is_autocommit() {
        return Err(refused());
    }
    let result = query_rows(&mut stmt);
    drop(stmt);
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(refused());
    }
    result
}

/// Runs a prepared query and converts its rows.
fn query_rows(stmt: &mut rusqlite::Statement<'_>) -> SqlResult<Table> {
    let meta: Vec<(String, Option<DataType>)> = stmt
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.decl_type().and_then(from_decl_type)))
        .collect();
    let mut raw: Vec<Vec<SqlValue>> = vec![Vec::new(); meta.len()];
    let mut rows = stmt.query([]).map_err(db("running the query"))?;
    while let Some(row) = rows.next().map_err(db("running the query"))? {
        for (i, col) in raw.iter_mut().enumerate() {
            col.push(row.get::<_, SqlValue>(i).map_err(db("running the query"))?);
        }
    }
    let mut table = Table::new("query")?;
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for ((name, declared), col) in meta.into_iter().zip(raw) {
        let n = seen.entry(name.clone()).or_insert(0);
        *n += 1;
        let unique = if *n == 1 { name } else { format!("{name}:{n}") };
        let t = declared.unwrap_or_else(|| infer_type(&col));
        // Values that do not fit the column's type (SQLite is dynamically
        // typed) turn the whole column into text rather than failing.
        let typed: Option<Vec<Value>> = col
            .iter()
            .map(|v| from_sql(t, ValueRef::from(v), "query", &unique).ok())
            .collect();
        let (t, values) = match typed {
            Some(values) => (t, values),
            None => (
                DataType::Text,
                col.iter().map(|v| to_text(&loose(v))).collect(),
            ),
        };
        table.add_column(Column::new(unique, t, values)?)?;
    }
    Ok(table)
}

fn infer_type(values: &[SqlValue]) -> DataType {
    let (mut int, mut real, mut text, mut blob) = (false, false, false, false);
    for v in values {
        match v {
            SqlValue::Null => {}
            SqlValue::Integer(_) => int = true,
            SqlValue::Real(_) => real = true,
            SqlValue::Text(_) => text = true,
            SqlValue::Blob(_) => blob = true,
        }
    }
    match (int, real, text, blob) {
        (_, _, true, _) => DataType::Text,
        (false, false, false, true) => DataType::Bytes,
        (_, _, false, true) => DataType::Text,
        (_, true, false, false) => DataType::Float,
        _ => DataType::Int,
    }
}

/// A value by its storage class alone.
fn loose(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Int(*i),
        SqlValue::Real(f) => Value::Float(*f),
        SqlValue::Text(s) => Value::Text(s.clone()),
        SqlValue::Blob(b) => Value::Bytes(b.clone()),
    }
}

fn to_text(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::Text(_) => v.clone(),
        Value::Bytes(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
        other => Value::Text(other.to_string()),
    }
}

/// Tables (with columns and row counts) and blob totals.
pub(crate) fn inspect(conn: &Connection, location: &dsi_core::Location) -> SqlResult<Inspection> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table'
             AND lower(substr(name, 1, 7)) <> 'sqlite_' ORDER BY name",
        )
        .map_err(db("listing tables"))?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db("listing tables"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db("listing tables"))?
        .into_iter()
        .filter(|n| !is_reserved(n))
        .collect();
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        // A table whose declared types dsi cannot read is listed as text.
        let cols = table_columns(conn, &name).unwrap_or_else(|_| {
            Some(
                declared_columns(conn, &name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(n, d)| (n, from_decl_type(&d).unwrap_or(DataType::Text)))
                    .collect(),
            )
        });
        let cols = cols.unwrap_or_default();
        let rows: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {}", quote(&name)), [], |r| {
                r.get(0)
            })
            .map_err(db(format!("counting rows of '{name}'")))?;
        tables.push(TableInfo {
            columns: cols
                .iter()
                .map(|(n, t)| ColumnInfo {
                    name: n.clone(),
                    data_type: *t,
                })
                .collect(),
            name,
            rows: u64::try_from(rows).unwrap_or(0),
            files: None,
        });
    }
    // A store dsi did not write has no blob table.
    let (blobs, blob_bytes): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(len), 0) FROM _dsi_blobs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .or_else(|e| match &e {
            rusqlite::Error::SqliteFailure(_, Some(m)) if m.starts_with("no such table") => {
                Ok((0, 0))
            }
            _ => Err(e),
        })
        .map_err(db("counting blobs"))?;
    Ok(Inspection {
        driver: "sqlite".into(),
        location: location.clone(),
        tables,
        blobs: u64::try_from(blobs).unwrap_or(0),
        blob_bytes: u64::try_from(blob_bytes).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inferred_types_follow_the_values() {
        use SqlValue::*;
        assert_eq!(infer_type(&[Integer(1), Null]), DataType::Int);
        assert_eq!(infer_type(&[Integer(1), Real(0.5)]), DataType::Float);
        assert_eq!(infer_type(&[Integer(1), Text("a".into())]), DataType::Text);
        assert_eq!(infer_type(&[Blob(vec![1])]), DataType::Bytes);
        assert_eq!(infer_type(&[Null]), DataType::Int);
    }

    #[test]
    fn timestamp_columns_are_indexed_and_newest_first_uses_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::SqliteDriver::open(dir.path().join("dsi.db")).unwrap();
        let conn = db.conn();
        let t = Table::from_columns(
            "runs",
            vec![
                dsi_core::Column::new("id", DataType::Int, vec![Value::Int(1)]).unwrap(),
                dsi_core::Column::new(
                    "at",
                    DataType::Timestamp,
                    vec![Value::Timestamp(Timestamp::from_micros(0))],
                )
                .unwrap(),
            ],
        )
        .unwrap();
        put_table(&conn, &t).unwrap();
        // A timestamp column added later is indexed too.
        let later = Table::from_columns(
            "runs",
            vec![
                dsi_core::Column::new(
                    "done",
                    DataType::Timestamp,
                    vec![Value::Timestamp(Timestamp::from_micros(1))],
                )
                .unwrap(),
            ],
        )
        .unwrap();
        put_table(&conn, &later).unwrap();
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'runs' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["_dsi_index:runs:at", "_dsi_index:runs:done"]);
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT * FROM \"runs\" ORDER BY \"at\" DESC LIMIT 20",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("_dsi_index:runs:at"), "{plan}");
    }

    #[test]
    fn queries_cannot_attach_files_or_leave_a_transaction_open() {
        // Regression: ATTACH and BEGIN count as read-only in SQLite, so
        // `dsi query "ATTACH 'x.db' AS x"` created x.db, and BEGIN left a
        // transaction open that made every later put on the connection fail.
        let dir = tempfile::tempdir().unwrap();
        let db = crate::SqliteDriver::open(dir.path().join("dsi.db")).unwrap();
        let attach = format!(
            "ATTACH DATABASE '{}' AS x",
            dir.path().join("x.db").display()
        );
        let conn = db.conn();
        assert!(run_query(&conn, &attach).is_err());
        assert!(!dir.path().join("x.db").exists(), "ATTACH created a file");
        for sql in ["BEGIN", "BEGIN IMMEDIATE", "SAVEPOINT s"] {
            match run_query(&conn, sql) {
                Err(SqlError::Dsi(Error::Refused(_))) => {}
                other => panic!("{sql}: {other:?}"),
            }
            assert!(conn.is_autocommit(), "{sql} left a transaction open");
        }
        assert_eq!(run_query(&conn, "SELECT 1 AS one").unwrap().num_rows(), 1);
    }

    #[test]
    fn blob_refs_round_trip_as_json() {
        let b = BlobRef::of_bytes(b"x");
        assert_eq!(parse_blob_json(&blob_json(&b)), Some(b));
        assert_eq!(parse_blob_json("{\"sha256\":\"zz\",\"len\":1}"), None);
    }
}
