//! Outgoing mail: SMTP (lettre) when `SMTP_HOST` is set, otherwise each message is written to
//! `<data dir>/outbox/<timestamp>-<to>.eml` and logged, so local runs and tests can read codes.

use std::path::PathBuf;

use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::SmtpConfig;

/// How long one SMTP command may take before the send fails (issue 7 item 10).
pub const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient or `SMTP_FROM_EMAIL` is not a valid mailbox; carries the address.
    #[error("invalid address: {}", mask_email(.0))]
    Address(String),
    /// lettre refused to assemble the message (e.g. a bad header value).
    #[error("building message: {0}")]
    Build(String),
    /// Setting up the relay or delivering to it failed (connection, TLS, auth, rejection).
    #[error("smtp: {0}")]
    Smtp(String),
    /// Writing to the outbox directory failed.
    #[error("outbox: {0}")]
    Io(#[from] std::io::Error),
}

/// The mail transport of one server.
#[derive(Clone)]
pub enum Mailer {
    /// Delivers through the configured SMTP relay.
    Smtp {
        /// The pooled relay connection (TLS per `SMTP_USE_TLS`/`SMTP_PORT`).
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The sender of every message (`SMTP_FROM_EMAIL`).
        from: Mailbox,
    },
    /// Writes each message as an `.eml` file instead (no `SMTP_HOST`).
    Outbox {
        /// The outbox directory, `<data dir>/outbox`; created on first send.
        dir: PathBuf,
    },
}

impl Mailer {
    /// SMTP from config, or the outbox under `data_dir`.
    pub fn from_config(
        smtp: Option<&SmtpConfig>,
        data_dir: &std::path::Path,
    ) -> Result<Self, MailError> {
        let Some(s) = smtp else {
            return Ok(Mailer::Outbox {
                dir: data_dir.join("outbox"),
            });
        };
        // Port 465 is implicit TLS; other ports upgrade with STARTTLS when TLS is on.
        let builder = if !s.use_tls {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
        } else if s.port == 465 {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
                .map_err(|e| MailError::Smtp(e.to_string()))?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                .map_err(|e| MailError::Smtp(e.to_string()))?
        };
        // A relay that does not answer must not hold a send for lettre's default of 60 s.
        let mut builder = builder.port(s.port).timeout(Some(SMTP_TIMEOUT));
        if let (Some(u), Some(p)) = (&s.username, &s.password) {
            builder =
                builder.credentials(Credentials::new(u.clone(), p.expose_secret().to_string()));
        }
        let from = s
            .from_email
            .parse()
            .map_err(|_| MailError::Address(s.from_email.clone()))?;
        Ok(Mailer::Smtp {
            transport: builder.build(),
            from,
        })
    }

    /// Sends a plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        let to_box: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_string()))?;
        match self {
            Mailer::Smtp { transport, from } => {
                let msg = build(from.clone(), to_box, subject, body)?;
                transport
                    .send(msg)
                    .await
                    // Relays quote recipients in their refusals: mask them.
                    .map_err(|e| MailError::Smtp(mask_emails_in(&e.to_string())))?;
                tracing::info!(mail.subject = subject, mail.to = %mask_email(to), "mail sent via smtp");
            }
            Mailer::Outbox { dir } => {
                let from: Mailbox = "Trellis <trellis@localhost>"
                    .parse()
                    .map_err(|_| MailError::Address("trellis@localhost".into()))?;
                let msg = build(from, to_box, subject, body)?;
                tokio::fs::create_dir_all(dir).await?;
                let safe_to: String = to
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '@' || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let name = format!(
                    "{}-{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                    safe_to,
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                );
                let path = dir.join(&name);
                // Written aside and renamed, so whoever watches the outbox never reads half a mail.
                // Mails carry login codes and reset links: only the server's user may read
                // them (0600, created so; never world-readable, even for a moment).
                let part = dir.join(format!(".{name}.part"));
                write_private(&part, msg.formatted()).await?;
                tokio::fs::rename(&part, &path).await?;
                // The file name holds the address: log a masked one, never the path.
                tracing::info!(
                    mail.subject = subject,
                    mail.to = %mask_email(to),
                    "mail written to outbox (SMTP_HOST unset)"
                );
            }
        }
        Ok(())
    }
}

/// Creates `path` readable and writable by the owner only (0600 on Unix) and writes `bytes`.
async fn write_private(path: &std::path::Path, bytes: Vec<u8>) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(&bytes).await?;
    file.flush().await
}

/// An e-mail address for logs: the first character of the local part and the domain
/// (`a***@example.com`); anything that is not an address becomes `***`. Logs never carry
/// whole addresses (issue 7, item 14).
pub fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => "***".to_string(),
    }
}

fn build(from: Mailbox, to: Mailbox, subject: &str, body: &str) -> Result<Message, MailError> {
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| MailError::Build(e.to_string()))
}

/// `text` with every address-like word (`local@domain`) masked as by [`mask_email`].
pub fn mask_emails_in(text: &str) -> String {
    let is_local = |c: char| c.is_alphanumeric() || "._%+-!#$&'*/=?^`{|}~".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match word.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                out.push_str(&mask_email(word));
            }
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in text.chars() {
        if is_local(c) || c == '@' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    /// Issue 7 item 14: e-mail addresses in logs are masked.
    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_email("a@example.com"), "a***@example.com");
        assert_eq!(mask_email("alice.b@example.com"), "a***@example.com");
        assert_eq!(mask_email("nonsense"), "***");
        assert_eq!(
            mask_emails_in("550 <bob@example.org>: no such user, cc carol@x.io."),
            "550 <b***@example.org>: no such user, cc c***@x.io."
        );
        assert_eq!(mask_emails_in("no address here"), "no address here");
    }
}
