//! Where everything lives in a dataset: table roots (Delta tables), data
//! file names, blob keys and dsi's own bookkeeping under `_dsi/`.
//!
//! ```text
//! <root>/<table>/_delta_log/…                          the table's Delta log
//! <root>/<table>/<ULID>.parquet                        data of one put
//! <root>/<table>/<ULID>.m.parquet                      data of one put spanning tables
//! <root>/<table>/<ULID>.c<ULID>.parquet                compacted data
//! <root>/blobs/sha256/<2 hex>/<62 hex>                 blob content
//! <root>/_dsi/dataset.json                             format and version
//! <root>/_dsi/puts/<ULID>.json                         a multi-table put in progress
//! ```
//!
//! Layout 1 (before Delta) kept `<table>/date=YYYY-MM-DD/<ULID>.parquet`
//! Hive partitions, hidden `.tmp` files and `_dsi/schemas/`; [`classify`]
//! still reads those names for `migrate`.
//!
//! A table's directory name is its name with every ASCII character other
//! than letters, digits, `-`, `_` and `.` written as `+XX` (and a leading `.`
//! or `_` too, which other engines treat as hidden); other Unicode is kept.
//! (The first layout wrote `%XX`; `migrate` moves such tables.)

use std::sync::Mutex;

use dsi_core::{BlobRef, Error, Result};
use object_store::path::{Path, PathPart};

/// Directory of blob content.
pub(crate) const BLOBS: &str = "blobs";
/// Directory of dsi's bookkeeping.
pub(crate) const META: &str = "_dsi";
/// Extension of data files.
pub(crate) const DATA_EXT: &str = ".parquet";
/// Name of the Hive partition column.
pub(crate) const DATE_KEY: &str = "date";

/// Table names that would collide with the layout's own directories.
pub(crate) fn check_table_name(name: &str) -> Result<()> {
    if name == BLOBS {
        return Err(Error::InvalidData(format!(
            "table name '{name}' is reserved by the dataset layout (it holds blob content)"
        )));
    }
    Ok(())
}

/// The escape character of table directory names. Not `%`: a `%` in an
/// object path reads as a URL escape somewhere between delta-rs and its
/// kernel, so a table named `a b` in `a%20b/` would be looked for in `a b/`.
const ESCAPE: char = '+';

fn encode_with(name: &str, escape: char) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        let plain = c.is_ascii_alphanumeric() || c == '-' || ((c == '_' || c == '.') && i > 0);
        if plain || !c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("{escape}{:02X}", c as u32));
        }
    }
    out
}

/// The directory name of a table: letters, digits, `-`, `_`, `.` and
/// non-ASCII characters as they are, other ASCII (and a leading `_` or
/// `.`, hidden to other engines) as `+XX`.
pub(crate) fn encode_table(name: &str) -> String {
    encode_with(name, ESCAPE)
}

/// The table name of a directory name, or `None` if it is not one
/// [`encode_table`] produces.
pub(crate) fn decode_table(dir: &str) -> Option<String> {
    let name = unescape(dir, ESCAPE)?;
    (encode_table(&name) == dir).then_some(name)
}

/// The table name of a directory of the first layout (`%XX` escapes).
pub(crate) fn decode_legacy_table(dir: &str) -> Option<String> {
    let name = unescape(dir, '%')?;
    (encode_with(&name, '%') == dir).then_some(name)
}

/// Reverses `<escape>XX` escapes; `None` for malformed escapes or invalid UTF-8.
fn unescape(s: &str, escape: char) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let e = u8::try_from(escape).ok()?;
    while i < bytes.len() {
        if bytes[i] == e {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A path part's text. Parts dsi writes are stored verbatim (see [`join`]).
pub(crate) fn part_text(part: &PathPart<'_>) -> Option<String> {
    Some(part.as_ref().to_owned())
}

/// `prefix/a/b/…`. Parts are kept verbatim, so the names on disk and in the
/// bucket are exactly those described above; every part dsi builds is valid
/// (no `/`, no control characters, not `.` or `..`), anything else would be
/// escaped by object_store.
pub(crate) fn join(prefix: &Path, parts: &[&str]) -> Path {
    parts
        .iter()
        .fold(prefix.clone(), |p, part| match PathPart::parse(part) {
            Ok(valid) => p.join(valid),
            Err(_) => p.join(PathPart::from(*part)),
        })
}

/// The directory of a table.
pub(crate) fn table_dir(prefix: &Path, table: &str) -> Path {
    join(prefix, &[&encode_table(table)])
}

/// The name of a put's data file in a table's directory: `<ULID>.parquet`,
/// or `<ULID>.m.parquet` for a put that spans several tables (whose files
/// are visible to dsi only once the put is complete, see `commit`).
pub(crate) fn data_file_name(id: &str, multi: bool) -> String {
    if multi {
        format!("{id}.m{DATA_EXT}")
    } else {
        format!("{id}{DATA_EXT}")
    }
}

/// Whether a data file (its path relative to the table) is named after put
/// `id`: the put's own file, or a compacted file whose first put it is
/// (either way, the put committed to the table).
pub(crate) fn file_of_put(relative: &str, id: &str) -> bool {
    relative
        .strip_prefix(id)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// Whether a data file (its path relative to the table) belongs to a
/// multi-table put.
pub(crate) fn is_multi_put_file(relative: &str) -> bool {
    relative.ends_with(&format!(".m{DATA_EXT}"))
}

/// The order of a data file among its table's files: the ULID its name
/// starts with (a put's, or for a compacted file the first put it holds),
/// then the whole path.
pub(crate) fn file_order_key(relative: &str) -> (&str, &str) {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    (name.split('.').next().unwrap_or(name), relative)
}

/// The name of a compacted file holding files from `first` on.
pub(crate) fn compacted_file_name(first: &str, id: &str) -> String {
    format!("{first}.c{id}{DATA_EXT}")
}

/// Where a blob's content lives.
pub(crate) fn blob_path(prefix: &Path, blob: &BlobRef) -> Path {
    let hex = blob.sha256_hex();
    join(prefix, &[BLOBS, "sha256", &hex[..2], &hex[2..]])
}

/// The directory of every blob.
pub(crate) fn blobs_dir(prefix: &Path) -> Path {
    join(prefix, &[BLOBS, "sha256"])
}

/// The digest of a blob path's last two parts (`<2 hex>/<62 hex>`).
pub(crate) fn blob_digest(dir: &str, file: &str) -> Option<[u8; 32]> {
    if dir.len() != 2 || file.len() != 62 {
        return None;
    }
    BlobRef::parse_hex_digest(&format!("{dir}{file}")).ok()
}

/// `_dsi/dataset.json`.
pub(crate) fn format_path(prefix: &Path) -> Path {
    join(prefix, &[META, "dataset.json"])
}

/// `_dsi/schemas/` (layout 1 only).
pub(crate) fn schemas_root(prefix: &Path) -> Path {
    join(prefix, &[META, "schemas"])
}

/// `_dsi/puts/`: records of multi-table puts in progress.
pub(crate) fn puts_dir(prefix: &Path) -> Path {
    join(prefix, &[META, "puts"])
}

/// What a listed object under a table directory is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DataName {
    /// A published data file: its id (file stem) and partition date.
    Published {
        /// File stem (a ULID for files dsi wrote).
        id: String,
        /// The `date=` partition, if the file is in one.
        date: Option<String>,
    },
    /// A temporary file of a put in progress or abandoned.
    Temporary,
    /// Anything else (hidden files, other extensions): ignored.
    Other,
}

/// Classifies a path relative to its table directory.
pub(crate) fn classify(relative: &[String]) -> DataName {
    let Some((file, dirs)) = relative.split_last() else {
        return DataName::Other;
    };
    if dirs
        .iter()
        .any(|d| d.starts_with('.') || d.starts_with('_'))
    {
        return DataName::Other;
    }
    if file.starts_with('.') && file.ends_with(".tmp") {
        return DataName::Temporary;
    }
    if file.starts_with('.') || file.starts_with('_') {
        return DataName::Other;
    }
    let Some(id) = file.strip_suffix(DATA_EXT) else {
        return DataName::Other;
    };
    let date = dirs.iter().rev().find_map(|d| {
        d.strip_prefix(DATE_KEY)
            .and_then(|r| r.strip_prefix('='))
            .map(str::to_owned)
    });
    DataName::Published {
        id: id.to_owned(),
        date,
    }
}

/// A new ULID: time-ordered, monotonic within this process (ULIDs created in
/// the same millisecond count up), with 80 random bits from the kernel.
pub(crate) fn new_id() -> String {
    static LAST: Mutex<(u64, u128)> = Mutex::new((0, 0));
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (ms, random) = if ms <= last.0 {
        // Same (or an earlier, if the clock stepped back) millisecond: count up.
        (last.0, last.1.wrapping_add(1) & ((1u128 << 80) - 1))
    } else {
        let mut bytes = [0u8; 16];
        // getrandom does not fail for 16 bytes once the pool is ready; should
        // it, the time part still orders and the count still separates.
        let _ = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty());
        // Leave headroom so counting up within a millisecond never wraps.
        (ms, u128::from_le_bytes(bytes) & ((1u128 << 79) - 1))
    };
    *last = (ms, random);
    ulid::Ulid::from_parts(ms, random).to_string()
}

/// The millisecond timestamp of a ULID, if the text is one.
pub(crate) fn id_millis(id: &str) -> Option<u64> {
    ulid::Ulid::from_string(id).ok().map(|u| u.timestamp_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_named_after_a_put() {
        let id = "01JD0000000000000000000000";
        assert!(file_of_put(&data_file_name(id, false), id));
        assert!(file_of_put(&data_file_name(id, true), id));
        assert!(file_of_put(
            &compacted_file_name(id, "01JD0000000000000000000001"),
            id
        ));
        assert!(!file_of_put(
            &compacted_file_name("01JD0000000000000000000001", id),
            id
        ));
        assert!(!file_of_put("01JD00000000000000000000001.parquet", id));
        assert!(!file_of_put("x.parquet", id));
    }

    #[test]
    fn table_names_round_trip() {
        for name in [
            "runs",
            "a b",
            "données ✓ \"; DROP TABLE x; --",
            "_hidden",
            ".dot",
            "x=1/../y",
            "100%",
            "a_b.c-d",
        ] {
            let dir = encode_table(name);
            assert!(!dir.contains('/') && !dir.contains(' ') && !dir.contains('='));
            assert!(!dir.starts_with('.') && !dir.starts_with('_'), "{dir}");
            assert_eq!(decode_table(&dir).as_deref(), Some(name), "{dir}");
        }
        assert_eq!(encode_table("runs"), "runs");
        assert_eq!(decode_table("+zz"), None);
        assert_eq!(decode_table("a+41"), None, "not canonical");
        assert!(!encode_table("a b%").contains('%'));
        assert_eq!(decode_legacy_table("a%20b").as_deref(), Some("a b"));
    }

    #[test]
    fn object_store_paths_keep_the_names() {
        let p = table_dir(&Path::from("root"), "a b%");
        let last = p.parts().next_back().unwrap();
        assert_eq!(decode_table(&part_text(&last).unwrap()).unwrap(), "a b%");
    }

    #[test]
    fn data_names_are_classified() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            classify(&v(&["date=2026-11-29", "01J.parquet"])),
            DataName::Published {
                id: "01J".into(),
                date: Some("2026-11-29".into())
            }
        );
        assert_eq!(
            classify(&v(&["date=2026-11-29", ".01J.parquet.tmp"])),
            DataName::Temporary
        );
        assert_eq!(classify(&v(&["_spark", "x.parquet"])), DataName::Other);
        assert_eq!(classify(&v(&["x.parquet#1"])), DataName::Other);
        assert_eq!(classify(&v(&["_SUCCESS"])), DataName::Other);
    }

    #[test]
    fn ids_are_monotonic() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(id_millis(&ids[0]).is_some());
    }
}
