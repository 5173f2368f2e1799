//! The imperative shell around the pure flow: settings from the
//! environment, the clock, start-up and logging. The Lambda functions,
//! `ivr serve` and the in-process simulator (`ivr call --config`) all start
//! here ([`startup`], [`startup_in_process`]); effects are carried out by
//! [`crate::effects`].

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::{Config, Diagnostic, LoadError, Loaded};
pub use crate::effects::{serve_one, EffectRunner, NoEffects};
use crate::routes::Function;
use crate::web::App;

/// Where a Lambda function finds its config: the template's config layer
/// (unpacked under `/opt`) holds the validated `config.ini`. The config is
/// not compiled in, so editing it rebuilds no function.
pub const LAYER_CONFIG: &str = "/opt/config.ini";

/// Where the config came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
}

impl ConfigSource {
    /// The config layer's copy, where every deployed function reads it.
    pub fn layer() -> Self {
        ConfigSource::File(PathBuf::from(LAYER_CONFIG))
    }
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

pub fn load_config(source: &ConfigSource) -> Result<Loaded, LoadError> {
    match source {
        ConfigSource::File(p) => Config::load(p),
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
    let token = auth_token(&loaded.config);
    if require_auth && token.is_none() {
        return Err(
            "no Twilio auth token: set TWILIO_AUTH_TOKEN (every webhook must be signature-checked)"
                .into(),
        );
    }
    let clock = Clock::from_env()?;
    let public_url = public_url()?;
    Ok(assemble(
        source,
        loaded,
        Wiring {
            auth_token: token,
            public_url,
            default_scheme: if require_auth { "https" } else { "http" },
            only,
        },
        clock,
    ))
}

/// The start-up of an IVR run inside another program (`ivr call --config`):
/// the config at `path` (whatever `IVR_CONFIG` says), the auth token as
/// [`startup`] finds it (possibly none), `clock` (else `IVR_NOW`), every
/// route, and the request's own origin (`IVR_PUBLIC_URL` is for servers
/// Twilio reaches, not for an in-process IVR).
pub fn startup_in_process(path: &Path, clock: Option<Clock>) -> Result<Startup, String> {
    let source = ConfigSource::File(path.to_path_buf());
    let loaded = load_config(&source).map_err(|e| {
        let lines: Vec<String> = e.diagnostics.iter().map(|d| d.render(&e.path)).collect();
        format!("invalid config:\n{}", lines.join("\n"))
    })?;
    let clock = match clock {
        Some(c) => c,
        None => Clock::from_env()?,
    };
    let token = auth_token(&loaded.config);
    Ok(assemble(
        source,
        loaded,
        Wiring {
            auth_token: token,
            public_url: None,
            default_scheme: "http",
            only: None,
        },
        clock,
    ))
}

/// How the app meets the outside world; the rest of [`App`] comes from the config.
struct Wiring {
    auth_token: Option<String>,
    public_url: Option<String>,
    default_scheme: &'static str,
    only: Option<Function>,
}

/// The one place an [`App`] is put together.
fn assemble(source: ConfigSource, loaded: Loaded, wiring: Wiring, clock: Clock) -> Startup {
    Startup {
        app: App {
            auth_token: wiring.auth_token,
            public_url: wiring.public_url,
            default_scheme: wiring.default_scheme,
            only: wiring.only,
            config: loaded.config,
        },
        clock,
        warnings: loaded.warnings,
        source,
    }
}

/// `TWILIO_API_BASE`, else Twilio's own API.
pub fn twilio_api_base() -> String {
    env("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into())
}

/// A Twilio REST client for `app`'s account (`TWILIO_ACCOUNT_SID` or
/// `[twilio] account_sid`, and the app's auth token) at
/// [`twilio_api_base`]; `Ok(None)` without a SID or a token.
#[cfg(feature = "twilio-rest")]
pub fn twilio_client(app: &App) -> Result<Option<crate::twilio::TwilioClient>, String> {
    match (account_sid(&app.config), app.auth_token.as_deref()) {
        (Some(sid), Some(token)) => {
            crate::twilio::TwilioClient::new(&twilio_api_base(), &sid, token).map(Some)
        }
        _ => Ok(None),
    }
}

/// JSON logs; `RUST_LOG` filters (default `info`). Secrets are never logged.
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_target(false)
        .with_writer(std::io::stderr);
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(log_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .try_init();
}

/// `RUST_LOG` as a level (`debug`) or per-target levels
/// (`shared=debug,info`); anything else, or nothing, is `info`. A
/// `Targets` filter rather than an `EnvFilter`: no regex engine in every
/// function (about 0.25 MB of each zip) for span-field filters nobody uses.
pub fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    // An empty directive would mean "everything, at trace": drop them.
    let directives: Vec<&str> = rust_log
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    Some(directives.join(","))
        .filter(|d| !d.is_empty())
        .and_then(|d| d.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::log_filter;
    use tracing::Level;

    #[test]
    fn rust_log_is_a_level_or_per_target_levels_else_info() {
        let enabled = |v: Option<&str>, target: &str, level: Level| {
            log_filter(v).would_enable(target, &level)
        };
        for v in [None, Some(""), Some("  "), Some(" , "), Some("nonsense=!!")] {
            assert!(enabled(v, "shared", Level::INFO), "{v:?}");
            assert!(!enabled(v, "shared", Level::DEBUG), "{v:?}");
        }
        assert!(enabled(Some("debug"), "hyper", Level::DEBUG));
        assert!(!enabled(Some("info,"), "hyper", Level::DEBUG));
        assert!(!enabled(Some("warn"), "shared", Level::INFO));
        let t = Some("shared=debug,warn");
        assert!(enabled(t, "shared::flow", Level::DEBUG));
        assert!(!enabled(t, "hyper", Level::INFO));
        assert!(enabled(t, "hyper", Level::WARN));
    }
}
