//! Lambda glue: an API Gateway event in, the shared handler, a response out.
//! A function's `main` is one call to [`run`]; functions with effects (in
//! the `ivr-aws` crate) call [`start`], build their [`Effects`] runner from
//! the start-up, and [`serve`] with it.

use std::convert::Infallible;

use lambda_http::request::RequestContext;
pub use lambda_http::Error;
use lambda_http::{service_fn, Body, Request, RequestExt, Response};

use crate::effects::{serve_one, EffectRunner, Effects};
use crate::routes::Function;
use crate::shell::{self, ConfigSource, Startup};
use crate::web::{WebRequest, WebResponse};
use crate::work::api::{is_api_path, Api};
use crate::work::WorkStore;

/// Starts the function: validates the config layer's `config.ini` (or `IVR_CONFIG`) and
/// the auth token once, then serves events. An invalid config or a missing
/// token stops it with one clear log line instead of serving anything.
pub async fn run(function: Function) -> Result<(), Error> {
    serve(start(function.name(), Some(function)), Effects::none()).await
}

/// Logging, then [`shell::startup`] for the function called `name` (serving
/// `only`, or nothing but pings), with its config warnings logged. Refuses
/// to start (see [`refuse`]) on an invalid config or a missing token. The
/// start-up lives as long as the instance.
pub fn start(name: &str, only: Option<Function>) -> &'static Startup {
    shell::init_logging();
    let startup =
        shell::startup(ConfigSource::layer(), only, true).unwrap_or_else(|e| refuse(name, &e));
    for w in &startup.warnings {
        tracing::warn!(function = name, config = %w.render(&startup.source.to_string()), "config warning");
    }
    // Leaking it gives the handler a 'static borrow.
    Box::leak(Box::new(startup))
}

/// Stops the instance with one error log line: Lambda reports the failed
/// init, and nothing is served on a half-built function.
pub fn refuse(function: &str, error: &str) -> ! {
    tracing::error!(function, error, "refusing to start");
    std::process::exit(1);
}

/// Serves API Gateway events with `runner` carrying out the effects.
pub async fn serve<R: EffectRunner + 'static>(
    st: &'static Startup,
    runner: R,
) -> Result<(), Error> {
    let runner: &'static R = Box::leak(Box::new(runner));
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(handle(st, runner, req).await)
    }))
    .await
}

/// Serves the work-item API (`/api/…`) on `api`'s store, and pings.
pub async fn serve_api<S: WorkStore + 'static>(
    st: &'static Startup,
    api: Api<S>,
) -> Result<(), Error> {
    let api: &'static Api<S> = Box::leak(Box::new(api));
    lambda_http::run(service_fn(move |req: Request| async move {
        let web = web_request(&req);
        if is_api_path(&web.path) {
            return Ok::<_, Infallible>(response(api.serve(&web, st.clock.now()).await));
        }
        let handled = serve_one(&st.app, &Effects::none(), &st.clock, &web).await;
        Ok(response(handled.response))
    }))
    .await
}

async fn handle<R: EffectRunner>(st: &Startup, runner: &R, req: Request) -> Response<Body> {
    let web = web_request(&req);
    let handled = serve_one(&st.app, runner, &st.clock, &web).await;
    response(handled.response)
}

fn web_request(req: &Request) -> WebRequest {
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.stage.clone(),
        Some(RequestContext::ApiGatewayV1(c)) => c.stage.clone(),
        _ => None,
    };
    let (stage_prefix, path) = split_stage(req.uri().path(), stage.as_deref());
    WebRequest {
        method: req.method().clone(),
        path,
        query: req.uri().query().map(str::to_string),
        headers: req.headers().clone(),
        body: req.body().as_ref().to_vec(),
        stage_prefix,
    }
}

fn response(r: WebResponse) -> Response<Body> {
    Response::builder()
        .status(r.status)
        .header("content-type", r.content_type)
        .body(Body::Text(r.body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

/// API Gateway puts a named stage in front of the path (`/api/ivr`); Twilio
/// signed the URL with it, routing wants it gone.
fn split_stage(path: &str, stage: Option<&str>) -> (Option<String>, String) {
    if let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") {
        let prefix = format!("/{stage}");
        if let Some(rest) = path.strip_prefix(&prefix) {
            if rest.starts_with('/') {
                return (Some(prefix), rest.to_string());
            }
        }
    }
    (None, path.to_string())
}

#[cfg(test)]
mod tests {
    use super::split_stage;

    #[test]
    fn strips_named_stages_only() {
        assert_eq!(
            split_stage("/api/ivr/menu", Some("api")),
            (Some("/api".into()), "/ivr/menu".into())
        );
        assert_eq!(
            split_stage("/ivr/menu", Some("$default")),
            (None, "/ivr/menu".into())
        );
        assert_eq!(
            split_stage("/ivr/menu", Some("api")),
            (None, "/ivr/menu".into())
        );
        assert_eq!(
            split_stage("/apix/ivr", Some("api")),
            (None, "/apix/ivr".into())
        );
    }
}
