//! The `csv` consumer plugin: a CSV file as one table, with typed columns
//! (like the 2023 DSI readers, but integers stay integers and floats floats).
//!
//! Options: `path=FILE`, `table=NAME`, optional `delimiter=,` and
//! `max_field_bytes=1048576`. The header row names the columns (non-empty,
//! unique). Each column's type is inferred from all its values: `int` if
//! every non-empty value is a 64-bit integer, else `float` if every one is a
//! finite or infinite number, else `bool` for `true`/`false`, else `text`;
//! empty fields are nulls. The file is read twice (inference, then values),
//! streamed each time.
//!
//! Refused, with the file, line and column named: invalid UTF-8, a row with
//! a different number of fields than the header, a field longer than
//! `max_field_bytes`, a missing or duplicate column name, a NUL in a column
//! name. Nothing is
//! returned for a file that fails, so nothing of it is stored.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::options::{OptionSpec, Options};
use crate::plugin::{Context, Plugin, PluginFunction};
use crate::registry::PluginEntry;
use crate::table::{Collection, Column, Table};
use crate::value::{DataType, Value};

/// Registered name.
pub const NAME: &str = "csv";

/// Default longest field accepted.
pub const DEFAULT_MAX_FIELD_BYTES: usize = 1 << 20;

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::required("path", "the CSV file"),
    OptionSpec::required("table", "the table to store the rows in"),
    OptionSpec::optional("delimiter", "field delimiter, one byte (default ,)"),
    OptionSpec::optional(
        "max_field_bytes",
        "longest field accepted (default 1048576)",
    ),
];

inventory::submit! {
    PluginEntry {
        name: NAME,
        function: PluginFunction::Consumer,
        summary: "a CSV file as one table with typed columns (int, float, bool, text)",
        options: OPTIONS,
        build: |o| Ok(Box::new(CsvReader::from_options(o)?)),
    }
}

/// The CSV consumer.
#[derive(Debug, Clone)]
pub struct CsvReader {
    path: PathBuf,
    table: String,
    delimiter: u8,
    max_field_bytes: usize,
}

impl CsvReader {
    /// Builds the plugin from validated options.
    pub fn from_options(options: &Options) -> Result<Self> {
        let delimiter = match options.get("delimiter") {
            None => b',',
            Some("\\t" | "tab") => b'\t',
            Some(d) if d.len() == 1 => d.as_bytes()[0],
            Some(d) => {
                return Err(Error::config(
                    NAME,
                    format!("option 'delimiter': '{d}' must be a single byte (or \\t)"),
                ));
            }
        };
        Ok(CsvReader {
            path: PathBuf::from(options.require(NAME, "path")?),
            table: options.require(NAME, "table")?.to_owned(),
            delimiter,
            max_field_bytes: options
                .parse::<usize>(NAME, "max_field_bytes")?
                .unwrap_or(DEFAULT_MAX_FIELD_BYTES),
        })
    }

    fn reader(&self) -> Result<csv::Reader<FieldGuard<std::fs::File>>> {
        let f = std::fs::File::open(&self.path)
            .map_err(|e| Error::io(format!("cannot read {}", self.path.display()), e))?;
        let guard = FieldGuard {
            inner: f,
            delimiter: self.delimiter,
            // Quotes and a CR around a field at its limit.
            limit: self.max_field_bytes.saturating_add(3),
            field: 0,
            line: 1,
            quoted: false,
        };
        Ok(csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(true)
            .flexible(false)
            .from_reader(guard))
    }

    fn bad(&self, line: u64, what: String) -> Error {
        Error::InvalidData(format!("{}:{line}: {what}", self.path.display()))
    }

    fn csv_error(&self, e: &csv::Error) -> Error {
        let line = e.position().map_or(0, csv::Position::line);
        match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => self.bad(
                line,
                format!("expected {expected_len} fields (as in the header), found {len}"),
            ),
            csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                Error::InvalidData(format!("{}:{io}", self.path.display()))
            }
            csv::ErrorKind::Io(io) => Error::io(
                format!("reading {}", self.path.display()),
                std::io::Error::new(io.kind(), io.to_string()),
            ),
            _ => self.bad(line, e.to_string()),
        }
    }

    /// Reads the header and every record as checked UTF-8 fields, calling
    /// `each` with the line number and the fields.
    fn scan(&self, mut each: impl FnMut(u64, &[&str]) -> Result<()>) -> Result<Vec<String>> {
        let mut rd = self.reader()?;
        let header = rd.byte_headers().map_err(|e| self.csv_error(&e))?.clone();
        let names = self.fields(1, &header)?;
        if names.is_empty() || (names.len() == 1 && names[0].is_empty()) {
            return Err(self.bad(1, "no header row".into()));
        }
        for (i, n) in names.iter().enumerate() {
            if n.trim().is_empty() {
                return Err(self.bad(1, format!("column {} has no name", i + 1)));
            }
            if n.contains('\0') {
                return Err(self.bad(1, format!("column {} name contains a NUL character", i + 1)));
            }
            if names[..i].contains(n) {
                return Err(self.bad(1, format!("column name '{n}' appears twice")));
            }
        }
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let mut rec = csv::ByteRecord::new();
        loop {
            match rd.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {
                    let line = rec.position().map_or(0, csv::Position::line);
                    let fields = self.fields(line, &rec)?;
                    each(line, &fields)?;
                }
                Err(e) => return Err(self.csv_error(&e)),
            }
        }
        Ok(names)
    }

    fn fields<'r>(&self, line: u64, rec: &'r csv::ByteRecord) -> Result<Vec<&'r str>> {
        rec.iter()
            .enumerate()
            .map(|(i, f)| {
                if f.len() > self.max_field_bytes {
                    return Err(self.bad(
                        line,
                        format!(
                            "field {} is {} bytes, more than the limit of {}",
                            i + 1,
                            f.len(),
                            self.max_field_bytes
                        ),
                    ));
                }
                std::str::from_utf8(f)
                    .map_err(|_| self.bad(line, format!("field {} is not valid UTF-8", i + 1)))
            })
            .collect()
    }

    /// Reads the whole file into a table.
    pub fn read(&self) -> Result<Table> {
        let _span = tracing::info_span!("reading CSV", file = %self.path.display()).entered();
        // Pass 1: the narrowest type each column's values fit.
        let mut kinds: Vec<Kind> = Vec::new();
        let names = self.scan(|_, fields| {
            if kinds.is_empty() {
                kinds = vec![Kind::Empty; fields.len()];
            }
            for (k, f) in kinds.iter_mut().zip(fields) {
                *k = k.widen(f);
            }
            Ok(())
        })?;
        let types: Vec<DataType> = (0..names.len())
            .map(|i| kinds.get(i).map_or(DataType::Text, |k| k.data_type()))
            .collect();
        // Pass 2: the values.
        let mut values: Vec<Vec<Value>> = vec![Vec::new(); names.len()];
        self.scan(|line, fields| {
            for (i, f) in fields.iter().enumerate() {
                values[i].push(parse(types[i], f).ok_or_else(|| {
                    self.bad(line, format!("field {} changed while reading", i + 1))
                })?);
            }
            Ok(())
        })?;
        let columns = names
            .iter()
            .zip(types)
            .zip(values)
            .map(|((n, t), v)| Column::new(n.clone(), t, v))
            .collect::<Result<Vec<_>>>()?;
        Table::from_columns(self.table.clone(), columns)
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Counts the bytes of the field being read, so that a field over the
/// limit is refused while it streams in — the CSV reader buffers a whole
/// record, so a check after it would let a 300 MB line (or `/dev/zero`,
/// which has no newline) take gigabytes first. Quotes are tracked (`""`
/// toggles twice): a delimiter or line end inside quotes is field content.
struct FieldGuard<R> {
    inner: R,
    delimiter: u8,
    limit: usize,
    field: usize,
    line: u64,
    quoted: bool,
}

impl<R: std::io::Read> std::io::Read for FieldGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            match b {
                b'"' => self.quoted = !self.quoted,
                b'\n' => self.line += 1,
                _ => {}
            }
            if !self.quoted && (b == self.delimiter || b == b'\n') {
                self.field = 0;
                continue;
            }
            self.field += 1;
            if self.field > self.limit {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}: a field is longer than the limit of {} bytes",
                        self.line,
                        self.limit - 3
                    ),
                ));
            }
        }
        Ok(n)
    }
}

/// The narrowest type seen so far in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty,
    Int,
    Float,
    Bool,
    Text,
}

impl Kind {
    fn widen(self, f: &str) -> Kind {
        if f.is_empty() || self == Kind::Text {
            return self;
        }
        let is_int = f.parse::<i64>().is_ok();
        let is_float = !is_int && f.parse::<f64>().is_ok_and(|x| !x.is_nan());
        // The Python DSI's reader takes True/False as booleans too.
        let is_bool = bool_value(f).is_some();
        match (self, is_int, is_float, is_bool) {
            (Kind::Empty | Kind::Int, true, _, _) => Kind::Int,
            (Kind::Empty | Kind::Int | Kind::Float, _, true, _) | (Kind::Float, true, _, _) => {
                Kind::Float
            }
            (Kind::Empty | Kind::Bool, _, _, true) => Kind::Bool,
            _ => Kind::Text,
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Kind::Int => DataType::Int,
            Kind::Float => DataType::Float,
            Kind::Bool => DataType::Bool,
            Kind::Empty | Kind::Text => DataType::Text,
        }
    }
}

/// `true`/`True`/`TRUE` and the `false` spellings.
fn bool_value(f: &str) -> Option<bool> {
    match f {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn parse(t: DataType, f: &str) -> Option<Value> {
    if f.is_empty() {
        return Some(Value::Null);
    }
    Some(match t {
        DataType::Int => Value::Int(f.parse().ok()?),
        DataType::Float => Value::Float(f.parse().ok()?),
        DataType::Bool => Value::Bool(bool_value(f)?),
        _ => Value::Text(f.to_owned()),
    })
}

impl Plugin for CsvReader {
    fn name(&self) -> &str {
        NAME
    }

    fn function(&self) -> PluginFunction {
        PluginFunction::Consumer
    }

    fn collect(&mut self, _ctx: &Context<'_>) -> Result<Collection> {
        Ok(Collection::of(self.read()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(content: &[u8]) -> (tempfile::TempDir, CsvReader) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("in.csv");
        std::fs::write(&p, content).unwrap();
        let r = CsvReader::from_options(
            &Options::new()
                .with("path", p.to_str().unwrap())
                .with("table", "t"),
        )
        .unwrap();
        (d, r)
    }

    #[test]
    fn types_are_inferred_per_column() {
        let (_d, r) =
            reader(b"id,score,ok,name,blank\n1,0.5,true,a,\n2,3,false,\"b, c\",\n-3,,true,4,\n");
        let t = r.read().unwrap();
        assert_eq!(
            t.schema(),
            [
                ("id", DataType::Int),
                ("score", DataType::Float),
                ("ok", DataType::Bool),
                ("name", DataType::Text),
                ("blank", DataType::Text)
            ]
        );
        assert_eq!(t.get(1, "score"), Some(&Value::Float(3.0)));
        assert_eq!(t.get(2, "score"), Some(&Value::Null));
        assert_eq!(t.get(1, "name"), Some(&Value::Text("b, c".into())));
        assert_eq!(t.get(2, "name"), Some(&Value::Text("4".into())));
    }

    #[test]
    fn bad_files_are_refused_with_their_line() {
        let (d, r) = reader(b"a,b\n1,2\n3\n");
        let e = r.read().unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}:3: expected 2 fields (as in the header), found 1",
                d.path().join("in.csv").display()
            )
        );

        let (_d, r) = reader(b"a,b\n1,\xff\xfe\n");
        assert!(
            r.read()
                .unwrap_err()
                .to_string()
                .ends_with(":2: field 2 is not valid UTF-8")
        );

        let (_d, r) = reader(b"a,a\n1,2\n");
        assert!(
            r.read()
                .unwrap_err()
                .to_string()
                .ends_with(":1: column name 'a' appears twice")
        );

        let mut big = b"a\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', DEFAULT_MAX_FIELD_BYTES + 10));
        let (_d, r) = reader(&big);
        let e = r.read().unwrap_err().to_string();
        assert!(
            e.ends_with(":2: a field is longer than the limit of 1048576 bytes"),
            "{e}"
        );
    }

    #[test]
    fn an_endless_file_is_stopped_at_the_field_limit() {
        // Regression: /dev/zero (no newline, ever) made the reader buffer
        // until the process aborted.
        let r = CsvReader::from_options(
            &Options::new()
                .with("path", "/dev/zero")
                .with("table", "t")
                .with("max_field_bytes", "4096"),
        )
        .unwrap();
        let e = r.read().unwrap_err().to_string();
        assert_eq!(
            e,
            "/dev/zero:1: a field is longer than the limit of 4096 bytes"
        );
    }

    #[test]
    fn python_booleans_are_booleans() {
        let (_d, r) = reader(b"ok,n\nTrue,1\nfalse,2\nFALSE,3\n");
        let t = r.read().unwrap();
        assert_eq!(t.column("ok").unwrap().data_type(), DataType::Bool);
        assert_eq!(
            t.column("ok").unwrap().values(),
            &[Value::Bool(true), Value::Bool(false), Value::Bool(false)]
        );
    }

    #[test]
    fn a_nul_in_a_column_name_is_refused_naming_the_file() {
        // Found by the csv_reader fuzz target (fuzz/regressions/csv_reader/):
        // the error came from the table model and named neither file nor line.
        let (d, r) = reader(b"a,b\x0b\0\n1,2\n");
        assert_eq!(
            r.read().unwrap_err().to_string(),
            format!(
                "{}:1: column 2 name contains a NUL character",
                d.path().join("in.csv").display()
            )
        );
    }

    #[test]
    fn header_only_gives_an_empty_table() {
        let (_d, r) = reader(b"x,y\n");
        let t = r.read().unwrap();
        assert_eq!(t.num_rows(), 0);
        assert_eq!(t.num_columns(), 2);
    }
}
