//! Tables and collections: the DSI middleware.
//!
//! A [`Table`] is a name and ordered, typed [`Column`]s of equal length; the
//! invariants (equal lengths, unique column names, values matching the column
//! type) are enforced by every constructor and mutator, so a `Table` that
//! exists is always valid. A [`Collection`] is an ordered set of tables plus
//! the [`PendingBlob`]s their cells refer to.

use crate::blob::PendingBlob;
use crate::error::{Error, Result};
use crate::value::{DataType, Value};

/// One named, typed column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    name: String,
    data_type: DataType,
    values: Vec<Value>,
}

impl Column {
    /// A column of the given type; every value must be of that type or null.
    pub fn new(name: impl Into<String>, data_type: DataType, values: Vec<Value>) -> Result<Self> {
        let name = name.into();
        check_name("column", &name)?;
        for (row, v) in values.iter().enumerate() {
            check_value(&name, data_type, row, v)?;
        }
        Ok(Column {
            name,
            data_type,
            values,
        })
    }

    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's type.
    pub fn data_type(&self) -> DataType {
        self.data_type
    }

    /// The values, one per row.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Consumes the column, returning its values.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

fn check_name(kind: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidData(format!("{kind} name must not be empty")));
    }
    if name.contains('\0') {
        return Err(Error::InvalidData(format!(
            "{kind} name {name:?} contains a NUL character"
        )));
    }
    Ok(())
}

fn check_value(column: &str, data_type: DataType, row: usize, v: &Value) -> Result<()> {
    match v.data_type() {
        None => Ok(()),
        Some(t) if t == data_type => Ok(()),
        Some(t) => Err(Error::InvalidData(format!(
            "column '{column}' has type {data_type} but row {row} holds a {t} value"
        ))),
    }
}

/// A named table of typed columns of equal length.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    name: String,
    columns: Vec<Column>,
    rows: usize,
}

impl Table {
    /// An empty table with no columns.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        check_name("table", &name)?;
        Ok(Table {
            name,
            columns: Vec::new(),
            rows: 0,
        })
    }

    /// A table from columns, which must have equal lengths and unique names.
    pub fn from_columns(name: impl Into<String>, columns: Vec<Column>) -> Result<Self> {
        let mut t = Table::new(name)?;
        if let Some(first) = columns.first() {
            t.rows = first.len();
        }
        for c in columns {
            t.add_column(c)?;
        }
        Ok(t)
    }

    /// A table with the given schema and no rows.
    pub fn with_schema(name: impl Into<String>, schema: &[(&str, DataType)]) -> Result<Self> {
        let columns = schema
            .iter()
            .map(|(n, t)| Column::new(*n, *t, Vec::new()))
            .collect::<Result<Vec<_>>>()?;
        Table::from_columns(name, columns)
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the table.
    pub fn set_name(&mut self, name: impl Into<String>) -> Result<()> {
        let name = name.into();
        check_name("table", &name)?;
        self.name = name;
        Ok(())
    }

    /// The columns in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Position of the column with this name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn num_columns(&self) -> usize {
        self.columns.len()
    }

    /// Column names and types in order.
    pub fn schema(&self) -> Vec<(&str, DataType)> {
        self.columns
            .iter()
            .map(|c| (c.name.as_str(), c.data_type))
            .collect()
    }

    /// Adds a column; its length must equal the table's row count (any length
    /// is accepted for the first column of an empty table).
    pub fn add_column(&mut self, column: Column) -> Result<()> {
        if self.column(&column.name).is_some() {
            return Err(Error::InvalidData(format!(
                "table '{}' already has a column '{}'",
                self.name, column.name
            )));
        }
        if self.columns.is_empty() && self.rows == 0 {
            self.rows = column.len();
        }
        if column.len() != self.rows {
            return Err(Error::InvalidData(format!(
                "column '{}' has {} values but table '{}' has {} rows",
                column.name,
                column.len(),
                self.name,
                self.rows
            )));
        }
        self.columns.push(column);
        Ok(())
    }

    /// Appends one row given in column order.
    pub fn push_row(&mut self, row: Vec<Value>) -> Result<()> {
        if row.len() != self.columns.len() {
            return Err(Error::InvalidData(format!(
                "row has {} values but table '{}' has {} columns",
                row.len(),
                self.name,
                self.columns.len()
            )));
        }
        for (c, v) in self.columns.iter().zip(&row) {
            check_value(&c.name, c.data_type, self.rows, v)?;
        }
        for (c, v) in self.columns.iter_mut().zip(row) {
            c.values.push(v);
        }
        self.rows += 1;
        Ok(())
    }

    /// The value at `row` of the named column.
    pub fn get(&self, row: usize, column: &str) -> Option<&Value> {
        self.column(column).and_then(|c| c.values.get(row))
    }

    /// One row as a vector of values in column order.
    pub fn row(&self, row: usize) -> Option<Vec<&Value>> {
        (row < self.rows).then(|| self.columns.iter().map(|c| &c.values[row]).collect())
    }

    /// Pads every column with nulls to `rows` rows (never shortens).
    pub fn pad_to(&mut self, rows: usize) {
        if rows <= self.rows {
            return;
        }
        for c in &mut self.columns {
            c.values.resize(rows, Value::Null);
        }
        self.rows = rows;
    }

    /// Merges `other`'s columns side by side into this table, as the 2023 DSI
    /// transload did: row *i* of both tables describes the same record; the
    /// shorter side is padded with nulls. A column present in both must hold
    /// identical values, or the merge is refused.
    pub fn merge_columns(&mut self, other: Table) -> Result<()> {
        let rows = self.rows.max(other.rows);
        self.pad_to(rows);
        let mut other = other;
        other.pad_to(rows);
        for c in other.columns {
            match self.column(&c.name) {
                Some(existing) if existing == &c => {}
                Some(_) => {
                    return Err(Error::InvalidData(format!(
                        "two plugins wrote different values to column '{}' of table '{}'",
                        c.name, self.name
                    )));
                }
                None => self.add_column(c)?,
            }
        }
        Ok(())
    }

    /// Appends `other`'s rows below this table's (a repeated transload, or a
    /// read across several files). Columns are matched by name; a column that
    /// exists on one side only is padded with nulls on the other; a column
    /// whose type differs is refused.
    pub fn append_rows(&mut self, other: Table) -> Result<()> {
        for c in &other.columns {
            if let Some(mine) = self.column(&c.name)
                && mine.data_type != c.data_type
            {
                return Err(Error::InvalidData(format!(
                    "column '{}' of table '{}' is {} here but {} in the rows appended",
                    c.name, self.name, mine.data_type, c.data_type
                )));
            }
        }
        let before = self.rows;
        let after = before + other.rows;
        let mut other_cols: Vec<Option<Column>> = other.columns.into_iter().map(Some).collect();
        for mine in &mut self.columns {
            let theirs = other_cols
                .iter_mut()
                .find(|c| c.as_ref().is_some_and(|c| c.name == mine.name))
                .and_then(Option::take);
            match theirs {
                Some(c) => mine.values.extend(c.values),
                None => mine.values.resize(after, Value::Null),
            }
        }
        for c in other_cols.into_iter().flatten() {
            let mut values = vec![Value::Null; before];
            values.extend(c.values);
            self.columns.push(Column {
                name: c.name,
                data_type: c.data_type,
                values,
            });
        }
        self.rows = after;
        Ok(())
    }

    /// A table of the given rows, in the given order (indices may repeat;
    /// an index past the end is an error).
    pub fn select_rows(&self, rows: &[usize]) -> Result<Table> {
        if let Some(bad) = rows.iter().find(|r| **r >= self.rows) {
            return Err(Error::InvalidData(format!(
                "row {bad} of table '{}' does not exist ({} rows)",
                self.name, self.rows
            )));
        }
        Ok(Table {
            name: self.name.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    data_type: c.data_type,
                    values: rows.iter().map(|r| c.values[*r].clone()).collect(),
                })
                .collect(),
            rows: rows.len(),
        })
    }

    /// Keeps only the rows for which `keep(row_index)` is true.
    pub fn retain_rows(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mask: Vec<bool> = (0..self.rows).map(&mut keep).collect();
        for c in &mut self.columns {
            let mut i = 0;
            c.values.retain(|_| {
                let k = mask[i];
                i += 1;
                k
            });
        }
        self.rows = mask.iter().filter(|k| **k).count();
    }
}

/// An ordered set of tables with unique names, plus the blob content their
/// cells refer to.
#[derive(Debug, Clone, Default)]
pub struct Collection {
    tables: Vec<Table>,
    blobs: Vec<PendingBlob>,
}

impl Collection {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// A collection holding one table.
    pub fn of(table: Table) -> Self {
        Collection {
            tables: vec![table],
            blobs: Vec::new(),
        }
    }

    /// The tables in order.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The table with this name, mutably.
    pub fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.tables.iter_mut().find(|t| t.name == name)
    }

    /// Whether there are no tables.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Adds a table; its name must be new.
    pub fn push(&mut self, table: Table) -> Result<()> {
        if self.table(&table.name).is_some() {
            return Err(Error::InvalidData(format!(
                "collection already has a table '{}'",
                table.name
            )));
        }
        self.tables.push(table);
        Ok(())
    }

    /// Adds blob content referred to by the tables (duplicates are kept once).
    pub fn push_blob(&mut self, blob: PendingBlob) {
        if !self.blobs.iter().any(|b| b.blob_ref() == blob.blob_ref()) {
            self.blobs.push(blob);
        }
    }

    /// The pending blob content.
    pub fn blobs(&self) -> &[PendingBlob] {
        &self.blobs
    }

    /// Appends the rows of every table of `other` to the table of the same
    /// name (creating it if new), and takes its blobs.
    pub fn append(&mut self, other: Collection) -> Result<()> {
        for t in other.tables {
            match self.table_mut(&t.name) {
                Some(mine) => mine.append_rows(t)?,
                None => self.tables.push(t),
            }
        }
        for b in other.blobs {
            self.push_blob(b);
        }
        Ok(())
    }

    /// Consumes the collection, returning its tables.
    pub fn into_tables(self) -> Vec<Table> {
        self.tables
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(name: &str, v: &[i64]) -> Column {
        Column::new(
            name,
            DataType::Int,
            v.iter().map(|i| Value::Int(*i)).collect(),
        )
        .unwrap()
    }

    #[test]
    fn unequal_columns_are_refused() {
        let err = Table::from_columns("t", vec![ints("a", &[1, 2]), ints("b", &[1])]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column 'b' has 1 values but table 't' has 2 rows"
        );
    }

    #[test]
    fn wrong_type_is_refused() {
        let err = Column::new("a", DataType::Int, vec![Value::Int(1), "x".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column 'a' has type int but row 1 holds a text value"
        );
        let mut t = Table::with_schema("t", &[("a", DataType::Int)]).unwrap();
        assert!(t.push_row(vec![Value::Float(1.0)]).is_err());
        assert!(t.push_row(vec![Value::Null]).is_ok());
        assert_eq!(t.num_rows(), 1);
    }

    #[test]
    fn duplicate_and_empty_names_are_refused() {
        assert!(Table::from_columns("t", vec![ints("a", &[1]), ints("a", &[1])]).is_err());
        assert!(Table::new("").is_err());
        assert!(Column::new("a\0b", DataType::Int, vec![]).is_err());
    }

    #[test]
    fn merge_pads_the_shorter_side() {
        let mut a = Table::from_columns("t", vec![ints("a", &[1, 2, 3])]).unwrap();
        let b = Table::from_columns("t", vec![ints("b", &[9])]).unwrap();
        a.merge_columns(b).unwrap();
        assert_eq!(a.num_rows(), 3);
        assert_eq!(
            a.column("b").unwrap().values(),
            &[Value::Int(9), Value::Null, Value::Null]
        );
    }

    #[test]
    fn merge_accepts_identical_shared_columns_only() {
        let mut a = Table::from_columns("t", vec![ints("uid", &[0]), ints("a", &[1])]).unwrap();
        a.merge_columns(Table::from_columns("t", vec![ints("uid", &[0])]).unwrap())
            .unwrap();
        assert_eq!(a.num_columns(), 2);
        assert!(
            a.merge_columns(Table::from_columns("t", vec![ints("uid", &[5])]).unwrap())
                .is_err()
        );
    }

    #[test]
    fn append_matches_columns_by_name_and_pads() {
        let mut a = Table::from_columns("t", vec![ints("a", &[1]), ints("b", &[2])]).unwrap();
        let b = Table::from_columns("t", vec![ints("b", &[3]), ints("c", &[4])]).unwrap();
        a.append_rows(b).unwrap();
        assert_eq!(a.num_rows(), 2);
        assert_eq!(
            a.column("a").unwrap().values(),
            &[Value::Int(1), Value::Null]
        );
        assert_eq!(
            a.column("b").unwrap().values(),
            &[Value::Int(2), Value::Int(3)]
        );
        assert_eq!(
            a.column("c").unwrap().values(),
            &[Value::Null, Value::Int(4)]
        );
    }

    #[test]
    fn append_refuses_type_change() {
        let mut a = Table::from_columns("t", vec![ints("a", &[1])]).unwrap();
        let b = Table::from_columns(
            "t",
            vec![Column::new("a", DataType::Text, vec!["x".into()]).unwrap()],
        )
        .unwrap();
        assert!(a.append_rows(b).is_err());
        assert_eq!(a.num_rows(), 1);
    }

    #[test]
    fn retain_rows_filters_every_column() {
        let mut a =
            Table::from_columns("t", vec![ints("a", &[1, 2, 3]), ints("b", &[4, 5, 6])]).unwrap();
        a.retain_rows(|i| i != 1);
        assert_eq!(a.num_rows(), 2);
        assert_eq!(
            a.column("b").unwrap().values(),
            &[Value::Int(4), Value::Int(6)]
        );
    }
}
