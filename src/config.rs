//! Service configuration: an optional TOML file, then `TOUCHPOINT_*`
//! environment variables over it. Unknown keys are errors, and every error
//! names the key (or variable) at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::storage::Endpoint;

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "touchpoint.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Folder holding `register.toml` and `journeys/*.toml`.
    pub dashboards_dir: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// Where events are stored.
    pub clickhouse: ClickHouseConfig,
}

#[derive(Debug, Deserialize)]
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
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
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
            dashboards_dir: PathBuf::from("dashboards"),
            log: LogConfig::default(),
            clickhouse: ClickHouseConfig::default(),
        }
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
        }
    }
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig { binary: None, data_dir: PathBuf::from("data/clickhouse"), start_timeout: Duration::from_secs(30) }
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
    ("TOUCHPOINT_CLICKHOUSE_BINARY", "clickhouse.embedded.binary"),
    ("TOUCHPOINT_CLICKHOUSE_DATA_DIR", "clickhouse.embedded.data_dir"),
    ("TOUCHPOINT_CLICKHOUSE_START_TIMEOUT", "clickhouse.embedded.start_timeout"),
];

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
            self.set(key, &value).map_err(|message| ConfigError::Invalid { key: format!("{key} ({name})"), message })?;
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
            "clickhouse.embedded.binary" => ch.embedded.binary = Some(value.into()),
            "clickhouse.embedded.data_dir" => ch.embedded.data_dir = value.into(),
            "clickhouse.embedded.start_timeout" => ch.embedded.start_timeout = duration(value)?,
            other => unreachable!("ENV_VARS names key {other} that `set` does not know"),
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| Err(ConfigError::Invalid { key: key.into(), message: message.into() });
        let db = &self.clickhouse.database;
        let plain = db.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain || db.len() > 64 {
            return invalid("clickhouse.database", "use 1–64 characters of A-Z, a-z, 0-9 and '_', not starting with a digit");
        }
        if let Some(url) = &self.clickhouse.url {
            if !matches!(url.scheme(), "http" | "https") {
                return invalid("clickhouse.url", "the HTTP interface is needed: the URL starts with http:// or https://");
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

    /// The configured server, or `None` when the service is to start its own.
    pub fn endpoint(&self) -> Option<Endpoint> {
        let ch = &self.clickhouse;
        ch.url.clone().map(|url| Endpoint { url, user: ch.user.clone(), password: ch.password.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config: Config = toml::from_str("listen = \"0.0.0.0:9000\"\n[clickhouse]\ndatabase = \"a\"").unwrap();
        config
            .apply_env(env(&[("TOUCHPOINT_CLICKHOUSE_DATABASE", "b"), ("PATH", "/bin")]))
            .unwrap();
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
