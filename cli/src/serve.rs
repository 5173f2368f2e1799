//! `ivr serve`: every route in one local process, same handlers and the
//! same effect runner as Lambda, on the adapters [`crate::adapters`] picks
//! (by default the data folder; SMS into it), with the in-process worker
//! ([`crate::worker`]) running recording jobs.
//!
//! The edge is hyper's HTTP/1 connection driver with its header-read timer
//! (which also bounds how long an idle keep-alive connection is kept), a
//! body-read timeout, a cap on concurrent connections, and an accept loop
//! that backs off (and logs rate-limited) when accepting fails for want of
//! descriptors or memory, instead of retrying at once: see [`Limits`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use shared::effects::{serve_one, Effects};
use shared::shell::{self, ConfigSource, Startup};
use shared::web::{WebRequest, MAX_BODY};
use tokio::sync::Semaphore;

use crate::adapters::WorkApi;
use crate::adapters::{self, AnyState, AnyTwilio, AnyWork};
use crate::worker::{self, LocalQueue, Worker};

/// What carries out `ivr serve`'s effects.
type Runner = Effects<LocalQueue, AnyState, AnyTwilio, Arc<AnyWork>>;

/// How `ivr serve` treats connections: flags of `ivr serve`, each with an
/// environment variable (so a test harness can set them without flags).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Limits {
    /// Time a client has to send a request's head (request line and headers),
    /// counted from when the connection opens and again after each response:
    /// so it is also how long an idle keep-alive connection is kept. Then the
    /// connection is closed. `500ms`, `10s`, `1m`; a bare number is seconds.
    #[arg(long, env = "IVR_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub header_timeout: Duration,
    /// Time a client has to send a request's body once its head is in; then
    /// 408 and the connection is closed.
    #[arg(long, env = "IVR_BODY_TIMEOUT", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub body_timeout: Duration,
    /// Connections served at once; further clients wait in the listen
    /// backlog until one closes.
    #[arg(long, env = "IVR_MAX_CONNECTIONS", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_connections: u32,
}

/// The largest request head a client may send (a longer one is answered
/// 431), and the read buffer of a connection. Twilio's heads are a few KiB.
const MAX_HEAD: usize = 64 * 1024;

/// `500ms`, `10s`, `2m` or a bare number of seconds; more than 0, at most an hour.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000)
    } else {
        (t, 1000)
    };
    let digits = digits.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a duration (e.g. 500ms, 10s, 1m)"));
    }
    let ms = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .filter(|ms| (1..=3_600_000).contains(ms))
        .ok_or_else(|| format!("`{text}`: must be more than 0 and at most 1 hour"))?;
    Ok(Duration::from_millis(ms))
}

pub fn run(config: Option<PathBuf>, port: u16, limits: Limits) -> ExitCode {
    shell::init_logging();
    if let Some(p) = config {
        std::env::set_var("IVR_CONFIG", p);
    }
    let default = ConfigSource::File(PathBuf::from("config.ini"));
    let startup = match shell::startup(default, None, false) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ivr serve: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ivr serve: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let api = match adapters::work_api(&startup, &shell::data_dir()).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("ivr serve: {e}");
                return ExitCode::from(1);
            }
        };
        let runner = match pipeline(&startup).await {
            // Callbacks asked for in the queue go into the API's database.
            Ok(r) => r.with_work(api.store.clone()),
            Err(e) => {
                eprintln!("ivr serve: {e}");
                return ExitCode::from(1);
            }
        };
        let served = Served {
            st: Arc::new(startup),
            runner: Arc::new(runner),
            api: Arc::new(api),
        };
        serve(served, port, limits).await
    })
}

/// The recordings pipeline for this process: the adapters, the worker on
/// them, and the effect runner feeding it.
async fn pipeline(st: &Startup) -> Result<Effects<LocalQueue, AnyState, AnyTwilio>, String> {
    let data_dir = shell::data_dir();
    let a = adapters::from_env(st, &data_dir).await?;
    let queue = worker::start(
        Worker {
            config: st.app.config.clone(),
            settings: a.settings,
            store: a.store,
            mailer: a.mailer,
            twilio: a.twilio.clone(),
            state: a.state.clone(),
            clock: st.clock,
        },
        &data_dir,
    );
    Ok(Effects::none()
        .with_queue(queue)
        .with_state(a.state)
        .with_twilio(a.twilio))
}

/// What every connection serves: the webhooks with their effects, and the
/// work-item API.
#[derive(Clone)]
struct Served {
    st: Arc<Startup>,
    runner: Arc<Runner>,
    api: Arc<WorkApi>,
}

async fn serve(served: Served, port: u16, limits: Limits) -> ExitCode {
    let st = &served.st;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ivr serve: cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    let bound = listener.local_addr().unwrap_or(addr);
    for w in &st.warnings {
        eprintln!("{}", w.render(&st.source.to_string()));
    }
    if st.app.auth_token.is_none() {
        eprintln!(
            "WARNING: no TWILIO_AUTH_TOKEN (env or [twilio] auth_token): serving OPEN, requests are NOT signature-checked. Never expose this to the internet."
        );
    }
    eprintln!("ivr serve: {} on http://{bound}", st.source);
    eprintln!("  point a call at http://{bound}/ivr   (try: cargo run --bin ivr -- call --url http://{bound}/ivr)");
    let config = &st.app.config;
    for entry in config.entries().iter().skip(1) {
        if let shared::config::Node::Action(a) = entry {
            eprintln!("  call-in line: http://{bound}/ivr/action/{a}   (try: cargo run --bin ivr -- call --url http://{bound}/ivr/action/{a} --queue-position 2 --queue-avg-wait 120 --press -)");
        }
    }
    for line in config.agent_lines.values() {
        if let Some(agent) = line.agents.first() {
            eprintln!(
                "  agent line:   http://{bound}/ivr/agent/{}   (try: cargo run --bin ivr -- call --url http://{bound}/ivr/agent/{} --from {agent} --dial completed,no-answer,canceled)",
                line.name, line.name
            );
        }
    }
    if served.api.keys.is_off() {
        eprintln!(
            "  work-item API: off (set IVR_API_KEYS to turn on http://{bound}/api/callbacks)"
        );
    } else {
        eprintln!("  work-item API: http://{bound}/api/callbacks   (Authorization: Bearer <a key from IVR_API_KEYS>)");
    }
    eprintln!("  behind a tunnel, set IVR_PUBLIC_URL to the https URL Twilio calls, and TWILIO_AUTH_TOKEN");
    // Tests read this line to learn the port when started with --port 0.
    println!("listening on http://{bound}");
    accept_loop(listener, served, limits).await
}

/// Accepts connections while fewer than `max_connections` are open, each
/// served by hyper with the header-read timer. Never returns.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    served: Served,
    limits: Limits,
) -> ExitCode {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let mut backoff = Backoff::default();
    let mut error_log = Every::new(LOG_EVERY);
    let mut full_log = Every::new(LOG_EVERY);
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if let Some(suppressed) = full_log.tick(Instant::now()) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        suppressed,
                        "connection limit reached: new clients wait until one closes"
                    );
                }
                match slots.clone().acquire_owned().await {
                    Ok(p) => p,
                    // The semaphore is never closed.
                    Err(_) => return ExitCode::from(1),
                }
            }
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff.reset();
                stream
            }
            Err(e) if is_connection_error(&e) => {
                // That client is gone; the next one is unaffected.
                tracing::debug!(error = %e, "accept: connection failed before it was accepted");
                continue;
            }
            Err(e) => {
                // Out of descriptors or memory: retrying at once would spin
                // (the pending connection keeps the listener readable).
                let delay = backoff.next();
                if let Some(suppressed) = error_log.tick(Instant::now()) {
                    tracing::warn!(
                        error = %e,
                        retry_in_ms = delay.as_millis() as u64,
                        suppressed,
                        "accept failed; backing off (suppressed = failures since the last such line)"
                    );
                }
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        let served = served.clone();
        tokio::spawn(async move {
            let _slot = permit;
            let body_timeout = limits.body_timeout;
            let svc = service_fn(move |req| {
                let served = served.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(handle(&served, req, body_timeout).await)
                }
            });
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(MAX_HEAD)
                .max_header_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

/// How often at most a repeated edge condition (accept errors, the
/// connection limit) is logged.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Accept errors that concern one client only: retried at once.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// The wait after each consecutive accept failure: 5 ms, doubling, at most
/// 1 s; back to the start once a connection is accepted.
#[derive(Debug, Default)]
struct Backoff {
    last: Option<Duration>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    fn next(&mut self) -> Duration {
        let d = self
            .last
            .map_or(Self::FIRST, |d| d.saturating_mul(2).min(Self::MAX));
        self.last = Some(d);
        d
    }

    fn reset(&mut self) {
        self.last = None;
    }
}

/// A rate limit for a log line: at most one per `period`; each line says how
/// many were suppressed since the previous one.
#[derive(Debug)]
struct Every {
    period: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Every {
    fn new(period: Duration) -> Self {
        Every {
            period,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(suppressed)` if a line may be logged at `now`.
    fn tick(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.period => {
                self.suppressed = self.suppressed.saturating_add(1);
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

async fn handle(
    served: &Served,
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let collected =
        tokio::time::timeout(body_timeout, Limited::new(body, MAX_BODY).collect()).await;
    let body = match collected {
        Ok(Ok(b)) => b.to_bytes().to_vec(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return closing(413, "request body too large")
        }
        // Bad chunked framing, a Content-Length the body did not keep, a
        // client that went away mid-body.
        Ok(Err(_)) => return closing(400, "malformed request body"),
        Err(_) => return closing(408, "request body not received in time"),
    };
    let web = WebRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        stage_prefix: None,
    };
    if shared::work::api::is_api_path(&web.path) {
        let r = served.api.serve(&web, served.st.clock.now()).await;
        return reply(r.status, r.content_type, r.body);
    }
    let handled = serve_one(&served.st.app, &*served.runner, &served.st.clock, &web).await;
    reply(
        handled.response.status,
        handled.response.content_type,
        handled.response.body,
    )
}

fn reply(status: u16, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    resp
}

/// A plain-text error after which the connection is not reused (the rest of
/// the body, if any, is never read).
fn closing(status: u16, message: &str) -> Response<Full<Bytes>> {
    let mut resp = reply(status, "text/plain; charset=utf-8", message.into());
    resp.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 2m "), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("60m"), Ok(Duration::from_secs(3600)));
        for bad in [
            "",
            "0",
            "0s",
            "-1s",
            "+1s",
            "1.5s",
            "soon",
            "61m",
            "1h",
            "s",
            "99999999999999999999",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u128> = (0..10).map(|_| b.next().as_millis()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.next(), Duration::from_millis(5));
    }

    #[test]
    fn log_rate_limit_counts_what_it_suppressed() {
        let t0 = Instant::now();
        let mut e = Every::new(Duration::from_secs(10));
        assert_eq!(e.tick(t0), Some(0));
        for i in 1..=99 {
            assert_eq!(e.tick(t0 + Duration::from_millis(i * 10)), None);
        }
        assert_eq!(e.tick(t0 + Duration::from_secs(10)), Some(99));
        assert_eq!(e.tick(t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn per_client_accept_errors_are_not_backed_off() {
        use std::io::{Error, ErrorKind};
        assert!(is_connection_error(&Error::from(
            ErrorKind::ConnectionAborted
        )));
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: back off.
        for errno in [24, 23, 105, 12] {
            assert!(
                !is_connection_error(&Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
    }
}
