//! TwiML per request, on the hot path a Lambda function runs for every webhook.
//!
//! `cargo bench -p shared --bench twiml`
//!
//! - `handle/*`: `shared::web::App::handle`, the full per-request path
//!   (size limit, routing, public URL, form parsing, `X-Twilio-Signature`
//!   check when signed, the flow, rendering), with a realistic Twilio POST.
//!   `unsigned` runs with `auth_token: None`; `signed` carries a valid
//!   signature and the check is on, as in Lambda.
//! - `flow/*`: `shared::flow::respond` plus rendering the TwiML, no HTTP layer.
//! - `parts/*`: what `handle` spends its time on (form parsing, the
//!   signature check, rendering), for the menu request.
//! - `config/parse_validate`: the repository's `config.ini` → a validated `Config`
//!   (what every function does once at start-up).
//!
//! Target: ≤ 5 µs per TwiML request (the Python original took ~84 µs).

use std::hint::black_box;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Method};

use shared::flow::{self, Call, Params};
/// The repository's config: what the benchmarks measure.
const EMBEDDED_CONFIG: &str = include_str!("../../config.ini");
use shared::web::{App, WebRequest};
use shared::{signature, Config, Route};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "abc123.execute-api.eu-west-2.amazonaws.com";

/// A Tuesday, 11:00 in London (BST): the office is open, so welcome and the
/// menu take their normal (not the closed) path.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 3, 10, 0, 0).unwrap()
}

fn config() -> Config {
    Config::parse(EMBEDDED_CONFIG)
        .expect("the repository's config.ini is valid")
        .config
}

/// The parameters Twilio posts with every voice webhook (plus `extra`).
fn twilio_params(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("CallStatus", "in-progress"),
        (
            "CallToken",
            "%7B%22parentCallInfoToken%22%3A%22eyJhbGciOiJFUzI1NiJ9%22%7D",
        ),
        ("Called", "+442079460123"),
        ("CalledCity", ""),
        ("CalledCountry", "GB"),
        ("CalledState", ""),
        ("CalledZip", ""),
        ("Caller", "+447700900555"),
        ("CallerCity", ""),
        ("CallerCountry", "GB"),
        ("CallerState", ""),
        ("CallerZip", ""),
        ("Direction", "inbound"),
        ("From", "+447700900555"),
        ("FromCity", ""),
        ("FromCountry", "GB"),
        ("FromState", ""),
        ("FromZip", ""),
        ("To", "+442079460123"),
        ("ToCity", ""),
        ("ToCountry", "GB"),
        ("ToState", ""),
        ("ToZip", ""),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    p.sort();
    p
}

/// One webhook, as the Lambda glue hands it to `App::handle`.
struct Case {
    name: &'static str,
    path: &'static str,
    query: Option<&'static str>,
    params: Vec<(String, String)>,
}

impl Case {
    fn route(&self) -> Route {
        Route::parse(self.path).expect("a known route")
    }

    fn request(&self, signed: bool) -> WebRequest {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.params)
            .finish();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert("user-agent", HeaderValue::from_static("TwilioProxy/1.1"));
        if signed {
            let mut url = format!("https://{HOST}{}", self.path);
            if let Some(q) = self.query {
                url.push('?');
                url.push_str(q);
            }
            let sig = signature::compute(TOKEN, &url, &self.params);
            headers.insert("x-twilio-signature", HeaderValue::from_str(&sig).unwrap());
        }
        WebRequest {
            method: Method::POST,
            path: self.path.to_string(),
            query: self.query.map(str::to_string),
            headers,
            body: body.into_bytes(),
            stage_prefix: None,
        }
    }

    /// All parameters the flow sees: the form, then the query string.
    fn flow_params(&self) -> Params<'static> {
        let mut p = Params::from_pairs(&self.params);
        if let Some(q) = self.query {
            p.0.extend(Params::from_pairs(&Params::from_query(q).0).0);
        }
        p
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "welcome",
            path: "/ivr",
            query: None,
            params: twilio_params(&[]),
        },
        Case {
            name: "menu",
            path: "/ivr/menu",
            query: None,
            params: twilio_params(&[]),
        },
        Case {
            name: "forward",
            path: "/ivr/action/sales",
            query: None,
            params: twilio_params(&[]),
        },
        Case {
            name: "voicemail",
            path: "/ivr/action/voicemail",
            query: None,
            params: twilio_params(&[]),
        },
    ]
}

fn app(config: &Config, signed: bool) -> App {
    App {
        config: config.clone(),
        auth_token: signed.then(|| TOKEN.to_string()),
        public_url: None,
        default_scheme: "https",
        only: None,
    }
}

/// What every case must answer, so the bench never measures an error path.
fn expected(name: &str) -> &'static str {
    match name {
        "welcome" => "<Redirect",
        "menu" => "<Gather",
        "forward" => "<Dial",
        "voicemail" => "<Record",
        _ => unreachable!(),
    }
}

fn bench_handle(c: &mut Criterion) {
    let config = config();
    let now = now();
    let mut g = c.benchmark_group("handle");
    for signed in [false, true] {
        let app = app(&config, signed);
        for case in cases() {
            let req = case.request(signed);
            let out = app.handle(&req, now);
            assert_eq!(out.response.status, 200, "{}: {}", case.name, out.outcome);
            assert!(
                out.response.body.contains(expected(case.name)),
                "{}: {}",
                case.name,
                out.response.body
            );
            let id = format!(
                "{}/{}",
                case.name,
                if signed { "signed" } else { "unsigned" }
            );
            g.bench_function(id, |b| {
                b.iter(|| black_box(app.handle(black_box(&req), black_box(now))))
            });
        }
    }
    // The 403 path: a request with a wrong signature (what an attacker costs us).
    let app = app(&config, true);
    let mut bad = cases()[0].request(true);
    bad.headers.insert(
        "x-twilio-signature",
        HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    );
    assert_eq!(app.handle(&bad, now).response.status, 403);
    g.bench_function("welcome/bad_signature", |b| {
        b.iter(|| black_box(app.handle(black_box(&bad), black_box(now))))
    });
    g.finish();
}

fn bench_flow(c: &mut Criterion) {
    let config = config();
    let base = format!("https://{HOST}");
    let mut g = c.benchmark_group("flow");
    for case in cases() {
        let route = case.route();
        let params = case.flow_params();
        let call = Call {
            base: &base,
            params: &params,
            now: now(),
        };
        let twiml = flow::respond(&config, &route, &call).twiml.render();
        assert!(
            twiml.contains(expected(case.name)),
            "{}: {twiml}",
            case.name
        );
        g.bench_function(format!("{}/respond", case.name), |b| {
            b.iter(|| black_box(flow::respond(&config, black_box(&route), black_box(&call))))
        });
        g.bench_function(format!("{}/respond_render", case.name), |b| {
            b.iter(|| {
                black_box(
                    flow::respond(&config, black_box(&route), black_box(&call))
                        .twiml
                        .render(),
                )
            })
        });
    }
    g.finish();
}

/// The pieces `handle` spends its time on, to show what dominates.
fn bench_parts(c: &mut Criterion) {
    let case = &cases()[1];
    let req = case.request(true);
    let url = format!("https://{HOST}{}", case.path);
    let sig = req.headers["x-twilio-signature"]
        .to_str()
        .unwrap()
        .to_string();
    let form: Vec<(String, String)> = form_urlencoded::parse(&req.body).into_owned().collect();
    assert!(signature::validate_form(TOKEN, &url, &form, &sig));
    let config = config();
    let base = format!("https://{HOST}");
    let params = case.flow_params();
    let call = Call {
        base: &base,
        params: &params,
        now: now(),
    };
    let reply = flow::respond(&config, &case.route(), &call);
    let mut g = c.benchmark_group("parts");
    g.bench_function("form_parse_owned", |b| {
        b.iter(|| {
            black_box(
                form_urlencoded::parse(black_box(&req.body))
                    .into_owned()
                    .collect::<Vec<(String, String)>>(),
            )
        })
    });
    g.bench_function("signature_validate_form", |b| {
        b.iter(|| {
            black_box(signature::validate_form(
                TOKEN,
                black_box(&url),
                black_box(&form),
                black_box(&sig),
            ))
        })
    });
    g.bench_function("render_menu", |b| {
        b.iter(|| black_box(black_box(&reply.twiml).render()))
    });
    g.finish();
}

fn bench_config(c: &mut Criterion) {
    let mut g = c.benchmark_group("config");
    g.bench_function("parse_validate", |b| {
        b.iter(|| black_box(Config::parse(black_box(EMBEDDED_CONFIG)).is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench_handle, bench_flow, bench_parts, bench_config);
criterion_main!(benches);
