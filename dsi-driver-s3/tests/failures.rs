//! Failures against a real S3 server: bad credentials, a missing bucket, an
//! unreachable endpoint, and the server stopped in the middle of uploads.
//! Each is reported as one clear line, and nothing is left half-visible.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dsi_core::blob::read_verified;
use dsi_core::conformance::PatternReader;
use dsi_core::{
    BlobRef, Collection, Column, DataType, Driver, Error, Query, Table, TableQuery, Timestamp,
    Value,
};

fn assert_one_line(e: &Error, secret: &str) -> String {
    let text = e.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(!text.contains(secret), "no secret in: {text}");
    assert!(text.len() < 400, "short: {text}");
    eprintln!("error as reported: {text}");
    text
}

#[test]
fn bad_secret_key_is_one_clear_line() {
    let s = common::server();
    let e = s
        .builder(&common::unique_prefix("badsecret"))
        .with_credentials(&s.access_key, "not-the-secret-key")
        .open()
        .expect_err("a wrong secret must be refused");
    let text = assert_one_line(&e, "not-the-secret-key");
    assert!(text.contains("rejected the request signature"), "{text}");
    assert!(text.starts_with("s3: s3://"), "{text}");
}

#[test]
fn unknown_access_key_is_one_clear_line() {
    let s = common::server();
    let e = s
        .builder(&common::unique_prefix("badkey"))
        .with_credentials("AKIDUNKNOWN", "whatever-secret")
        .open()
        .expect_err("an unknown key must be refused");
    let text = assert_one_line(&e, "whatever-secret");
    assert!(text.contains("does not know the access key id"), "{text}");
}

#[test]
fn missing_bucket_is_one_clear_line() {
    let s = common::server();
    let e = dsi_driver_s3::S3Builder::new("s3://no-such-bucket-for-dsi/p")
        .unwrap()
        .with_endpoint(&s.endpoint)
        .with_allow_http(true)
        .with_credentials(&s.access_key, &s.secret_key)
        .open()
        .expect_err("a missing bucket must be refused");
    let text = assert_one_line(&e, &s.secret_key);
    assert!(text.contains("bucket does not exist"), "{text}");
    assert!(text.contains("no-such-bucket-for-dsi"), "{text}");
}

#[test]
fn unreachable_endpoint_is_one_clear_line() {
    let port = common::free_port();
    let started = std::time::Instant::now();
    let e = dsi_driver_s3::S3Builder::new("s3://b/p")
        .unwrap()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_allow_http(true)
        .with_credentials("k", "s")
        .with_retries(2, Duration::from_secs(10))
        .open()
        .expect_err("nobody listens there");
    let text = assert_one_line(&e, "no-secret-here");
    assert!(text.contains("cannot connect to the endpoint"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "gave up in time"
    );
}

/// Reads `inner`, stopping the server once `after` bytes have been read.
struct StopAfter<'a, R> {
    inner: R,
    after: u64,
    read: u64,
    stop: &'a mut dyn FnMut(),
    stopped: bool,
}

impl<R: Read> Read for StopAfter<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.stopped && self.read >= self.after {
            (self.stop)();
            self.stopped = true;
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[test]
fn server_stopped_during_a_blob_upload_leaves_no_blob() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = common::OwnServer::start(dir.path());
    let prefix = "stopped-blob";
    let d = server
        .builder(prefix)
        .with_retries(2, Duration::from_secs(5))
        .open()
        .expect("open");
    const LEN: u64 = 48 << 20;
    let blob = BlobRef::compute(&mut PatternReader::new(LEN)).unwrap();
    let e = {
        let mut stop = || server.stop();
        let mut content = StopAfter {
            inner: PatternReader::new(LEN),
            after: 20 << 20,
            read: 0,
            stop: &mut stop,
            stopped: false,
        };
        d.put_blob(&blob, &mut content)
            .expect_err("the server went away")
    };
    let text = assert_one_line(&e, &server.secret_key);
    assert!(
        text.contains("cannot connect") || text.contains("connection"),
        "{text}"
    );
    drop(d);

    server.restart();
    let d = server.builder(prefix).open().expect("reopen");
    assert!(!d.has_blob(&blob).unwrap(), "no blob after a failed upload");
    assert!(matches!(d.get_blob(&blob), Err(Error::NotFound { .. })));
    assert!(d.list_blobs().unwrap().is_empty());
    // And the upload works once the server is back.
    d.put_blob(&blob, &mut PatternReader::new(LEN)).unwrap();
    assert!(d.has_blob(&blob).unwrap());
}

fn put_of(n: i64) -> Collection {
    // Two tables: two commits per put.
    let day = 86_400_000_000i64;
    let rows = |name: &str| {
        Table::from_columns(
            name,
            vec![
                Column::new("n", DataType::Int, vec![Value::Int(n), Value::Int(n)]).unwrap(),
                Column::new(
                    "recorded_at",
                    DataType::Timestamp,
                    vec![
                        Timestamp::from_micros(1_790_000_000_000_000).into(),
                        Timestamp::from_micros(1_790_000_000_000_000 + day).into(),
                    ],
                )
                .unwrap(),
            ],
        )
        .unwrap()
    };
    let mut c = Collection::new();
    c.push(rows("alpha")).unwrap();
    c.push(rows("beta")).unwrap();
    c
}

fn ids(d: &dyn Driver, table: &str) -> Vec<i64> {
    match d.get(&Query::Table(TableQuery::new(table))) {
        Ok(c) => c.tables()[0]
            .column("n")
            .unwrap()
            .values()
            .iter()
            .map(|v| v.as_int().unwrap())
            .collect(),
        Err(Error::NotFound { .. }) => Vec::new(),
        Err(e) => panic!("reading {table}: {e}"),
    }
}

#[test]
fn server_stopped_during_puts_leaves_nothing_half_visible() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = common::OwnServer::start(dir.path());
    let prefix = "stopped-puts";
    let ok = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(AtomicBool::new(false));
    let error = Arc::new(Mutex::new(String::new()));
    let writer = {
        let d = server
            .builder(prefix)
            .with_retries(1, Duration::from_secs(2))
            .open()
            .expect("open");
        let (ok, failed, error) = (Arc::clone(&ok), Arc::clone(&failed), Arc::clone(&error));
        std::thread::spawn(move || {
            for n in 0..10_000 {
                match d.put(&put_of(n)) {
                    Ok(()) => ok.lock().unwrap().push(n),
                    Err(e) => {
                        *error.lock().unwrap() = e.to_string();
                        failed.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            }
        })
    };
    while ok.lock().unwrap().len() < 5 {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.stop();
    writer.join().unwrap();
    assert!(failed.load(Ordering::SeqCst), "the writer noticed");
    let text = error.lock().unwrap().clone();
    assert!(!text.contains('\n') && !text.is_empty(), "{text}");

    server.restart();
    let d = server.builder(prefix).open().expect("reopen");
    let alpha = ids(&d, "alpha");
    let beta = ids(&d, "beta");
    // Every put is wholly visible or not at all: both tables, both days.
    assert_eq!(alpha, beta, "alpha and beta hold the same puts");
    let distinct: BTreeSet<i64> = alpha.iter().copied().collect();
    for n in &distinct {
        assert_eq!(alpha.iter().filter(|x| *x == n).count(), 2, "put {n} whole");
    }
    let acknowledged: BTreeSet<i64> = ok.lock().unwrap().iter().copied().collect();
    assert!(
        acknowledged.is_subset(&distinct),
        "acknowledged puts are kept"
    );
    assert!(
        distinct.len() <= acknowledged.len() + 1,
        "at most the interrupted one more"
    );
    // Another writer settles what was left unfinished, and the dataset is usable.
    d.settle_abandoned_puts(Duration::ZERO).unwrap();
    d.put(&put_of(-1)).unwrap();
    assert_eq!(ids(&d, "alpha").len(), alpha.len() + 2);
    let blob = BlobRef::of_bytes(b"after");
    d.put_blob(&blob, &mut &b"after"[..]).unwrap();
    assert_eq!(read_verified(d.get_blob(&blob).unwrap()).unwrap(), b"after");
}
