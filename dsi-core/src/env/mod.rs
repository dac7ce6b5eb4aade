//! Environment plugins: what every DSI record says about where it was made.
//!
//! * [`PosixIdentity`] — `uid`, `effective_gid`, `moniker`, `gid_list`, recorded by
//!   every environment plugin;
//! * [`Hostname`] (plugin `hostname`) — adds `hostname`;
//! * [`SystemKernel`] (plugin `system-kernel`) — adds `kernel_info`, versioned
//!   JSON ([`KernelInfo`]) with the kernel, its compile-time and boot
//!   configuration, run-time sysctls, loaded modules, cgroup version, CPU
//!   model and flags, user-namespace limits and the Charliecloud version;
//!   [`diff`] compares two of them;
//! * [`Slurm`] (plugin `slurm`) — adds `slurm_job_id` and `scheduler_info`,
//!   versioned JSON ([`SchedulerInfo`]) with the Slurm job, step and
//!   allocation and the host's MPI plumbing; `not under Slurm` outside a job.
//!   It lives here, not in a crate of its own, because it needs nothing but
//!   the environment and three programs (no dependency), and the
//!   compatibility check compares it next to `kernel_info`.
//!
//! Sources are read from `/proc` and `/sys` directly. A source that is missing
//! or unreadable (no `/boot/config-*`, no module support, permission denied,
//! inside a container) is recorded as `unavailable: <reason>` and never fails
//! the collection.
//!
//! `GitInfo` needs git2 and lives in `dsi-plugins-charliecloud` as `git-info`.

mod answers;
mod hostname;
mod kernel_diff;
mod kernel_info;
mod posix;
mod scheduler_info;
mod slurm;
mod system_kernel;

pub use answers::{find_program, self_answer};
pub use hostname::Hostname;
pub use kernel_diff::{
    AvailabilityChange, Changed, Entry, KernelDiff, SectionDiff, diff, diff_sections,
};
pub use kernel_info::{KERNEL_INFO_SCHEMA, KernelInfo, Section};
pub use posix::PosixIdentity;
pub use scheduler_info::{COMPARED_SCHEDULER_SECTIONS, SCHEDULER_INFO_SCHEMA, SchedulerInfo};
pub use slurm::{NOT_UNDER_SLURM, Slurm, collect_scheduler_info, is_scheduler_variable};
pub use system_kernel::{SystemKernel, collect_kernel_info};
