"""Reads one Delta table of a dsi dataset with every Delta reader there is
here and prints, per reader, its rows as JSON, for tests/readers.rs (and the
S3 driver's tests) to compare with what dsi reads.

usage: readers.py TABLE_URI STORAGE_OPTIONS_JSON READERS

READERS is a comma-separated subset of deltalake, duckdb, polars,
datafusion. Each row is [n, host, extra, date, recorded_at_micros,
blob_len]; rows are sorted by n. A reader that fails prints its error
instead, so the test names it.
"""

import datetime
import json
import os
import sys

uri, options, readers = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3].split(",")
COLUMNS = ["n", "host", "extra", "date", "recorded_at", "artifact"]


def micros(v):
    if v is None:
        return None
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        delta = v - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return int(v)


def blob_len(v):
    if v is None:
        return None
    if isinstance(v, dict):
        return v.get("len")
    return v["len"]


def normal(records):
    rows = []
    for r in records:
        rows.append([
            r.get("n"), r.get("host"), r.get("extra"), r.get("date"),
            micros(r.get("recorded_at")), blob_len(r.get("artifact")),
        ])
    rows.sort(key=lambda x: x[0])
    return rows


def with_deltalake():
    from deltalake import DeltaTable
    t = DeltaTable(uri, storage_options=options or None)
    return normal(t.to_pyarrow_table().to_pylist())


def with_duckdb():
    import duckdb
    import duckdb_extension_delta
    ext = os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "extensions")
    version = os.listdir(ext)[0]
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.load_extension(os.path.join(ext, version, "delta.duckdb_extension"))
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    result = con.sql(f"SELECT * FROM delta_scan('{path}')").arrow()
    if hasattr(result, "read_all"):  # a RecordBatchReader since DuckDB 1.4
        result = result.read_all()
    return normal(result.to_pylist())


def with_polars():
    import polars as pl
    df = pl.read_delta(uri, storage_options=options or None)
    return normal(df.to_dicts())


def with_datafusion():
    from datafusion import SessionContext
    from deltalake import DeltaTable
    ctx = SessionContext()
    t = DeltaTable(uri, storage_options=options or None)
    if not uri.startswith("s3://"):
        # deltalake's table provider, through DataFusion's FFI.
        ctx.register_table("t", t)
        return normal(ctx.sql("SELECT * FROM t").to_arrow_table().to_pylist())
    # On S3 the provider cannot see a store registered here (it runs in
    # deltalake's own DataFusion): read the files the log names, with the
    # log's schema.
    import pyarrow as pa
    from datafusion.object_store import AmazonS3
    bucket = uri[len("s3://"):].split("/", 1)[0]
    store = AmazonS3(
        bucket_name=bucket,
        region=options.get("AWS_REGION"),
        access_key_id=options.get("AWS_ACCESS_KEY_ID"),
        secret_access_key=options.get("AWS_SECRET_ACCESS_KEY"),
        endpoint=options.get("AWS_ENDPOINT_URL"),
        allow_http=options.get("AWS_ALLOW_HTTP") == "true",
    )
    ctx.register_object_store("s3://", store, bucket)
    schema = pa.schema(t.schema().to_arrow())
    frames = [ctx.read_parquet(f, schema=schema) for f in t.file_uris()]
    df = frames[0]
    for f in frames[1:]:
        df = df.union(f)
    return normal(df.to_arrow_table().to_pylist())


out = {}
for name in readers:
    try:
        out[name] = globals()["with_" + name]()
    except Exception as e:  # reported by the test, naming the reader
        out[name] = {"error": f"{type(e).__name__}: {e}".replace("\n", " ")[:2000]}
print(json.dumps(out))
