//! The Twilio REST adapter: only what the shell needs, over rustls.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base: String,
    account_sid: String,
    auth_token: String,
}

impl TwilioClient {
    pub fn new(base: &str, account_sid: &str, auth_token: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(TwilioClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
        })
    }

    /// Creates a Message; returns its SID.
    pub async fn send_sms(&self, from: &str, to: &str, body: &str) -> Result<String, String> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base, self.account_sid
        );
        let resp = self
            .http
            .post(&url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&[("To", to), ("From", from), ("Body", body)])
            .send()
            .await
            .map_err(|e| format!("Twilio Messages request failed: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "Twilio Messages answered {status}: {}",
                text.chars().take(300).collect::<String>()
            ));
        }
        let sid = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("sid").and_then(|s| s.as_str()).map(str::to_string))
            .unwrap_or_default();
        Ok(sid)
    }
}
