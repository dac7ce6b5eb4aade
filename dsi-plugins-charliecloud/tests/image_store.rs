//! `image::resolve` and `rftree` against real ch-image 0.31 storage and the
//! test registry (RUNFILE.md §8, §11.3). Needs the test services
//! (`cargo xtask services start`, then export `target/dsi-services/env`);
//! without them every test fails.
//!
//! Every test works in its own temporary ch-image storage.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Scratch, required_env, run_ok, sha256_hex, test_image};
use dsi_plugins_charliecloud::image::{Acquisition, ResolvedImage, TREE_PREFIX, rftree};
use dsi_plugins_charliecloud::runfile::{Diagnostic, for_path};

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn ok(r: Result<ResolvedImage, Diagnostic>) -> ResolvedImage {
    r.unwrap_or_else(|e| panic!("resolve failed: {}", e.render("Runfile")))
}

#[track_caller]
fn err(r: Result<ResolvedImage, Diagnostic>) -> String {
    match r {
        Ok(img) => panic!("expected an error, resolved {img:?}"),
        Err(e) => e.to_string(),
    }
}

/// `FROM [--tree=T ]IMAGE` + `CMD true`.
fn from(image: &str, tree: Option<&str>) -> String {
    match tree {
        Some(t) => format!("FROM --tree={t} {image}\nCMD true\n"),
        None => format!("FROM {image}\nCMD true\n"),
    }
}

fn dlcache_file(s: &Scratch, name: &str) -> PathBuf {
    s.storage.dlcache().join(name)
}

/// The config digest the registry's manifest names.
fn config_digest(s: &Scratch, image: &str) -> String {
    let manifest = dlcache_file(s, &format!("{}%skinny.manifest.json", for_path(image)));
    let m: serde_json::Value = serde_json::from_slice(&fs::read(manifest).unwrap()).unwrap();
    m["config"]["digest"].as_str().unwrap().to_owned()
}

fn sha256_file(p: &Path) -> String {
    format!("sha256:{}", sha256_hex(&fs::read(p).unwrap()))
}

#[test]
fn pull_by_digest_then_verify_then_present() {
    let s = Scratch::new();
    let image = test_image();
    let rf = s.runfile(&from(&image, None));
    let r = ok(s.resolve(&rf, true, false));
    assert_eq!(r.acquisition, Acquisition::Pulled);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V4"]);
    assert_eq!(r.name, image);
    let digest = required_env("DSI_TEST_IMAGE_DIGEST");
    assert_eq!(r.pinned_digest.as_deref(), Some(digest.as_str()));
    // Not an index: the pinned digest is the image manifest's.
    assert_eq!(r.manifest_digest.as_deref(), Some(digest.as_str()));
    let config = config_digest(&s, &image);
    assert_eq!(r.config_digest.as_deref(), Some(config.as_str()));
    assert_eq!(
        sha256_file(&r.image_dir.join("ch/config.pulled.json")),
        config
    );
    assert_eq!(r.tree_digest, None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.image_dir, s.storage.img_dir(&for_path(&image)));
    assert_eq!(
        fs::read_to_string(r.image_dir.join("opt/app/VERSION")).unwrap(),
        "v1\n"
    );

    // Present now, offline and online, with the same evidence.
    for online in [false, true] {
        let again = ok(s.resolve(&rf, online, false));
        assert_eq!(again.acquisition, Acquisition::Present);
        assert_eq!(
            ResolvedImage {
                acquisition: Acquisition::Pulled,
                ..again
            },
            r
        );
    }
}

#[test]
fn full_level_adds_layer_check_v3_and_detects_a_bad_layer() {
    let s = Scratch::new();
    let image = test_image();
    let rf = s.runfile(&from(&image, None));
    let r = ok(s.resolve(&rf, true, true));
    assert_eq!(r.acquisition, Acquisition::Pulled);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V3", "V4"]);

    // Corrupt the layer blob: the default level does not look at it, the full
    // level does; offline it cannot be repaired (undelete keeps dlcache).
    let manifest = dlcache_file(&s, &format!("{}%skinny.manifest.json", for_path(&image)));
    let m: serde_json::Value = serde_json::from_slice(&fs::read(manifest).unwrap()).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap().to_owned();
    let blob = dlcache_file(&s, &format!("{}.tar.gz", &layer["sha256:".len()..]));
    fs::write(&blob, b"not the layer").unwrap();
    let have = format!("sha256:{}", sha256_hex(b"not the layer"));
    assert_eq!(
        ok(s.resolve(&rf, false, false)).checks,
        ["V0", "V1", "V2", "V4"]
    );
    assert_eq!(
        err(s.resolve(&rf, false, true)),
        format!(
            "1:1: error: E403: layer digest mismatch for {image}: pinned {layer}, found {have}"
        )
    );
    // Online it is downloaded again.
    let r = ok(s.resolve(&rf, true, true));
    assert_eq!(r.acquisition, Acquisition::Repaired);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V3", "V4"]);
    assert_eq!(sha256_file(&blob), layer);
}

#[test]
fn absent_image_offline_is_e401() {
    let s = Scratch::new();
    let image = test_image();
    let rf = s.runfile(&from(&image, None));
    assert_eq!(
        err(s.resolve(&rf, false, false)),
        format!("1:1: error: E401: image not in storage and offline: {image}")
    );
    assert!(!s.storage.img_dir(&for_path(&image)).exists());
}

#[test]
fn unknown_digest_online_is_e402_with_ch_image_reason() {
    let s = Scratch::new();
    let image = format!(
        "{}/dsi-test@sha256:{ZEROS}",
        required_env("DSI_TEST_REGISTRY")
    );
    let rf = s.runfile(&format!("# runfile=1\n{}", from(&image, None)));
    assert_eq!(
        err(s.resolve(&rf, true, false)),
        format!("2:1: error: E402: ch-image pull failed: unauthorized or not in registry: {image}")
    );
}

/// §8.1: ch-image accepts a config blob edited in its download cache and the
/// edit reaches the image; V2 detects it (E403 offline, where the build cache
/// holds only the bad tree) and online the image is downloaded afresh.
#[test]
fn tampered_config_blob_in_dlcache_before_pull_is_detected() {
    let image = test_image();
    let first = Scratch::new();
    first.ch_image(&["pull", &image]);
    let config = config_digest(&first, &image);
    let cfg_name = format!("{}.json", &config["sha256:".len()..]);

    let s = Scratch::new();
    s.ch_image(&["list"]); // initialises the storage
    for entry in fs::read_dir(first.storage.dlcache()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), s.storage.dlcache().join(entry.file_name())).unwrap();
    }
    let cfg = dlcache_file(&s, &cfg_name);
    let tampered = fs::read_to_string(&cfg)
        .unwrap()
        .replace("GREETING=hello world", "GREETING=TAMPERED");
    fs::write(&cfg, &tampered).unwrap();
    s.ch_image(&["pull", &image]);
    let env_file = s.storage.img_dir(&for_path(&image)).join("ch/environment");
    assert!(
        fs::read_to_string(&env_file)
            .unwrap()
            .contains("GREETING=TAMPERED\n"),
        "ch-image 0.31 no longer accepts a tampered config blob"
    );

    let rf = s.runfile(&from(&image, None));
    let have = format!("sha256:{}", sha256_hex(tampered.as_bytes()));
    assert_eq!(
        err(s.resolve(&rf, false, false)),
        format!(
            "1:1: error: E403: config digest mismatch for {image}: pinned {config}, found {have}"
        )
    );

    let r = ok(s.resolve(&rf, true, false));
    assert_eq!(r.acquisition, Acquisition::Repaired);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V4"]);
    assert_eq!(
        fs::read_to_string(&env_file).unwrap(),
        "APP_HOME=/opt/app\nGREETING=hello world\nPATH=/bin\n"
    );
    assert_eq!(sha256_file(&cfg), config);
}

#[test]
fn tampered_pulled_config_is_repaired_offline_from_the_build_cache() {
    let s = Scratch::new();
    let image = test_image();
    let rf = s.runfile(&from(&image, None));
    let r = ok(s.resolve(&rf, true, false));
    let pulled = r.image_dir.join("ch/config.pulled.json");
    let original = fs::read(&pulled).unwrap();
    fs::write(&pulled, b"{}").unwrap();

    let r = ok(s.resolve(&rf, false, false));
    assert_eq!(r.acquisition, Acquisition::Repaired);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V4"]);
    assert_eq!(fs::read(&pulled).unwrap(), original);
}

#[test]
fn modified_image_tree_is_repaired_offline_from_the_build_cache() {
    let s = Scratch::new();
    let image = test_image();
    let rf = s.runfile(&from(&image, None));
    let dir = ok(s.resolve(&rf, true, false)).image_dir;
    let version = dir.join("opt/app/VERSION");

    // A same-size edit with the mtime put back (as ch-image itself does when
    // it pulls an image already in storage) is seen too.
    let mtime = fs::metadata(&version).unwrap().modified().unwrap();
    fs::write(&version, "v2\n").unwrap();
    fs::File::options()
        .write(true)
        .open(&version)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let r = ok(s.resolve(&rf, false, false));
    assert_eq!(r.acquisition, Acquisition::Repaired);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V4"]);
    assert_eq!(fs::read_to_string(&version).unwrap(), "v1\n");

    // A new file.
    fs::write(dir.join("opt/app/extra"), "added\n").unwrap();
    let r = ok(s.resolve(&rf, false, false));
    assert_eq!(r.acquisition, Acquisition::Repaired);
    assert!(!dir.join("opt/app/extra").exists());
    assert_eq!(
        ok(s.resolve(&rf, false, false)).acquisition,
        Acquisition::Present
    );
}

#[test]
fn removed_dlcache_manifest_is_e410_offline_and_fetched_again_online() {
    let s = Scratch::new();
    let image = test_image();
    let rf = s.runfile(&from(&image, None));
    ok(s.resolve(&rf, true, false));
    let f = for_path(&image);
    let fat = dlcache_file(&s, &format!("{f}.fat.json"));
    let skinny = dlcache_file(&s, &format!("{f}%skinny.manifest.json"));
    fs::remove_file(&fat).unwrap();
    fs::remove_file(&skinny).unwrap();

    assert_eq!(
        err(s.resolve(&rf, false, false)),
        format!(
            "1:1: error: E410: cannot verify {image} offline: {} is missing",
            fat.display()
        )
    );
    let r = ok(s.resolve(&rf, true, false));
    assert_eq!(r.acquisition, Acquisition::Pulled);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V4"]);
    let digest = required_env("DSI_TEST_IMAGE_DIGEST");
    assert_eq!(sha256_file(&fat), digest);
    assert_eq!(sha256_file(&skinny), digest);

    // Purged and modified: fetched again, then repaired.
    fs::remove_file(&fat).unwrap();
    fs::write(r.image_dir.join("opt/app/VERSION"), "v2\n").unwrap();
    let r = ok(s.resolve(&rf, true, false));
    assert_eq!(r.acquisition, Acquisition::Repaired);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V4"]);
    assert_eq!(
        fs::read_to_string(r.image_dir.join("opt/app/VERSION")).unwrap(),
        "v1\n"
    );
}

#[test]
fn tampered_dlcache_manifest_is_e403_offline_and_fetched_again_online() {
    let s = Scratch::new();
    let image = test_image();
    let rf = s.runfile(&from(&image, None));
    let dir = ok(s.resolve(&rf, true, false)).image_dir;
    let inode = || fs::metadata(&dir).unwrap().ino();
    let before = inode();
    let fat = dlcache_file(&s, &format!("{}.fat.json", for_path(&image)));
    let mut bytes = fs::read(&fat).unwrap();
    bytes.push(b'\n');
    fs::write(&fat, &bytes).unwrap();
    let digest = required_env("DSI_TEST_IMAGE_DIGEST");
    assert_eq!(
        err(s.resolve(&rf, false, false)),
        format!(
            "1:1: error: E403: manifest digest mismatch for {image}: pinned {digest}, found sha256:{}",
            sha256_hex(&bytes)
        )
    );
    // The build cache cannot fix the download cache: the image is left alone.
    assert_eq!(inode(), before);
    let r = ok(s.resolve(&rf, true, false));
    assert_eq!(r.acquisition, Acquisition::Repaired);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V4"]);
    assert_eq!(sha256_file(&fat), digest);
}

/// §8.2: without a build cache (`ch-image --no-cache pull`) V4 is
/// impossible: warning W401, and the other checks still apply.
#[test]
fn image_pulled_without_build_cache_warns_w401() {
    let s = Scratch::new();
    let image = test_image();
    s.ch_image(&["--no-cache", "pull", &image]);
    let rf = s.runfile(&from(&image, None));
    let r = ok(s.resolve(&rf, false, false));
    assert_eq!(r.acquisition, Acquisition::Present);
    assert_eq!(r.checks, ["V0", "V1", "V2"]);
    let warnings: Vec<String> = r.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [format!(
            "1:1: warning: W401: no build cache for {image}; tree not verified"
        )]
    );
}

#[test]
fn deleted_image_with_build_cache_is_undeleted_offline() {
    let s = Scratch::new();
    let image = test_image();
    let rf = s.runfile(&from(&image, None));
    let first = ok(s.resolve(&rf, true, false));
    let tree = rftree(&first.image_dir).unwrap();
    s.ch_image(&["delete", &image]);
    assert!(!first.image_dir.exists());

    let r = ok(s.resolve(&rf, false, false));
    assert_eq!(r.acquisition, Acquisition::Undeleted);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V4"]);
    // §8.1: undelete restores the original tree.
    assert_eq!(rftree(&r.image_dir).unwrap(), tree);
}

#[test]
fn local_image_pinned_by_tree() {
    let s = Scratch::new();
    let dir = s.copy_local_image("dsi-test");
    let tree = rftree(&dir).unwrap();
    assert!(tree.starts_with(TREE_PREFIX));

    let rf = s.runfile(&from("dsi-test", Some(&tree)));
    for online in [false, true] {
        let r = ok(s.resolve(&rf, online, false));
        assert_eq!(r.acquisition, Acquisition::Present);
        assert_eq!(r.checks, ["V0", "V5"]);
        assert_eq!(r.name, "dsi-test");
        assert_eq!(r.tree_digest.as_deref(), Some(tree.as_str()));
        assert_eq!(r.pinned_digest, None);
        assert_eq!(r.manifest_digest, None);
        assert_eq!(r.image_dir, dir);
    }
}

#[test]
fn local_image_with_wrong_tree_is_e404_and_storage_is_untouched() {
    let s = Scratch::new();
    let dir = s.copy_local_image("dsi-test");
    let tree = rftree(&dir).unwrap();
    let listing = || {
        run_ok(
            Command::new("find")
                .arg(s.storage.root())
                .args(["-printf", "%M %s %T@ %p\n"]),
        )
    };
    let before = listing();

    let wrong = format!("{TREE_PREFIX}{ZEROS}");
    let rf = s.runfile(&from("dsi-test", Some(&wrong)));
    for online in [false, true] {
        assert_eq!(
            err(s.resolve(&rf, online, false)),
            format!(
                "1:1: error: E404: tree digest mismatch for dsi-test: pinned {wrong}, found {tree}"
            )
        );
    }
    assert_eq!(listing(), before);
}

#[test]
fn missing_local_image_is_e405() {
    let s = Scratch::new();
    let rf = s.runfile(&from(
        "dsi-nonexistent",
        Some(&format!("{TREE_PREFIX}{ZEROS}")),
    ));
    for online in [false, true] {
        assert_eq!(
            err(s.resolve(&rf, online, false)),
            "1:1: error: E405: local image not in storage: dsi-nonexistent"
        );
    }
}

#[test]
fn registry_image_pinned_by_tree_uses_v5_instead_of_v4() {
    let s = Scratch::new();
    let image = test_image();
    let dir = ok(s.resolve(&s.runfile(&from(&image, None)), true, false)).image_dir;
    let tree = rftree(&dir).unwrap();

    let rf = s.runfile(&from(&image, Some(&tree)));
    let r = ok(s.resolve(&rf, false, false));
    assert_eq!(r.acquisition, Acquisition::Present);
    assert_eq!(r.checks, ["V0", "V1", "V2", "V5"]);
    assert_eq!(r.tree_digest.as_deref(), Some(tree.as_str()));

    // A wrong pin: the restored tree is the same, so it fails again (E404).
    let wrong = format!("{TREE_PREFIX}{ZEROS}");
    let rf = s.runfile(&from(&image, Some(&wrong)));
    assert_eq!(
        err(s.resolve(&rf, false, false)),
        format!("1:1: error: E404: tree digest mismatch for {image}: pinned {wrong}, found {tree}")
    );
    assert_eq!(rftree(&dir).unwrap(), tree);
}

/// An independent `rftree1` (RUNFILE.md §8.4) in Python.
const PY_RFTREE: &str = r#"
import hashlib, os, stat, sys
root = os.fsencode(sys.argv[1])
records = []
for top, dirs, files in os.walk(root):
    rel_top = os.path.relpath(top, root)
    if rel_top == b".":
        dirs[:] = [d for d in dirs if not d.startswith(b".git")]
        files = [f for f in files if not f.startswith(b".git")]
    for name in dirs + files:
        path = os.path.join(top, name)
        rel = name if rel_top == b"." else rel_top + b"/" + name
        if rel == b"ch/git.pickle":
            continue
        st = os.lstat(path)
        m = st.st_mode
        kind = ("f" if stat.S_ISREG(m) else "d" if stat.S_ISDIR(m) else
                "l" if stat.S_ISLNK(m) else "c" if stat.S_ISCHR(m) else
                "b" if stat.S_ISBLK(m) else "p" if stat.S_ISFIFO(m) else "s")
        mode = "%04o" % stat.S_IMODE(m) if kind in "fd" else "0000"
        if kind == "f":
            payload = hashlib.sha256(open(path, "rb").read()).hexdigest()
        elif kind == "l":
            payload = hashlib.sha256(os.readlink(path)).hexdigest()
        else:
            payload = "-"
        records.append((rel, ("%s %s %s " % (kind, mode, payload)).encode() + rel + b"\0"))
records.sort()
print(len(records), "rftree1+sha256:" + hashlib.sha256(b"".join(r for _, r in records)).hexdigest())
"#;

#[test]
fn rftree_of_a_pulled_image_matches_an_independent_computation() {
    let s = Scratch::new();
    let image = test_image();
    let dir = ok(s.resolve(&s.runfile(&from(&image, None)), true, false)).image_dir;
    let out = run_ok(
        Command::new("/usr/bin/python3")
            .args(["-c", PY_RFTREE])
            .arg(&dir),
    );
    let (count, digest) = out.trim().split_once(' ').unwrap();
    // The image has busybox links, /opt/app, /mnt/0-9 and ch/ metadata.
    assert!(count.parse::<usize>().unwrap() > 50, "{out}");
    assert_eq!(rftree(&dir).unwrap(), digest);
}

// ------------------------------------------------ path images (RUNFILE-1.1 §3)

/// The services' SquashFS conversion of `dsi-test` (`ch-convert -o squash`).
fn test_squashfs() -> PathBuf {
    PathBuf::from(required_env("DSI_TEST_SQUASHFS"))
}

/// The services' directory conversion of `dsi-test` (`ch-convert -o dir`).
fn test_image_dir() -> PathBuf {
    PathBuf::from(required_env("DSI_TEST_IMAGE_DIR"))
}

/// `sha256:<hex>` of a file, as `sha256sum` computes it.
fn sha256sum(p: &Path) -> String {
    let out = run_ok(Command::new("sha256sum").arg(p));
    format!("sha256:{}", out.split_whitespace().next().unwrap())
}

#[test]
fn a_squashfs_tree_digest_equals_storage_and_the_directory_conversion() {
    let storage = Path::new(&required_env("DSI_TEST_BUILD_STORAGE")).join("img/dsi-test");
    let in_storage = rftree(&storage).unwrap();
    let fs = dsi_plugins_charliecloud::image::SquashFs::open(&test_squashfs()).unwrap();
    assert!(fs.len() > 10, "{} entries", fs.len());
    assert_eq!(fs.tree_digest().unwrap(), in_storage);
    assert_eq!(rftree(&test_image_dir()).unwrap(), in_storage);
    // unsquashfs agrees too (the reference tool, unpacking to a directory).
    let s = Scratch::new();
    let out = s.path().join("unsquashed");
    run_ok(
        Command::new("unsquashfs")
            .args(["-quiet", "-no-progress", "-d"])
            .arg(&out)
            .arg(test_squashfs()),
    );
    assert_eq!(rftree(&out).unwrap(), in_storage);
}

#[test]
fn squashfs_path_images_are_checked_by_file_and_tree_digest_then_cached() {
    let s = Scratch::new();
    fs::create_dir(s.ctx.join("img")).unwrap();
    let sqfs = s.ctx.join("img/tiny.sqfs");
    fs::copy(test_squashfs(), &sqfs).unwrap();
    let sha = sha256sum(&sqfs);
    let tree = rftree(&test_image_dir()).unwrap();
    let cache =
        dsi_plugins_charliecloud::image::digest_cache::DigestCache::new(s.path().join("cache"));
    let resolve = |text: &str, cache: Option<&_>| {
        let rf = s.runfile(text);
        dsi_plugins_charliecloud::image::path::resolve_with_cache(
            rf.image(),
            rf.from_line(),
            &s.ctx,
            &s.storage,
            cache,
        )
    };
    let both = format!("FROM --tree={tree} ./img/tiny.sqfs@{sha}\nCMD true\n");
    let r = ok(resolve(&both, Some(&cache)));
    assert_eq!(r.checks, ["V6", "V5"]);
    assert_eq!(
        r.name,
        fs::canonicalize(&sqfs).unwrap().display().to_string()
    );
    assert_eq!(r.file_digest.as_deref(), Some(sha.as_str()));
    assert_eq!(r.tree_digest.as_deref(), Some(tree.as_str()));
    // Both digests are now cached, one entry each.
    assert_eq!(fs::read_dir(cache.dir()).unwrap().count(), 2);
    assert_eq!(ok(resolve(&both, Some(&cache))), r);

    // One byte appended: V6 fails (ch-run would still run it), before V5,
    // with or without the cache (the file's key changed).
    fs::OpenOptions::new()
        .append(true)
        .open(&sqfs)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    let have = sha256sum(&sqfs);
    for c in [Some(&cache), None] {
        assert_eq!(
            err(resolve(&both, c)),
            format!(
                "1:1: error: E413: file digest mismatch for {}: have {have}",
                sqfs.display()
            )
        );
    }
    // The tree alone still matches: the appended byte is past the filesystem.
    let tree_only = format!("FROM --tree={tree} ./img/tiny.sqfs\nCMD true\n");
    assert_eq!(ok(resolve(&tree_only, None)).checks, ["V5"]);
}

#[test]
fn directory_path_images_are_checked_by_tree_and_refused_from_storage() {
    let s = Scratch::new();
    let dir = s.ctx.join("tiny.dir");
    run_ok(Command::new("cp").arg("-a").arg(test_image_dir()).arg(&dir));
    let tree = rftree(&test_image_dir()).unwrap();
    let resolve = |text: &str| {
        let rf = s.runfile(text);
        dsi_plugins_charliecloud::image::path::resolve_with_cache(
            rf.image(),
            rf.from_line(),
            &s.ctx,
            &s.storage,
            None,
        )
    };
    let from = format!("FROM --tree={tree} ./tiny.dir\nCMD true\n");
    let r = ok(resolve(&from));
    assert_eq!(r.checks, ["V5"]);
    assert_eq!(r.image_dir, fs::canonicalize(&dir).unwrap());
    // chmod changes the tree digest: E404 naming the digest found.
    let bin = dir.join("bin");
    let mode = fs::metadata(&bin).unwrap().mode();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o700)).unwrap();
    let have = rftree(&dir).unwrap();
    assert_ne!(have, tree);
    assert_eq!(
        err(resolve(&from)),
        format!(
            "1:1: error: E404: tree digest mismatch for {}: have {have}",
            dir.display()
        )
    );
    fs::set_permissions(&bin, fs::Permissions::from_mode(mode & 0o7777)).unwrap();
    assert_eq!(ok(resolve(&from)).checks, ["V5"]);

    // A directory in storage is run by name, not by path (E415).
    let stored = s.copy_local_image("dsi-test");
    let e = resolve(&format!(
        "FROM --tree={tree} {}\nCMD true\n",
        stored.display()
    ))
    .unwrap_err();
    assert_eq!(e.code, "E415");
    assert_eq!(
        e.hint.as_deref(),
        Some("run it by name: FROM --tree=… NAME")
    );
}
