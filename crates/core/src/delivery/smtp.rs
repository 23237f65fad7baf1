//! The SMTP mailer (lettre): STARTTLS when offered, implicit TLS with `smtps://`, plain with
//! `?tls=none` (loopback and tests only).

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Mailer;
use crate::error::{CoreError, CoreResult};

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// `url`: `smtp://[user:pass@]host[:port][?tls=required|none]` or `smtps://…`.
    pub fn new(url: &str, from: &str) -> CoreResult<Self> {
        // lettre reads `smtp://` as plain text; ours means STARTTLS when the server offers it.
        let lettre_url = if url.starts_with("smtp://") && !url.contains("tls=") {
            format!("{url}{}tls=opportunistic", if url.contains('?') { '&' } else { '?' })
        } else {
            url.replace("tls=none", "").replace("?&", "?").trim_end_matches(['?', '&']).to_string()
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url)
            .map_err(|e| CoreError::internal(format!("CASTELLAN_SMTP_URL: {e}")))?
            .build();
        let from = from.parse::<Mailbox>().map_err(|e| CoreError::internal(format!("CASTELLAN_SMTP_FROM: {e}")))?;
        Ok(SmtpMailer { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to = to.parse::<Mailbox>().map_err(|e| format!("bad recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body.to_string())
            .map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }
}
