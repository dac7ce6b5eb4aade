//! Fuzz the CSV reader behind `dsi ingest csv`
//! (`dsi_core::ingest::CsvReader`): no input may panic, errors must name the
//! file, and a file that reads must read the same twice, with as many values
//! in every column as rows.
//!
//! The first input byte chooses the delimiter and a small field limit (so
//! the limit is exercised); the rest is the file, written to a temporary
//! file that the reader streams (twice, as it does: types, then values).
//!
//! Run from the repository root: `cargo fuzz run -s none csv_reader
//! fuzz/corpus/csv_reader fuzz/seeds/csv`.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use dsi_core::Options;
use dsi_core::ingest::CsvReader;
use libfuzzer_sys::fuzz_target;

fn file() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let d = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("a temporary directory");
        let p = d.path().join("in.csv");
        (d, p)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, content)) = data.split_first() else {
        return;
    };
    let delimiter = match first & 3 {
        0 => ",",
        1 => ";",
        2 => "\\t",
        _ => "|",
    };
    let max_field = if first & 4 == 0 { 1 << 20 } else { 16 };
    let path = file();
    std::fs::write(path, content).expect("writing the input");
    let reader = CsvReader::from_options(
        &Options::new()
            .with("path", path.to_str().expect("UTF-8 path"))
            .with("table", "t")
            .with("delimiter", delimiter)
            .with("max_field_bytes", max_field.to_string()),
    )
    .expect("valid options");
    match reader.read() {
        Ok(t) => {
            for c in t.columns() {
                assert_eq!(c.len(), t.num_rows(), "column {} is ragged", c.name());
            }
            let again = reader.read().expect("a file that read once reads again");
            assert_eq!(t, again, "reading twice gave different tables");
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty());
            assert!(
                text.contains("in.csv"),
                "the error does not name the file: {text}"
            );
        }
    }
});
