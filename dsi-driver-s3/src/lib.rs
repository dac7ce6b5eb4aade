//! # dsi-driver-s3
//!
//! The `s3` back-end: the dataset of `dsi-driver-parquet` (one Delta Lake
//! table per dsi table, content-addressed blobs beside them, the same
//! guarantees) on S3-compatible object storage (`s3://bucket/prefix`),
//! through object_store's S3 client, which is handed to delta-rs as the
//! tables' log store (no `deltalake-aws`, no AWS SDK). Each table is a
//! Delta table at `s3://bucket/prefix/<table>/` ([`S3Dataset::table_url`]),
//! readable there by `deltalake`, Polars, DataFusion, Spark and DuckDB.
//!
//! * **Many writers, no coordinator.** Every commit creates the log's next
//!   version only if absent (`If-None-Match: *`); a lost race is retried
//!   with jittered back-off; blobs are created only if absent too. The
//!   service must make create-if-absent atomic under races: AWS S3, MinIO,
//!   Ceph RGW and moto do; s3s-fs and Garage 2.5 do not, and with them
//!   concurrent writers can overwrite each other's commits (a single writer
//!   is safe). A put spanning tables is all-or-nothing for dsi readers, as
//!   described in `dsi-driver-parquet`.
//! * **Migration.** A dataset of the first layout (one Parquet file per
//!   put) is refused with [`Error::IncompatibleStore`] until
//!   [`S3Builder::migrate`] converts it.
//! * **Configuration** comes from the standard environment variables
//!   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//!   `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ENDPOINT_URL` (or
//!   `AWS_ENDPOINT`) and `AWS_ALLOW_HTTP`, overridden by driver options
//!   (`--option key=value`, see [`ConfigKey`]). Without an access key the
//!   driver refuses to start (unless `skip_signature=true` for a public
//!   bucket) rather than probing instance-metadata endpoints.
//! * **Runtime.** The dataset owns a private tokio runtime (two workers);
//!   dsi-core and the command line stay synchronous.
//! * **Failures.** Requests are retried with exponential back-off on
//!   transient errors (connection failures, 5xx, throttling), by default 5
//!   times within 60 s. Bad credentials, a missing bucket and an unreachable
//!   endpoint are each reported as one line saying which it is. Credentials
//!   never appear in errors or in `Debug` output.
//!
//! ```no_run
//! use dsi_core::Driver;
//! let s3 = dsi_driver_s3::S3Builder::from_env("s3://records/site-a")?
//!     .with_option("endpoint", "http://127.0.0.1:9000")?
//!     .with_option("allow_http", "true")?
//!     .open()?;
//! println!("{:?}", s3.inspect()?);
//! # Ok::<(), dsi_core::Error>(())
//! ```
//!
//! ## Features
//!
//! * `sql` — `Query::Sql` through DataFusion (the parquet driver's `sql`
//!   feature).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use dsi_core::text::strip_credentials;
use dsi_core::{
    Access, Driver, DriverEntry, DriverFunction, Error, Location, OptionSpec, Options, Result,
};
use dsi_driver_parquet::object_store::aws::AmazonS3Builder;
use dsi_driver_parquet::object_store::client::{HttpError, HttpErrorKind};
use dsi_driver_parquet::object_store::path::Path;
use dsi_driver_parquet::object_store::{BackoffConfig, ClientOptions, RetryConfig};
use dsi_driver_parquet::{Dataset, DatasetBuilder, MigrateReport};

pub use dsi_driver_parquet::Dataset as S3Dataset;

/// The options the `s3` driver accepts.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::required("store", "s3://bucket/prefix"),
    OptionSpec::optional("region", "region (default $AWS_REGION, else us-east-1)"),
    OptionSpec::optional(
        "endpoint",
        "URL of an S3-compatible service (default $AWS_ENDPOINT_URL, else AWS)",
    ),
    OptionSpec::optional(
        "access_key_id",
        "access key id (default $AWS_ACCESS_KEY_ID)",
    ),
    OptionSpec::optional(
        "secret_access_key",
        "secret access key (default $AWS_SECRET_ACCESS_KEY)",
    ),
    OptionSpec::optional(
        "session_token",
        "session token (default $AWS_SESSION_TOKEN)",
    ),
    OptionSpec::optional(
        "allow_http",
        "true to allow a plain http:// endpoint (default $AWS_ALLOW_HTTP, else false)",
    ),
    OptionSpec::optional(
        "virtual_hosted_style",
        "true for bucket.host URLs instead of host/bucket (default false)",
    ),
    OptionSpec::optional(
        "skip_signature",
        "true to send unsigned requests (public buckets)",
    ),
    OptionSpec::optional(
        "max_retries",
        "retries of a request that failed transiently (default 5)",
    ),
    OptionSpec::optional(
        "retry_timeout_secs",
        "stop retrying a request after this many seconds (default 60)",
    ),
];

inventory::submit! {
    DriverEntry {
        name: "s3",
        function: DriverFunction::BackEnd,
        summary: "the Parquet dataset layout on S3-compatible object storage (s3://bucket/prefix), many writers at once",
        options: OPTIONS,
        build: S3Builder::from_options,
        migrate: Some(S3Builder::migrate_from_options),
    }
}

const DRIVER: &str = "s3";

/// A configuration key of the `s3` driver (the option names of
/// [`OPTIONS`], except `store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigKey {
    /// `region`.
    Region,
    /// `endpoint`.
    Endpoint,
    /// `access_key_id`.
    AccessKeyId,
    /// `secret_access_key`.
    SecretAccessKey,
    /// `session_token`.
    SessionToken,
    /// `allow_http`.
    AllowHttp,
    /// `virtual_hosted_style`.
    VirtualHostedStyle,
    /// `skip_signature`.
    SkipSignature,
    /// `max_retries`.
    MaxRetries,
    /// `retry_timeout_secs`.
    RetryTimeoutSecs,
}

impl FromStr for ConfigKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "region" => ConfigKey::Region,
            "endpoint" => ConfigKey::Endpoint,
            "access_key_id" => ConfigKey::AccessKeyId,
            "secret_access_key" => ConfigKey::SecretAccessKey,
            "session_token" => ConfigKey::SessionToken,
            "allow_http" => ConfigKey::AllowHttp,
            "virtual_hosted_style" => ConfigKey::VirtualHostedStyle,
            "skip_signature" => ConfigKey::SkipSignature,
            "max_retries" => ConfigKey::MaxRetries,
            "retry_timeout_secs" => ConfigKey::RetryTimeoutSecs,
            other => {
                let known: Vec<&str> = OPTIONS.iter().map(|o| o.name).collect();
                return Err(Error::config(
                    DRIVER,
                    format!("unknown option '{other}' (accepted: {})", known.join(", ")),
                ));
            }
        })
    }
}

/// A secret that never shows in `Debug`.
#[derive(Clone, Default)]
struct Secret(Option<String>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "<set>" } else { "<unset>" })
    }
}

/// Builds an [`S3Dataset`] from a `s3://bucket/prefix` URL, the environment
/// and options. Its `Debug` output shows no credentials.
#[derive(Clone)]
pub struct S3Builder {
    bucket: String,
    prefix: String,
    region: Option<String>,
    endpoint: Option<String>,
    access_key_id: Secret,
    secret_access_key: Secret,
    session_token: Secret,
    allow_http: bool,
    access: Access,
    virtual_hosted_style: bool,
    skip_signature: bool,
    max_retries: usize,
    retry_timeout: Duration,
}

impl fmt::Debug for S3Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Builder")
            .field("location", &self.location())
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("skip_signature", &self.skip_signature)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .finish()
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    dsi_core::parse_bool(value).ok_or_else(|| {
        Error::config(
            DRIVER,
            format!("option '{key}': invalid value '{value}': expected true or false"),
        )
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl S3Builder {
    /// Parses `s3://bucket[/prefix]`; nothing from the environment.
    pub fn new(url: &str) -> Result<Self> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::config(
                DRIVER,
                format!("store '{url}' must have the form s3://bucket/prefix"),
            )
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = !bucket.is_empty()
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
        if !valid_bucket {
            return Err(Error::config(
                DRIVER,
                format!("store '{url}': '{bucket}' is not a valid bucket name"),
            ));
        }
        let prefix = prefix.trim_matches('/').to_owned();
        Path::parse(&prefix)
            .map_err(|e| Error::config(DRIVER, format!("store '{url}': invalid prefix: {e}")))?;
        Ok(S3Builder {
            bucket: bucket.to_owned(),
            prefix,
            region: None,
            endpoint: None,
            access_key_id: Secret::default(),
            secret_access_key: Secret::default(),
            session_token: Secret::default(),
            allow_http: false,
            access: Access::ReadWrite,
            virtual_hosted_style: false,
            skip_signature: false,
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
        })
    }

    /// Parses the URL and takes defaults from the standard `AWS_*`
    /// environment variables.
    pub fn from_env(url: &str) -> Result<Self> {
        let mut b = Self::new(url)?;
        b.region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION"));
        b.endpoint = env("AWS_ENDPOINT_URL").or_else(|| env("AWS_ENDPOINT"));
        b.access_key_id = Secret(env("AWS_ACCESS_KEY_ID"));
        b.secret_access_key = Secret(env("AWS_SECRET_ACCESS_KEY"));
        b.session_token = Secret(env("AWS_SESSION_TOKEN"));
        if let Some(v) = env("AWS_ALLOW_HTTP") {
            b.allow_http = parse_bool("AWS_ALLOW_HTTP", &v)?;
        }
        if let Some(v) = env("AWS_VIRTUAL_HOSTED_STYLE_REQUEST") {
            b.virtual_hosted_style = parse_bool("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", &v)?;
        }
        Ok(b)
    }

    /// Sets one configuration key from text (the command line's
    /// `--option key=value`).
    pub fn with_option(self, key: &str, value: &str) -> Result<Self> {
        let k: ConfigKey = key.parse()?;
        self.with_config(k, value)
    }

    /// Sets one configuration key.
    pub fn with_config(mut self, key: ConfigKey, value: &str) -> Result<Self> {
        let number = |v: &str| {
            v.trim().parse::<u64>().map_err(|e| {
                Error::config(
                    DRIVER,
                    format!("option '{}': invalid value '{v}': {e}", key_name(key)),
                )
            })
        };
        match key {
            ConfigKey::Region => self.region = Some(value.to_owned()),
            ConfigKey::Endpoint => self.endpoint = Some(value.to_owned()),
            ConfigKey::AccessKeyId => self.access_key_id = Secret(Some(value.to_owned())),
            ConfigKey::SecretAccessKey => self.secret_access_key = Secret(Some(value.to_owned())),
            ConfigKey::SessionToken => self.session_token = Secret(Some(value.to_owned())),
            ConfigKey::AllowHttp => self.allow_http = parse_bool("allow_http", value)?,
            ConfigKey::VirtualHostedStyle => {
                self.virtual_hosted_style = parse_bool("virtual_hosted_style", value)?;
            }
            ConfigKey::SkipSignature => self.skip_signature = parse_bool("skip_signature", value)?,
            ConfigKey::MaxRetries => {
                self.max_retries = usize::try_from(number(value)?).unwrap_or(usize::MAX);
            }
            ConfigKey::RetryTimeoutSecs => {
                self.retry_timeout = Duration::from_secs(number(value)?);
            }
        }
        Ok(self)
    }

    /// Sets the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the endpoint URL of an S3-compatible service.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets static credentials.
    pub fn with_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.access_key_id = Secret(Some(access_key_id.into()));
        self.secret_access_key = Secret(Some(secret_access_key.into()));
        self
    }

    /// Allows plain HTTP endpoints.
    pub fn with_allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Sets how often and how long a transiently failing request is retried.
    pub fn with_retries(mut self, max_retries: usize, timeout: Duration) -> Self {
        self.max_retries = max_retries;
        self.retry_timeout = timeout;
        self
    }

    /// The store URL, `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// Where the dataset is, as shown to users: the URL and a custom endpoint.
    pub fn location(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("{} at {}", self.url(), strip_credentials(e)),
            None => self.url(),
        }
    }

    /// Builds the driver from registry options, with the environment as
    /// defaults.
    pub fn from_options(options: &Options, access: Access) -> Result<Box<dyn Driver>> {
        let mut b = Self::from_env(options.require(DRIVER, "store")?)?;
        for (key, value) in options.iter().filter(|(k, _)| *k != "store") {
            b = b.with_option(key, value)?;
        }
        Ok(Box::new(b.with_access(access).open()?))
    }

    /// The registry's migration (`dsi migrate`): [`S3Builder::migrate`] of
    /// the dataset the options name.
    pub fn migrate_from_options(options: &Options) -> Result<dsi_core::Migration> {
        let mut b = Self::from_env(options.require(DRIVER, "store")?)?;
        for (key, value) in options.iter().filter(|(k, _)| *k != "store") {
            b = b.with_option(key, value)?;
        }
        b.migrate().map(Into::into)
    }

    /// Opens for reading only (a prefix holding no dataset is then
    /// [`Error::NotFound`]) or for writing (the default).
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Where the dataset is, structured: the URL, endpoint and region, so
    /// that other tools (the notebook) open exactly this store.
    pub fn structured_location(&self) -> Location {
        Location::ObjectStore {
            url: self.url(),
            endpoint: self.endpoint.as_deref().map(strip_credentials),
            region: Some(self.region.clone().unwrap_or_else(|| "us-east-1".into())),
            allow_http: self.allow_http,
        }
    }

    /// Connects: builds the S3 client and opens the dataset (one request,
    /// which reports bad credentials, a missing bucket or an unreachable
    /// endpoint). A dataset of the first layout is
    /// [`Error::IncompatibleStore`]: see [`S3Builder::migrate`].
    pub fn open(self) -> Result<Dataset> {
        self.dataset_builder()?.open()
    }

    /// Turns a dataset of the first layout (one Parquet file per put) into
    /// Delta tables, keeping its data files (`dsi migrate`; see
    /// [`dsi_driver_parquet::migrate`]).
    pub fn migrate(self) -> Result<MigrateReport> {
        self.dataset_builder()?.migrate()
    }

    /// The dataset builder over the S3 client.
    pub fn dataset_builder(self) -> Result<DatasetBuilder> {
        if self.access_key_id.0.is_none() && !self.skip_signature {
            return Err(Error::config(
                DRIVER,
                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                 (or --option access_key_id=… --option secret_access_key=…), \
                 or skip_signature=true for a public bucket",
            ));
        }
        if self.access_key_id.0.is_some() && self.secret_access_key.0.is_none() {
            return Err(Error::config(
                DRIVER,
                "an access key id is set but no secret access key (AWS_SECRET_ACCESS_KEY)",
            ));
        }
        if let Some(e) = &self.endpoint
            && e.starts_with("http://")
            && !self.allow_http
        {
            return Err(Error::config(
                DRIVER,
                format!(
                    "endpoint {} is plain http: set allow_http=true (or AWS_ALLOW_HTTP=true) to use it",
                    strip_credentials(e)
                ),
            ));
        }
        let client = ClientOptions::new()
            .with_allow_http(self.allow_http)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(60));
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        };
        let mut s3 = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region(self.region.clone().unwrap_or_else(|| "us-east-1".into()))
            .with_virtual_hosted_style_request(self.virtual_hosted_style)
            .with_skip_signature(self.skip_signature)
            .with_client_options(client)
            .with_retry(retry);
        if let Some(e) = &self.endpoint {
            s3 = s3.with_endpoint(e);
        }
        if let (Some(k), Some(s)) = (&self.access_key_id.0, &self.secret_access_key.0) {
            s3 = s3.with_access_key_id(k).with_secret_access_key(s);
        }
        if let Some(t) = &self.session_token.0 {
            s3 = s3.with_token(t);
        }
        let store = s3
            .build()
            .map_err(|e| Error::config(DRIVER, format!("{}: {}", self.location(), one_line(&e))))?;
        let prefix = Path::parse(&self.prefix)
            .map_err(|e| Error::config(DRIVER, format!("{}: {e}", self.url())))?;
        let root = url::Url::parse(&format!("s3://{}/", self.bucket))
            .map_err(|e| Error::config(DRIVER, format!("{}: {e}", self.url())))?;
        Ok(DatasetBuilder::new(Arc::new(store), root, prefix)
            .with_driver_name(DRIVER)
            .with_location(self.location())
            .with_structured_location(self.structured_location())
            .with_access(self.access)
            .with_error_description(describe))
    }
}

fn key_name(key: ConfigKey) -> &'static str {
    match key {
        ConfigKey::Region => "region",
        ConfigKey::Endpoint => "endpoint",
        ConfigKey::AccessKeyId => "access_key_id",
        ConfigKey::SecretAccessKey => "secret_access_key",
        ConfigKey::SessionToken => "session_token",
        ConfigKey::AllowHttp => "allow_http",
        ConfigKey::VirtualHostedStyle => "virtual_hosted_style",
        ConfigKey::SkipSignature => "skip_signature",
        ConfigKey::MaxRetries => "max_retries",
        ConfigKey::RetryTimeoutSecs => "retry_timeout_secs",
    }
}

/// An error and its causes on one line.
fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        cur = err.source();
    }
    out
}

/// The first HTTP transport error in a chain of causes.
fn http_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a HttpError> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<HttpError>() {
            return Some(h);
        }
        cur = err.source();
    }
    None
}

/// S3's words for object-store failures: one line each for bad
/// credentials, a missing bucket and an unreachable endpoint.
fn describe(e: &dsi_driver_parquet::object_store::Error) -> Option<String> {
    use dsi_driver_parquet::object_store::Error as E;
    let text = one_line(e);
    if text.contains("NoSuchBucket") {
        return Some("the bucket does not exist (NoSuchBucket)".into());
    }
    if text.contains("SignatureDoesNotMatch") {
        return Some(
            "the server rejected the request signature (SignatureDoesNotMatch): \
             check the secret access key (AWS_SECRET_ACCESS_KEY)"
                .into(),
        );
    }
    for code in ["InvalidAccessKeyId", "NotSignedUp"] {
        if text.contains(code) {
            return Some(format!(
                "the server does not know the access key id ({code}): check AWS_ACCESS_KEY_ID"
            ));
        }
    }
    if matches!(e, E::PermissionDenied { .. } | E::Unauthenticated { .. }) {
        return Some(
            "access denied (HTTP 401/403): check the credentials and the bucket's policy".into(),
        );
    }
    if let Some(h) = http_error(e) {
        let retries = text
            .split(", after ")
            .nth(1)
            .and_then(|r| r.split(" retries").next())
            .map(|n| format!(" after {n} retries"))
            .unwrap_or_default();
        return Some(match h.kind() {
            HttpErrorKind::Connect => {
                format!("cannot connect to the endpoint{retries}: is it running and reachable?")
            }
            HttpErrorKind::Timeout => format!("the endpoint did not answer in time{retries}"),
            HttpErrorKind::Interrupted | HttpErrorKind::Request => {
                format!("the connection to the endpoint failed{retries}")
            }
            _ => return None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_strictly() {
        let b = S3Builder::new("s3://bucket/a/b/").unwrap();
        assert_eq!(b.url(), "s3://bucket/a/b");
        assert_eq!(S3Builder::new("s3://bucket").unwrap().url(), "s3://bucket");
        for bad in ["bucket/x", "s3://", "s3://Bad_Bucket!/x", "file:///tmp"] {
            let e = S3Builder::new(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidConfig { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn options_are_validated_and_secrets_hidden() {
        let b = S3Builder::new("s3://b/p")
            .unwrap()
            .with_option("secret_access_key", "very-secret")
            .unwrap()
            .with_option("access_key_id", "AKIDSECRETTOO")
            .unwrap()
            .with_option("allow_http", "true")
            .unwrap();
        let dbg = format!("{b:?}");
        assert!(
            !dbg.contains("very-secret") && !dbg.contains("AKIDSECRETTOO"),
            "{dbg}"
        );
        let e = b.clone().with_option("colour", "red").unwrap_err();
        assert!(e.to_string().contains("unknown option 'colour'"), "{e}");
        let e = b.clone().with_option("allow_http", "maybe").unwrap_err();
        assert!(e.to_string().contains("'allow_http'"), "{e}");
        let e = b.with_option("max_retries", "many").unwrap_err();
        assert!(e.to_string().contains("'max_retries'"), "{e}");
    }

    #[test]
    fn missing_credentials_and_plain_http_are_refused() {
        let e = S3Builder::new("s3://b/p").unwrap().open().unwrap_err();
        assert!(e.to_string().contains("no credentials"), "{e}");
        let e = S3Builder::new("s3://b/p")
            .unwrap()
            .with_credentials("a", "b")
            .with_endpoint("http://127.0.0.1:1")
            .open()
            .unwrap_err();
        assert!(e.to_string().contains("allow_http=true"), "{e}");
    }

    #[test]
    fn endpoints_are_shown_without_user_information() {
        assert_eq!(
            strip_credentials("http://u:p@host:9000/x"),
            "http://host:9000/x"
        );
        assert_eq!(strip_credentials("http://host:9000"), "http://host:9000");
        let b = S3Builder::new("s3://b/p")
            .unwrap()
            .with_endpoint("https://key:pa55word@s3.example.org");
        assert_eq!(b.location(), "s3://b/p at https://s3.example.org");
        assert!(!format!("{b:?}").contains("pa55word"), "{b:?}");
    }
}

/// The examples of this crate's README, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
