//! A case event posted to a receiver as a Standard Webhook: `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` (`v1,` and the base64 of
//! HMAC-SHA256 over `id.timestamp.body` with the `whsec_` secret's key).

use std::time::Duration;

use secrecy::ExposeSecret as _;

use super::message::{CaseEvent, payload};
use crate::config::notify::WebhookConfig;

/// One receiver.
pub struct Webhook {
    url: url::Url,
    signer: standardwebhooks::Webhook,
    http: reqwest::Client,
}

impl Webhook {
    /// `config` has been validated: its secret is a `whsec_` key.
    pub fn new(config: &WebhookConfig) -> anyhow::Result<Webhook> {
        let signer = standardwebhooks::Webhook::new(config.secret.expose_secret())
            .map_err(|e| anyhow::anyhow!("webhook {}: {e}", config.name))?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            // A redirect would post the event somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Webhook { url: config.url.clone(), signer, http })
    }

    /// Posts `event` signed at `now` (unix seconds); any 2xx is delivered.
    pub async fn send(&self, event: &CaseEvent, now: i64) -> Result<(), String> {
        let body = payload(event);
        let signature = self.signer.sign(&event.id, now, body.as_bytes()).map_err(|e| e.to_string())?;
        let response = self
            .http
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &event.id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, now.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body)
            .send()
            .await
            // The URL's query is often the receiver's key: never in a log or a record.
            .map_err(|e| error_chain(&e.without_url()))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(format!("the receiver answered {status}")) }
    }
}

/// The error and its causes: reqwest's own message hides which step failed.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
