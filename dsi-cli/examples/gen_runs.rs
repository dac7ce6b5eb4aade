//! Fills a store with synthetic `runs` rows, for `cargo xtask bench`'s
//! “Scaling with store size” section.
//!
//! ```text
//! gen_runs --driver sqlite|parquet|s3 --store STORE --rows N [--batch B] [--seed S]
//! ```
//!
//! The rows are [`RunRecord`]s with the real [`RUNS_SCHEMA`], put through the
//! driver's own `put` in batches of B rows (default 10,000), so the files
//! and rows are exactly what dsi writes — only batched (a `dsi record` puts
//! one row at a time). The content is deterministic for a seed and looks
//! like a busy site: rows in time order spread evenly over the 90 days from
//! 2026-09-01 (UTC); ULID run ids carrying their row's time; 60 % records
//! (`consumer`) and 40 % replays (`producer`) of a recent record, with its
//! commit and blob; 4 hosts, 3 users, 8 images; about 5 % of the replays
//! fail (`exit_code` 1, 2 or 137, else 0; records have none); a `steps` and
//! `compat_result` JSON on replays and a ~2 KB `kernel_info` JSON per row
//! (one per host, as a real host repeats its own). `S3` takes its
//! credentials and endpoint from the `AWS_*` environment, like `dsi`.
//!
//! Prints one line: rows, puts and seconds.

use std::process::ExitCode;
use std::time::Instant;

use dsi_core::env::KernelInfo;
use dsi_core::{Access, BlobRef, Collection, Driver, Options, Table, Timestamp};
use dsi_plugins_charliecloud::compat::{CompatResult, Policy};
use dsi_plugins_charliecloud::records::{
    Compat, Function, Identity, Outcome, RUNS_SCHEMA, RunRecord, StepRecord, System,
};

/// 2026-09-01T00:00:00Z in microseconds.
const START_MICROS: i64 = 1_788_220_800_000_000;
/// The span the rows cover.
const SPAN_MICROS: i64 = 90 * 86_400 * 1_000_000;

const HOSTS: [&str; 4] = ["cn0101", "cn0102", "cn0217", "login01"];
const USERS: [(&str, u32); 3] = [("alice", 1001), ("bob", 1002), ("carol", 1003)];

struct Args {
    driver: String,
    store: String,
    rows: u64,
    batch: u64,
    seed: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        driver: String::new(),
        store: String::new(),
        rows: 0,
        batch: 10_000,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--driver" => a.driver = value()?,
            "--store" => a.store = value()?,
            "--rows" => a.rows = value()?.parse().map_err(|e| format!("--rows: {e}"))?,
            "--batch" => a.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--seed" => a.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.driver.is_empty() || a.store.is_empty() || a.rows == 0 || a.batch == 0 {
        return Err(
            "usage: gen_runs --driver sqlite|parquet|s3 --store STORE --rows N [--batch B] \
             [--seed S]"
                .into(),
        );
    }
    Ok(a)
}

/// SplitMix64: deterministic pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// `bytes` random bytes as lower-case hex.
    fn hex(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes * 2);
        while s.len() < bytes * 2 {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(bytes * 2);
        s
    }

    fn digest(&mut self) -> [u8; 32] {
        let mut d = [0u8; 32];
        for chunk in d.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        d
    }
}

/// A ULID (Crockford base32) from milliseconds and 80 random bits.
fn ulid(ms: u64, random: u128) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let value: u128 = (u128::from(ms) << 80) | (random & ((1u128 << 80) - 1));
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// A ~2 KB `kernel_info` document for host number `h`.
fn kernel_info(h: usize) -> (String, String) {
    let release = if h == 3 {
        "6.1.0-27-amd64"
    } else {
        "6.1.0-18-amd64"
    };
    let mut sysctl = serde_json::Map::new();
    for (k, v) in [
        ("kernel.pid_max", "4194304"),
        ("kernel.threads-max", "1030522"),
        ("kernel.unprivileged_userns_clone", "1"),
        ("kernel.yama.ptrace_scope", "0"),
        ("kernel.randomize_va_space", "2"),
        ("kernel.shmmax", "18446744073692774399"),
        ("kernel.sched_autogroup_enabled", "0"),
        ("fs.file-max", "9223372036854775807"),
        ("fs.inotify.max_user_watches", "1048576"),
        ("fs.protected_hardlinks", "1"),
        ("fs.protected_symlinks", "1"),
        ("net.core.somaxconn", "4096"),
        ("net.core.rmem_max", "212992"),
        ("net.ipv4.ip_forward", "0"),
        ("net.ipv4.tcp_congestion_control", "cubic"),
        ("user.max_user_namespaces", "127813"),
        ("user.max_pid_namespaces", "127813"),
        ("vm.overcommit_memory", "0"),
        ("vm.swappiness", "60"),
        ("vm.max_map_count", "65530"),
        ("vm.dirty_ratio", "20"),
        ("vm.nr_hugepages", "0"),
    ] {
        sysctl.insert(k.into(), v.into());
    }
    sysctl.insert(
        "kernel.numa_balancing".into(),
        (if h < 2 { "1" } else { "0" }).into(),
    );
    let doc = serde_json::json!({
        "schema": "dsi.kernel_info/1",
        "sections": {
            "kernel": {
                "release": release,
                "architecture": "x86_64",
                "version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
                "ostype": "Linux",
            },
            "boot_cmdline": {
                "BOOT_IMAGE": format!("/boot/vmlinuz-{release}"),
                "root": "UUID=4f1c2e7a-9d3b-4c55-8e21-7a0b9c3d2e10",
                "ro": "",
                "quiet": "",
                "transparent_hugepage": "madvise",
                "intel_iommu": "on",
            },
            "compile_config": format!("unavailable: /boot/config-{release}: No such file or directory"),
            "sysctl": sysctl,
            "modules": {
                "overlay": "srcversion 8C1D4E5B2A3F6E7D9C0B1A2",
                "ext4": "srcversion 1A2B3C4D5E6F708192A3B4C",
                "nfsv4": "srcversion 9F8E7D6C5B4A39281706F5E",
                "mlx5_core": "version 6.1.0 srcversion 0A1B2C3D4E5F6A7B8C9D0E1",
                "squashfs": "srcversion 5E4D3C2B1A0F9E8D7C6B5A4",
            },
            "cgroup": {"version": "2", "controllers": "cpuset cpu io memory hugetlb pids rdma misc"},
            "cpu": {
                "model": "Intel(R) Xeon(R) Platinum 8480+",
                "cores": 112 - 16 * (h as i64 % 2),
                "sockets": 2,
            },
            "memory": {"total_kib": 527_939_584 - 1024 * h as i64},
            "userns": {"unprivileged": "1", "max_user_namespaces": "127813"},
            "charliecloud": {"version": "0.38"},
        }
    })
    .to_string();
    (release.to_owned(), doc)
}

struct Image {
    name: String,
    digest: String,
    manifest: String,
    config: String,
    tree: String,
}

/// A recent record that replays refer to.
#[derive(Clone)]
struct Recorded {
    run_id: String,
    commit: String,
    blob: BlobRef,
    image: usize,
}

struct Generator {
    rng: Rng,
    images: Vec<Image>,
    kernels: Vec<(String, KernelInfo)>,
    recent: Vec<Recorded>,
    rows: u64,
}

impl Generator {
    fn new(seed: u64, rows: u64) -> Self {
        let mut rng = Rng(seed);
        let images = (0..8)
            .map(|i| Image {
                name: format!("registry.example.org/lab/sim-{}:{}", i % 4, 2024 + i / 4),
                digest: format!("sha256:{}", rng.hex(32)),
                manifest: format!("sha256:{}", rng.hex(32)),
                config: format!("sha256:{}", rng.hex(32)),
                tree: format!("rftree1+sha256:{}", rng.hex(32)),
            })
            .collect();
        let kernels = (0..HOSTS.len())
            .map(|h| {
                let (release, info) = kernel_info(h);
                (
                    release,
                    KernelInfo::from_json(&info).expect("a valid synthetic kernel_info"),
                )
            })
            .collect();
        Generator {
            rng,
            images,
            kernels,
            recent: Vec::new(),
            rows,
        }
    }

    fn row(&mut self, i: u64) -> RunRecord {
        let rng = &mut self.rng;
        // Evenly spread in time order, jittered within a step.
        let step = SPAN_MICROS / i64::try_from(self.rows).unwrap_or(i64::MAX).max(1);
        let jitter = i64::try_from(rng.below(u64::try_from(step.max(1)).unwrap_or(1))).unwrap_or(0);
        let at = START_MICROS + step * i64::try_from(i).unwrap_or(0) + jitter;
        let ms = u64::try_from(at / 1000).unwrap_or(0);
        let run_id = ulid(
            ms,
            u128::from(rng.next()) << 16 | u128::from(rng.next() & 0xffff),
        );
        let h = usize::try_from(rng.below(HOSTS.len() as u64)).unwrap_or(0);
        let (moniker, uid) = USERS[usize::try_from(rng.below(USERS.len() as u64)).unwrap_or(0)];
        let producer = !self.recent.is_empty() && rng.below(10) < 4;
        let (record, parent) = if producer {
            let k = usize::try_from(rng.below(self.recent.len() as u64)).unwrap_or(0);
            (self.recent[k].clone(), Some(self.recent[k].run_id.clone()))
        } else {
            let rec = Recorded {
                run_id: run_id.clone(),
                commit: rng.hex(20),
                blob: BlobRef::new(rng.digest(), 8_192 + rng.below(200_000)),
                image: usize::try_from(rng.below(8)).unwrap_or(0),
            };
            if self.recent.len() < 256 {
                self.recent.push(rec.clone());
            } else {
                let k = usize::try_from(rng.below(256)).unwrap_or(0);
                self.recent[k] = rec.clone();
            }
            (rec, None)
        };
        let image = &self.images[record.image];
        let (release, info) = &self.kernels[h];
        let mut row = RunRecord::new(if producer {
            Function::Producer
        } else {
            Function::Consumer
        });
        row.run_id = run_id;
        row.recorded_at = Some(Timestamp::from_micros(at));
        row.parent_run_id = parent;
        row.image.reference = Some(image.name.clone());
        row.image.digest = Some(image.digest.clone());
        row.image.manifest_digest = Some(image.manifest.clone());
        row.image.config_digest = Some(image.config.clone());
        row.image.tree_digest = Some(image.tree.clone());
        row.image.checks = ["V0", "V1", "V2", "V4"].map(String::from).to_vec();
        row.image.storage = Some(format!("/var/tmp/{moniker}.ch"));
        row.commit = Some(record.commit.clone());
        row.runfile.path = Some("Runfile".into());
        row.runfile.sha256 = Some(rng.hex(32));
        row.runfile.digest = Some(format!("runfile1+sha256:{}", rng.hex(32)));
        row.repository = Some(record.blob);
        row.user = Some(Identity {
            uid: Some(i64::from(uid)),
            effective_gid: Some(i64::from(uid)),
            moniker: Some(moniker.into()),
            gid_list: vec![i64::from(uid), 100],
            hostname: Some(HOSTS[h].into()),
        });
        row.system = System {
            kernel_release: Some(release.clone()),
            architecture: Some("x86_64".into()),
            kernel_info: Some(info.clone()),
            ..System::default()
        };
        if producer {
            let exit = match rng.below(100) {
                0..=2 => 1,
                3 => 2,
                4 => 137,
                _ => 0,
            };
            let duration = 50 + rng.below(600_000);
            row.outcome = Some(Outcome {
                exit_code: Some(exit),
                signal: (exit == 137).then_some(9),
                duration_ms: Some(i64::try_from(duration).unwrap_or(0)),
                stdout_sha256: Some(rng.hex(32)),
                stderr_sha256: Some(rng.hex(32)),
            });
            row.steps = vec![StepRecord {
                step: 1,
                of: 1,
                kind: "cmd".into(),
                argv: vec![
                    "ch-run".into(),
                    "--unset-env=*".into(),
                    image.name.clone(),
                    "--".into(),
                    "./run.sh".into(),
                ],
                exit_code: Some(exit),
                duration_ms: duration,
                ..StepRecord::default()
            }];
            row.compat = Some(Compat {
                policy: Some("warn".into()),
                result: Some(CompatResult {
                    policy: Policy::Warn,
                    compared: true,
                    compatible: true,
                    blocking: Vec::new(),
                    sections: Vec::new(),
                }),
            });
        }
        row
    }
}

fn open(driver: &str, store: &str) -> dsi_core::Result<Box<dyn Driver>> {
    let options = Options::new().with("store", store.to_owned());
    match driver {
        "sqlite" => dsi_driver_sqlite::SqliteDriver::from_options(&options, Access::ReadWrite),
        "parquet" => dsi_driver_parquet::Dataset::from_options(&options, Access::ReadWrite),
        "s3" => dsi_driver_s3::S3Builder::from_options(&options, Access::ReadWrite),
        other => Err(dsi_core::Error::InvalidData(format!(
            "unknown driver {other}"
        ))),
    }
}

fn run(a: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let driver = open(&a.driver, &a.store)?;
    let mut generator = Generator::new(a.seed, a.rows);
    let t0 = Instant::now();
    let mut puts = 0u64;
    let mut i = 0u64;
    while i < a.rows {
        let n = a.batch.min(a.rows - i);
        let mut table = Table::with_schema("runs", RUNS_SCHEMA)?;
        for k in i..i + n {
            table.append_rows(generator.row(k).to_table()?)?;
        }
        driver.put(&Collection::of(table))?;
        puts += 1;
        i += n;
    }
    println!(
        "{} rows in {puts} puts into {} {} in {:.1} s",
        a.rows,
        a.driver,
        a.store,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gen_runs: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_runs: {e}");
            ExitCode::FAILURE
        }
    }
}
