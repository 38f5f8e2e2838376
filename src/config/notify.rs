//! `[notify]`: where case events go (webhooks, units' mailboxes) and how
//! hard delivery tries.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// How often each target looks for what it still owes.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How often the slower rounds run: opening the cases of letters
    /// acknowledged late, deleting clients' addresses 30 days after close.
    #[serde(with = "humantime_serde")]
    pub housekeeping_interval: Duration,
    /// The wait after a first failed attempt; it doubles with each further one.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// The longest wait between two attempts.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// An event not delivered this long after it happened is given up
    /// (`dead` in the `deliveries` table, counted in /metrics). A target
    /// added to the config receives the events of this window.
    #[serde(with = "humantime_serde")]
    pub give_up_after: Duration,
    /// Local time (`cases.utc_offset`) after which each working day's digest
    /// of overdue cases goes to every unit, `HH:MM`.
    pub digest_at: String,
    /// The mail server; unset, no letters are sent.
    pub smtp: Option<SmtpConfig>,
    /// Each unit's addresses, by the unit names of the journey files; a unit
    /// with none gets no letters.
    pub units: BTreeMap<String, Vec<String>>,
    /// Receivers of every case event, signed as Standard Webhooks.
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            poll_interval: Duration::from_secs(5),
            housekeeping_interval: Duration::from_secs(600),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(7 * 24 * 3600),
            digest_at: "09:00".into(),
            smtp: None,
            units: BTreeMap::new(),
            webhooks: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or in tests.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Login for SMTP AUTH; unset, none is attempted.
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender, e.g. `Обратная связь <touchpoint@ministry.example>`.
    pub from: String,
    /// How long one letter may take, connection included.
    #[serde(with = "humantime_serde", default = "default_send_timeout")]
    pub timeout: Duration,
    /// A PEM file of a certificate authority to trust besides the public
    /// ones (a ministry's own CA); for `starttls` and `tls`.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the target in `deliveries` and /metrics; keep it when the URL
    /// changes, or everything in the window is sent again.
    pub name: String,
    pub url: url::Url,
    /// `whsec_` and the base64 of 24–64 random bytes.
    pub secret: SecretString,
    /// How long one delivery may take.
    #[serde(with = "humantime_serde", default = "default_send_timeout")]
    pub timeout: Duration,
}

fn default_send_timeout() -> Duration {
    Duration::from_secs(10)
}

/// A config key and what is wrong with it.
pub type Invalid = (String, String);

impl NotifyConfig {
    /// `digest_at` as (hour, minute); `validate` has checked it.
    pub fn digest_time(&self) -> (u8, u8) {
        parse_hh_mm(&self.digest_at).unwrap_or((9, 0))
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        let invalid = |key: &str, message: &str| Err((format!("notify.{key}"), message.to_string()));
        if self.housekeeping_interval.is_zero() {
            return invalid("housekeeping_interval", "must be above zero");
        }
        if self.poll_interval.is_zero() || self.retry_base.is_zero() || self.retry_max < self.retry_base {
            return invalid("retry_base", "poll_interval and retry_base above zero, retry_max at least retry_base");
        }
        if parse_hh_mm(&self.digest_at).is_none() {
            return invalid("digest_at", "a local time HH:MM such as 09:00");
        }
        if let Some(smtp) = &self.smtp {
            if smtp.host.is_empty() || smtp.from.parse::<lettre::message::Mailbox>().is_err() {
                return invalid("smtp", "a host and a `from` address such as `Touchpoint <tp@ministry.example>`");
            }
            if smtp.username.is_some() != smtp.password.is_some() {
                return invalid("smtp", "username and password go together");
            }
        }
        for (unit, addresses) in &self.units {
            if let Some(bad) = addresses.iter().find(|a| a.parse::<lettre::message::Mailbox>().is_err()) {
                return invalid(&format!("units.{unit}"), &format!("{bad:?} is not an e-mail address"));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, hook) in self.webhooks.iter().enumerate() {
            let key = format!("webhooks[{i}]");
            if !plain_name(&hook.name) || !names.insert(hook.name.as_str()) {
                return invalid(&key, "a unique name of 1–64 characters of A-Z, a-z, 0-9, '-' and '_'");
            }
            if !matches!(hook.url.scheme(), "http" | "https") {
                return invalid(&key, "the URL starts with http:// or https://");
            }
            if secret_bytes(&hook.secret).is_none_or(|n| !(24..=64).contains(&n)) {
                return invalid(&key, "the secret is `whsec_` and the base64 of 24–64 random bytes");
            }
        }
        Ok(())
    }
}

fn plain_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The length of a `whsec_` secret's key, if it is one.
fn secret_bytes(secret: &SecretString) -> Option<usize> {
    use base64::Engine as _;
    let key = secret.expose_secret().strip_prefix("whsec_")?;
    base64::engine::general_purpose::STANDARD.decode(key).ok().map(|k| k.len())
}

fn parse_hh_mm(text: &str) -> Option<(u8, u8)> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(text: &str) -> Result<(), Invalid> {
        toml::from_str::<NotifyConfig>(text).unwrap().validate()
    }

    #[test]
    fn webhook_secrets_are_checked() {
        let hook = |secret: &str| {
            format!("[[webhooks]]\nname = \"crm\"\nurl = \"https://crm.example/h\"\nsecret = \"{secret}\"")
        };
        assert!(with(&hook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).is_ok());
        for bad in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2hvcnQ=", "whsec_not base64!"] {
            assert_eq!(with(&hook(bad)).unwrap_err().0, "notify.webhooks[0]", "{bad}");
        }
    }

    #[test]
    fn digest_time_and_addresses_are_checked() {
        assert_eq!(with("digest_at = \"9:00\"").unwrap_err().0, "notify.digest_at");
        assert_eq!(with("digest_at = \"24:00\"").unwrap_err().0, "notify.digest_at");
        assert_eq!(toml::from_str::<NotifyConfig>("digest_at = \"08:30\"").unwrap().digest_time(), (8, 30));
        assert_eq!(with("[units]\nreception = [\"not an address\"]").unwrap_err().0, "notify.units.reception");
        assert!(with("[units]\nreception = [\"desk@ministry.example\"]").is_ok());
        assert!(toml::from_str::<NotifyConfig>("unknown = 1").is_err());
    }
}
