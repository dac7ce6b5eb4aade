//! Prints the `rftree1` digest of a directory (RUNFILE.md §8.4).
//!
//! `cargo run --release -p dsi-plugins-charliecloud --example rftree -- DIR`.
//! `cargo xtask bench` times this process over a 1 GiB tree for throughput
//! and peak RSS.

use std::path::PathBuf;
use std::process::ExitCode;

use dsi_plugins_charliecloud::image::rftree;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: rftree DIR");
        return ExitCode::from(2);
    };
    match rftree(dir) {
        Ok(digest) => {
            println!("{digest}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rftree: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
