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

/// An option's boolean value (`true`/`false`, `1`/`0`, `yes`/`no`;
/// absent is false): [`Options::parse_bool`].
pub fn parse_bool(module: &str, options: &Options, key: &str) -> Result<bool> {
    options.parse_bool(module, key)
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
    /// Storage (default `$CH_IMAGE_STORAGE`, else `/var/tmp/$USER.ch`),
    /// whether the registry may be used, whether layers are verified.
    pub fn new(storage: Option<PathBuf>, online: bool, full: bool) -> Self {
        let user = user_name();
        ImageSettings {
            storage: storage.map_or_else(|| Storage::from_env(&user), Storage::new),
            ch_image: ChImage::locate(&user),
            resolve: ResolveOptions { online, full },
            user,
        }
    }

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
