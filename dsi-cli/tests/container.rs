//! `system-kernel` inside a real Charliecloud container: the `dsi` binary is
//! bind-mounted into the test image and collects without an error (the
//! Python DSI's SystemKernel crashed there).
//!
//! Needs the test services (`cargo xtask ci` starts them); fails, naming the
//! command to run, when they are absent.

use std::process::Command;

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the test services; run `cargo xtask ci`, \
             or `cargo xtask services start` and export the variables in target/dsi-services/env"
        )
    })
}

#[test]
fn system_kernel_collects_inside_a_container() {
    let storage = required_env("DSI_TEST_BUILD_STORAGE");
    let dsi = assert_cmd::cargo::cargo_bin("dsi");
    let bin_dir = dsi.parent().expect("binary directory");
    let out = Command::new("ch-run")
        .env(
            "USER",
            std::env::var("USER").unwrap_or_else(|_| "root".into()),
        )
        .arg(format!("--storage={storage}"))
        .args(["--unset-env=*", "--set-env", "--private-tmp"])
        // The image is busybox only: lend it the host's C library for dsi.
        .args([
            "--bind=/lib:/lib",
            "--bind=/lib64:/lib64",
            "--bind=/usr/lib:/usr/lib",
        ])
        .arg(format!("--bind={}:/mnt/0", bin_dir.display()))
        .args([
            "dsi-test",
            "--",
            "/mnt/0/dsi",
            "collect",
            "--print",
            "--json",
        ])
        .output()
        .expect("ch-run runs (install Charliecloud: cargo xtask setup)");
    assert!(
        out.status.success(),
        "dsi collect inside the container failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let sk = v["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["name"] == "system_kernel")
        .expect("a system_kernel table");
    let info: serde_json::Value = serde_json::from_str(
        sk["rows"][0]["kernel_info"]
            .as_str()
            .expect("kernel_info text"),
    )
    .expect("kernel_info JSON");
    assert_eq!(info["schema"], "dsi.kernel_info/1");
    let sections = info["sections"].as_object().expect("sections");
    assert!(sections["kernel"]["release"].is_string(), "{info}");
    assert_eq!(
        sections["userns"]["in_user_namespace"], true,
        "ran in a user namespace"
    );
    // No ch-run inside the image: recorded as unavailable, not a failure.
    assert!(
        sections["charliecloud"]
            .as_str()
            .is_some_and(|s| s.starts_with("unavailable: ")),
        "{}",
        sections["charliecloud"]
    );
    // USER is unset inside (--unset-env=*): the moniker still resolves.
    assert!(!sk["rows"][0]["moniker"].as_str().unwrap_or("").is_empty());
}
