//! Letters to units through the ministry's mail server (lettre's async SMTP
//! client: STARTTLS or implicit TLS through rustls, AUTH when configured).

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use super::config::{SmtpConfig, SmtpSecurity};
use super::message::Letter;

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `config` has been validated: `from` is an address.
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Mailer> {
        let builder = match config.security {
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)?,
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host).port(25),
        };
        let mut builder = builder.timeout(Some(config.timeout));
        if let Some(port) = config.port {
            builder = builder.port(port);
        }
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_string()));
        }
        Ok(Mailer { transport: builder.build(), from: config.from.parse()? })
    }

    /// Sends `letter` to `to`. `message_id` is the same on every attempt, so
    /// a letter sent twice (its record lost) can be recognised as one.
    pub async fn send(&self, to: &[Mailbox], letter: &Letter, message_id: &str) -> Result<(), String> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(&letter.subject)
            .message_id(Some(format!("<{message_id}@touchpoint>")))
            .header(ContentType::TEXT_PLAIN);
        for address in to {
            message = message.to(address.clone());
        }
        let message = message.body(letter.body.clone()).map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(drop).map_err(|e| e.to_string())
    }
}
