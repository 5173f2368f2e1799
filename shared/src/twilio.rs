//! The Twilio REST adapter: the [`TwilioApi`] port over reqwest and rustls.
//!
//! Three calls: download recording media, delete a recording, create an SMS.
//! HTTP statuses map onto [`PortError`] the same way for all three:
//!
//! | answer                                   | error          |
//! |------------------------------------------|----------------|
//! | 404                                      | `NotFound` (a delete counts it as done) |
//! | 408, 429, 5xx, timeouts, network errors  | `Transient`    |
//! | 401, 403, 400, 422, any other 4xx        | `Permanent`    |
//!
//! Credentials (HTTP basic auth: account SID and auth token) go only to
//! trusted hosts — see [`TwilioClient::sends_credentials_to`] — and never
//! across origins: redirects are followed here, hop by hop, rather than by
//! reqwest, and a hop gets the credentials only if it is trusted *and* has the
//! origin of the URL we were given. (reqwest's own redirect handling would
//! also drop `Authorization` when the host or port changes; doing it here
//! keeps the rule independent of the HTTP library and also refuses to send
//! credentials on an https → http downgrade.) Nothing secret is logged: not
//! the token, not the `Authorization` header, not the query strings of
//! redirect targets (CDN links are often presigned).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};

use crate::recordings::{Media, PortError, PortResult, TwilioApi};

/// Twilio's REST API.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";
/// The largest recording media accepted (a 2-hour MP3 at 32 kbit/s is ~29 MB).
pub const MAX_MEDIA_BYTES: u64 = 50 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole download, redirects and body included.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(60);
/// A REST call (create a message, delete a recording).
const API_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 5;
/// How much of an error body goes into an error message.
const ERROR_EXCERPT: usize = 300;

/// A Twilio REST client for one account.
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    /// Parsed `api_base`, for the trust rule.
    base_url: Url,
    /// `api_base` without a trailing slash, for building resource URLs.
    base: String,
    account_sid: String,
    auth_token: String,
    max_media_bytes: u64,
}

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base", &self.base)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("max_media_bytes", &self.max_media_bytes)
            .finish()
    }
}

impl TwilioClient {
    /// `api_base` is `https://api.twilio.com` in production (a stand-in in
    /// tests); `account_sid` must look like `AC` + 32 hex digits.
    pub fn new(api_base: &str, account_sid: &str, auth_token: &str) -> Result<Self, String> {
        let base = api_base.trim_end_matches('/').to_string();
        let base_url = Url::parse(&base)
            .map_err(|e| format!("Twilio API base `{api_base}` is not a URL: {e}"))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(format!(
                "Twilio API base `{api_base}` must be an http(s) URL with a host"
            ));
        }
        if !base_url.username().is_empty() || base_url.password().is_some() {
            return Err(
                "Twilio API base must not carry credentials: use the account SID and auth token"
                    .into(),
            );
        }
        if base_url.query().is_some() || base_url.fragment().is_some() {
            return Err(format!(
                "Twilio API base `{api_base}` must not have a query or fragment"
            ));
        }
        if !is_sid(account_sid, "AC") {
            return Err("Twilio account SID must be AC followed by 32 hex digits".into());
        }
        if auth_token.is_empty() {
            return Err("Twilio auth token is empty".into());
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(MEDIA_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ivr-shared/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(TwilioClient {
            http,
            base_url,
            base,
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            max_media_bytes: MAX_MEDIA_BYTES,
        })
    }

    /// Lowers (or raises) the media size cap; [`MAX_MEDIA_BYTES`] by default.
    pub fn with_max_media_bytes(mut self, max: u64) -> Self {
        self.max_media_bytes = max;
        self
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    pub fn api_base(&self) -> &str {
        &self.base
    }

    /// Whether a GET of `url` may carry the account's credentials: any
    /// `*.twilio.com` host over https, the origin (scheme, host, port) of the
    /// configured API base, or a loopback host (`127.0.0.0/8`, `localhost`,
    /// `[::1]`, for local stand-ins). URLs with user info never qualify.
    pub fn sends_credentials_to(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| self.trusts(&u))
    }

    fn trusts(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return false;
        }
        // `Url` lowercases domains and normalises IP addresses (`127.1` → `127.0.0.1`).
        let twilio =
            url.scheme() == "https" && url.host_str().is_some_and(|h| h.ends_with(".twilio.com"));
        twilio || url.origin() == self.base_url.origin() || is_loopback(url)
    }

    /// Creates a Message; returns its SID. Kept for [`crate::shell::Messenger`];
    /// the pipeline uses [`TwilioApi::send_sms`].
    pub async fn send_sms(&self, from: &str, to: &str, body: &str) -> Result<String, String> {
        self.create_message(from, to, body)
            .await
            .map_err(|e| e.to_string())
    }

    /// POSTs `To`, `From`, `Body` to the account's `Messages.json`; returns the new SID.
    pub async fn create_message(&self, from: &str, to: &str, body: &str) -> PortResult<String> {
        const WHAT: &str = "creating the SMS";
        if from.trim().is_empty() || to.trim().is_empty() {
            return Err(PortError::Permanent(format!(
                "{WHAT}: no From or To number"
            )));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base, self.account_sid
        );
        let resp = self
            .http
            .post(&url)
            .timeout(API_TIMEOUT)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&[("To", to), ("From", from), ("Body", body)])
            .send()
            .await
            .map_err(|e| transport_error(WHAT, e))?;
        let status = resp.status();
        tracing::debug!(method = "POST", path = %path_of(&url), status = status.as_u16(), "Twilio REST");
        let text = resp.text().await.map_err(|e| transport_error(WHAT, e))?;
        if !status.is_success() {
            return Err(status_error(WHAT, status, &text));
        }
        let sid = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("sid").and_then(|s| s.as_str()).map(str::to_string))
            .unwrap_or_default();
        if sid.is_empty() {
            // Created, so not an error (retrying would send it twice); just odd.
            tracing::warn!(
                status = status.as_u16(),
                "Twilio created the message but its answer has no sid"
            );
        }
        Ok(sid)
    }

    /// DELETEs a recording; 404 counts as already deleted.
    pub async fn remove_recording(&self, recording_sid: &str) -> PortResult<()> {
        const WHAT: &str = "deleting the recording";
        if !is_sid(recording_sid, "RE") {
            return Err(PortError::Permanent(format!(
                "{WHAT}: `{}` is not a recording SID (RE followed by 32 hex digits)",
                recording_sid.chars().take(40).collect::<String>()
            )));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Recordings/{recording_sid}.json",
            self.base, self.account_sid
        );
        let resp = self
            .http
            .delete(&url)
            .timeout(API_TIMEOUT)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .send()
            .await
            .map_err(|e| transport_error(WHAT, e))?;
        let status = resp.status();
        tracing::debug!(method = "DELETE", path = %path_of(&url), status = status.as_u16(), "Twilio REST");
        if status.is_success() {
            return Ok(());
        }
        if status == StatusCode::NOT_FOUND {
            tracing::info!(recording_sid, "recording already gone from Twilio");
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        Err(status_error(WHAT, status, &text))
    }

    /// GETs recording media, following redirects; see the module docs for
    /// when credentials are sent.
    pub async fn fetch_media(&self, url: &str) -> PortResult<Media> {
        const WHAT: &str = "downloading the recording";
        let first =
            Url::parse(url).map_err(|e| PortError::Permanent(format!("{WHAT}: bad URL: {e}")))?;
        if !matches!(first.scheme(), "http" | "https") {
            return Err(PortError::Permanent(format!("{WHAT}: not an http(s) URL")));
        }
        if !first.username().is_empty() || first.password().is_some() {
            return Err(PortError::Permanent(format!(
                "{WHAT}: the URL carries credentials"
            )));
        }
        let deadline = Instant::now() + MEDIA_TIMEOUT;
        let mut current = first.clone();
        for _ in 0..=MAX_REDIRECTS {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(PortError::Transient(format!(
                    "{WHAT}: timed out after {MEDIA_TIMEOUT:?}"
                )));
            }
            let with_auth = self.trusts(&current) && current.origin() == first.origin();
            let mut req = self.http.get(current.clone()).timeout(remaining);
            if with_auth {
                req = req.basic_auth(&self.account_sid, Some(&self.auth_token));
            }
            let resp = req.send().await.map_err(|e| transport_error(WHAT, e))?;
            let status = resp.status();
            tracing::debug!(
                method = "GET",
                host = current.host_str().unwrap_or(""),
                path = current.path(),
                status = status.as_u16(),
                authenticated = with_auth,
                "Twilio media"
            );
            if is_followed_redirect(status) {
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        PortError::Permanent(format!("{WHAT}: HTTP {status} without a Location"))
                    })?;
                let next = current.join(location).map_err(|e| {
                    PortError::Permanent(format!("{WHAT}: HTTP {status} to a bad Location: {e}"))
                })?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(PortError::Permanent(format!(
                        "{WHAT}: redirected to a non-http(s) URL"
                    )));
                }
                current = next;
                continue;
            }
            if !status.is_success() {
                let text = resp.text().await.unwrap_or_default();
                return Err(status_error(WHAT, status, &text));
            }
            return self.read_media(WHAT, &current, resp).await;
        }
        Err(PortError::Transient(format!(
            "{WHAT}: more than {MAX_REDIRECTS} redirects"
        )))
    }

    async fn read_media(
        &self,
        what: &str,
        url: &Url,
        mut resp: reqwest::Response,
    ) -> PortResult<Media> {
        let too_big = || {
            PortError::Permanent(format!(
                "{what}: larger than {} bytes",
                self.max_media_bytes
            ))
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_media_bytes)
        {
            return Err(too_big());
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| default_content_type(url).to_string());
        let capacity = resp.content_length().unwrap_or(0).min(self.max_media_bytes);
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(what, e))? {
            if (bytes.len() + chunk.len()) as u64 > self.max_media_bytes {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Media {
            bytes,
            content_type,
        })
    }
}

impl TwilioApi for TwilioClient {
    async fn download(&self, url: &str) -> PortResult<Media> {
        self.fetch_media(url).await
    }

    async fn delete_recording(&self, recording_sid: &str) -> PortResult<()> {
        self.remove_recording(recording_sid).await
    }

    async fn send_sms(&self, from: &str, to: &str, body: &str) -> PortResult<String> {
        self.create_message(from, to, body).await
    }
}

pub use crate::ids::is_sid;

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // IPv6 hosts come bracketed: `[::1]`.
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn default_content_type(url: &Url) -> &'static str {
    if url.path().to_ascii_lowercase().ends_with(".wav") {
        "audio/x-wav"
    } else {
        "audio/mpeg"
    }
}

/// The path of a URL we built (no query), for logs.
fn path_of(url: &str) -> String {
    Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}

/// Maps an HTTP answer that is not a success onto a [`PortError`].
fn status_error(what: &str, status: StatusCode, body: &str) -> PortError {
    let message = format!("{what}: HTTP {}{}", status.as_u16(), error_detail(body));
    match status.as_u16() {
        404 => PortError::NotFound(message),
        408 | 429 | 500..=599 => PortError::Transient(message),
        _ => PortError::Permanent(message),
    }
}

/// `: Twilio error CODE: MESSAGE` from Twilio's JSON error body, the
/// title/detail of a problem+json body, or an excerpt of anything else.
fn error_detail(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let message = text("message").or_else(|| {
            let parts: Vec<String> = [text("title"), text("detail")]
                .into_iter()
                .flatten()
                .collect();
            (!parts.is_empty()).then(|| parts.join(": "))
        });
        let code = v.get("code").and_then(|c| c.as_u64());
        match (code, message) {
            (Some(code), Some(m)) => return format!(": Twilio error {code}: {}", excerpt(&m)),
            (Some(code), None) => return format!(": Twilio error {code}"),
            (None, Some(m)) => return format!(": {}", excerpt(&m)),
            (None, None) => {}
        }
    }
    let e = excerpt(body);
    if e.is_empty() {
        String::new()
    } else {
        format!(": {e}")
    }
}

/// The first characters of `s` on one line.
fn excerpt(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(ERROR_EXCERPT).collect();
    if one_line.chars().count() > ERROR_EXCERPT {
        out.push('…');
    }
    out
}

/// Maps a reqwest failure (no HTTP answer, or a broken body) onto a
/// [`PortError`]. The URL is left out: a redirect target may be presigned.
fn transport_error(what: &str, e: reqwest::Error) -> PortError {
    let e = e.without_url();
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    let mut message = format!("{what}: {kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    if e.is_builder() {
        PortError::Permanent(message)
    } else {
        PortError::Transient(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC: &str = "AC0123456789abcdef0123456789ABCDEF";

    fn client(base: &str) -> TwilioClient {
        TwilioClient::new(base, AC, "secret-token").unwrap()
    }

    #[test]
    fn trusts_twilio_over_https_the_api_base_and_loopback_only() {
        let c = client("https://stand-in.example:8443/");
        for url in [
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.mp3",
            "https://API.Twilio.com/x",
            "https://media.us1.twilio.com:444/x",
            "https://stand-in.example:8443/2010-04-01/x.mp3",
            "http://127.0.0.1:4010/x",
            "http://127.0.0.2/x",
            "http://localhost:9/x",
            "https://LOCALHOST/x",
            "http://[::1]:8080/x",
        ] {
            assert!(c.sends_credentials_to(url), "{url} should be trusted");
        }
        for url in [
            "http://api.twilio.com/x",                 // no TLS
            "https://twilio.com.evil.example/x",       // suffix trick
            "https://eviltwilio.com/x",                // not a subdomain
            "https://api.twilio.com.evil.example/x",   // prefix trick
            "https://api.twilio.com@evil.example/x",   // user info trick
            "https://user:pw@api.twilio.com/x",        // carries its own credentials
            "https://stand-in.example/x",              // base host, other port
            "http://stand-in.example:8443/x",          // base host:port, other scheme
            "https://s3.amazonaws.com/bucket/RE1.mp3", // a CDN
            "http://10.0.0.1/x",                       // private, not loopback
            "http://0.0.0.0/x",                        // unspecified, not loopback
            "ftp://127.0.0.1/x",                       // not http
            "not a url",
        ] {
            assert!(!c.sends_credentials_to(url), "{url} should not be trusted");
        }
    }

    #[test]
    fn the_default_base_is_trusted_by_origin_too() {
        let c = client(DEFAULT_API_BASE);
        assert!(c.sends_credentials_to("https://api.twilio.com/2010-04-01/x.mp3"));
        assert!(!c.sends_credentials_to("http://api.twilio.com/2010-04-01/x.mp3"));
    }

    #[test]
    fn new_checks_its_arguments() {
        assert!(TwilioClient::new("https://api.twilio.com", AC, "t").is_ok());
        assert!(TwilioClient::new("http://127.0.0.1:4010/", AC, "t").is_ok());
        let err =
            |base: &str, sid: &str, token: &str| TwilioClient::new(base, sid, token).unwrap_err();
        assert!(err("api.twilio.com", AC, "t").contains("not a URL"));
        assert!(err("ftp://api.twilio.com", AC, "t").contains("http(s)"));
        assert!(err("https://u:p@api.twilio.com", AC, "t").contains("credentials"));
        assert!(err("https://api.twilio.com?x=1", AC, "t").contains("query"));
        assert!(err("https://api.twilio.com", "AC123", "t").contains("32 hex"));
        assert!(err(
            "https://api.twilio.com",
            "AC0123456789abcdef0123456789abcdeg",
            "t"
        )
        .contains("32 hex"));
        assert!(err("https://api.twilio.com", &format!("{AC}/../x"), "t").contains("32 hex"));
        assert!(err("https://api.twilio.com", AC, "").contains("empty"));
        assert_eq!(
            client("http://127.0.0.1:4010///").api_base(),
            "http://127.0.0.1:4010"
        );
    }

    #[test]
    fn debug_does_not_show_the_token() {
        let shown = format!("{:?}", client(DEFAULT_API_BASE));
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains(AC),
            "{shown}"
        );
    }

    #[test]
    fn sid_shape() {
        assert!(is_sid("RE0123456789abcdef0123456789ABCDEF", "RE"));
        assert!(!is_sid("RE0123456789abcdef0123456789ABCDE", "RE"));
        assert!(!is_sid("RE0123456789abcdef0123456789ABCDEF0", "RE"));
        assert!(!is_sid("CA0123456789abcdef0123456789ABCDEF", "RE"));
        assert!(!is_sid("RE0123456789abcdef0123456789ABCDEZ", "RE"));
        assert!(!is_sid("RE0123456789abcdef0123456789ABCD/.", "RE"));
        assert!(!is_sid("RE0123456789abcdef0123456789ABCDé", "RE"));
    }

    #[tokio::test]
    async fn a_bad_recording_sid_is_refused_before_any_request() {
        // Port 9 on loopback: nothing answers, so reaching the network would be Transient.
        let c = client("http://127.0.0.1:9");
        for sid in [
            "RE123",
            "../../Calls/CA0123456789abcdef0123456789abcdef",
            "",
        ] {
            match c.remove_recording(sid).await {
                Err(PortError::Permanent(m)) => assert!(m.contains("not a recording SID"), "{m}"),
                other => panic!("{sid}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn network_failures_are_transient() {
        let c = client("http://127.0.0.1:9");
        let sid = "RE0123456789abcdef0123456789abcdef";
        assert!(matches!(
            c.remove_recording(sid).await,
            Err(PortError::Transient(_))
        ));
        assert!(matches!(
            c.create_message("+15550001111", "+15550002222", "hi").await,
            Err(PortError::Transient(_))
        ));
        match c.fetch_media("http://127.0.0.1:9/x.mp3").await {
            Err(PortError::Transient(m)) => assert!(m.contains("cannot connect"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn unusable_media_urls_are_permanent() {
        let c = client(DEFAULT_API_BASE);
        for url in [
            "not a url",
            "ftp://api.twilio.com/x.mp3",
            "https://u:p@api.twilio.com/x.mp3",
        ] {
            assert!(
                matches!(c.fetch_media(url).await, Err(PortError::Permanent(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn statuses_map_onto_port_errors() {
        let twilio_404 = r#"{"code": 20404, "message": "The requested resource /x was not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}"#;
        match status_error("x", StatusCode::NOT_FOUND, twilio_404) {
            PortError::NotFound(m) => assert_eq!(
                m,
                "x: HTTP 404: Twilio error 20404: The requested resource /x was not found"
            ),
            other => panic!("{other:?}"),
        }
        let twilio_400 = r#"{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "status": 400}"#;
        match status_error("x", StatusCode::BAD_REQUEST, twilio_400) {
            PortError::Permanent(m) => {
                assert!(
                    m.contains("HTTP 400")
                        && m.contains("21211")
                        && m.contains("not a valid phone number"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        let problem = r#"{"type":"https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY","title":"Invalid request","status":422,"detail":"Your request is not valid"}"#;
        match status_error("x", StatusCode::UNPROCESSABLE_ENTITY, problem) {
            PortError::Permanent(m) => {
                assert_eq!(m, "x: HTTP 422: Invalid request: Your request is not valid")
            }
            other => panic!("{other:?}"),
        }
        for code in [401, 403, 400, 405, 409, 410, 413, 415, 422] {
            let s = StatusCode::from_u16(code).unwrap();
            assert!(
                matches!(status_error("x", s, ""), PortError::Permanent(_)),
                "{code}"
            );
        }
        for code in [408, 429, 500, 502, 503, 504] {
            let s = StatusCode::from_u16(code).unwrap();
            assert!(
                matches!(
                    status_error("x", s, "<html>busy</html>"),
                    PortError::Transient(_)
                ),
                "{code}"
            );
        }
        assert_eq!(
            status_error("x", StatusCode::BAD_GATEWAY, "").to_string(),
            "transient: x: HTTP 502"
        );
        let long = "a\n".repeat(1000);
        let m = status_error("x", StatusCode::BAD_GATEWAY, &long).to_string();
        assert!(
            m.len() < 400 && m.ends_with('…') && !m.contains('\n'),
            "{m}"
        );
    }

    #[test]
    fn content_type_defaults_follow_the_extension() {
        assert_eq!(
            default_content_type(&Url::parse("https://a.twilio.com/RE1.mp3").unwrap()),
            "audio/mpeg"
        );
        assert_eq!(
            default_content_type(&Url::parse("https://a.twilio.com/RE1.WAV").unwrap()),
            "audio/x-wav"
        );
        assert_eq!(
            default_content_type(&Url::parse("https://a.twilio.com/RE1").unwrap()),
            "audio/mpeg"
        );
    }
}
