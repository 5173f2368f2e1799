//! One webhook request in, one response out: the HTTP rules every entry
//! point shares (the Lambda functions and `ivr serve`).
//!
//! Size limit, routing, the public URL Twilio saw, the `X-Twilio-Signature`
//! check, parameter parsing, then the flow. Nothing here does I/O; effects
//! are returned for the shell to carry out.

use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderMap, Method};

use crate::config::Config;
use crate::flow::{self, Call, Effect, Params};
use crate::routes::{Function, Route};
use crate::signature;

/// Twilio's own requests are a few KiB; anything near this is not Twilio.
pub const MAX_BODY: usize = 64 * 1024;

/// The `user-agent` of the scheduled keep-warm event (see template.yaml).
pub const WARMUP_USER_AGENT: &str = "ivr-warmup";

#[derive(Debug, Clone)]
pub struct WebRequest {
    pub method: Method,
    /// The path as routed, without any API Gateway stage prefix.
    pub path: String,
    /// The raw query string, exactly as received (it is part of what Twilio signs).
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The stage prefix Twilio's URL carried (`/api`), if any.
    pub stage_prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl WebResponse {
    fn text(status: u16, body: impl Into<String>) -> Self {
        WebResponse {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

/// What happened, for the shell: the response, the effects to run, and what to log.
#[derive(Debug, Clone)]
pub struct Handled {
    pub response: WebResponse,
    pub effects: Vec<Effect>,
    /// Answered instead of a 503 when an effect fails (see [`crate::answer::Reply::if_failed`]).
    pub if_failed: Option<WebResponse>,
    pub route: &'static str,
    pub call_sid: Option<String>,
    pub outcome: String,
}

/// Everything a webhook handler needs, built once per process.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    /// `None` runs open (local only): every request is accepted unsigned.
    pub auth_token: Option<String>,
    /// `IVR_PUBLIC_URL`: the base URL Twilio calls, overriding the request's Host.
    pub public_url: Option<String>,
    /// Scheme assumed when no trustworthy `X-Forwarded-Proto` is present.
    pub default_scheme: &'static str,
    /// A Lambda function answers only its own route (and pings).
    pub only: Option<Function>,
}

impl App {
    pub fn handle(&self, req: &WebRequest, now: DateTime<Utc>) -> Handled {
        let mut h = Handled {
            response: WebResponse::text(200, ""),
            effects: Vec::new(),
            if_failed: None,
            route: "unknown",
            call_sid: None,
            outcome: String::new(),
        };
        let reject = |mut h: Handled, status: u16, msg: &str| {
            h.response = WebResponse::text(status, msg);
            h.outcome = msg.to_string();
            h
        };
        if req.body.len() > MAX_BODY {
            return reject(h, 413, "request body too large");
        }
        // RFC 9112 §3.2: a request with more than one Host is a 400 — which
        // one a proxy, the signer and this server would each use is anyone's guess.
        if req
            .headers
            .get_all(http::header::HOST)
            .iter()
            .nth(1)
            .is_some()
        {
            return reject(h, 400, "more than one Host header");
        }
        let Some(route) = Route::parse(&req.path) else {
            return reject(h, 404, "no such route");
        };
        h.route = route.function().name();
        if req.method != Method::GET && req.method != Method::POST {
            return reject(h, 405, "only GET and POST are served");
        }
        if route == Route::Ping {
            h.response = WebResponse {
                status: 200,
                content_type: "application/json",
                body: self.ping_body(now),
            };
            // The scheduled keep-warm event is a GET /ping with this user agent.
            let warmup = req
                .headers
                .get(http::header::USER_AGENT)
                .is_some_and(|v| v.as_bytes() == WARMUP_USER_AGENT.as_bytes());
            h.outcome = if warmup { "warm-up ping" } else { "ping" }.into();
            return h;
        }
        if let Some(only) = self.only {
            if route.function() != only {
                return reject(h, 404, "route not served by this function");
            }
        }
        let base = match self.base_url(req) {
            Ok(b) => b,
            Err(msg) => return reject(h, 400, msg),
        };
        let content_type = req
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let is_json = content_type.starts_with("application/json");
        let form: Vec<(std::borrow::Cow<str>, std::borrow::Cow<str>)> =
            if req.method == Method::POST && !is_json {
                form_urlencoded::parse(&req.body).collect()
            } else {
                Vec::new()
            };
        if let Some(token) = &self.auth_token {
            let mut url = format!("{base}{}", req.path);
            if let Some(q) = &req.query {
                url.push('?');
                url.push_str(q);
            }
            let sig = req
                .headers
                .get("x-twilio-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let valid = !sig.is_empty()
                && if is_json {
                    signature::validate_json(token, &url, &req.body, sig)
                } else {
                    signature::validate_form(token, &url, &form, sig)
                };
            if !valid {
                let what = if sig.is_empty() { "missing" } else { "invalid" };
                return reject(h, 403, &format!("{what} X-Twilio-Signature"));
            }
        }
        let mut params = Params(form);
        if let Some(q) = &req.query {
            params.0.extend(Params::from_query(q).0);
        }
        h.call_sid = params.get("CallSid").map(str::to_string);
        let call = Call {
            base: &base,
            params: &params,
            now,
        };
        let reply = flow::respond(&self.config, &route, &call);
        h.response = WebResponse {
            status: 200,
            content_type: "text/xml",
            body: reply.twiml.render(),
        };
        h.effects = reply.effects;
        h.if_failed = reply.if_failed.map(|twiml| WebResponse {
            status: 200,
            content_type: "text/xml",
            body: twiml.render(),
        });
        h.outcome = reply.outcome;
        h
    }

    /// `{"name":"ping","invokedAt":"<now in the IVR timezone>"}`
    pub fn ping_body(&self, now: DateTime<Utc>) -> String {
        let local = now.with_timezone(&self.config.ivr.timezone);
        serde_json::json!({
            "name": "ping",
            "invokedAt": local.to_rfc3339_opts(SecondsFormat::Millis, false),
        })
        .to_string()
    }

    /// The public base URL (scheme, host, stage) Twilio used, without a trailing slash.
    fn base_url(&self, req: &WebRequest) -> Result<String, &'static str> {
        if let Some(p) = &self.public_url {
            return Ok(p.trim_end_matches('/').to_string());
        }
        let host = req
            .headers
            .get(http::header::HOST)
            .ok_or("missing Host header (set IVR_PUBLIC_URL to the URL Twilio calls)")?
            .to_str()
            .ok()
            .filter(|h| is_host(h))
            .ok_or("malformed Host header")?;
        // Only the two values a proxy can honestly send; anything else is ignored.
        let scheme = match req
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("https") => "https",
            Some("http") => "http",
            _ => self.default_scheme,
        };
        let stage = req.stage_prefix.as_deref().unwrap_or("");
        Ok(format!("{scheme}://{host}{stage}"))
    }
}

/// `host[:port]` with a DNS name, IPv4 or bracketed IPv6 address, and a
/// port (if any) of 1–65535.
fn is_host(h: &str) -> bool {
    let (name, port) = if let Some(rest) = h.strip_prefix('[') {
        match rest.split_once(']') {
            Some((addr, tail)) => {
                if !addr
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
                {
                    return false;
                }
                (addr, tail.strip_prefix(':'))
            }
            None => return false,
        }
    } else {
        match h.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (h, None),
        }
    };
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && (h.starts_with('[')
            || name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
    // Digits only: `u16::from_str` would also take a leading `+`.
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n != 0)
    });
    name_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_shapes() {
        assert!(is_host("abc.execute-api.eu-west-2.amazonaws.com"));
        assert!(is_host("127.0.0.1:3000"));
        assert!(is_host("[::1]:3000"));
        assert!(!is_host("evil.com/path"));
        assert!(!is_host("a b"));
        assert!(!is_host("host:"));
        assert!(!is_host("host:99999x"));
        assert!(!is_host(""));
    }

    #[test]
    fn host_port_must_be_1_to_65535() {
        for ok in ["h:1", "h:80", "h:65535", "[::1]:1", "h:00080"] {
            assert!(is_host(ok), "{ok}");
        }
        for bad in [
            "h:0",
            "h:00000",
            "h:65536",
            "h:99999",
            "h:100000",
            "h:+80",
            "h:-1",
            "[::1]:0",
            "[::1]:70000",
            "h:80:80",
        ] {
            assert!(!is_host(bad), "{bad}");
        }
    }

    fn app() -> App {
        let text = "[ivr]\ntimezone = Europe/London\n[ivr_menu]\nsay = Press 1.\n";
        App {
            config: Config::parse(text).expect("a minimal config").config,
            auth_token: None,
            public_url: None,
            default_scheme: "http",
            only: None,
        }
    }

    fn post(hosts: &[&str]) -> WebRequest {
        let mut headers = HeaderMap::new();
        for h in hosts {
            headers.append(http::header::HOST, h.parse().expect("header value"));
        }
        WebRequest {
            method: Method::POST,
            path: "/ivr/hangup".into(),
            query: None,
            headers,
            body: b"CallSid=CA1".to_vec(),
            stage_prefix: None,
        }
    }

    #[test]
    fn two_host_headers_are_400_even_when_equal() {
        let app = app();
        let now = Utc::now();
        assert_eq!(app.handle(&post(&["a.example"]), now).response.status, 200);
        for hosts in [&["a.example", "b.example"][..], &["a.example", "a.example"]] {
            let h = app.handle(&post(hosts), now);
            assert_eq!(h.response.status, 400, "{hosts:?}");
            assert!(h.effects.is_empty());
        }
        // Also with IVR_PUBLIC_URL, where the Host is otherwise not used.
        let with_public = App {
            public_url: Some("https://ivr.example.com".into()),
            ..app
        };
        assert_eq!(
            with_public
                .handle(&post(&["a.example", "b.example"]), now)
                .response
                .status,
            400
        );
    }

    #[test]
    fn host_port_out_of_range_is_400() {
        let app = app();
        let now = Utc::now();
        for host in ["a.example:0", "a.example:99999", "a.example:65536"] {
            assert_eq!(
                app.handle(&post(&[host]), now).response.status,
                400,
                "{host}"
            );
        }
        assert_eq!(
            app.handle(&post(&["a.example:65535"]), now).response.status,
            200
        );
    }
}
