//! Content-addressed blob storage in SQLite.
//!
//! `_dsi_blobs(sha256, len, chunks)` lists stored content;
//! `_dsi_blob_chunks(sha256, seq, data)` holds it in 1 MiB chunks. Writing
//! streams the content chunk by chunk inside one transaction and commits only
//! if it hashes to the promised reference; reading fetches one chunk at a time
//! through a [`VerifyingReader`]. Memory use is one chunk either way.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dsi_core::blob::{BlobReader, HashingWriter, VerifyingReader};
use dsi_core::{BlobPut, BlobRef, Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::sql::SqlError;

/// Size of one stored chunk.
pub(crate) const CHUNK: usize = 1 << 20;

/// Whether an error says that dsi's blob tables do not exist: a store dsi
/// did not write (opened read-only) holds no blobs.
fn no_blob_table(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(m)) if m.starts_with("no such table"))
}

pub(crate) fn exists(conn: &Connection, blob: &BlobRef) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM _dsi_blobs WHERE sha256 = ?1 AND len = ?2",
        params![blob.sha256_hex(), blob_len(blob)],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .or_else(|e| if no_blob_table(&e) { Ok(false) } else { Err(e) })
}

fn blob_len(blob: &BlobRef) -> i64 {
    i64::try_from(blob.len()).unwrap_or(i64::MAX)
}

/// Fills `buf` as far as the reader allows; returns the bytes read (short only at EOF).
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub(crate) fn put(
    conn: &mut Connection,
    path: &Path,
    blob: &BlobRef,
    content: &mut dyn Read,
) -> Result<BlobPut> {
    let e = |what: &str| {
        let what = what.to_owned();
        move |source| crate::err(path, &what, source)
    };
    if exists(conn, blob).map_err(e("looking up a blob"))? {
        return Ok(BlobPut::AlreadyPresent);
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(e("starting a write transaction"))?;
    // Another process may have stored it while we waited for the lock.
    if exists(&tx, blob).map_err(e("looking up a blob"))? {
        return Ok(BlobPut::AlreadyPresent);
    }
    let hex = blob.sha256_hex();
    let mut hasher = HashingWriter::new(io::sink());
    let mut buf = vec![0u8; CHUNK];
    let mut seq: i64 = 0;
    {
        let mut insert = tx
            .prepare(
                "INSERT OR REPLACE INTO _dsi_blob_chunks (sha256, seq, data) VALUES (?1, ?2, ?3)",
            )
            .map_err(e("preparing blob insert"))?;
        loop {
            let n = read_full(content, &mut buf)
                .map_err(|err| Error::io(format!("reading content of blob {blob}"), err))?;
            if n == 0 {
                break;
            }
            io::Write::write_all(&mut hasher, &buf[..n])
                .map_err(|err| Error::io("hashing", err))?;
            insert
                .execute(params![hex, seq, &buf[..n]])
                .map_err(e("writing blob content"))?;
            seq += 1;
            if n < CHUNK {
                break;
            }
        }
    }
    let (_, actual) = hasher.finish();
    if actual != *blob {
        // Dropping the transaction rolls the chunks back.
        return Err(Error::Corrupt(format!(
            "content given for blob {blob} ({} bytes) is {actual} ({} bytes); nothing stored",
            blob.len(),
            actual.len()
        )));
    }
    tx.execute(
        "INSERT INTO _dsi_blobs (sha256, len, chunks) VALUES (?1, ?2, ?3)",
        params![hex, blob_len(blob), seq],
    )
    .map_err(e("recording a blob"))?;
    tx.commit().map_err(e("committing a blob"))?;
    Ok(BlobPut::Stored)
}

pub(crate) fn open(
    conn: Arc<Mutex<Connection>>,
    path: &Path,
    blob: &BlobRef,
) -> Result<BlobReader<'static>> {
    let chunks: Option<i64> = {
        let c = conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        c.query_row(
            "SELECT chunks FROM _dsi_blobs WHERE sha256 = ?1 AND len = ?2",
            params![blob.sha256_hex(), blob_len(blob)],
            |r| r.get(0),
        )
        .optional()
        .or_else(|e| if no_blob_table(&e) { Ok(None) } else { Err(e) })
        .map_err(|source| crate::err(path, "looking up a blob", source))?
    };
    let Some(chunks) = chunks else {
        return Err(Error::not_found("blob", blob.to_string()));
    };
    let reader = ChunkReader {
        conn,
        path: path.to_path_buf(),
        sha256: blob.sha256_hex(),
        next: 0,
        chunks,
        buf: Vec::new(),
        pos: 0,
    };
    Ok(VerifyingReader::new(Box::new(reader), *blob))
}

pub(crate) fn list(conn: &Connection) -> std::result::Result<Vec<BlobRef>, SqlError> {
    let what = || "listing blobs".to_owned();
    let mut stmt = match conn.prepare("SELECT sha256, len FROM _dsi_blobs ORDER BY sha256") {
        Ok(s) => s,
        Err(e) if no_blob_table(&e) => return Ok(Vec::new()),
        Err(source) => {
            return Err(SqlError::Db {
                what: what(),
                source,
            });
        }
    };
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(|source| SqlError::Db {
            what: what(),
            source,
        })?;
    let mut out = Vec::new();
    for row in rows {
        let (hex, len) = row.map_err(|source| SqlError::Db {
            what: what(),
            source,
        })?;
        let digest = BlobRef::parse_hex_digest(&hex)?;
        out.push(BlobRef::new(digest, u64::try_from(len).unwrap_or(0)));
    }
    Ok(out)
}

/// Streams a stored blob one chunk at a time.
struct ChunkReader {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    sha256: String,
    next: i64,
    chunks: i64,
    buf: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    fn fetch(&mut self) -> io::Result<()> {
        let c = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let data: Option<Vec<u8>> = c
            .query_row(
                "SELECT data FROM _dsi_blob_chunks WHERE sha256 = ?1 AND seq = ?2",
                params![self.sha256, self.next],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| {
                io::Error::other(format!("{}: reading blob chunk: {e}", self.path.display()))
            })?;
        let Some(data) = data else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob sha256:{} is missing chunk {} of {}",
                    self.sha256, self.next, self.chunks
                ),
            ));
        };
        self.buf = data;
        self.pos = 0;
        self.next += 1;
        Ok(())
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.next >= self.chunks {
                return Ok(0);
            }
            self.fetch()?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
