//! The test Slurm cluster: Debian's `slurm-wlm` 22.05 and `munge`, run
//! without systemd from `target/dsi-services/slurm`: `munged` on its own
//! socket, `slurmctld` and two `slurmd -N n1|n2` (virtual nodes of 2 CPUs
//! each) on free 127.0.0.1 ports, as root.
//!
//! Settings measured on this kind of machine (DESIGN.md "Test services
//! (second wave)"): `ProctrackType=proctrack/linuxproc` and
//! `TaskPlugin=task/none` (no cgroups needed), `TmpFS=/tmp/dsi-slurm-PID/%n`
//! (PMIx across two virtual nodes of one host fails without a tmpfs per
//! node, and Open MPI in a container needs it below /tmp, see [`start`]),
//! `JobCompType=jobcomp/filetxt` (`sacct -c` without slurmdbd) and
//! `SlurmdParameters=config_overrides` (the nodes claim more CPUs than the
//! host has). Clients find the cluster through `SLURM_CONF`, which [`start`]
//! returns with the rest of the tests' environment; [`stop`] ends every
//! daemon by the pid in its pid file.

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::util::run;

/// The cluster's name (`scontrol show config`, records' `cluster`).
pub(crate) const CLUSTER: &str = "dsitest";

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn conf(dir: &Path, tmpfs: &Path, ctld: u16, n1: u16, n2: u16) -> String {
    let d = dir.display();
    let tmpfs = tmpfs.display();
    format!(
        "ClusterName={CLUSTER}
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld}
AuthType=auth/munge
AuthInfo=socket={d}/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
TmpFS={tmpfs}/%n
JobCompType=jobcomp/filetxt
JobCompLoc={d}/jobcomp.txt
ReturnToService=2
MpiDefault=none
SlurmdParameters=config_overrides
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port={n1} CPUs=2 State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port={n2} CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
"
    )
}

/// Starts munged, slurmctld and the two slurmd; returns `SLURM_CONF` and
/// `DSI_TEST_SLURM_CLUSTER`.
pub(crate) fn start(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    stop(dir);
    for d in ["munge", "state", "spool", "log"] {
        fs::create_dir_all(dir.join(d))?;
    }
    // The per-node TmpFS must be below /tmp: Open MPI creates its session
    // directory below the PMIx tmpdir, which inside `ch-run --private-tmp`
    // exists only if it is below /tmp (anywhere else the image is
    // read-only and MPI_Init fails in `session_dir.c`).
    let tmpfs = Path::new("/tmp").join(format!("dsi-slurm-{}", std::process::id()));
    for n in ["n1", "n2"] {
        fs::create_dir_all(tmpfs.join(n))?;
    }
    fs::write(dir.join("tmpfs"), tmpfs.display().to_string())?;
    let munge = dir.join("munge");
    fs::set_permissions(&munge, fs::Permissions::from_mode(0o700))?;
    let key = munge.join("munge.key");
    let mut bytes = vec![0u8; 1024];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("reading /dev/urandom for the munge key")?;
    fs::write(&key, &bytes)?;
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600))?;
    run(Command::new("/usr/sbin/munged")
        .arg("--force")
        .arg(format!("--key-file={}", key.display()))
        .arg(format!("--socket={}", munge.join("munge.socket").display()))
        .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
        .arg(format!("--log-file={}", munge.join("munged.log").display()))
        .arg(format!("--seed-file={}", munge.join("seed").display())))
    .context("starting munged (Debian: apt-get install munge)")?;

    let (ctld, n1, n2) = (free_port()?, free_port()?, free_port()?);
    let conf_file = dir.join("slurm.conf");
    fs::write(&conf_file, conf(dir, &tmpfs, ctld, n1, n2))?;
    let started = Instant::now();
    let slurm = |program: &str, args: &[&str]| -> anyhow::Result<()> {
        run(Command::new(program)
            .args(args)
            .env("SLURM_CONF", &conf_file))
        .with_context(|| format!("starting {program} (Debian: apt-get install slurm-wlm)"))
    };
    slurm("/usr/sbin/slurmctld", &["-i"])?;
    slurm("/usr/sbin/slurmd", &["-N", "n1"])?;
    slurm("/usr/sbin/slurmd", &["-N", "n2"])?;
    // Up when both nodes are idle.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("sinfo")
            .args(["-h", "-N", "-o", "%N %T"])
            .env("SLURM_CONF", &conf_file)
            .output()
            .context("running sinfo")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let idle = text.lines().filter(|l| l.ends_with(" idle")).count();
        if idle == 2 {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the test Slurm cluster did not come up in 30 s (sinfo: {text:?}); see {}",
                dir.join("log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "xtask: Slurm cluster {CLUSTER} up in {:.2} s (slurmctld on 127.0.0.1:{ctld}, nodes n1 n2)",
        started.elapsed().as_secs_f64()
    );
    let mut env = BTreeMap::new();
    env.insert("SLURM_CONF".to_owned(), conf_file.display().to_string());
    env.insert("DSI_TEST_SLURM_CLUSTER".to_owned(), CLUSTER.to_owned());
    Ok(env)
}

/// Stops the daemons of `dir` by their pid files (slurmd first).
pub(crate) fn stop(dir: &Path) {
    for pid in [
        "slurmd-n1.pid",
        "slurmd-n2.pid",
        "slurmctld.pid",
        "munge/munged.pid",
    ] {
        crate::services::stop_pid(&dir.join(pid));
    }
}
