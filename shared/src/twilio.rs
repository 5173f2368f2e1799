//! The Twilio REST adapter: the [`TwilioApi`] port over reqwest and rustls,
//! and [`MediaFetcher`], the one media downloader of every mode.
//!
//! Three calls: download recording media, delete a recording, create an SMS.
//! HTTP statuses map onto [`PortError`] the same way for all three:
//!
//! | answer                                   | error          |
//! |------------------------------------------|----------------|
//! | 404                                      | `NotFound` (a delete counts it as done) |
//! | 408, 429, 5xx, timeouts, network errors  | `Transient`    |
//! | 401, 403, 400, 422, any other 4xx        | `Permanent`    |
//! | media over [`MAX_MEDIA_BYTES`], an address it may not reach, a redirect to a non-http(s) URL | `Permanent` |
//!
//! Credentials (HTTP basic auth: account SID and auth token) go to one
//! origin only: the configured API base's (scheme, host and port). Media
//! redirects are followed here, hop by hop (at most five), never by reqwest:
//! a hop gets the credentials only if it is at that origin *and* the
//! download started there, so a CDN link (or an https → http downgrade)
//! never sees them; a redirect to a non-http(s) URL is refused.
//!
//! Downloads connect only where [`Reach`] allows: public addresses, plus the
//! class of the API base itself when it is an IP literal or `localhost` (a
//! stand-in on 127.0.0.1). Literal addresses are checked before each hop and
//! names as they resolve (a resolver that drops what may not be reached), so
//! neither a redirect nor DNS leads to `169.254.169.254` or a private
//! network. Media downloads use no proxy (a proxy would resolve names itself).
//!
//! Each download has one deadline ([`MEDIA_TIMEOUT`], redirects and body
//! included) and a size cap ([`MAX_MEDIA_BYTES`], checked on
//! `Content-Length` and while reading). Nothing secret is logged: not the
//! token, not the `Authorization` header, not the query strings of redirect
//! targets (CDN links are often presigned).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};

use crate::recordings::media::{host_class, Reach};
pub use crate::recordings::media::{AddressClass, DEFAULT_API_BASE, MAX_MEDIA_BYTES};
use crate::recordings::{Media, PortError, PortResult, TwilioApi};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole download, redirects and body included: well inside the worker
/// Lambda's 60 s, and 50 MiB needs only 1.7 MB/s.
pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(30);
/// A REST call (create a message, delete a recording).
const API_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 5;
/// How much of an error body goes into an error message.
const ERROR_EXCERPT: usize = 300;

/// The [`Reach`] of downloads for `api_base`: public addresses, plus the
/// class of its host when that is an IP literal or `localhost`.
pub fn api_base_reach(api_base: &str) -> Result<Reach, String> {
    let url = Url::parse(api_base.trim())
        .map_err(|e| format!("Twilio API base `{api_base}` is not a URL: {e}"))?;
    Ok(Reach::for_api_base(url.host_str().unwrap_or("")))
}

/// Downloads recording media: redirects followed by hand, every address
/// checked against a [`Reach`], one deadline, one size cap, credentials
/// only to one origin. See the module docs.
#[derive(Clone)]
pub struct MediaFetcher {
    http: reqwest::Client,
    reach: Reach,
    auth: Option<Auth>,
    max_bytes: u64,
    timeout: Duration,
}

/// Basic-auth credentials and the one origin they are sent to.
#[derive(Clone)]
struct Auth {
    origin: Url,
    user: String,
    password: String,
}

impl std::fmt::Debug for MediaFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaFetcher")
            .field("reach", &self.reach)
            .field(
                "credentials_for",
                &self.auth.as_ref().map(|a| a.origin.as_str()),
            )
            .field("max_bytes", &self.max_bytes)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The resolver of media downloads: system DNS, then only the addresses
/// the [`Reach`] allows.
struct GuardedResolver {
    reach: Reach,
}

/// Why a name was not connected to: it resolves only to addresses a
/// download may not reach.
#[derive(Debug)]
struct RefusedAddress(String);

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedAddress {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.reach;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| reach.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                let shown: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                return Err(Box::new(RefusedAddress(format!(
                    "{host} resolves to {}: not an address a recording download may reach",
                    if shown.is_empty() {
                        "nothing".to_string()
                    } else {
                        shown.join(", ")
                    }
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl MediaFetcher {
    /// A fetcher without credentials that connects where `reach` allows.
    pub fn new(reach: Reach) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(MEDIA_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { reach }))
            .user_agent(concat!("ivr-shared/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(MediaFetcher {
            http,
            reach,
            auth: None,
            max_bytes: MAX_MEDIA_BYTES,
            timeout: MEDIA_TIMEOUT,
        })
    }

    /// Sends `user`/`password` (basic auth) to `origin`'s origin, and nowhere else.
    fn with_credentials(mut self, origin: Url, user: &str, password: &str) -> Self {
        self.auth = Some(Auth {
            origin,
            user: user.to_string(),
            password: password.to_string(),
        });
        self
    }

    /// Lowers (or raises) the size cap; [`MAX_MEDIA_BYTES`] by default.
    pub fn with_max_bytes(mut self, max: u64) -> Self {
        self.max_bytes = max;
        self
    }

    /// Shortens (or lengthens) the deadline of a download; [`MEDIA_TIMEOUT`] by default.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn reach(&self) -> Reach {
        self.reach
    }

    /// Whether a GET of `url` would carry the credentials (if the download starts there).
    fn authenticates(&self, url: &Url) -> bool {
        self.auth
            .as_ref()
            .is_some_and(|a| plain_http(url) && url.origin() == a.origin.origin())
    }

    /// GETs recording media, following redirects; see the module docs.
    pub async fn fetch(&self, url: &str) -> PortResult<Media> {
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
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.follow(WHAT, first)).await {
            Ok(result) => result,
            Err(_) => Err(PortError::Transient(format!(
                "{WHAT}: timed out after {timeout:?}"
            ))),
        }
    }

    async fn follow(&self, what: &str, first: Url) -> PortResult<Media> {
        let deadline = Instant::now() + self.timeout;
        let authenticated_start = self.authenticates(&first);
        let mut current = first;
        for _ in 0..=MAX_REDIRECTS {
            self.check_host(what, &current)?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(PortError::Transient(format!(
                    "{what}: timed out after {:?}",
                    self.timeout
                )));
            }
            let with_auth = authenticated_start && self.authenticates(&current);
            let mut req = self.http.get(current.clone()).timeout(remaining);
            if let (true, Some(a)) = (with_auth, &self.auth) {
                req = req.basic_auth(&a.user, Some(&a.password));
            }
            let resp = req.send().await.map_err(|e| transport_error(what, e))?;
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
                        PortError::Permanent(format!("{what}: HTTP {status} without a Location"))
                    })?;
                let next = current.join(location).map_err(|e| {
                    PortError::Permanent(format!("{what}: HTTP {status} to a bad Location: {e}"))
                })?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(PortError::Permanent(format!(
                        "{what}: redirected to a non-http(s) URL ({}:)",
                        next.scheme().chars().take(20).collect::<String>()
                    )));
                }
                if !next.username().is_empty() || next.password().is_some() {
                    return Err(PortError::Permanent(format!(
                        "{what}: redirected to a URL that carries credentials"
                    )));
                }
                current = next;
                continue;
            }
            if !status.is_success() {
                let text = resp.text().await.unwrap_or_default();
                return Err(status_error(what, status, &text));
            }
            return self.read_media(what, &current, resp, deadline).await;
        }
        Err(PortError::Transient(format!(
            "{what}: more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// Refuses a URL whose host is an address the reach does not allow
    /// (names are checked as they resolve).
    fn check_host(&self, what: &str, url: &Url) -> PortResult<()> {
        let host = url.host_str().unwrap_or("");
        if host.is_empty() {
            return Err(PortError::Permanent(format!(
                "{what}: a URL without a host"
            )));
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let refused = match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => !self.reach.allows(ip),
            // `localhost` resolves without DNS in some stacks: judge it by name too.
            Err(_) => {
                host_class(host).is_some_and(|c| c != AddressClass::Public)
                    && !self.reach.allows(std::net::IpAddr::from([127, 0, 0, 1]))
            }
        };
        if refused {
            return Err(PortError::Permanent(format!(
                "{what}: {host} is not an address a recording download may reach (only public addresses, and the API base's own kind)"
            )));
        }
        Ok(())
    }

    async fn read_media(
        &self,
        what: &str,
        url: &Url,
        mut resp: reqwest::Response,
        deadline: Instant,
    ) -> PortResult<Media> {
        let max = self.max_bytes;
        let too_big = |seen: String| {
            PortError::Permanent(format!(
                "{what}: larger than {max} bytes ({seen}): not stored, Twilio's copy is kept"
            ))
        };
        if let Some(n) = resp.content_length().filter(|n| *n > max) {
            return Err(too_big(format!("Content-Length {n}")));
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| default_content_type(url).to_string());
        let capacity = resp.content_length().unwrap_or(0).min(max);
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        loop {
            let chunk = tokio::time::timeout_at(deadline.into(), resp.chunk())
                .await
                .map_err(|_| {
                    PortError::Transient(format!("{what}: timed out after {:?}", self.timeout))
                })?
                .map_err(|e| transport_error(what, e))?;
            let Some(chunk) = chunk else { break };
            if (bytes.len() as u64).saturating_add(chunk.len() as u64) > max {
                return Err(too_big("more arrived".into()));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Media {
            bytes,
            content_type,
        })
    }
}

fn plain_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
}

/// A Twilio REST client for one account.
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    media: MediaFetcher,
    /// Parsed `api_base`: the one origin credentials go to.
    base_url: Url,
    /// `api_base` without a trailing slash, for building resource URLs.
    base: String,
    account_sid: String,
    auth_token: String,
}

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base", &self.base)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("media", &self.media)
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
            .timeout(API_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ivr-shared/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        let media = MediaFetcher::new(Reach::for_api_base(base_url.host_str().unwrap_or("")))?
            .with_credentials(base_url.clone(), account_sid, auth_token);
        Ok(TwilioClient {
            http,
            media,
            base_url,
            base,
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
        })
    }

    /// Lowers (or raises) the media size cap; [`MAX_MEDIA_BYTES`] by default.
    pub fn with_max_media_bytes(mut self, max: u64) -> Self {
        self.media = self.media.with_max_bytes(max);
        self
    }

    /// Shortens (or lengthens) the deadline of a download; [`MEDIA_TIMEOUT`] by default.
    pub fn with_media_timeout(mut self, timeout: Duration) -> Self {
        self.media = self.media.with_timeout(timeout);
        self
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    pub fn api_base(&self) -> &str {
        &self.base
    }

    /// Whether a GET of `url` may carry the account's credentials: only at
    /// the configured API base's origin (scheme, host, port). URLs with user
    /// info never qualify.
    pub fn sends_credentials_to(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| plain_http(&u) && u.origin() == self.base_url.origin())
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

    /// GETs recording media with the account's credentials (sent only to
    /// the API base's origin), following redirects; see the module docs.
    pub async fn fetch_media(&self, url: &str) -> PortResult<Media> {
        self.media.fetch(url).await
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
    let mut refused = None;
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<RefusedAddress>() {
            refused = Some(r.to_string());
        }
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    if let Some(r) = refused {
        return PortError::Permanent(format!("{what}: {r}"));
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

    /// Issue 11, finding 4: the token went to any loopback host (and any
    /// `*.twilio.com`). Now: the API base's origin, nothing else.
    #[test]
    fn credentials_go_to_the_api_base_origin_only() {
        let c = client("https://stand-in.example:8443/");
        for url in [
            "https://stand-in.example:8443/2010-04-01/x.mp3",
            "https://STAND-IN.example:8443/x",
        ] {
            assert!(c.sends_credentials_to(url), "{url} should be trusted");
        }
        for url in [
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.mp3",
            "https://media.us1.twilio.com:444/x",
            "http://127.0.0.1:4010/x",
            "http://localhost:9/x",
            "http://[::1]:8080/x",
            "https://api.twilio.com@stand-in.example:8443/x", // user info trick
            "https://user:pw@stand-in.example:8443/x",        // carries its own credentials
            "https://stand-in.example/x",                     // base host, other port
            "http://stand-in.example:8443/x",                 // base host:port, other scheme
            "https://s3.amazonaws.com/bucket/RE1.mp3",        // a CDN
            "http://10.0.0.1/x",
            "ftp://stand-in.example:8443/x",
            "not a url",
        ] {
            assert!(!c.sends_credentials_to(url), "{url} should not be trusted");
        }
        let local = client("http://127.0.0.1:4010");
        assert!(local.sends_credentials_to("http://127.0.0.1:4010/x"));
        for url in [
            "http://127.0.0.1:4011/x",
            "http://localhost:4010/x",
            "http://127.0.0.2:4010/x",
        ] {
            assert!(!local.sends_credentials_to(url), "{url}");
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
    // --- Downloads against stand-ins on 127.0.0.1 ---------------------------

    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// What a stand-in does with a request (given its path).
    enum Answer {
        Raw(Vec<u8>),
        /// Reads the request, then says nothing.
        Hang,
        /// Headers, then one byte every 100 ms, forever.
        Trickle,
    }

    /// (path, Authorization) of every request.
    type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

    /// A thread-per-connection HTTP stand-in; remembers (path, Authorization).
    struct Stub {
        base: String,
        seen: Seen,
        connections: Arc<AtomicUsize>,
    }

    impl Stub {
        fn start(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Stub {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let seen: Seen = Arc::default();
            let connections = Arc::new(AtomicUsize::new(0));
            let answer = Arc::new(answer);
            let (log, count) = (seen.clone(), connections.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    count.fetch_add(1, Ordering::SeqCst);
                    let (log, answer) = (log.clone(), answer.clone());
                    std::thread::spawn(move || {
                        let mut stream = stream;
                        let mut head = Vec::new();
                        let mut byte = [0u8; 1];
                        while !head.ends_with(b"\r\n\r\n") {
                            match stream.read(&mut byte) {
                                Ok(1) => head.push(byte[0]),
                                _ => return,
                            }
                        }
                        let head = String::from_utf8_lossy(&head).into_owned();
                        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                        let auth = head
                            .lines()
                            .find_map(|l| {
                                l.strip_prefix("authorization: ")
                                    .or_else(|| l.strip_prefix("Authorization: "))
                            })
                            .map(str::to_string);
                        log.lock().unwrap().push((path.clone(), auth));
                        match answer(&path) {
                            Answer::Raw(bytes) => {
                                let _ = stream.write_all(&bytes);
                            }
                            Answer::Hang => std::thread::sleep(Duration::from_secs(30)),
                            Answer::Trickle => {
                                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: 100000\r\n\r\n");
                                for _ in 0..300 {
                                    if stream.write_all(b"x").is_err() {
                                        return;
                                    }
                                    std::thread::sleep(Duration::from_millis(100));
                                }
                            }
                        }
                    });
                }
            });
            Stub {
                base,
                seen,
                connections,
            }
        }

        fn url(&self, path: &str) -> String {
            format!("{}{path}", self.base)
        }

        fn seen(&self) -> Vec<(String, Option<String>)> {
            self.seen.lock().unwrap().clone()
        }
    }

    fn ok(body: &[u8]) -> Answer {
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        Answer::Raw(out)
    }

    fn chunked(body: &[u8]) -> Answer {
        let mut out =
            b"HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                .to_vec();
        out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n0\r\n\r\n");
        Answer::Raw(out)
    }

    fn redirect(location: &str) -> Answer {
        Answer::Raw(
            format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .into_bytes(),
        )
    }

    fn basic() -> String {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{AC}:secret-token"))
        )
    }

    /// Issue 11, finding 4: link-local and private addresses were fetched.
    /// They are refused by the address check, before any connection.
    #[tokio::test]
    async fn addresses_outside_the_reach_are_refused_before_connecting() {
        let stub = Stub::start(|_| ok(b"media"));
        let port = stub.base.rsplit(':').next().unwrap().to_string();
        let c = client(DEFAULT_API_BASE);
        for url in [
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "http://10.0.0.1/x.mp3".to_string(),
            "http://192.168.1.1/x.mp3".to_string(),
            "http://[fd00::1]/x.mp3".to_string(),
            "http://[fe80::1]/x.mp3".to_string(),
            "http://0.0.0.0/x.mp3".to_string(),
            "http://[::ffff:169.254.169.254]/x.mp3".to_string(),
            format!("http://127.0.0.1:{port}/x.mp3"),
            format!("http://localhost:{port}/x.mp3"),
            format!("http://[::ffff:127.0.0.1]:{port}/x.mp3"),
        ] {
            match c.fetch_media(&url).await {
                Err(PortError::Permanent(m)) => {
                    assert!(
                        m.contains("not an address a recording download may reach"),
                        "{url}: {m}"
                    )
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        assert_eq!(
            stub.connections.load(Ordering::SeqCst),
            0,
            "connected to a refused address"
        );
        // The API base's own kind is allowed: a stand-in on 127.0.0.1.
        let here = client(&stub.base);
        assert_eq!(
            here.fetch_media(&stub.url("/x.mp3")).await.unwrap().bytes,
            b"media"
        );
        assert!(matches!(
            here.fetch_media("http://10.0.0.1/x.mp3").await,
            Err(PortError::Permanent(_))
        ));
    }

    #[tokio::test]
    async fn names_resolving_to_refused_addresses_are_dropped_by_the_resolver() {
        use reqwest::dns::Resolve;
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let public = GuardedResolver {
            reach: Reach::PUBLIC,
        };
        let err = match public.resolve(name("localhost")).await {
            Err(e) => e,
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
        };
        assert!(err.downcast_ref::<RefusedAddress>().is_some(), "{err}");
        assert!(
            err.to_string().contains("127.0.0.1") || err.to_string().contains("::1"),
            "{err}"
        );
        let local = GuardedResolver {
            reach: Reach::PUBLIC.with(AddressClass::Loopback),
        };
        let addrs: Vec<SocketAddr> = local.resolve(name("localhost")).await.unwrap().collect();
        assert!(
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()),
            "{addrs:?}"
        );
    }

    /// Issue 11, finding 6: a redirect to `file://` panicked inside ureq.
    /// Redirects to other schemes (or to addresses out of reach) are refused.
    #[tokio::test]
    async fn redirects_to_other_schemes_or_out_of_reach_are_refused() {
        let stub = Stub::start(|path| match path {
            "/file.mp3" => redirect("file:///etc/passwd"),
            "/gopher.mp3" => redirect("gopher://127.0.0.1:70/x"),
            "/data.mp3" => redirect("data:audio/mpeg;base64,AAAA"),
            "/javascript.mp3" => redirect("javascript:alert(1)"),
            "/meta.mp3" => redirect("http://169.254.169.254/latest/meta-data/"),
            "/private.mp3" => redirect("http://10.0.0.1/x.mp3"),
            "/userinfo.mp3" => redirect("http://u:p@127.0.0.1:9/x.mp3"),
            _ => ok(b"media"),
        });
        let c = client(&stub.base);
        for (path, want) in [
            ("/file.mp3", "non-http(s)"),
            ("/gopher.mp3", "non-http(s)"),
            ("/data.mp3", "non-http(s)"),
            ("/javascript.mp3", "non-http(s)"),
            ("/meta.mp3", "not an address"),
            ("/private.mp3", "not an address"),
            ("/userinfo.mp3", "carries credentials"),
        ] {
            match c.fetch_media(&stub.url(path)).await {
                Err(PortError::Permanent(m)) => assert!(m.contains(want), "{path}: {m}"),
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    /// Issue 11, finding 4: credentials only to the API base's origin, even
    /// through a redirect, and not to a URL elsewhere.
    #[tokio::test]
    async fn credentials_reach_the_api_base_only() {
        let cdn = Stub::start(|_| ok(b"cdn"));
        let cdn_url = cdn.url("/cdn/RE1.mp3?Signature=abc");
        let base = Stub::start(move |path| match path {
            "/to-cdn.mp3" => redirect(&cdn_url),
            "/same.mp3" => redirect("/x.mp3"),
            _ => ok(b"media"),
        });
        let c = client(&base.base);
        assert_eq!(
            c.fetch_media(&base.url("/to-cdn.mp3")).await.unwrap().bytes,
            b"cdn"
        );
        assert_eq!(
            c.fetch_media(&base.url("/same.mp3")).await.unwrap().bytes,
            b"media"
        );
        let port = base.base.rsplit(':').next().unwrap().to_string();
        assert_eq!(
            c.fetch_media(&format!("http://localhost:{port}/other-host.mp3"))
                .await
                .unwrap()
                .bytes,
            b"media"
        );
        assert_eq!(
            c.fetch_media(&cdn.url("/direct.mp3")).await.unwrap().bytes,
            b"cdn"
        );
        let auth = Some(basic());
        assert_eq!(
            base.seen(),
            [
                ("/to-cdn.mp3".to_string(), auth.clone()),
                ("/same.mp3".to_string(), auth.clone()),
                ("/x.mp3".to_string(), auth.clone()),
                ("/other-host.mp3".to_string(), None),
            ]
        );
        assert_eq!(
            cdn.seen(),
            [
                ("/cdn/RE1.mp3?Signature=abc".to_string(), None),
                ("/direct.mp3".to_string(), None),
            ]
        );
    }

    /// Issue 11, finding 4: a hanging URL held the (single) worker for
    /// 20-60 s. A download has one deadline, body included.
    #[tokio::test]
    async fn a_download_has_one_deadline() {
        let stub = Stub::start(|path| match path {
            "/hang.mp3" => Answer::Hang,
            _ => Answer::Trickle,
        });
        let c = client(&stub.base).with_media_timeout(Duration::from_millis(400));
        for path in ["/hang.mp3", "/trickle.mp3"] {
            let started = Instant::now();
            match c.fetch_media(&stub.url(path)).await {
                Err(PortError::Transient(m)) => assert!(m.contains("timed out"), "{path}: {m}"),
                other => panic!("{path}: {other:?}"),
            }
            let took = started.elapsed();
            assert!(took < Duration::from_secs(3), "{path}: {took:?}");
        }
        assert_eq!(MEDIA_TIMEOUT, Duration::from_secs(30));
    }

    /// Issue 11, finding 5: one size cap for every mode, sized or not.
    #[tokio::test]
    async fn media_over_the_cap_is_a_permanent_failure() {
        assert_eq!(MAX_MEDIA_BYTES, 52_428_800);
        let stub = Stub::start(|path| match path {
            "/sized-1000.mp3" => ok(&[1; 1000]),
            "/sized-1001.mp3" => ok(&[1; 1001]),
            "/chunked-1000.mp3" => chunked(&[1; 1000]),
            _ => chunked(&[1; 1001]),
        });
        let anonymous = MediaFetcher::new(Reach::PUBLIC.with(AddressClass::Loopback))
            .unwrap()
            .with_max_bytes(1000);
        let rest = client(&stub.base).with_max_media_bytes(1000);
        for path in ["/sized-1000.mp3", "/chunked-1000.mp3"] {
            assert_eq!(
                anonymous.fetch(&stub.url(path)).await.unwrap().bytes.len(),
                1000
            );
            assert_eq!(
                rest.fetch_media(&stub.url(path)).await.unwrap().bytes.len(),
                1000
            );
        }
        for path in ["/sized-1001.mp3", "/chunked-1001.mp3"] {
            for got in [
                anonymous.fetch(&stub.url(path)).await,
                rest.fetch_media(&stub.url(path)).await,
            ] {
                match got {
                    Err(PortError::Permanent(m)) => {
                        assert!(
                            m.contains("larger than 1000 bytes")
                                && m.contains("Twilio's copy is kept"),
                            "{path}: {m}"
                        )
                    }
                    other => panic!("{path}: {other:?}"),
                }
            }
        }
    }
}
