//! How `ivr call` reaches the IVR: over HTTP (`--url`), or in-process
//! through the same `App` the server and the Lambda functions use
//! (`--config`), with the same signature check.

use std::time::Duration;

use http::header::{HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderMap, Method};
use shared::flow::Effect;
use shared::shell::Clock;
use shared::web::{App, WebRequest};
use url::Url;

/// Twilio's webhook requests say this.
pub const TWILIO_USER_AGENT: &str = "TwilioProxy/1.1";
/// Twilio gives up on a webhook after 15 seconds.
const TIMEOUT: Duration = Duration::from_secs(15);

/// One answer to one webhook request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The media type, lower case, without parameters (`text/xml`).
    pub content_type: String,
    pub body: String,
    /// In-process only: what the flow asked the shell to do (not carried out).
    pub effects: Vec<Effect>,
}

pub enum Transport {
    InProcess {
        app: Box<App>,
        clock: Clock,
        base: Url,
    },
    Http {
        agent: ureq::Agent,
    },
}

impl Transport {
    pub fn in_process(app: App, clock: Clock, base: Url) -> Self {
        Transport::InProcess {
            app: Box::new(app),
            clock,
            base,
        }
    }

    pub fn http() -> Self {
        Transport::Http {
            agent: ureq::AgentBuilder::new()
                .timeout(TIMEOUT)
                .redirects(0)
                .user_agent(TWILIO_USER_AGENT)
                .build(),
        }
    }

    /// Sends a request; `form` is the POST body (empty for GET, whose
    /// parameters are already in `url`).
    pub fn send(
        &self,
        method: &Method,
        url: &Url,
        form: &[(String, String)],
        signature: Option<&str>,
    ) -> Result<Answer, String> {
        let body = if *method == Method::POST {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish()
        } else {
            String::new()
        };
        match self {
            Transport::InProcess { app, clock, base } => {
                if url.origin() != base.origin() {
                    return Err(format!(
                        "in-process mode only reaches the IVR at {}; cannot fetch {url} (use --url against a server to follow other hosts)",
                        base.origin().ascii_serialization()
                    ));
                }
                let mut headers = HeaderMap::new();
                let host = match url.port() {
                    Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
                    None => url.host_str().unwrap_or_default().to_string(),
                };
                headers.insert(
                    HOST,
                    HeaderValue::from_str(&host).map_err(|e| format!("bad host `{host}`: {e}"))?,
                );
                headers.insert(USER_AGENT, HeaderValue::from_static(TWILIO_USER_AGENT));
                if *method == Method::POST {
                    headers.insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-www-form-urlencoded"),
                    );
                }
                if let Some(sig) = signature {
                    headers.insert(
                        "x-twilio-signature",
                        HeaderValue::from_str(sig).map_err(|e| e.to_string())?,
                    );
                }
                let req = WebRequest {
                    method: method.clone(),
                    path: url.path().to_string(),
                    query: url.query().map(str::to_string),
                    headers,
                    body: body.into_bytes(),
                    stage_prefix: None,
                };
                let handled = app.handle(&req, clock.now());
                Ok(Answer {
                    status: handled.response.status,
                    content_type: media_type(handled.response.content_type),
                    body: handled.response.body,
                    effects: handled.effects,
                })
            }
            Transport::Http { agent } => {
                let mut req = agent.request(method.as_str(), url.as_str());
                if let Some(sig) = signature {
                    req = req.set("X-Twilio-Signature", sig);
                }
                let result = if *method == Method::POST {
                    req.set("Content-Type", "application/x-www-form-urlencoded")
                        .send_string(&body)
                } else {
                    req.call()
                };
                let resp = match result {
                    Ok(r) => r,
                    Err(ureq::Error::Status(_, r)) => r,
                    Err(ureq::Error::Transport(t)) => {
                        let why = t.to_string();
                        let why = why
                            .strip_prefix(&format!("{url}: "))
                            .unwrap_or(&why)
                            .to_string();
                        return Err(format!("cannot reach {url}: {why}"));
                    }
                };
                let status = resp.status();
                let content_type = media_type(resp.header("content-type").unwrap_or(""));
                let body = resp
                    .into_string()
                    .map_err(|e| format!("cannot read the answer from {url}: {e}"))?;
                Ok(Answer {
                    status,
                    content_type,
                    body,
                    effects: Vec::new(),
                })
            }
        }
    }
}

/// `text/xml; charset=utf-8` → `text/xml`.
fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}
