//! Test services and fixtures: the example image (in storage, and converted
//! to a SquashFS file and a directory with `ch-convert`), a real OCI
//! registry on loopback, and real S3 servers (s3s-fs, see `s3`; moto, see
//! `moto`), a Slurm cluster of two virtual nodes (see `slurm`) and an Open
//! MPI image as SquashFS (see `mpi_image`).
//!
//! `cargo xtask services start` builds the image with `ch-image` (from
//! Debian's `busybox-static`), starts Debian's `docker-registry` on a free
//! 127.0.0.1 port with a generated self-signed certificate, pushes the image
//! and writes everything the tests need to `target/dsi-services/env`
//! (`KEY=value` lines). `cargo xtask ci` starts them, exports that file into
//! the tests' environment and stops them afterwards. Tests that need a
//! service read these variables and fail, naming the command to run, when
//! they are missing.

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::util::{project_root, run as sh};

/// Where services keep their state.
pub(crate) fn services_dir() -> PathBuf {
    project_root().join("target").join("dsi-services")
}

/// The environment file written by `start`.
pub(crate) fn env_file() -> PathBuf {
    services_dir().join("env")
}

/// The user name ch-run needs in `USER`.
pub(crate) fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            Command::new("id")
                .arg("-un")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "root".into())
}

/// `ch-image` as an argv: Debian's script says `#!/usr/bin/env python3`, but
/// its modules (lark, requests) are installed for Debian's `/usr/bin/python3`,
/// which may not be the `python3` on PATH.
pub(crate) fn ch_image() -> Command {
    let mut c = if Path::new("/usr/bin/python3").exists() {
        let mut c = Command::new("/usr/bin/python3");
        c.arg("/usr/bin/ch-image");
        c
    } else {
        Command::new("ch-image")
    };
    c.env("USER", user());
    c
}

/// `ch-convert -i ch-image -o FORMAT NAME OUT` from `storage`. ch-convert
/// runs `ch-image` by name, so Debian's `/usr/bin` comes first on PATH (see
/// [`ch_image`]).
pub(crate) fn ch_convert(
    storage: &Path,
    format: &str,
    name: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let path = std::env::var("PATH").unwrap_or_default();
    sh(Command::new("ch-convert")
        .env("USER", user())
        .env("CH_IMAGE_STORAGE", storage)
        .env("PATH", format!("/usr/bin:/bin:{path}"))
        .args(["-i", "ch-image", "-o", format, name])
        .arg(out))
}

fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Builds the example image `dsi-test` into `storage`: a busybox userland,
/// `/opt/app/bin/hello`, `ENV GREETING="hello world"`, `/opt/app/VERSION` = v1.
/// It is built (`FROM` an imported base plus `RUN`) so that it has history
/// and can be pushed.
pub(crate) fn build_image(storage: &Path, work: &Path, name: &str) -> anyhow::Result<()> {
    let root = work.join("rootfs");
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    // lib, lib64 and usr/lib are mount points for tests that run host binaries inside.
    for d in [
        "bin",
        "etc",
        "tmp",
        "opt/app/bin",
        "home",
        "root",
        "lib",
        "lib64",
        "usr/lib",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        bail!("/bin/busybox is missing: install Debian's busybox-static (cargo xtask setup)");
    }
    fs::copy(busybox, root.join("bin/busybox"))?;
    for applet in [
        "sh",
        "cat",
        "ls",
        "env",
        "sort",
        "wc",
        "sha256sum",
        "printf",
        "echo",
        "date",
        "rm",
        "mkdir",
        "pwd",
        "true",
        "false",
        "sleep",
        "id",
        "head",
        "tail",
        "grep",
        "touch",
        "cp",
        "mv",
        "chmod",
        "test",
        "[",
        "uname",
        "hostname",
        "ln",
        "find",
        "xargs",
        "seq",
        "tr",
        "cut",
        "dd",
        "kill",
        "stat",
        "mkfifo",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))?;
    }
    write(
        &root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )?;
    write(&root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    write(&root.join("etc/hosts"), "127.0.0.1 localhost\n")?;
    write(&root.join("etc/resolv.conf"), "")?;
    let hello = root.join("opt/app/bin/hello");
    write(
        &hello,
        "#!/bin/sh\necho \"hello argv: $*\"\necho \"cwd: $(pwd)\"\necho \"GREETING=$GREETING\"\n",
    )?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&hello, fs::Permissions::from_mode(0o755))?;

    let base = format!("{name}-base");
    sh(ch_image()
        .env("CH_IMAGE_STORAGE", storage)
        .args(["import"])
        .arg(&root)
        .arg(&base))?;
    let dockerfile = work.join("Dockerfile");
    write(
        &dockerfile,
        &format!(
            "FROM {base}\n\
             ENV PATH=/bin GREETING=\"hello world\" APP_HOME=/opt/app\n\
             RUN mkdir -p /data /out /srv && echo v1 > /opt/app/VERSION\n"
        ),
    )?;
    sh(ch_image()
        .env("CH_IMAGE_STORAGE", storage)
        .args(["build", "-t", name, "-f"])
        .arg(&dockerfile)
        .arg(work))?;
    Ok(())
}

/// A running registry: its address and certificate.
struct Registry {
    addr: String,
    cert: PathBuf,
}

fn start_registry(dir: &Path) -> anyhow::Result<Registry> {
    fs::create_dir_all(dir)?;
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    sh(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "7",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null()))?;
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let config = dir.join("config.yml");
    write(
        &config,
        &format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n  tls:\n    certificate: {cert}\n    key: {key}\n",
            data = dir.join("data").display(),
            cert = cert.display(),
            key = key.display()
        ),
    )?;
    let log = fs::File::create(dir.join("registry.log"))?;
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context(
            "starting docker-registry (install Debian's docker-registry: cargo xtask setup)",
        )?;
    write(&dir.join("pid"), &child.id().to_string())?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "--cacert"])
            .arg(&cert)
            .arg(format!("https://{addr}/v2/"))
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "docker-registry did not answer on {addr} within 20 s; see {}",
                dir.join("registry.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("xtask: registry listening on https://{addr}");
    Ok(Registry { addr, cert })
}

/// The manifest digest the registry serves for `repo:tag`.
fn manifest_digest(reg: &Registry, repo: &str, tag: &str) -> anyhow::Result<String> {
    let out = Command::new("curl")
        .args(["-sfI", "--cacert"])
        .arg(&reg.cert)
        .args([
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
        ])
        .args(["-H", "Accept: application/vnd.oci.image.manifest.v1+json"])
        .arg(format!("https://{}/v2/{repo}/manifests/{tag}", reg.addr))
        .output()
        .context("asking the registry for the manifest digest")?;
    let headers = String::from_utf8_lossy(&out.stdout);
    headers
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("docker-content-digest")
                .then(|| v.trim().to_owned())
        })
        .with_context(|| format!("no Docker-Content-Digest for {repo}:{tag}: {headers}"))
}

pub(crate) fn stop_pid(pidfile: &Path) {
    if let Ok(pid) = fs::read_to_string(pidfile) {
        let pid = pid.trim();
        let _ = Command::new("kill").arg(pid).status();
        // Wait (up to 5 s) for it to go, so a following start can reuse the directory.
        for _ in 0..50 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = fs::remove_file(pidfile);
    }
}

/// Stops every service started by `start` (ignores those not running).
pub(crate) fn stop() -> anyhow::Result<()> {
    let dir = services_dir();
    stop_pid(&dir.join("registry").join("pid"));
    crate::s3::stop(&dir.join("s3"));
    crate::moto::stop(&dir.join("moto"));
    crate::slurm::stop(&dir.join("slurm"));
    Ok(())
}

/// Starts the services and writes the environment file; returns its variables.
pub(crate) fn start() -> anyhow::Result<BTreeMap<String, String>> {
    stop()?;
    let dir = services_dir();
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(&dir)?;
    let mut env = BTreeMap::new();
    env.insert("USER".to_owned(), user());

    let storage = dir.join("ch-build");
    build_image(&storage, &dir.join("image-work"), "dsi-test")?;

    // The same image as a SquashFS file and as a directory (RUNFILE-1.1
    // §3 path images).
    let images = dir.join("images");
    fs::create_dir_all(&images)?;
    let squashfs = images.join("dsi-test.sqfs");
    let image_dir = images.join("dsi-test.dir");
    ch_convert(&storage, "squash", "dsi-test", &squashfs)?;
    ch_convert(&storage, "dir", "dsi-test", &image_dir)?;
    env.insert("DSI_TEST_SQUASHFS".into(), squashfs.display().to_string());
    env.insert("DSI_TEST_IMAGE_DIR".into(), image_dir.display().to_string());

    let reg = start_registry(&dir.join("registry"))?;
    sh(ch_image()
        .env("CH_IMAGE_STORAGE", &storage)
        .env("REQUESTS_CA_BUNDLE", &reg.cert)
        .args(["push", "dsi-test"])
        .arg(format!("{}/dsi-test:v1", reg.addr)))?;
    let digest = manifest_digest(&reg, "dsi-test", "v1")?;
    env.insert("DSI_TEST_REGISTRY".into(), reg.addr.clone());
    env.insert(
        "DSI_TEST_IMAGE".into(),
        format!("{}/dsi-test@{digest}", reg.addr),
    );
    env.insert("DSI_TEST_IMAGE_DIGEST".into(), digest);
    env.insert(
        "DSI_TEST_REGISTRY_CA".into(),
        reg.cert.display().to_string(),
    );
    env.insert("REQUESTS_CA_BUNDLE".into(), reg.cert.display().to_string());
    env.insert(
        "DSI_TEST_BUILD_STORAGE".into(),
        storage.display().to_string(),
    );

    // Open MPI under Slurm (RUNFILE-1.1 §4): the cluster and the MPI image.
    env.extend(crate::slurm::start(&dir.join("slurm"))?);
    let mpi = crate::mpi_image::ensure()?;
    env.insert("DSI_TEST_MPI_SQUASHFS".into(), mpi.display().to_string());

    env.extend(crate::s3::start(&dir.join("s3"))?);
    env.extend(crate::moto::start(&dir.join("moto"))?);

    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    write(&env_file(), &text)?;
    eprintln!(
        "xtask: services ready; environment in {}",
        env_file().display()
    );
    Ok(env)
}
