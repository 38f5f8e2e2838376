//! Service configuration: an optional TOML file, then `TOUCHPOINT_*`
//! environment variables over it. Unknown keys are errors, and every error
//! names the key (or variable) at fault. It imports no feature: each
//! section the features read is defined here (`notify` for notifications).

pub mod notify;

pub use notify::NotifyConfig;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "touchpoint.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Longest a request may take, body read included (counted from when its
    /// handler first waits: for the body, for ClickHouse); then it is
    /// answered 503 (`timeout`). At shutdown, requests in flight get at most
    /// `spool.drain_timeout`, whatever this says.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Whether this instance runs the background rounds: notifications,
    /// digests, housekeeping, the per-case stage times. Several instances on
    /// one database: exactly one runs them, the others set `false`, or each
    /// letter and webhook would go out once per instance.
    pub background_jobs: bool,
    /// A connection on which no request is being handled (a header not yet
    /// whole, an idle keep-alive, an answer the client does not read) is
    /// closed after this long, at most half as long again.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Connections one client address may hold open at once; past that, new
    /// ones are closed as soon as they are accepted.
    pub max_connections_per_address: u32,
    /// Folder holding `register.toml`, `journeys/*.toml` and `calendar.toml`.
    pub dashboards_dir: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// Where events are stored.
    pub clickhouse: ClickHouseConfig,
    /// Sites allowed to post client events, by site key (the `site` field of events).
    pub sites: BTreeMap<String, SiteConfig>,
    /// Bearer tokens of staff systems (call centre, mail desk) for the staff endpoints.
    pub staff_tokens: Vec<StaffToken>,
    /// The path from a request to ClickHouse.
    pub capture: CaptureConfig,
    /// The on-disk log accepted events are written to before the 202.
    pub spool: SpoolConfig,
    /// Abuse protection of the public endpoints.
    pub limits: LimitsConfig,
    /// One-click rating links for letters.
    pub email: EmailConfig,
    /// The analysts' dashboards.
    pub dashboards: DashboardsConfig,
    /// Cases opened by bad ratings and calls.
    pub cases: CasesConfig,
    /// Where case events and overdue digests go.
    pub notify: NotifyConfig,
    /// The ministry's case references (application numbers) events carry.
    pub case_refs: CaseRefsConfig,
    /// The versioned register and journeys.
    pub register: RegisterConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegisterConfig {
    /// How often an instance looks for a version another instance approved
    /// and puts it in force; the approving instance does at once.
    #[serde(with = "humantime_serde")]
    pub refresh_interval: Duration,
}

impl Default for RegisterConfig {
    fn default() -> Self {
        RegisterConfig { refresh_interval: Duration::from_secs(10) }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaseRefsConfig {
    /// Key of the hash that is all touchpoint keeps of a reference (at least
    /// 32 characters). Unset: derived from `email.secret` (configured or
    /// kept in the database). Changing it unlinks earlier events (README).
    pub secret: Option<SecretString>,
    /// How often the per-case stage times behind the stage-duration view
    /// are recomputed: how old its figures may be.
    #[serde(with = "humantime_serde")]
    pub refresh_interval: Duration,
    /// How long a client's history link works from when it was made.
    #[serde(with = "humantime_serde")]
    pub history_link_ttl: Duration,
}

impl Default for CaseRefsConfig {
    fn default() -> Self {
        CaseRefsConfig {
            secret: None,
            refresh_interval: Duration::from_secs(600),
            history_link_ttl: Duration::from_secs(180 * 24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CasesConfig {
    /// The ministry's offset from UTC, `+HH:MM`: when its working days begin
    /// and end (Smolensk `+03:00`, Astrakhan `+04:00`).
    pub utc_offset: String,
    /// How long a client's follow link works, from the rating that opened the case.
    #[serde(with = "humantime_serde")]
    pub follow_link_ttl: Duration,
    /// The unit that works the cases of calls logged without a journey and
    /// stage (the default rules of `[cases]` apply to them); unset, such
    /// calls open none.
    pub calls_unit: Option<String>,
}

impl Default for CasesConfig {
    fn default() -> Self {
        CasesConfig {
            utc_offset: "+03:00".into(),
            follow_link_ttl: Duration::from_secs(180 * 24 * 3600),
            calls_unit: None,
        }
    }
}

impl CasesConfig {
    /// `utc_offset` parsed; `validate` has checked it.
    pub fn offset(&self) -> time::UtcOffset {
        parse_offset(&self.utc_offset).unwrap_or(time::UtcOffset::UTC)
    }
}

/// `+HH:MM` or `-HH:MM`.
fn parse_offset(text: &str) -> Option<time::UtcOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    // The offsets in use on Earth run from -12:00 to +14:00.
    if h > 14 || m > 59 {
        return None;
    }
    time::UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardsConfig {
    /// Key that signs analysts' session cookies (at least 32 characters).
    /// Unset: one made at the first start and kept in the database, shared
    /// by every instance of it (README "Keys").
    pub session_secret: Option<SecretString>,
    /// How long a login lasts.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (set when the service is served over HTTPS).
    pub secure_cookie: bool,
    /// Failed logins allowed at once from one address for one account name
    /// (then that address gets 429 for that name), and for one name from
    /// all addresses together (then each attempt for it waits up to 2 s,
    /// never refused: a stranger cannot lock an analyst out). Successful
    /// logins are not counted.
    pub login_burst: u32,
    /// Failed logins from one address over all names, and wrong API tokens
    /// from one address, allowed at once; then that address gets 429.
    pub login_burst_per_address: u32,
    /// Each of those budgets gets one failure back per this period.
    #[serde(with = "humantime_serde")]
    pub login_refill: Duration,
    /// A stage with fewer answers than this shows "too few answers", never a score.
    pub min_answers: u64,
}

impl Default for DashboardsConfig {
    fn default() -> Self {
        DashboardsConfig {
            session_secret: None,
            session_ttl: Duration::from_secs(8 * 3600),
            secure_cookie: false,
            login_burst: 5,
            login_burst_per_address: 20,
            login_refill: Duration::from_secs(60),
            min_answers: 5,
        }
    }
}

/// A website (or other client) that embeds the widget or posts events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Journey ids this site may post events for.
    pub journeys: Vec<String>,
    /// Browser origins allowed to post (CORS), e.g. `https://minprom.example.ru`.
    /// An origin written without a port allows any port.
    #[serde(default)]
    pub origins: Vec<url::Url>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffToken {
    /// Who holds the token; logged with each staff request.
    pub name: String,
    /// The secret itself; at least 24 characters.
    pub token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// With `spool.sync_interval = "0s"` only: requests waiting for the group
    /// sync at once; more get 503 (`overloaded`) with Retry-After. The default
    /// interval mode writes each record at once and has no such queue.
    pub queue_capacity: usize,
    /// A spool segment is sealed and shipped (one INSERT per table) once it
    /// holds this many events...
    pub flush_rows: u64,
    /// ...or once it is this old: about the longest an accepted event waits
    /// before ClickHouse has it.
    #[serde(with = "humantime_serde")]
    pub flush_period: Duration,
    /// A repeat of an event id within this long of the first is answered 202
    /// and stored nothing (letters and e-mail ratings: at least `email.link_ttl`).
    #[serde(with = "humantime_serde")]
    pub dedupe_window: Duration,
    /// Event ids remembered at most (29–57 bytes each); past it the oldest
    /// are forgotten before their window ends (metric `dedupe_evicted_total`).
    pub dedupe_ids: usize,
    /// `/readyz` fails when the shipper has had segments waiting and shipped none for this long.
    #[serde(with = "humantime_serde")]
    pub stall_after: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Folder of the spool's segment files; keep it on a local disk that
    /// survives restarts. What is in it at start is shipped first.
    pub dir: PathBuf,
    /// Disk the spool may use; past it (ClickHouse down for long) new events
    /// get 503 with Retry-After until shipped segments free space.
    pub max_bytes: u64,
    /// How often accepted events are `fdatasync`'d. Above zero, a 202 means
    /// the event is written to the spool file (a crash or kill of the service
    /// loses nothing) and a power cut loses at most this window. Zero syncs
    /// before every 202 (group commit): nothing is lost even then, at about a
    /// third less throughput on a small machine (BENCHMARKS.md).
    #[serde(with = "humantime_serde")]
    pub sync_interval: Duration,
    /// At shutdown, how long to keep shipping to ClickHouse; what is left
    /// stays on disk and ships at the next start.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: PathBuf::from("data/spool"),
            max_bytes: 1 << 30,
            sync_interval: Duration::from_millis(5),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests a single client address may send at once...
    pub per_ip_burst: u32,
    /// ...and then per second. The defaults let an office behind one NAT address rate freely.
    pub per_ip_per_second: u32,
    /// Events a single site may post at once...
    pub per_site_burst: u32,
    /// ...and then per second.
    pub per_site_per_second: u32,
    /// Addresses (or networks, `10.0.0.0/8`) of reverse proxies whose
    /// `X-Forwarded-For` is trusted; from anyone else the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Key that signs the service's links: rating, follow and history links,
    /// and the case ids of late letters (at least 32 characters). Unset: one
    /// made at the first start and kept in the database (`secrets` table),
    /// shared by every instance of it (README "Keys").
    pub secret: Option<SecretString>,
    /// How long a rating link stays valid.
    #[serde(with = "humantime_serde")]
    pub link_ttl: Duration,
    /// Public base URL of this service, used in the links. Unset: `http://<listen>`.
    pub public_url: Option<url::Url>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// HTTP interface of a running server, e.g. `http://clickhouse:8123`. Unset:
    /// `serve` starts a local server of its own (see `embedded`).
    pub url: Option<url::Url>,
    /// Database of the service's tables; created if missing.
    pub database: String,
    /// User on the server named by `url`.
    pub user: String,
    /// Password of `user`. Never logged.
    pub password: SecretString,
    /// How long `serve` and `migrate` wait for the server to answer at start.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// The local server used when `url` is unset.
    pub embedded: EmbeddedConfig,
    /// A cluster of the servers' `remote_servers` whose replicas (and
    /// ZooKeeper) hold the service's tables: the migrations run `ON CLUSTER`
    /// (an ALTER only where replication cannot carry it) and make every
    /// `*MergeTree` table `Replicated*`. Unset: one server.
    pub cluster: Option<String>,
    /// On a cluster, `/readyz` fails when a replica of the server named by
    /// `url` is further behind the others than this.
    #[serde(with = "humantime_serde")]
    pub max_replica_delay: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedConfig {
    /// Path of `clickhouse-server` (or of the single `clickhouse` binary).
    /// Unset: looked up in PATH, /usr/sbin, /usr/bin and /usr/local/bin.
    pub binary: Option<PathBuf>,
    /// Data, logs, generated config and password of the local server; kept
    /// between starts.
    pub data_dir: PathBuf,
    /// How long to wait for the local server to answer after starting it.
    #[serde(with = "humantime_serde")]
    pub start_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// Which events to log, in `tracing` filter syntax; `RUST_LOG` wins when set.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout: Duration::from_secs(30),
            background_jobs: true,
            header_timeout: Duration::from_secs(10),
            max_connections_per_address: 256,
            dashboards_dir: PathBuf::from("dashboards"),
            log: LogConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            sites: BTreeMap::new(),
            staff_tokens: Vec::new(),
            capture: CaptureConfig::default(),
            spool: SpoolConfig::default(),
            limits: LimitsConfig::default(),
            email: EmailConfig::default(),
            dashboards: DashboardsConfig::default(),
            cases: CasesConfig::default(),
            notify: NotifyConfig::default(),
            case_refs: CaseRefsConfig::default(),
            register: RegisterConfig::default(),
        }
    }
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            queue_capacity: 100_000,
            flush_rows: 200_000,
            flush_period: Duration::from_secs(1),
            dedupe_window: Duration::from_secs(48 * 3600),
            dedupe_ids: 1_000_000,
            stall_after: Duration::from_secs(30),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            per_ip_burst: 100,
            per_ip_per_second: 10,
            per_site_burst: 5_000,
            per_site_per_second: 1_000,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig { secret: None, link_ttl: Duration::from_secs(30 * 24 * 3600), public_url: None }
    }
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: None,
            database: "touchpoint".into(),
            user: "default".into(),
            password: SecretString::from(""),
            connect_timeout: Duration::from_secs(30),
            embedded: EmbeddedConfig::default(),
            cluster: None,
            max_replica_delay: Duration::from_secs(300),
        }
    }
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            binary: None,
            data_dir: PathBuf::from("data/clickhouse"),
            start_timeout: Duration::from_secs(30),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Text, filter: "info".into() }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// Environment variables and the config keys they set.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("TOUCHPOINT_LISTEN", "listen"),
    ("TOUCHPOINT_DASHBOARDS_DIR", "dashboards_dir"),
    ("TOUCHPOINT_LOG_FORMAT", "log.format"),
    ("TOUCHPOINT_LOG", "log.filter"),
    ("TOUCHPOINT_CLICKHOUSE_URL", "clickhouse.url"),
    ("TOUCHPOINT_CLICKHOUSE_DATABASE", "clickhouse.database"),
    ("TOUCHPOINT_CLICKHOUSE_USER", "clickhouse.user"),
    ("TOUCHPOINT_CLICKHOUSE_PASSWORD", "clickhouse.password"),
    ("TOUCHPOINT_CLICKHOUSE_CONNECT_TIMEOUT", "clickhouse.connect_timeout"),
    ("TOUCHPOINT_CLICKHOUSE_CLUSTER", "clickhouse.cluster"),
    ("TOUCHPOINT_CLICKHOUSE_BINARY", "clickhouse.embedded.binary"),
    ("TOUCHPOINT_CLICKHOUSE_DATA_DIR", "clickhouse.embedded.data_dir"),
    ("TOUCHPOINT_CLICKHOUSE_START_TIMEOUT", "clickhouse.embedded.start_timeout"),
    ("TOUCHPOINT_SPOOL_DIR", "spool.dir"),
    ("TOUCHPOINT_STAFF_TOKEN", "staff_tokens"),
    ("TOUCHPOINT_EMAIL_SECRET", "email.secret"),
    ("TOUCHPOINT_PUBLIC_URL", "email.public_url"),
    ("TOUCHPOINT_SESSION_SECRET", "dashboards.session_secret"),
    ("TOUCHPOINT_SMTP_PASSWORD", "notify.smtp.password"),
    ("TOUCHPOINT_CASE_REF_SECRET", "case_refs.secret"),
];

/// A config error naming `key`.
fn invalid(key: &str, message: &str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid { key: key.into(), message: message.into() })
}

impl Config {
    /// Reads the file (the given one, else `touchpoint.toml` if present), applies
    /// the process environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => Config::from_file(path)?,
            None if Path::new(DEFAULT_FILE).exists() => Config::from_file(Path::new(DEFAULT_FILE))?,
            None => Config::default(),
        };
        config.apply_env(std::env::vars())?;
        config.validate()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let file_error = |message: String| ConfigError::File { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        toml::from_str(&text).map_err(|e| file_error(e.to_string().trim_end().to_string()))
    }

    /// Applies `TOUCHPOINT_*` variables from `vars`; an unknown `TOUCHPOINT_`
    /// variable is an error, since it is most likely a misspelt one.
    pub fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<(), ConfigError> {
        for (name, value) in vars {
            if !name.starts_with("TOUCHPOINT_") || name.starts_with("TOUCHPOINT_TEST_") {
                continue;
            }
            let Some(&(_, key)) = ENV_VARS.iter().find(|(n, _)| *n == name) else {
                let known: Vec<&str> = ENV_VARS.iter().map(|(n, _)| *n).collect();
                return Err(ConfigError::Invalid {
                    key: name,
                    message: format!("unknown variable; known ones: {}", known.join(", ")),
                });
            };
            self.set(key, &value)
                .map_err(|message| ConfigError::Invalid { key: format!("{key} ({name})"), message })?;
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        fn parse<T: std::str::FromStr>(value: &str) -> Result<T, String>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| format!("{value:?}: {e}"))
        }
        let duration = |v: &str| humantime::parse_duration(v).map_err(|e| format!("{v:?}: {e}"));
        let ch = &mut self.clickhouse;
        match key {
            "listen" => self.listen = parse(value)?,
            "dashboards_dir" => self.dashboards_dir = value.into(),
            "log.format" => {
                self.log.format = match value {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    other => return Err(format!("{other:?}: expected `text` or `json`")),
                }
            }
            "log.filter" => self.log.filter = value.into(),
            "clickhouse.url" => ch.url = if value.is_empty() { None } else { Some(parse(value)?) },
            "clickhouse.database" => ch.database = value.into(),
            "clickhouse.user" => ch.user = value.into(),
            "clickhouse.password" => ch.password = SecretString::from(value),
            "clickhouse.connect_timeout" => ch.connect_timeout = duration(value)?,
            "clickhouse.cluster" => ch.cluster = if value.is_empty() { None } else { Some(value.into()) },
            "clickhouse.embedded.binary" => ch.embedded.binary = Some(value.into()),
            "clickhouse.embedded.data_dir" => ch.embedded.data_dir = value.into(),
            "spool.dir" => self.spool.dir = value.into(),
            "clickhouse.embedded.start_timeout" => ch.embedded.start_timeout = duration(value)?,
            "staff_tokens" => {
                self.staff_tokens.push(StaffToken { name: "env".into(), token: SecretString::from(value) })
            }
            "email.secret" => self.email.secret = Some(SecretString::from(value)),
            "email.public_url" => self.email.public_url = Some(parse(value)?),
            "dashboards.session_secret" => self.dashboards.session_secret = Some(SecretString::from(value)),
            "case_refs.secret" => self.case_refs.secret = Some(SecretString::from(value)),
            "notify.smtp.password" => match &mut self.notify.smtp {
                Some(smtp) => smtp.password = Some(SecretString::from(value)),
                None => return Err("set [notify.smtp] in the config file first".into()),
            },
            other => unreachable!("ENV_VARS names key {other} that `set` does not know"),
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_clickhouse()?;
        self.validate_sites()?;
        self.validate_secrets()?;
        self.validate_settings()
    }

    fn validate_clickhouse(&self) -> Result<(), ConfigError> {
        // Both are written into SQL and ZooKeeper paths: keep them plain.
        let plain = |name: &str| {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name.len() <= 64
        };
        let rule = "use 1–64 characters of A-Z, a-z, 0-9 and '_', not starting with a digit";
        if !plain(&self.clickhouse.database) {
            return invalid("clickhouse.database", rule);
        }
        if self.clickhouse.cluster.as_deref().is_some_and(|c| !plain(c)) {
            return invalid("clickhouse.cluster", rule);
        }
        if let Some(url) = &self.clickhouse.url {
            if !matches!(url.scheme(), "http" | "https") {
                return invalid(
                    "clickhouse.url",
                    "the HTTP interface is needed: the URL starts with http:// or https://",
                );
            }
            if !url.username().is_empty() || url.password().is_some() {
                return invalid(
                    "clickhouse.url",
                    "put no credentials in the URL (it is logged); use clickhouse.user and clickhouse.password",
                );
            }
        }
        if self.clickhouse.embedded.data_dir.as_os_str().is_empty() {
            return invalid("clickhouse.embedded.data_dir", "must not be empty");
        }
        Ok(())
    }

    fn validate_sites(&self) -> Result<(), ConfigError> {
        for (key, site) in &self.sites {
            if key.is_empty()
                || key.len() > 64
                || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return invalid(&format!("sites.{key}"), "a site key is 1–64 characters of A-Z, a-z, 0-9, '-' and '_'");
            }
            if key == crate::domain::EMAIL_SITE {
                // The site of ratings clicked in letters: they are updatable, a site's are not.
                return invalid(
                    &format!("sites.{key}"),
                    "the site key `email` is reserved for rating links in letters",
                );
            }
            for origin in &site.origins {
                if !matches!(origin.scheme(), "http" | "https") || origin.host_str().is_none() || origin.path() != "/" {
                    return invalid(
                        &format!("sites.{key}.origins"),
                        &format!("{origin} is not an origin like https://host[:port]"),
                    );
                }
            }
        }
        Ok(())
    }

    /// Tokens and keys long enough to withstand guessing.
    fn validate_secrets(&self) -> Result<(), ConfigError> {
        for (i, t) in self.staff_tokens.iter().enumerate() {
            if t.token.expose_secret().chars().count() < 24 {
                return invalid(&format!("staff_tokens[{i}] ({})", t.name), "a token needs at least 24 characters");
            }
        }
        if let Some(secret) = &self.email.secret
            && secret.expose_secret().chars().count() < 32
        {
            return invalid("email.secret", "the signing key needs at least 32 characters");
        }
        if let Some(secret) = &self.dashboards.session_secret
            && secret.expose_secret().chars().count() < 32
        {
            return invalid("dashboards.session_secret", "the signing key needs at least 32 characters");
        }
        if let Some(secret) = &self.case_refs.secret
            && secret.expose_secret().chars().count() < 32
        {
            return invalid("case_refs.secret", "the hashing key needs at least 32 characters");
        }
        Ok(())
    }

    /// Intervals, sizes and counts a working service needs above zero.
    fn validate_settings(&self) -> Result<(), ConfigError> {
        if self.register.refresh_interval.is_zero() {
            return invalid("register.refresh_interval", "must be above zero");
        }
        if self.case_refs.refresh_interval.is_zero() || self.case_refs.history_link_ttl.is_zero() {
            return invalid("case_refs", "refresh_interval and history_link_ttl must be above zero");
        }
        let d = &self.dashboards;
        if d.login_burst == 0 || d.login_burst_per_address == 0 || d.login_refill.is_zero() {
            return invalid("dashboards", "login_burst, login_burst_per_address and login_refill must be above zero");
        }
        if let Err((key, message)) = self.notify.validate() {
            return Err(ConfigError::Invalid { key, message });
        }
        if let Some(unit) = &self.cases.calls_unit {
            let plain = (1..=64).contains(&unit.len())
                && unit
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
            if !plain {
                return invalid("cases.calls_unit", "a unit id is 1–64 characters of a-z, 0-9, '.', '_' and '-'");
            }
        }
        if parse_offset(&self.cases.utc_offset).is_none() {
            return invalid("cases.utc_offset", "an offset from UTC such as +03:00");
        }
        let c = &self.capture;
        if c.queue_capacity == 0 || c.flush_rows == 0 || c.flush_period.is_zero() {
            return invalid("capture", "queue_capacity, flush_rows and flush_period must be above zero");
        }
        if c.dedupe_window.is_zero() {
            return invalid("capture.dedupe_window", "must be above zero: a retry must be recognised");
        }
        if self.request_timeout.is_zero() {
            return invalid("request_timeout", "must be above zero");
        }
        if self.header_timeout.is_zero() {
            return invalid("header_timeout", "must be above zero");
        }
        if self.max_connections_per_address == 0 {
            return invalid("max_connections_per_address", "must be above zero");
        }
        if self.spool.dir.as_os_str().is_empty() {
            return invalid("spool.dir", "must not be empty");
        }
        if self.spool.max_bytes < 1 << 20 {
            return invalid("spool.max_bytes", "at least 1 MiB (1048576)");
        }
        let l = &self.limits;
        if l.per_ip_burst == 0 || l.per_ip_per_second == 0 || l.per_site_burst == 0 || l.per_site_per_second == 0 {
            return invalid("limits", "bursts and rates must be above zero");
        }
        Ok(())
    }

    /// The configured server, or `None` when the service is to start its own.
    pub fn endpoint(&self) -> Option<Endpoint> {
        let ch = &self.clickhouse;
        ch.url.clone().map(|url| Endpoint { url, user: ch.user.clone(), password: ch.password.clone() })
    }
}

/// A ClickHouse server and the credentials to use on it.
#[derive(Clone)]
pub struct Endpoint {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: url::Url,
    pub user: String,
    pub password: secrecy::SecretString,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_email_site_key_is_reserved() {
        let config: Config = toml::from_str("[sites.email]\njourneys = []").unwrap();
        let err = config.validate().unwrap_err();
        assert!(matches!(&err, ConfigError::Invalid { key, .. } if key == "sites.email"), "{err}");
    }

    #[test]
    fn the_ministrys_offset_is_checked_and_parsed() {
        for bad in ["MSK", "+3:00", "03:00", "+15:00"] {
            let config: Config = toml::from_str(&format!("[cases]\nutc_offset = \"{bad}\"")).unwrap();
            let err = config.validate().unwrap_err();
            assert!(matches!(&err, ConfigError::Invalid { key, .. } if key == "cases.utc_offset"), "{bad}: {err}");
        }
        let config: Config = toml::from_str("[cases]\nutc_offset = \"-03:30\"").unwrap();
        assert_eq!(config.cases.offset(), time::UtcOffset::from_hms(-3, -30, 0).unwrap());
        assert_eq!(Config::default().cases.offset(), time::UtcOffset::from_hms(3, 0, 0).unwrap());
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config: Config = toml::from_str("listen = \"0.0.0.0:9000\"\n[clickhouse]\ndatabase = \"a\"").unwrap();
        config.apply_env(env(&[("TOUCHPOINT_CLICKHOUSE_DATABASE", "b"), ("PATH", "/bin")])).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.clickhouse.database, "b");
    }

    #[test]
    fn a_bad_value_names_its_key_and_variable() {
        let err = Config::default().apply_env(env(&[("TOUCHPOINT_LISTEN", "nowhere")])).unwrap_err();
        assert!(matches!(&err, ConfigError::Invalid { key, .. } if key == "listen (TOUCHPOINT_LISTEN)"), "{err}");
    }

    #[test]
    fn a_misspelt_variable_is_refused() {
        let err = Config::default().apply_env(env(&[("TOUCHPOINT_CLICKHOUSE_ULR", "x")])).unwrap_err();
        assert!(err.to_string().contains("TOUCHPOINT_CLICKHOUSE_ULR"), "{err}");
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let err = toml::from_str::<Config>("[clickhouse]\ndatabse = \"x\"").unwrap_err();
        assert!(err.to_string().contains("databse"), "{err}");
    }

    #[test]
    fn database_names_and_urls_are_checked() {
        let mut config = Config::default();
        config.clickhouse.database = "x; DROP".into();
        assert!(matches!(config.validate(), Err(ConfigError::Invalid { key, .. }) if key == "clickhouse.database"));
        config.clickhouse.database = "ok_1".into();
        config.clickhouse.url = Some("http://u:p@host:8123".parse().unwrap());
        assert!(matches!(config.validate(), Err(ConfigError::Invalid { key, .. }) if key == "clickhouse.url"));
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let mut config = Config::default();
        config.apply_env(env(&[("TOUCHPOINT_CLICKHOUSE_PASSWORD", "hunter2")])).unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
