//! Runs a Runfile once through the dsi runtime, without recording anything.
//!
//! ```text
//! run_once --storage DIR [--resolve] [--print-argv] RUNFILE
//! ```
//!
//! Parses RUNFILE, optionally verifies its image offline with
//! `image::resolve` (`--resolve`), then runs every step with
//! `runtime::execute` against the ch-image storage DIR and exits with the
//! run's status. `--print-argv` instead prints the ch-run argv of the first
//! step, NUL-terminated arguments, and exits. `USER` must be set (ch-run
//! needs it). `cargo xtask bench` times this against the raw ch-run argv.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dsi_plugins_charliecloud::image::{self, ChImage, ResolveOptions, Storage};
use dsi_plugins_charliecloud::runfile::{ArgvContext, parse};
use dsi_plugins_charliecloud::runtime::{RunOptions, execute};

struct Args {
    storage: PathBuf,
    resolve: bool,
    print_argv: bool,
    runfile: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut storage = None;
    let mut resolve = false;
    let mut print_argv = false;
    let mut runfile = None;
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--storage") => storage = it.next().map(PathBuf::from),
            Some("--resolve") => resolve = true,
            Some("--print-argv") => print_argv = true,
            _ if runfile.is_none() => runfile = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {}", a.to_string_lossy())),
        }
    }
    Ok(Args {
        storage: storage.ok_or("--storage DIR is required")?,
        resolve,
        print_argv,
        runfile: runfile.ok_or("RUNFILE is required")?,
    })
}

fn run(a: &Args) -> Result<u8, String> {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .ok_or("USER must be set (ch-run needs it)")?;
    let name = a.runfile.display().to_string();
    let source = std::fs::read(&a.runfile).map_err(|e| format!("{name}: {e}"))?;
    let rf = parse(&source).map_err(|e| e.render(&name))?.runfile;
    let context = a
        .runfile
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if a.print_argv {
        let argv = rf.to_ch_run_argv(0, &ArgvContext::new(context).with_storage(&a.storage));
        let mut out = std::io::stdout().lock();
        for arg in argv {
            out.write_all(arg.as_bytes())
                .and_then(|()| out.write_all(b"\0"))
                .map_err(|e| e.to_string())?;
        }
        return Ok(0);
    }
    if a.resolve {
        let storage = Storage::new(&a.storage);
        let offline = ResolveOptions {
            online: false,
            full: false,
        };
        image::resolve(
            rf.image(),
            rf.from_line(),
            context,
            &storage,
            &ChImage::locate(&user),
            offline,
        )
        .map_err(|e| e.render(&name))?;
    }
    let mut opts = RunOptions::new(context, user);
    opts.storage = Some(a.storage.clone());
    let outcome = execute(&rf, &opts).map_err(|e| e.render(&name))?;
    if let Some(f) = &outcome.failure {
        eprintln!("{}", f.render(&name));
    }
    Ok(u8::try_from(outcome.exit_code).unwrap_or(1))
}

fn main() -> ExitCode {
    let result = args().and_then(|a| run(&a));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("run_once: {e}");
            ExitCode::from(2)
        }
    }
}
