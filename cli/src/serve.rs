//! `ivr serve`: every route in one local process, same handlers and the
//! same effect runner as Lambda, on the adapters [`crate::adapters`] picks
//! (by default the data folder; SMS into it), with the in-process worker
//! ([`crate::worker`]) running recording jobs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use shared::effects::{serve_one, Effects};
use shared::shell::{self, ConfigSource, Startup};
use shared::web::{WebRequest, MAX_BODY};

use crate::adapters::{self, AnyState, AnyTwilio};
use crate::worker::{self, LocalQueue, Worker};

/// What carries out `ivr serve`'s effects.
type Runner = Effects<LocalQueue, AnyState, AnyTwilio>;

pub fn run(config: Option<PathBuf>, port: u16) -> ExitCode {
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
        let runner = match pipeline(&startup).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("ivr serve: {e}");
                return ExitCode::from(1);
            }
        };
        serve(Arc::new(startup), Arc::new(runner), port).await
    })
}

/// The recordings pipeline for this process: the adapters, the worker on
/// them, and the effect runner feeding it.
async fn pipeline(st: &Startup) -> Result<Runner, String> {
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

async fn serve(st: Arc<Startup>, runner: Arc<Runner>, port: u16) -> ExitCode {
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
            eprintln!("  call-in line: http://{bound}/ivr/action/{a}   (try: cargo run --bin ivr -- call --url http://{bound}/ivr/action/{a} --queue-position 2 --queue-avg-wait 120)");
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
    eprintln!("  behind a tunnel, set IVR_PUBLIC_URL to the https URL Twilio calls, and TWILIO_AUTH_TOKEN");
    // Tests read this line to learn the port when started with --port 0.
    println!("listening on http://{bound}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let st = st.clone();
        let runner = runner.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let st = st.clone();
                let runner = runner.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&st, &runner, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn handle(st: &Startup, runner: &Runner, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            return reply(
                413,
                "text/plain; charset=utf-8",
                "request body too large".into(),
            )
        }
    };
    let web = WebRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        stage_prefix: None,
    };
    let handled = serve_one(&st.app, runner, &st.clock, &web).await;
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
