//! `ivr serve`: every route in one local process, same handlers as Lambda,
//! local adapters (SMS into the data folder).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use shared::recordings::Settings;
use shared::shell::{self, ConfigSource, Startup};
use shared::twilio::TwilioClient;
use shared::web::{WebRequest, MAX_BODY};

use crate::adapters::{AnyMailer, AnyState, AnyStore, AnyTwilio};
use crate::worker::{self, LocalRunner, LocalTwilio, Worker};

pub fn run(config: Option<PathBuf>, port: u16) -> ExitCode {
    shell::init_logging();
    if let Some(p) = config {
        std::env::set_var("IVR_CONFIG", p);
    }
    let default = if Path::new("config.ini").exists() {
        ConfigSource::File(PathBuf::from("config.ini"))
    } else {
        ConfigSource::Embedded
    };
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

/// The recordings pipeline for this process: local folder adapters by
/// default; S3, SES and DynamoDB when `IVR_RECORDINGS_BUCKET` (and
/// `IVR_STATE_TABLE`) name them; Twilio's REST API when credentials are set.
async fn pipeline(st: &Startup) -> Result<LocalRunner, String> {
    let config = &st.app.config;
    let data_dir = shell::data_dir();
    let (mut store, mut mailer, mut state) = worker::local_adapters(&data_dir);
    let names = ivr_aws::Names::from_env()?;
    if names.bucket.is_some() || names.table.is_some() {
        let aws = ivr_aws::Adapters::new(&ivr_aws::sdk_config().await, &names);
        if let Some(s3) = aws.store.clone() {
            store = AnyStore::S3(s3);
            mailer = AnyMailer::Ses(aws.mailer.clone());
        }
        if let Some(table) = aws.state.clone() {
            state = AnyState::Dynamo(table);
        }
        eprintln!(
            "  recordings: AWS adapters ({})",
            [names.bucket.as_deref(), names.table.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
        );
    } else {
        eprintln!(
            "  recordings: {}/recordings, email alerts in {}/outbox",
            data_dir.display(),
            data_dir.display()
        );
    }
    let mut settings = Settings::from_config(config);
    let twilio = match (shell::account_sid(config), st.app.auth_token.clone()) {
        (Some(sid), Some(token)) => {
            let base = std::env::var("TWILIO_API_BASE")
                .unwrap_or_else(|_| "https://api.twilio.com".into());
            AnyTwilio::Rest(TwilioClient::new(&base, &sid, &token)?)
        }
        _ => {
            settings.never_delete = true;
            eprintln!("  no Twilio account SID and token: SMS alerts go to {}/sms, Twilio's recordings are kept", data_dir.display());
            AnyTwilio::Local(LocalTwilio {
                sms_dir: data_dir.join("sms"),
            })
        }
    };
    if settings.email_from.is_none() {
        settings.email_from = Some("ivr@localhost".into());
    }
    Ok(worker::start(
        Worker {
            config: config.clone(),
            settings,
            store,
            mailer,
            twilio,
            state: Arc::new(state),
            clock: st.clock,
        },
        data_dir,
    ))
}

async fn serve(st: Arc<Startup>, runner: Arc<LocalRunner>, port: u16) -> ExitCode {
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

async fn handle(
    st: &Startup,
    runner: &LocalRunner,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
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
    let handled = shell::serve_one(&st.app, runner, &st.clock, &web).await;
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
