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
use shared::shell::{self, ConfigSource, Startup};
use shared::web::{WebRequest, MAX_BODY};

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
    rt.block_on(serve(Arc::new(startup), port))
}

async fn serve(st: Arc<Startup>, port: u16) -> ExitCode {
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
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let st = st.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&st, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn handle(st: &Startup, req: Request<Incoming>) -> Response<Full<Bytes>> {
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
    let handled = shell::serve_one(&st.app, &st.messenger, &st.clock, &web).await;
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
