//! The `system-kernel` plugin and [`collect_kernel_info`], which reads the
//! sections of a [`KernelInfo`] from `/proc`, `/sys` and `/boot`.
//!
//! Only one program is run: `ch-run --version`, for the Charliecloud version,
//! once per ch-run file ([`super::self_answer`]).
//! Loaded modules come from `/proc/modules` and `/sys/module/<name>/` (the
//! `version` and `srcversion` that `modinfo` would print for a loaded module),
//! so `modinfo` is not needed. Volatile sysctls (counters, random values,
//! per-network-interface settings) are left out so that two records of the
//! same system compare equal.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::{Value as J, json};

use crate::error::Result;
use crate::options::Options;
use crate::plugin::{Context, Plugin, PluginFunction};
use crate::registry::PluginEntry;
use crate::table::{Collection, Column, Table};
use crate::value::{DataType, Value};

use super::PosixIdentity;
use super::kernel_info::{KernelInfo, Section};

/// Records the POSIX identity and the system description (`kernel_info`).
#[derive(Debug, Default)]
pub struct SystemKernel;

impl SystemKernel {
    /// The `kernel_release`, `architecture` and `kernel_info` columns for one row.
    pub fn columns(info: &KernelInfo) -> Result<Vec<Column>> {
        let text = |section: &str, key: &str| -> Value {
            info.get_str(section, key).map(str::to_owned).into()
        };
        Ok(vec![
            Column::new(
                "kernel_release",
                DataType::Text,
                vec![text("kernel", "release")],
            )?,
            Column::new(
                "architecture",
                DataType::Text,
                vec![text("kernel", "architecture")],
            )?,
            Column::new(
                "kernel_info",
                DataType::Text,
                vec![Value::Text(info.to_json())],
            )?,
        ])
    }
}

impl Plugin for SystemKernel {
    fn name(&self) -> &str {
        "system-kernel"
    }

    fn function(&self) -> PluginFunction {
        PluginFunction::Consumer
    }

    fn collect(&mut self, _ctx: &Context<'_>) -> Result<Collection> {
        let mut columns = PosixIdentity::current().columns()?;
        columns.extend(Self::columns(&collect_kernel_info())?);
        Ok(Collection::of(Table::from_columns(
            "system_kernel",
            columns,
        )?))
    }
}

inventory::submit! {
    PluginEntry {
        name: "system-kernel",
        function: PluginFunction::Consumer,
        summary: "kernel, boot and compile-time config, sysctls, modules, cgroups, CPU, user namespaces, Charliecloud version",
        options: &[],
        build: |_: &Options| Ok(Box::new(SystemKernel)),
    }
}

/// Reads every section of today's system. Never fails: a source that cannot
/// be read becomes an `unavailable: <reason>` section.
///
/// The slow sources run at once: `ch-run --version` (a process) and the
/// sysctl tree (thousands of small files) each in a thread of their own,
/// beside the rest.
pub fn collect_kernel_info() -> KernelInfo {
    let mut k = KernelInfo::new();
    let release = read_trimmed("/proc/sys/kernel/osrelease").ok();
    let (charliecloud, sysctl) = std::thread::scope(|s| {
        let ch = s.spawn(charliecloud);
        let sysctl = s.spawn(sysctl);
        let mut put = |name: &str, s: Section| {
            k.sections.insert(name.to_owned(), s);
        };
        put("kernel", kernel_section());
        put("boot_cmdline", boot_cmdline());
        put("compile_config", compile_config(release.as_deref()));
        put("modules", modules());
        put("cgroup", cgroup());
        let (cpu, flags) = cpu();
        put("cpu", cpu);
        put("cpu_flags", flags);
        put("memory", memory());
        put("userns", userns());
        (joined(ch, "charliecloud"), joined(sysctl, "sysctl"))
    });
    k.sections.insert("sysctl".to_owned(), sysctl);
    k.sections.insert("charliecloud".to_owned(), charliecloud);
    k
}

/// A section read in a thread; a panic there becomes an unavailable section.
fn joined(handle: std::thread::ScopedJoinHandle<'_, Section>, what: &str) -> Section {
    handle
        .join()
        .unwrap_or_else(|_| Section::unavailable(format!("reading {what} panicked")))
}

fn read_trimmed(path: impl AsRef<Path>) -> std::result::Result<String, String> {
    let path = path.as_ref();
    fs::read_to_string(path)
        .map(|s| s.trim_end_matches('\n').to_owned())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn values(map: BTreeMap<String, J>) -> Section {
    Section::Values(map)
}

fn kernel_section() -> Section {
    let uts = rustix::system::uname();
    let mut m = BTreeMap::new();
    m.insert("release".into(), json!(uts.release().to_string_lossy()));
    m.insert("version".into(), json!(uts.version().to_string_lossy()));
    m.insert(
        "architecture".into(),
        json!(uts.machine().to_string_lossy()),
    );
    m.insert("os".into(), json!(uts.sysname().to_string_lossy()));
    values(m)
}

fn boot_cmdline() -> Section {
    match read_trimmed("/proc/cmdline") {
        Ok(line) => {
            let mut m: BTreeMap<String, J> = BTreeMap::new();
            for token in line.split_whitespace() {
                let (k, v) = token.split_once('=').unwrap_or((token, ""));
                match m.get_mut(k) {
                    // A repeated parameter keeps every value, in order.
                    Some(J::String(prev)) => {
                        prev.push(' ');
                        prev.push_str(v);
                    }
                    _ => {
                        m.insert(k.to_owned(), json!(v));
                    }
                }
            }
            values(m)
        }
        Err(e) => Section::unavailable(e),
    }
}

fn compile_config(release: Option<&str>) -> Section {
    let Some(release) = release else {
        return Section::unavailable("kernel release unknown");
    };
    let path = format!("/boot/config-{release}");
    match fs::read_to_string(&path) {
        Ok(text) => {
            let mut m = BTreeMap::new();
            for line in text.lines() {
                if let Some((k, v)) = line.split_once('=')
                    && k.starts_with("CONFIG_")
                {
                    m.insert(k.to_owned(), json!(v));
                } else if let Some(rest) = line.strip_prefix("# ")
                    && let Some(k) = rest.strip_suffix(" is not set")
                {
                    m.insert(k.to_owned(), json!("n"));
                }
            }
            values(m)
        }
        Err(e) => Section::unavailable(format!("{path}: {e}")),
    }
}

/// Sysctl keys (dotted) or prefixes that change while a system runs.
const VOLATILE_SYSCTL: &[&str] = &[
    "fs.dentry-state",
    "fs.file-nr",
    "fs.inode-nr",
    "fs.inode-state",
    "fs.aio-nr",
    "fs.quota.",
    "fs.binfmt_misc.",
    "kernel.random.",
    "kernel.ns_last_pid",
    "kernel.pty.nr",
    "kernel.hostname",
    "kernel.domainname",
    "kernel.core_pattern",
    "net.netfilter.nf_conntrack_count",
    "vm.nr_pdflush_threads",
    "vm.stat_refresh",
    "vm.drop_caches",
    "vm.compact_memory",
];

fn volatile(key: &str) -> bool {
    if VOLATILE_SYSCTL
        .iter()
        .any(|v| key == *v || (v.ends_with('.') && key.starts_with(v)))
    {
        return true;
    }
    // Per-interface network settings differ between nodes with different NIC
    // names; the "all" and "default" entries describe the system.
    let parts: Vec<&str> = key.split('.').collect();
    matches!(
        parts.as_slice(),
        ["net", "ipv4" | "ipv6", "conf" | "neigh", iface, ..] if *iface != "all" && *iface != "default"
    )
}

fn sysctl() -> Section {
    let root = Path::new("/proc/sys");
    let mut m = BTreeMap::new();
    if let Err(e) = walk_sysctl(root, root, &mut m) {
        return Section::unavailable(e);
    }
    values(m)
}

fn walk_sysctl(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, J>,
) -> std::result::Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let key = rel.to_string_lossy().replace('/', ".");
        if volatile(&key) {
            continue;
        }
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            // An unreadable subdirectory is skipped, like `sysctl -a` does.
            let _ = walk_sysctl(root, &path, out);
        } else if ft.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let readable = entry
                .metadata()
                .map(|m| m.permissions().mode() & 0o444 != 0)
                .unwrap_or(false);
            if !readable {
                continue; // write-only triggers such as vm.drop_caches
            }
            let v = match fs::read_to_string(&path) {
                Ok(s) => json!(s.split_whitespace().collect::<Vec<_>>().join(" ")),
                Err(e) => json!(format!("unavailable: {e}")),
            };
            out.insert(key, v);
        }
    }
    Ok(())
}

fn modules() -> Section {
    let list = match fs::read_to_string("/proc/modules") {
        Ok(l) => l,
        Err(e) => {
            return Section::unavailable(format!(
                "/proc/modules: {e} (kernel without loadable module support?)"
            ));
        }
    };
    let mut m = BTreeMap::new();
    for line in list.lines() {
        let mut f = line.split_whitespace();
        let (Some(name), Some(size)) = (f.next(), f.next()) else {
            continue;
        };
        let sys = Path::new("/sys/module").join(name);
        let mut info = serde_json::Map::new();
        info.insert("size".into(), json!(size.parse::<u64>().unwrap_or(0)));
        for attr in ["version", "srcversion", "taint"] {
            if let Ok(v) = read_trimmed(sys.join(attr))
                && !v.is_empty()
            {
                info.insert(attr.into(), json!(v));
            }
        }
        m.insert(name.to_owned(), J::Object(info));
    }
    values(m)
}

fn cgroup() -> Section {
    let unified = Path::new("/sys/fs/cgroup/cgroup.controllers");
    let hybrid = Path::new("/sys/fs/cgroup/unified/cgroup.controllers");
    let mut m = BTreeMap::new();
    let (version, controllers) = if unified.exists() {
        ("v2", read_trimmed(unified).ok())
    } else if hybrid.exists() {
        ("hybrid", read_trimmed(hybrid).ok())
    } else if Path::new("/proc/cgroups").exists() {
        ("v1", None)
    } else {
        return Section::unavailable("neither /sys/fs/cgroup nor /proc/cgroups present");
    };
    m.insert("version".into(), json!(version));
    if let Some(c) = controllers {
        m.insert("v2_controllers".into(), json!(c));
    }
    if let Ok(v1) = fs::read_to_string("/proc/cgroups") {
        let enabled: Vec<&str> = v1
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 4 && f[3] == "1").then_some(f[0])
            })
            .collect();
        m.insert("v1_controllers".into(), json!(enabled.join(" ")));
    }
    values(m)
}

fn cpu() -> (Section, Section) {
    let text = match fs::read_to_string("/proc/cpuinfo") {
        Ok(t) => t,
        Err(e) => {
            let s = Section::unavailable(format!("/proc/cpuinfo: {e}"));
            return (s.clone(), s);
        }
    };
    let mut m = BTreeMap::new();
    let mut flags = BTreeMap::new();
    let mut count = 0u64;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => count += 1,
            // The first processor's description stands for all.
            "model name" | "vendor_id" | "cpu family" | "model" | "stepping" | "cpu cores"
            | "Features" | "CPU implementer" | "CPU architecture" | "CPU variant" | "CPU part"
            | "isa" | "uarch"
                if !m.contains_key(k) =>
            {
                m.insert(k.to_owned(), json!(v));
            }
            "flags" | "Features flags" if flags.is_empty() => {
                for f in v.split_whitespace() {
                    flags.insert(f.to_owned(), J::Bool(true));
                }
            }
            _ => {}
        }
    }
    // aarch64 lists its flags under "Features".
    if flags.is_empty()
        && let Some(J::String(features)) = m.get("Features")
    {
        for f in features.split_whitespace() {
            flags.insert(f.to_owned(), J::Bool(true));
        }
    }
    m.insert("count".into(), json!(count));
    let flags = if flags.is_empty() {
        Section::unavailable("/proc/cpuinfo lists no CPU flags")
    } else {
        Section::Values(flags)
    };
    (Section::Values(m), flags)
}

fn memory() -> Section {
    match fs::read_to_string("/proc/meminfo") {
        Ok(t) => {
            let mut m = BTreeMap::new();
            for line in t.lines() {
                if let Some(rest) = line.strip_prefix("MemTotal:") {
                    let kib = rest
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0);
                    m.insert("mem_total_kib".into(), json!(kib));
                }
            }
            values(m)
        }
        Err(e) => Section::unavailable(format!("/proc/meminfo: {e}")),
    }
}

fn userns() -> Section {
    let mut m = BTreeMap::new();
    for (key, path) in [
        ("max_user_namespaces", "/proc/sys/user/max_user_namespaces"),
        (
            "unprivileged_userns_clone",
            "/proc/sys/kernel/unprivileged_userns_clone",
        ),
        (
            "apparmor_restrict_unprivileged_userns",
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        ),
    ] {
        match read_trimmed(path) {
            Ok(v) => m.insert(key.into(), json!(v)),
            Err(e) => m.insert(key.into(), json!(format!("unavailable: {e}"))),
        };
    }
    // Whether this process itself runs in a user namespace (e.g. a container).
    if let Ok(map) = read_trimmed("/proc/self/uid_map") {
        let init = map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"];
        m.insert("in_user_namespace".into(), json!(!init));
    }
    values(m)
}

fn charliecloud() -> Section {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| super::posix::passwd_name(rustix::process::getuid().as_raw()))
        .unwrap_or_else(|| "nobody".into());
    match super::self_answer("ch-run", &["--version"], &[("USER", &user)]) {
        Ok(version) => {
            let mut m = BTreeMap::new();
            m.insert("version".into(), json!(version));
            values(m)
        }
        Err(why) => Section::unavailable(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_section_without_failing() {
        let k = collect_kernel_info();
        for s in [
            "kernel",
            "boot_cmdline",
            "compile_config",
            "sysctl",
            "modules",
            "cgroup",
            "cpu",
            "cpu_flags",
            "memory",
            "userns",
            "charliecloud",
        ] {
            assert!(k.sections.contains_key(s), "section {s}");
        }
        assert!(k.get_str("kernel", "release").is_some());
        assert_eq!(
            k.get_str("kernel", "architecture"),
            Some(std::env::consts::ARCH)
        );
        let again = collect_kernel_info();
        let d = super::super::diff(&k, &again);
        assert!(
            d.is_empty(),
            "two collections of the same system differ: {d:?}"
        );
    }

    #[test]
    fn volatile_keys_are_recognised() {
        assert!(volatile("kernel.random.boot_id"));
        assert!(volatile("fs.file-nr"));
        assert!(volatile("net.ipv4.conf.eth0.forwarding"));
        assert!(!volatile("net.ipv4.conf.all.forwarding"));
        assert!(!volatile("kernel.pid_max"));
    }

    #[test]
    fn plugin_row_has_posix_and_kernel_columns() {
        let c = SystemKernel.collect(&Context::empty()).unwrap();
        let t = c.table("system_kernel").unwrap();
        assert_eq!(t.num_rows(), 1);
        let json = t.get(0, "kernel_info").and_then(Value::as_text).unwrap();
        let k = KernelInfo::from_json(json).unwrap();
        assert_eq!(
            t.get(0, "kernel_release").and_then(Value::as_text),
            k.get_str("kernel", "release")
        );
        assert!(t.column("uid").is_some() && t.column("gid_list").is_some());
    }
}
