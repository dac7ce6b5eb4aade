//! Replays inside one Slurm allocation (`dsi replay --slurm`): every `srun`
//! step of a Runfile must be a step of one job (RUNFILE-1.1 §4.3, E417), so
//! the whole replay runs as `salloc [SALLOC_ARGS…] DSI replay …`, whose exit
//! status is the replay's (salloc returns its command's status).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

/// Whether this process runs inside a Slurm allocation (`SLURM_JOB_ID` set).
pub fn in_allocation() -> bool {
    std::env::var_os("SLURM_JOB_ID").is_some_and(|j| !j.is_empty())
}

/// `salloc SALLOC_ARGS… PROGRAM ARGS…`, or an error naming what is missing
/// when `salloc` is not on `PATH`.
pub fn salloc_command(
    salloc_args: &[String],
    program: &Path,
    args: &[OsString],
) -> Result<Command, String> {
    let salloc = crate::runtime::find_program("salloc").ok_or_else(|| {
        "salloc not found on PATH: dsi replay --slurm needs Slurm's client commands".to_owned()
    })?;
    let mut c = Command::new(salloc);
    c.args(salloc_args).arg(program).args(args);
    Ok(c)
}
