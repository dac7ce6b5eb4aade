//! Lossless conversion between [`Table`] and Arrow [`RecordBatch`] (feature `arrow`).
//!
//! | dsi type    | Arrow type                                   |
//! |-------------|----------------------------------------------|
//! | `bool`      | `Boolean`                                    |
//! | `int`       | `Int64`                                      |
//! | `float`     | `Float64`                                    |
//! | `text`      | `Utf8`                                       |
//! | `bytes`     | `Binary`                                     |
//! | `blob`      | `Struct{sha256: Utf8 (hex), len: UInt64}`    |
//! | `timestamp` | `Timestamp(Microsecond, "UTC")`              |
//!
//! Every field carries the metadata `dsi.type` so a round trip restores the
//! exact type. Reading accepts what other tools write too: narrower integers,
//! `Float32`, large and view strings and binaries, timestamps of any unit.
//! The table name travels in the schema metadata `dsi.table`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, StructArray};
use arrow_schema::{DataType as ArrowType, Field, Fields, Schema, SchemaRef, TimeUnit};

use crate::blob::BlobRef;
use crate::error::{Error, Result};
use crate::table::{Column, Table};
use crate::value::{DataType, Timestamp, Value};

/// Field metadata key holding the dsi type name.
pub const TYPE_KEY: &str = "dsi.type";
/// Schema metadata key holding the table name.
pub const TABLE_KEY: &str = "dsi.table";

fn blob_fields() -> Fields {
    Fields::from(vec![
        Field::new("sha256", ArrowType::Utf8, false),
        Field::new("len", ArrowType::UInt64, false),
    ])
}

/// The Arrow type used for a dsi type.
pub fn arrow_type(t: DataType) -> ArrowType {
    match t {
        DataType::Bool => ArrowType::Boolean,
        DataType::Int => ArrowType::Int64,
        DataType::Float => ArrowType::Float64,
        DataType::Text => ArrowType::Utf8,
        DataType::Bytes => ArrowType::Binary,
        DataType::Blob => ArrowType::Struct(blob_fields()),
        DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// The Arrow field for a dsi column (nullable, with `dsi.type` metadata).
pub fn arrow_field(name: &str, t: DataType) -> Field {
    Field::new(name, arrow_type(t), true).with_metadata(HashMap::from([(
        TYPE_KEY.to_owned(),
        t.as_str().to_owned(),
    )]))
}

/// The Arrow schema of a table.
pub fn arrow_schema(table: &Table) -> SchemaRef {
    let fields: Vec<Field> = table
        .columns()
        .iter()
        .map(|c| arrow_field(c.name(), c.data_type()))
        .collect();
    Arc::new(Schema::new(fields).with_metadata(HashMap::from([(
        TABLE_KEY.to_owned(),
        table.name().to_owned(),
    )])))
}

/// Converts a table into one record batch.
pub fn to_record_batch(table: &Table) -> Result<RecordBatch> {
    let schema = arrow_schema(table);
    let arrays: Vec<ArrayRef> = table.columns().iter().map(column_array).collect();
    let options = RecordBatchOptions::new().with_row_count(Some(table.num_rows()));
    RecordBatch::try_new_with_options(schema, arrays, &options)
        .map_err(|e| Error::InvalidData(format!("table '{}' to Arrow: {e}", table.name())))
}

fn column_array(c: &Column) -> ArrayRef {
    let v = c.values();
    match c.data_type() {
        DataType::Bool => {
            let mut b = BooleanBuilder::with_capacity(v.len());
            v.iter().for_each(|x| {
                b.append_option(if let Value::Bool(x) = x {
                    Some(*x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Int => {
            let mut b = Int64Builder::with_capacity(v.len());
            v.iter().for_each(|x| b.append_option(x.as_int()));
            Arc::new(b.finish())
        }
        DataType::Float => {
            let mut b = Float64Builder::with_capacity(v.len());
            v.iter().for_each(|x| {
                b.append_option(if let Value::Float(x) = x {
                    Some(*x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Text => {
            let mut b = StringBuilder::with_capacity(v.len(), 0);
            v.iter().for_each(|x| b.append_option(x.as_text()));
            Arc::new(b.finish())
        }
        DataType::Bytes => {
            let mut b = BinaryBuilder::with_capacity(v.len(), 0);
            v.iter().for_each(|x| {
                b.append_option(if let Value::Bytes(x) = x {
                    Some(x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Timestamp => {
            let mut b = TimestampMicrosecondBuilder::with_capacity(v.len()).with_timezone("UTC");
            v.iter().for_each(|x| {
                b.append_option(if let Value::Timestamp(t) = x {
                    Some(t.as_micros())
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Blob => {
            let mut digests = StringBuilder::with_capacity(v.len(), v.len() * 64);
            let mut lens = UInt64Builder::with_capacity(v.len());
            let mut valid = Vec::with_capacity(v.len());
            for x in v {
                match x.as_blob() {
                    Some(b) => {
                        digests.append_value(b.sha256_hex());
                        lens.append_value(b.len());
                        valid.push(true);
                    }
                    None => {
                        // Child values under a null parent are ignored but must be valid.
                        digests.append_value("");
                        lens.append_value(0);
                        valid.push(false);
                    }
                }
            }
            let children: Vec<ArrayRef> = vec![Arc::new(digests.finish()), Arc::new(lens.finish())];
            Arc::new(StructArray::new(
                blob_fields(),
                children,
                Some(valid.into()),
            ))
        }
    }
}

/// The dsi type of an Arrow field, or an error naming the column.
pub fn dsi_type(field: &Field) -> Result<DataType> {
    if let Some(t) = field.metadata().get(TYPE_KEY) {
        return t.parse();
    }
    Ok(match field.data_type() {
        ArrowType::Boolean => DataType::Bool,
        ArrowType::Int8
        | ArrowType::Int16
        | ArrowType::Int32
        | ArrowType::Int64
        | ArrowType::UInt8
        | ArrowType::UInt16
        | ArrowType::UInt32 => DataType::Int,
        ArrowType::Float32 | ArrowType::Float64 => DataType::Float,
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => DataType::Text,
        ArrowType::Binary | ArrowType::LargeBinary | ArrowType::BinaryView => DataType::Bytes,
        ArrowType::Timestamp(_, _) => DataType::Timestamp,
        ArrowType::Struct(f) if f.len() == 2 && f[0].name() == "sha256" && f[1].name() == "len" => {
            DataType::Blob
        }
        other => {
            return Err(Error::InvalidData(format!(
                "column '{}' has Arrow type {other}, which dsi cannot represent",
                field.name()
            )));
        }
    })
}

/// Converts a record batch into a table named `name`.
pub fn from_record_batch(name: &str, batch: &RecordBatch) -> Result<Table> {
    let schema = batch.schema();
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let t = dsi_type(field)?;
        let values = array_values(field, t, array.as_ref())?;
        columns.push(Column::new(field.name(), t, values)?);
    }
    let mut table = Table::from_columns(name, columns)?;
    table.pad_to(batch.num_rows());
    Ok(table)
}

fn mismatch(field: &Field, t: DataType) -> Error {
    Error::InvalidData(format!(
        "column '{}' is marked {t} but has Arrow type {}",
        field.name(),
        field.data_type()
    ))
}

fn collect<T>(a: &dyn Array, f: impl Fn(usize) -> T) -> Vec<Value>
where
    T: Into<Value>,
{
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                Value::Null
            } else {
                f(i).into()
            }
        })
        .collect()
}

fn array_values(field: &Field, t: DataType, a: &dyn Array) -> Result<Vec<Value>> {
    Ok(match (t, a.data_type()) {
        (DataType::Bool, ArrowType::Boolean) => {
            let a = a.as_boolean();
            collect(a, |i| a.value(i))
        }
        (DataType::Int, ArrowType::Int64) => {
            let a = a.as_primitive::<Int64Type>();
            collect(a, |i| a.value(i))
        }
        (DataType::Int, ArrowType::Int32) => {
            let a = a.as_primitive::<Int32Type>();
            collect(a, |i| i64::from(a.value(i)))
        }
        (DataType::Int, ArrowType::Int16) => {
            let a = a.as_primitive::<Int16Type>();
            collect(a, |i| i64::from(a.value(i)))
        }
        (DataType::Int, ArrowType::Int8) => {
            let a = a.as_primitive::<Int8Type>();
            collect(a, |i| i64::from(a.value(i)))
        }
        (DataType::Int, ArrowType::UInt32) => {
            let a = a.as_primitive::<UInt32Type>();
            collect(a, |i| i64::from(a.value(i)))
        }
        (DataType::Int, ArrowType::UInt16) => {
            let a = a.as_primitive::<UInt16Type>();
            collect(a, |i| i64::from(a.value(i)))
        }
        (DataType::Int, ArrowType::UInt8) => {
            let a = a.as_primitive::<UInt8Type>();
            collect(a, |i| i64::from(a.value(i)))
        }
        (DataType::Float, ArrowType::Float64) => {
            let a = a.as_primitive::<Float64Type>();
            collect(a, |i| a.value(i))
        }
        (DataType::Float, ArrowType::Float32) => {
            let a = a.as_primitive::<Float32Type>();
            collect(a, |i| f64::from(a.value(i)))
        }
        (DataType::Text, ArrowType::Utf8) => {
            let a = a.as_string::<i32>();
            collect(a, |i| a.value(i))
        }
        (DataType::Text, ArrowType::LargeUtf8) => {
            let a = a.as_string::<i64>();
            collect(a, |i| a.value(i))
        }
        (DataType::Text, ArrowType::Utf8View) => {
            let a = a.as_string_view();
            collect(a, |i| a.value(i))
        }
        (DataType::Bytes, ArrowType::Binary) => {
            let a = a.as_binary::<i32>();
            collect(a, |i| a.value(i).to_vec())
        }
        (DataType::Bytes, ArrowType::LargeBinary) => {
            let a = a.as_binary::<i64>();
            collect(a, |i| a.value(i).to_vec())
        }
        (DataType::Bytes, ArrowType::BinaryView) => {
            let a = a.as_binary_view();
            collect(a, |i| a.value(i).to_vec())
        }
        (DataType::Timestamp, ArrowType::Timestamp(unit, _)) => {
            let micros: Box<dyn Fn(usize) -> i64> = match unit {
                TimeUnit::Second => {
                    let a = a.as_primitive::<TimestampSecondType>();
                    Box::new(move |i| a.value(i).saturating_mul(1_000_000))
                }
                TimeUnit::Millisecond => {
                    let a = a.as_primitive::<TimestampMillisecondType>();
                    Box::new(move |i| a.value(i).saturating_mul(1000))
                }
                TimeUnit::Microsecond => {
                    let a = a.as_primitive::<TimestampMicrosecondType>();
                    Box::new(move |i| a.value(i))
                }
                TimeUnit::Nanosecond => {
                    let a = a.as_primitive::<TimestampNanosecondType>();
                    Box::new(move |i| a.value(i).div_euclid(1000))
                }
            };
            collect(a, |i| Timestamp::from_micros(micros(i)))
        }
        (DataType::Blob, ArrowType::Struct(_)) => {
            let s = a.as_struct();
            let (Some(d), Some(l)) = (s.column_by_name("sha256"), s.column_by_name("len")) else {
                return Err(mismatch(field, t));
            };
            let (ArrowType::Utf8, ArrowType::UInt64) = (d.data_type(), l.data_type()) else {
                return Err(mismatch(field, t));
            };
            let (d, l) = (d.as_string::<i32>(), l.as_primitive::<UInt64Type>());
            let mut out = Vec::with_capacity(s.len());
            for i in 0..s.len() {
                if s.is_null(i) {
                    out.push(Value::Null);
                } else {
                    let digest = BlobRef::parse_hex_digest(d.value(i)).map_err(|e| {
                        Error::InvalidData(format!("column '{}' row {i}: {e}", field.name()))
                    })?;
                    out.push(Value::Blob(BlobRef::new(digest, l.value(i))));
                }
            }
            out
        }
        _ => return Err(mismatch(field, t)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::all_types_table;

    #[test]
    fn round_trip_is_lossless() {
        let t = all_types_table("runs");
        let batch = to_record_batch(&t).unwrap();
        assert_eq!(batch.num_rows(), 4);
        let back = from_record_batch("runs", &batch).unwrap();
        assert_eq!(back.schema(), t.schema());
        for (a, b) in back.columns().iter().zip(t.columns()) {
            for (x, y) in a.values().iter().zip(b.values()) {
                match (x, y) {
                    (Value::Float(p), Value::Float(q)) => assert_eq!(p.to_bits(), q.to_bits()),
                    _ => assert_eq!(x, y, "column {}", a.name()),
                }
            }
        }
    }

    #[test]
    fn empty_table_keeps_its_schema() {
        let t =
            Table::with_schema("e", &[("a", DataType::Blob), ("b", DataType::Timestamp)]).unwrap();
        let back = from_record_batch("e", &to_record_batch(&t).unwrap()).unwrap();
        assert_eq!(back.schema(), t.schema());
        assert_eq!(back.num_rows(), 0);
    }

    #[test]
    fn foreign_types_are_accepted_or_named() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("small", ArrowType::Int32, true),
            Field::new("ts", ArrowType::Timestamp(TimeUnit::Nanosecond, None), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(arrow_array::Int32Array::from(vec![Some(7), None])),
                Arc::new(arrow_array::TimestampNanosecondArray::from(vec![
                    Some(1_500),
                    None,
                ])),
            ],
        )
        .unwrap();
        let t = from_record_batch("x", &batch).unwrap();
        assert_eq!(t.get(0, "small"), Some(&Value::Int(7)));
        assert_eq!(
            t.get(0, "ts"),
            Some(&Value::Timestamp(Timestamp::from_micros(1)))
        );

        let f = Field::new("d", ArrowType::Date32, true);
        assert_eq!(
            dsi_type(&f).unwrap_err().to_string(),
            "column 'd' has Arrow type Date32, which dsi cannot represent"
        );
    }
}
