//! `dsi runfile pin HOST/NAME:TAG`: the digest a registry serves for a tag,
//! as a Runfile's `FROM HOST/NAME@sha256:…` line.
//!
//! The tag is pulled with `ch-image pull` (with `--arch` when given) under
//! the image's exclusive lock, and the digest is the SHA-256 of the
//! manifest or index the registry served — the download cache's
//! `F.fat.json`, exactly what check V1 compares with a pin (RUNFILE.md
//! §8.2). The layers stay in the download cache, so recording the pinned
//! reference afterwards downloads nothing again. A multi-architecture tag
//! is pinned by its index: every node then picks its own architecture's
//! manifest from it, as V1 checks.

use sha2::{Digest, Sha256};

use super::{At, ChImage, Storage, lock, run_ch_image};
use crate::runfile::{Diagnostic, for_path, name_parts};

/// A tag pinned by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedTag {
    /// `HOST/NAME` (the tag dropped).
    pub name: String,
    /// `sha256:HEX` of the manifest or index served for the tag.
    pub digest: String,
    /// The `FROM` line: `FROM HOST/NAME@sha256:HEX`.
    pub from: String,
}

/// Whether `image` names a registry tag (`HOST/NAME[:TAG]`, no digest):
/// what [`pin_tag`] pins.
pub fn is_registry_tag(image: &str) -> bool {
    name_parts(image).is_some_and(|p| p.host.is_some() && p.digest.is_none())
}

/// Pins a registry tag by the digest its registry serves now (see the
/// module documentation); errors are E402 (pull failed or registry
/// unreachable, naming it) and E409 (lock timeout), at line 1.
pub fn pin_tag(
    image: &str,
    storage: &Storage,
    ch: &ChImage,
    arch: Option<&str>,
) -> Result<PinnedTag, Diagnostic> {
    let at = At { line: 1 };
    let parts = name_parts(image)
        .filter(|p| p.host.is_some() && p.digest.is_none())
        .ok_or_else(|| {
            at.error(
                "E245",
                format!("'{image}' is not a registry tag (HOST/NAME:TAG)"),
            )
        })?;
    let f = for_path(image);
    let _lease = lock::lock(storage, &f, image, lock::Mode::Exclusive, lock::timeout())
        .map_err(|e| at.error("E409", e.to_string()))?;
    let arch_opt = arch.map(|a| format!("--arch={a}"));
    let mut args = vec!["pull"];
    args.extend(arch_opt.as_deref());
    args.push(image);
    run_ch_image(at, storage, ch, &args, "ch-image pull")?;
    let served = storage.dlcache().join(format!("{f}.fat.json"));
    let mut file = std::fs::File::open(&served).map_err(|e| {
        at.error(
            "E402",
            format!(
                "ch-image pull left no manifest at {}: {e}",
                served.display()
            ),
        )
    })?;
    let mut h = Sha256::new();
    std::io::copy(&mut file, &mut h)
        .map_err(|e| at.error("E402", format!("reading {}: {e}", served.display())))?;
    let digest = format!("sha256:{}", hex::encode(h.finalize()));
    let name = format!("{}/{}", parts.host.unwrap_or_default(), parts.repo);
    Ok(PinnedTag {
        from: format!("FROM {name}@{digest}"),
        name,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_tags_are_told_from_local_names_and_digests() {
        assert!(is_registry_tag("127.0.0.1:5000/lab/app:v1"));
        assert!(is_registry_tag("registry.example.org/app"));
        assert!(!is_registry_tag("dsi-test"));
        assert!(!is_registry_tag(
            "127.0.0.1:5000/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"
        ));
    }
}
