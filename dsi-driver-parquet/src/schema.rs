//! Table schemas in the Delta log: dsi columns to and from a Delta schema,
//! schema evolution (new columns appended, type changes refused) and the
//! small Arrow adaptation Delta needs.
//!
//! | dsi type    | Delta type                            |
//! |-------------|---------------------------------------|
//! | `bool`      | `boolean`                             |
//! | `int`       | `long`                                |
//! | `float`     | `double`                              |
//! | `text`      | `string`                              |
//! | `bytes`     | `binary`                              |
//! | `blob`      | `struct<sha256: string, len: long>`   |
//! | `timestamp` | `timestamp` (UTC, microseconds)       |
//!
//! Every field carries the metadata `dsi.type`, so the exact dsi type comes
//! back from the log without opening a data file. Delta has no unsigned
//! integers: a blob's `len` (Arrow `UInt64` in dsi-core's conversion) is
//! written as `Int64` and turned back on read ([`to_delta_batch`],
//! [`from_delta_batch`]).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StructArray, UInt64Array};
use arrow_schema::{DataType as ArrowType, Field, Fields, Schema};
use deltalake_core::kernel::StructType;
use dsi_core::{DataType, Error, Result};
use serde_json::{Value as Json, json};

/// The columns of a table, in order.
pub(crate) type Columns = Vec<(String, DataType)>;

fn delta_type(t: DataType) -> Json {
    match t {
        DataType::Bool => json!("boolean"),
        DataType::Int => json!("long"),
        DataType::Float => json!("double"),
        DataType::Text => json!("string"),
        DataType::Bytes => json!("binary"),
        DataType::Timestamp => json!("timestamp"),
        DataType::Blob => json!({
            "type": "struct",
            "fields": [
                {"name": "sha256", "type": "string", "nullable": true, "metadata": {}},
                {"name": "len", "type": "long", "nullable": true, "metadata": {}},
            ]
        }),
    }
}

/// The Delta schema of a table's columns.
pub(crate) fn delta_schema(columns: &[(String, DataType)]) -> Result<StructType> {
    let fields: Vec<Json> = columns
        .iter()
        .map(|(name, t)| {
            json!({
                "name": name,
                "type": delta_type(*t),
                "nullable": true,
                "metadata": { dsi_core::arrow::TYPE_KEY: t.as_str() },
            })
        })
        .collect();
    let value = json!({"type": "struct", "fields": fields});
    serde_json::from_value(value)
        .map_err(|e| Error::InvalidData(format!("building a Delta schema: {e}")))
}

/// The dsi type of a Delta field written by another tool (no `dsi.type`).
fn foreign_type(table: &str, name: &str, t: &Json) -> Result<DataType> {
    let unsupported = || {
        Error::InvalidData(format!(
            "column '{name}' of table '{table}' has Delta type {t}, which dsi cannot represent"
        ))
    };
    match t {
        Json::String(s) => Ok(match s.as_str() {
            "boolean" => DataType::Bool,
            "byte" | "short" | "integer" | "long" => DataType::Int,
            "float" | "double" => DataType::Float,
            "string" => DataType::Text,
            "binary" => DataType::Bytes,
            "timestamp" | "timestamp_ntz" => DataType::Timestamp,
            _ => return Err(unsupported()),
        }),
        Json::Object(o) => {
            let names: Vec<&str> = o
                .get("fields")
                .and_then(Json::as_array)
                .map(|f| f.iter().filter_map(|x| x["name"].as_str()).collect())
                .unwrap_or_default();
            if names == ["sha256", "len"] {
                Ok(DataType::Blob)
            } else {
                Err(unsupported())
            }
        }
        _ => Err(unsupported()),
    }
}

/// The dsi columns of a Delta schema.
pub(crate) fn dsi_columns(table: &str, schema: &StructType) -> Result<Columns> {
    let value = serde_json::to_value(schema)
        .map_err(|e| Error::InvalidData(format!("table '{table}': reading its schema: {e}")))?;
    let fields = value["fields"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let name = f["name"].as_str().unwrap_or_default().to_owned();
        let t = match f["metadata"][dsi_core::arrow::TYPE_KEY].as_str() {
            Some(t) => t.parse()?,
            None => foreign_type(table, &name, &f["type"])?,
        };
        out.push((name, t));
    }
    Ok(out)
}

/// The table's columns after a put of `new` columns: `None` when the schema
/// does not change, the existing columns followed by the new ones when it
/// grows; a column whose type differs is refused, naming it.
pub(crate) fn evolve(
    table: &str,
    existing: &[(String, DataType)],
    new: &[(String, DataType)],
) -> Result<Option<Columns>> {
    let mut merged: Columns = existing.to_vec();
    for (name, t) in new {
        match existing.iter().find(|(n, _)| n == name) {
            Some((_, old)) if old != t => {
                return Err(Error::InvalidData(format!(
                    "column '{name}' of table '{table}' is {old} in the dataset but {t} in the rows put"
                )));
            }
            Some(_) => {}
            None => merged.push((name.clone(), *t)),
        }
    }
    Ok((merged.len() != existing.len()).then_some(merged))
}

/// Rewrites blob columns' `len` child between two integer types.
fn map_blob_len(batch: &RecordBatch, to: &ArrowType) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields: Vec<Field> = Vec::with_capacity(schema.fields().len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    let mut changed = false;
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let blob = field
            .metadata()
            .get(dsi_core::arrow::TYPE_KEY)
            .is_some_and(|t| t == DataType::Blob.as_str());
        let (ArrowType::Struct(children), true) = (field.data_type(), blob) else {
            fields.push(field.as_ref().clone());
            arrays.push(Arc::clone(array));
            continue;
        };
        let s = array.as_struct();
        let mut child_fields: Vec<Field> = Vec::with_capacity(children.len());
        let mut child_arrays: Vec<ArrayRef> = Vec::with_capacity(children.len());
        for (cf, ca) in children.iter().zip(s.columns()) {
            let converted: Option<ArrayRef> = match (cf.name().as_str(), ca.data_type(), to) {
                ("len", ArrowType::UInt64, ArrowType::Int64) => {
                    let a = ca.as_primitive::<UInt64Type>();
                    let v: Int64Array = a
                        .iter()
                        .map(|x| x.map(|x| i64::try_from(x).unwrap_or(i64::MAX)))
                        .collect();
                    Some(Arc::new(v))
                }
                ("len", ArrowType::Int64, ArrowType::UInt64) => {
                    let a = ca.as_primitive::<Int64Type>();
                    let v: UInt64Array = a
                        .iter()
                        .map(|x| x.map(|x| u64::try_from(x).unwrap_or(0)))
                        .collect();
                    Some(Arc::new(v))
                }
                _ => None,
            };
            match converted {
                Some(a) => {
                    changed = true;
                    child_fields.push(Field::new(cf.name(), to.clone(), cf.is_nullable()));
                    child_arrays.push(a);
                }
                None => {
                    child_fields.push(cf.as_ref().clone());
                    child_arrays.push(Arc::clone(ca));
                }
            }
        }
        let child_fields = Fields::from(child_fields);
        let rebuilt = StructArray::try_new(child_fields.clone(), child_arrays, s.nulls().cloned())
            .map_err(|e| Error::InvalidData(format!("column '{}': {e}", field.name())))?;
        fields.push(
            Field::new(
                field.name(),
                ArrowType::Struct(child_fields),
                field.is_nullable(),
            )
            .with_metadata(field.metadata().clone()),
        );
        arrays.push(Arc::new(rebuilt));
    }
    if !changed {
        return Ok(batch.clone());
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    let schema = Arc::new(Schema::new(fields).with_metadata(schema.metadata().clone()));
    RecordBatch::try_new_with_options(schema, arrays, &options)
        .map_err(|e| Error::InvalidData(format!("adapting a record batch: {e}")))
}

/// dsi-core's record batch in the types Delta has (blob `len` as `Int64`).
pub(crate) fn to_delta_batch(batch: &RecordBatch) -> Result<RecordBatch> {
    map_blob_len(batch, &ArrowType::Int64)
}

/// A record batch read from a data file in dsi-core's types again.
pub(crate) fn from_delta_batch(batch: &RecordBatch) -> Result<RecordBatch> {
    map_blob_len(batch, &ArrowType::UInt64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsi_core::conformance::all_types_table;

    #[test]
    fn every_type_round_trips_through_the_log_schema() {
        let t = all_types_table("runs");
        let columns: Columns = t
            .schema()
            .into_iter()
            .map(|(n, t)| (n.to_owned(), t))
            .collect();
        let schema = delta_schema(&columns).unwrap();
        assert_eq!(dsi_columns("runs", &schema).unwrap(), columns);
    }

    #[test]
    fn batches_round_trip_through_delta_types() {
        let t = all_types_table("runs");
        let batch = dsi_core::arrow::to_record_batch(&t).unwrap();
        let delta = to_delta_batch(&batch).unwrap();
        assert!(
            !format!("{:?}", delta.schema()).contains("UInt64"),
            "{:?}",
            delta.schema()
        );
        let back = from_delta_batch(&delta).unwrap();
        let table = dsi_core::arrow::from_record_batch("runs", &back).unwrap();
        assert_eq!(table.schema(), t.schema());
    }

    #[test]
    fn evolution_appends_and_refuses_type_changes() {
        let a = vec![("a".to_owned(), DataType::Int)];
        assert_eq!(evolve("t", &a, &a).unwrap(), None);
        let ab = vec![
            ("b".to_owned(), DataType::Text),
            ("a".to_owned(), DataType::Int),
        ];
        assert_eq!(
            evolve("t", &a, &ab).unwrap(),
            Some(vec![
                ("a".to_owned(), DataType::Int),
                ("b".to_owned(), DataType::Text)
            ])
        );
        let e = evolve("t", &a, &[("a".to_owned(), DataType::Text)]).unwrap_err();
        assert!(e.to_string().contains("column 'a' of table 't'"), "{e}");
    }

    #[test]
    fn foreign_types_map_or_are_named() {
        let s: StructType = serde_json::from_value(json!({"type":"struct","fields":[
            {"name":"i","type":"integer","nullable":true,"metadata":{}},
            {"name":"d","type":"date","nullable":true,"metadata":{}}
        ]}))
        .unwrap();
        let e = dsi_columns("t", &s).unwrap_err();
        assert!(e.to_string().contains("column 'd'"), "{e}");
    }
}
