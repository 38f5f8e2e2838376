//! Letters to units through the ministry's mail server (lettre's async SMTP
//! client: STARTTLS or implicit TLS through rustls, AUTH when configured).

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::response::Category;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use super::message::Letter;
use super::worker::Failure;
use crate::config::notify::{SmtpConfig, SmtpSecurity};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `config` has been validated: `from` is an address.
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Mailer> {
        let tls = || -> anyhow::Result<TlsParameters> {
            let mut tls = TlsParameters::builder(config.host.clone());
            if let Some(path) = &config.ca_file {
                let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("ca_file {}: {e}", path.display()))?;
                tls = tls.add_root_certificate(Certificate::from_pem(&pem)?);
            }
            Ok(tls.build()?)
        };
        let plain = || AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host);
        let builder = match config.security {
            SmtpSecurity::Starttls => plain().port(587).tls(Tls::Required(tls()?)),
            SmtpSecurity::Tls => plain().port(465).tls(Tls::Wrapper(tls()?)),
            SmtpSecurity::None => plain().port(25),
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
    /// A refusal of the recipient that the server means for good (a 55x
    /// with an enhanced code 5.1.x or 5.2.x) is a permanent failure.
    pub async fn send(&self, to: &[Mailbox], letter: &Letter, message_id: &str) -> Result<(), Failure> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(&letter.subject)
            .message_id(Some(format!("<{message_id}@touchpoint>")))
            .header(ContentType::TEXT_PLAIN);
        for address in to {
            message = message.to(address.clone());
        }
        let message = message.body(letter.body.clone()).map_err(|e| Failure::permanent(&e.to_string()))?;
        self.transport.send(message).await.map(drop).map_err(|e| {
            // A 55x with an enhanced code of the address (5.1.x) or the
            // mailbox (5.2.x) refuses the recipient for good. Anything else —
            // a 53x (log in first), a 5.7.1 (relaying denied) — is ours to
            // fix in the mail settings, and the letter waits.
            let text = e.to_string();
            let recipient = text.contains(" 5.1.") || text.contains(" 5.2.");
            let refused = e.status().is_some_and(|code| code.category == Category::MailSystem) && recipient;
            if e.is_permanent() && refused {
                Failure::permanent(&e.to_string())
            } else {
                Failure::transient(&e.to_string())
            }
        })
    }
}
