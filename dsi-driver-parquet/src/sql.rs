//! SQL over the dataset with DataFusion (feature `sql`).
//!
//! Each table the statement names is registered as a DataFusion listing
//! table over the same object store and exactly the files of the table's
//! Delta snapshot that dsi reads (no directory listing), with the log's
//! schema: older files lack newer columns, which read as null. Only queries are accepted: DDL, DML and statements such
//! as `SET` are refused. The result comes back as a table named `query`,
//! with dsi types restored from the Arrow types; columns of types dsi lacks
//! (dates, decimals, lists) become text, duplicate names get a `:n` suffix.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field, Schema, SchemaRef};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use dsi_core::{Error, Result, Table};

use crate::error::one_line;
use crate::{Dataset, delta, read};

/// The scheme of the URL the dataset's store is registered under
/// (`dsi://store/`); each data file is addressed by its full path there.
const SCHEME: &str = "dsi";

fn df_err(ds: &Dataset, e: &datafusion::error::DataFusionError) -> Error {
    ds.err("running the SQL query", one_line(e))
}

/// A statement that does not parse or plan is the user's input at fault
/// (exit 65), not the store (74).
fn query_err(e: &datafusion::error::DataFusionError) -> Error {
    Error::InvalidData(format!("SQL query: {}", one_line(e)))
}

/// Runs a read-only SQL statement.
pub(crate) async fn run(ds: &Dataset, sql: &str) -> Result<Table> {
    let config = SessionConfig::new().with_target_partitions(2);
    let ctx = SessionContext::new_with_config(config);
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state
        .sql_to_statement(sql, &dialect)
        .map_err(|e| query_err(&e))?;
    let references = state
        .resolve_table_references(&statement)
        .map_err(|e| query_err(&e))?;
    let existing = ds.table_names().await?;
    let mut registered = Vec::new();
    for r in references {
        let name = r.table().to_owned();
        if existing.contains(&name) && !registered.contains(&name) {
            register(ds, &ctx, &name, registered.len()).await?;
            registered.push(name);
        }
    }

    let plan = ctx
        .state()
        .statement_to_plan(statement)
        .await
        .map_err(|e| query_err(&e))?;
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(|e| {
            Error::Refused(format!(
                "only read-only SQL is accepted; records are written by dsi commands ({})",
                one_line(&e)
            ))
        })?;
    let df = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(|e| df_err(ds, &e))?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.map_err(|e| df_err(ds, &e))?;
    to_table(&schema, &batches)
}

/// Registers one table as a listing table over exactly the files dsi
/// reads (those of the table's snapshot, less incomplete multi-table puts).
async fn register(ds: &Dataset, ctx: &SessionContext, name: &str, index: usize) -> Result<()> {
    let Some(view) = ds.view(name).await? else {
        return Ok(());
    };
    let schema = Arc::new(read::arrow_schema(&view.columns)?);
    let root = url::Url::parse(&format!("{SCHEME}://store/"))
        .map_err(|e| ds.err("running the SQL query", e.to_string()))?;
    let store_url = ObjectStoreUrl::parse(root.as_str()).map_err(|e| df_err(ds, &e))?;
    if index == 0 {
        ctx.register_object_store(store_url.as_ref(), Arc::clone(&ds.store));
    }
    let mut urls = Vec::with_capacity(view.files.len());
    for f in &view.files {
        let url = delta::file_url_of(&root, &f.path)
            .map_err(|e| ds.err("running the SQL query", e.to_string()))?;
        urls.push(ListingTableUrl::parse(url.as_str()).map_err(|e| df_err(ds, &e))?);
    }
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config).map_err(|e| df_err(ds, &e))?;
    ctx.register_table(TableReference::bare(name), Arc::new(table))
        .map_err(|e| df_err(ds, &e))?;
    Ok(())
}

/// A result column in a type dsi represents. The type comes from the Arrow
/// type alone: an expression may keep a column's `dsi.type` metadata while
/// changing its type.
fn representable(field: &Field, array: &ArrayRef) -> Result<(Field, ArrayRef)> {
    let field = Field::new(field.name(), field.data_type().clone(), true);
    if dsi_core::arrow::dsi_type(&field).is_ok() {
        return Ok((field, Arc::clone(array)));
    }
    let strict = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let target = match field.data_type() {
        ArrowType::Dictionary(_, value) => value.as_ref().clone(),
        ArrowType::UInt64 => ArrowType::Int64,
        _ => ArrowType::Utf8,
    };
    let cast = cast_with_options(array, &target, &strict)
        .or_else(|_| cast_with_options(array, &ArrowType::Utf8, &strict))
        .map_err(|e| {
            Error::InvalidData(format!(
                "result column '{}' has Arrow type {}, which dsi cannot represent: {e}",
                field.name(),
                field.data_type()
            ))
        })?;
    let field = Field::new(field.name(), cast.data_type().clone(), true);
    // A dictionary may hold a type that needs converting too.
    if dsi_core::arrow::dsi_type(&field).is_err() {
        return representable(&field, &cast);
    }
    Ok((field, cast))
}

/// Converts result batches into one table named `query`.
fn to_table(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Table> {
    // Unique column names, as the SQLite driver does: `a`, `a:2`, …
    let mut seen = BTreeMap::<String, usize>::new();
    let names: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let n = seen.entry(f.name().clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                f.name().clone()
            } else {
                format!("{}:{n}", f.name())
            }
        })
        .collect();
    let convert = |batch: &RecordBatch| -> Result<Table> {
        let mut fields = Vec::with_capacity(batch.num_columns());
        let mut arrays = Vec::with_capacity(batch.num_columns());
        for ((field, array), name) in schema.fields().iter().zip(batch.columns()).zip(&names) {
            let (f, a) = representable(field, array)?;
            fields.push(f.with_name(name));
            arrays.push(a);
        }
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let batch =
            RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
                .map_err(|e| Error::InvalidData(format!("SQL result: {e}")))?;
        dsi_core::arrow::from_record_batch("query", &batch)
    };
    let mut out = convert(&RecordBatch::new_empty(Arc::clone(schema)))?;
    for b in batches {
        out.append_rows(convert(b)?)?;
    }
    Ok(out)
}
