//! The dsi-core conformance suite against two real S3 servers started by
//! `cargo xtask ci`: moto, whose create-if-absent is atomic (a Delta log
//! needs that for concurrent writers), runs the whole suite; s3s-fs, which
//! verifies SigV4 signatures but checks-then-writes, runs every check that
//! has a single writer.

mod common;

use dsi_core::conformance::{self, Capabilities, run_all};
use dsi_core::{BlobRef, Driver};
use dsi_driver_parquet::object_store::{ObjectStoreExt, PutPayload};

fn corrupt<'a>(
    server: &'a common::Server,
    prefix: &'a str,
) -> impl Fn(&BlobRef, &[u8]) -> dsi_core::Result<()> + 'a {
    move |blob, content| {
        let ds = server.builder(prefix).open()?;
        ds.block_on(
            ds.store()
                .put(&ds.blob_path(blob), PutPayload::from(content.to_vec())),
        )
        .expect("overwrite the blob object");
        Ok(())
    }
}

#[test]
fn s3_passes_the_conformance_suite_on_moto() {
    let server = common::moto();
    let prefix = common::unique_prefix("conformance");
    let open =
        || -> dsi_core::Result<Box<dyn Driver>> { Ok(Box::new(server.builder(&prefix).open()?)) };
    run_all(
        &open,
        &Capabilities {
            bounded_blob_memory: true,
            sql: cfg!(feature = "sql"),
            corrupt_blob: &corrupt(&server, &prefix),
        },
    );
}

#[test]
fn s3_passes_the_single_writer_checks_on_a_signature_verifying_server() {
    let server = common::server();
    let prefix = common::unique_prefix("conformance-sigv4");
    let open =
        || -> dsi_core::Result<Box<dyn Driver>> { Ok(Box::new(server.builder(&prefix).open()?)) };
    let caps = Capabilities {
        bounded_blob_memory: true,
        sql: cfg!(feature = "sql"),
        corrupt_blob: &corrupt(&server, &prefix),
    };
    let d = open().expect("open the store under test");
    conformance::round_trip_all_types(d.as_ref());
    conformance::hostile_names(d.as_ref());
    conformance::empty_and_wide_tables(d.as_ref());
    conformance::repeated_puts_append(d.as_ref());
    conformance::schema_evolution_and_atomic_put(d.as_ref());
    conformance::filters_order_and_limit(d.as_ref());
    conformance::missing_table_is_not_found(d.as_ref());
    conformance::small_blobs(d.as_ref());
    conformance::corrupted_blob_is_detected(d.as_ref(), &caps);
    if caps.sql {
        conformance::sql_queries(d.as_ref());
    }
    conformance::inspect_reports_tables_and_blobs(d.as_ref());
    drop(d);
    conformance::survives_reopen(&open);
    conformance::large_blob_streamed(open().expect("reopen").as_ref(), caps.bounded_blob_memory);
}
