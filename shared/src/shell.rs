//! The imperative shell around the pure flow: settings from the
//! environment, the clock, adapters that carry out effects, and logging.
//! Both the Lambda functions and `ivr serve` start here.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::config::{Config, Diagnostic, LoadError, Loaded};
use crate::flow::Effect;
use crate::routes::Function;
use crate::web::{App, Handled, WebRequest};

/// The repository's `config.ini`, compiled in: what a function ships with.
pub const EMBEDDED_CONFIG: &str = include_str!("../../config.ini");

/// Where the config came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    Embedded,
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::File(p) => write!(f, "{}", p.display()),
            ConfigSource::Embedded => write!(f, "config.ini (embedded)"),
        }
    }
}

pub fn load_config(source: &ConfigSource) -> Result<Loaded, LoadError> {
    match source {
        ConfigSource::File(p) => Config::load(p),
        ConfigSource::Embedded => Config::parse(EMBEDDED_CONFIG).map_err(|diagnostics| LoadError {
            path: source.to_string(),
            diagnostics,
        }),
    }
}

/// `IVR_NOW` pins the clock (tests, demos of opening hours).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pinned: Option<DateTime<Utc>>,
}

impl Clock {
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("IVR_NOW") {
            Ok(v) if !v.trim().is_empty() => DateTime::parse_from_rfc3339(v.trim())
                .map(|t| Clock {
                    pinned: Some(t.with_timezone(&Utc)),
                })
                .map_err(|e| format!("IVR_NOW=`{v}` is not an RFC 3339 instant: {e}")),
            _ => Ok(Clock { pinned: None }),
        }
    }

    pub fn pinned(at: DateTime<Utc>) -> Self {
        Clock { pinned: Some(at) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.pinned.unwrap_or_else(Utc::now)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The auth token: `TWILIO_AUTH_TOKEN` overrides `[twilio] auth_token`.
pub fn auth_token(config: &Config) -> Option<String> {
    env("TWILIO_AUTH_TOKEN").or_else(|| config.twilio.auth_token.clone())
}

/// The account SID: `TWILIO_ACCOUNT_SID` overrides `[twilio] account_sid`.
pub fn account_sid(config: &Config) -> Option<String> {
    env("TWILIO_ACCOUNT_SID").or_else(|| config.twilio.account_sid.clone())
}

/// `IVR_PUBLIC_URL`, checked to be an absolute http(s) URL.
pub fn public_url() -> Result<Option<String>, String> {
    match env("IVR_PUBLIC_URL") {
        None => Ok(None),
        Some(u) if crate::config::is_http_url(&u) && !u.contains('?') => Ok(Some(u)),
        Some(u) => Err(format!("IVR_PUBLIC_URL=`{u}` is not an http(s) base URL")),
    }
}

pub fn data_dir() -> PathBuf {
    env("IVR_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".ivr"))
}

/// Carries out the flow's effects. Lambda functions that render TwiML only
/// use [`NoEffects`]; the recording webhook hands jobs to a queue.
pub trait EffectRunner: Send + Sync {
    fn run(
        &self,
        effect: &Effect,
    ) -> impl std::future::Future<Output = Result<String, String>> + Send;
}

/// For functions whose routes produce no effects: any effect is a bug, logged.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEffects;

impl EffectRunner for NoEffects {
    async fn run(&self, effect: &Effect) -> Result<String, String> {
        Err(format!("this function cannot carry out {effect:?}"))
    }
}

/// Runs a request through the app and its effects, and logs one JSON line.
/// An effect that cannot be carried out answers 503: the recording stays at
/// Twilio and the API's 5xx alarm tells the operator.
pub async fn serve_one<R: EffectRunner>(
    app: &App,
    runner: &R,
    clock: &Clock,
    req: &WebRequest,
) -> Handled {
    let started = Instant::now();
    let mut handled = app.handle(req, clock.now());
    for effect in &handled.effects {
        match runner.run(effect).await {
            Ok(done) => tracing::info!(effect = effect_name(effect), result = %done, "effect"),
            Err(e) => {
                tracing::error!(effect = effect_name(effect), error = %e, "effect failed");
                handled.response = crate::web::WebResponse {
                    status: 503,
                    content_type: "text/plain; charset=utf-8",
                    body: "temporarily unable to accept this callback".into(),
                };
                handled.outcome = format!("effect failed: {e}");
                break;
            }
        }
    }
    let latency_us = started.elapsed().as_micros() as u64;
    tracing::info!(
        route = handled.route,
        method = %req.method,
        path = %req.path,
        call_sid = handled.call_sid.as_deref().unwrap_or(""),
        status = handled.response.status,
        outcome = %handled.outcome,
        latency_us,
        "request"
    );
    handled
}

fn effect_name(effect: &Effect) -> &'static str {
    match effect {
        Effect::ProcessRecording(_) => "process-recording",
        Effect::RecordTranscription { .. } => "record-transcription",
        Effect::SendSms { .. } => "send-sms",
    }
}

/// Settings a Lambda function (or `ivr serve`) needs at start-up, validated once.
pub struct Startup {
    pub app: App,
    pub clock: Clock,
    pub warnings: Vec<Diagnostic>,
    pub source: ConfigSource,
}

/// Reads `IVR_CONFIG` (else `default`), the environment and the clock.
/// `require_auth`: refuse to start without an auth token (Lambda).
pub fn startup(
    default: ConfigSource,
    only: Option<Function>,
    require_auth: bool,
) -> Result<Startup, String> {
    let source = env("IVR_CONFIG")
        .map(|p| ConfigSource::File(PathBuf::from(p)))
        .unwrap_or(default);
    let loaded = load_config(&source).map_err(|e| format!("invalid config: {e}"))?;
    let config = loaded.config;
    let token = auth_token(&config);
    if require_auth && token.is_none() {
        return Err(
            "no Twilio auth token: set TWILIO_AUTH_TOKEN (every webhook must be signature-checked)"
                .into(),
        );
    }
    let clock = Clock::from_env()?;
    let public_url = public_url()?;
    Ok(Startup {
        app: App {
            auth_token: token,
            public_url,
            default_scheme: if require_auth { "https" } else { "http" },
            only,
            config,
        },
        clock,
        warnings: loaded.warnings,
        source,
    })
}

/// JSON logs; `RUST_LOG` filters (default `info`). Secrets are never logged.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
