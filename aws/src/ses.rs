//! Email alerts through SES: the pipeline builds the whole MIME message
//! (attachments included); SES only relays it.

use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use shared::recordings::{Mailer, PortError, PortResult};

use crate::error::port_error;

/// [`Mailer`] on SES v2 `SendEmail` with raw content (v1's `SendRawEmail`).
#[derive(Debug, Clone)]
pub struct SesMailer {
    pub client: aws_sdk_sesv2::Client,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client) -> Self {
        SesMailer { client }
    }
}

impl Mailer for SesMailer {
    async fn send_raw(&self, from: &str, to: &[String], mime: &[u8]) -> PortResult<String> {
        if to.is_empty() {
            return Err(PortError::Permanent("SES SendEmail: no recipients".into()));
        }
        let raw = RawMessage::builder()
            .data(Blob::new(mime.to_vec()))
            .build()
            .map_err(|e| PortError::Permanent(format!("SES SendEmail: {e}")))?;
        let out = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(to.to_vec()))
                    .build(),
            )
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| port_error("SES SendEmail", e))?;
        let id = out.message_id().unwrap_or_default().to_string();
        tracing::info!(message_id = %id, recipients = to.len(), "email sent");
        Ok(id)
    }
}
