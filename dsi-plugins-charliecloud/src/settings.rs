//! Options shared by the consumer and producer plugins: where ch-image
//! storage is, whether the network may be used, how hard images are checked.

use std::path::PathBuf;

use dsi_core::{OptionSpec, Options, Result};

use crate::image::{ChImage, ResolveOptions, Storage};

/// The option specs every image-resolving plugin accepts.
pub const IMAGE_OPTIONS: [OptionSpec; 3] = [
    OptionSpec::optional(
        "storage",
        "ch-image storage directory (default $CH_IMAGE_STORAGE, else /var/tmp/$USER.ch)",
    ),
    OptionSpec::optional("offline", "true: never contact a registry (default false)"),
    OptionSpec::optional(
        "full",
        "true: also verify every layer digest (default false)",
    ),
];

/// Parses `true`/`false` (also `1`/`0`, `yes`/`no`).
pub fn parse_bool(module: &str, options: &Options, key: &str) -> Result<bool> {
    match options.get(key) {
        None => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no" | "") => Ok(false),
        Some(other) => Err(dsi_core::Error::config(
            module,
            format!("option '{key}': invalid value '{other}': expected true or false"),
        )),
    }
}

/// The user name Charliecloud needs in `USER`.
pub fn user_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| dsi_core::env::PosixIdentity::current().moniker)
}

/// Image storage, ch-image, and resolution options.
#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// The ch-image storage.
    pub storage: Storage,
    /// How ch-image is started.
    pub ch_image: ChImage,
    /// Online/offline and check level.
    pub resolve: ResolveOptions,
    /// `USER` for Charliecloud.
    pub user: String,
}

impl ImageSettings {
    /// From a plugin's options.
    pub fn from_options(module: &str, options: &Options) -> Result<Self> {
        let user = user_name();
        let storage = match options.get("storage") {
            Some(s) => Storage::new(PathBuf::from(s)),
            None => Storage::from_env(&user),
        };
        Ok(ImageSettings {
            storage,
            ch_image: ChImage::locate(&user),
            resolve: ResolveOptions {
                online: !parse_bool(module, options, "offline")?,
                full: parse_bool(module, options, "full")?,
            },
            user,
        })
    }
}
