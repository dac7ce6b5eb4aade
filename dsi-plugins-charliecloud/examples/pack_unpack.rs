//! Packs a repository directory into a tarball, or unpacks one, with the
//! artifact code dsi records and replays with.
//!
//! ```text
//! pack_unpack pack DIR OUT       # artifact::pack(DIR) → the file OUT
//! pack_unpack unpack IN DIR      # artifact::unpack(IN) → the new directory DIR
//! ```
//!
//! `pack` prints `bytes=N sha256=HEX` (the tarball); `unpack` prints
//! `entries=N bytes=N` (what was created: entries, and bytes of file
//! content). `cargo xtask bench` times both as processes over a generated
//! 1 GiB and 100 MiB git repository, for throughput and peak RSS (which must
//! not grow with the repository).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dsi_plugins_charliecloud::artifact::{self, Limits};

fn pack(dir: &Path, out: &Path) -> Result<String, String> {
    // The temporary file goes next to OUT, so that persisting it is a rename.
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let packed = artifact::pack(dir, Some(&parent)).map_err(|e| format!("packing: {e}"))?;
    let blob = packed.blob;
    packed
        .file
        .persist(out)
        .map_err(|e| format!("writing {}: {e}", out.display()))?;
    Ok(format!("bytes={} sha256={}", blob.len(), blob.sha256_hex()))
}

fn unpack(input: &Path, dir: &Path) -> Result<String, String> {
    let file =
        std::fs::File::open(input).map_err(|e| format!("opening {}: {e}", input.display()))?;
    std::fs::create_dir(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // The zstd decoder buffers its input itself.
    let stats =
        artifact::unpack(file, dir, &Limits::default()).map_err(|e| format!("unpacking: {e}"))?;
    Ok(format!("entries={} bytes={}", stats.entries, stats.bytes))
}

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let result = match args.as_slice() {
        [cmd, dir, out] if cmd.as_os_str() == "pack" => pack(dir, out),
        [cmd, input, dir] if cmd.as_os_str() == "unpack" => unpack(input, dir),
        _ => {
            eprintln!("usage: pack_unpack pack DIR OUT | pack_unpack unpack IN DIR");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pack_unpack: {e}");
            ExitCode::FAILURE
        }
    }
}
