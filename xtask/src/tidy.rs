//! `cargo xtask tidy`: rules of the code base that the compiler does not
//! check.
//!
//! * every `.rs` file of the workspace starts with `//!` docs;
//! * no `runs` column name is spelled as a string literal outside
//!   `dsi-plugins-charliecloud/src/records/` in the crates that know the
//!   table (the Charliecloud plugins and the CLI): everything else goes
//!   through `RunRecord` and `records::query`. The names are read from
//!   `records/columns.rs`. Test modules (from `#[cfg(test)]` on), comment
//!   lines and lines marked `// not a runs column` (an option key, a field
//!   of another format that happens to share a name) are not checked.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::util::project_root;

const MARK: &str = "// not a runs column";

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&p, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
    Ok(())
}

/// The column names declared in `records/columns.rs`.
fn column_names(root: &Path) -> anyhow::Result<Vec<String>> {
    let path = root.join("dsi-plugins-charliecloud/src/records/columns.rs");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut names = Vec::new();
    for part in text.split('"').skip(1).step_by(2) {
        if !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            && !names.iter().any(|n| n == part)
        {
            names.push(part.to_owned());
        }
    }
    if names.len() < 30 {
        bail!(
            "{}: found only {} column names",
            path.display(),
            names.len()
        );
    }
    Ok(names)
}

/// The places a `runs` column name is spelled outside `records`.
pub(crate) fn column_literals(root: &Path) -> anyhow::Result<Vec<String>> {
    let names = column_names(root)?;
    let mut files = Vec::new();
    for dir in ["dsi-plugins-charliecloud/src", "dsi-cli/src"] {
        rust_files(&root.join(dir), &mut files)?;
    }
    let mut found = Vec::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        if rel.contains("/records/") {
            continue;
        }
        let text = std::fs::read_to_string(&f)?;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("#[cfg(test)]") {
                break;
            }
            if t.starts_with("//") || line.contains(MARK) {
                continue;
            }
            for n in &names {
                if line.contains(&format!("\"{n}\"")) {
                    found.push(format!("{rel}:{}: \"{n}\"", i + 1));
                }
            }
        }
    }
    Ok(found)
}

/// `cargo xtask tidy`.
pub(crate) fn run() -> anyhow::Result<()> {
    let root = project_root();
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for dir in [
        "dsi-core",
        "dsi-plugins-charliecloud",
        "dsi-driver-sqlite",
        "dsi-driver-parquet",
        "dsi-driver-s3",
        "dsi-driver-web",
        "dsi-cli",
        "xtask",
        "fuzz/fuzz_targets",
    ] {
        let d = root.join(dir);
        if d.exists() {
            rust_files(&d, &mut files)?;
        }
    }
    for f in &files {
        let text = std::fs::read_to_string(f)?;
        if !text.trim_start().starts_with("//!") {
            problems.push(format!(
                "{}: does not start with //! docs",
                f.strip_prefix(&root).unwrap_or(f).display()
            ));
        }
    }
    for l in column_literals(&root)? {
        problems.push(format!("{l}: a runs column spelled outside records (use RunRecord or records::query, or mark the line '{MARK}')"));
    }
    if !problems.is_empty() {
        bail!("tidy:\n{}", problems.join("\n"));
    }
    eprintln!(
        "xtask: tidy: {} files, no runs column outside records",
        files.len()
    );
    Ok(())
}
