//! Monitoring (issue 15), against the real `ivr serve`:
//!
//! - The reachability canary's script (infra/canary/reachability.js, the
//!   one template.yaml inlines) run with plain Node.js: it passes against
//!   a running server, fails when the server is stopped, and fails on
//!   wrong answers (a ping that is not the ping JSON, an error status, an
//!   unsigned `/ivr` that is not refused, an answer that never comes).
//! - Twilio's Debugger webhook `/twilio/alerts`: signed notifications for
//!   11200, 12100 and 13227 each give one `twilio alert` log line with the
//!   code, its meaning, the failing URL and the CallSid, and the template's
//!   metric filters count them (the filter patterns are evaluated on the
//!   very lines the server wrote); forged ones get 403 and log no alert;
//!   malformed ones never get a 5xx.
//! - The saved Logs Insights queries and the dashboard's log widgets name
//!   fields that the server's log lines really have.
//!
//! Every server and stand-in listens on 127.0.0.1; every wait has a deadline.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const CALL: &str = "CA0123456789abcdef0123456789abcdef";
/// The longest a canary run may take here (its own limit is 3 s per check).
const CANARY_DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// The canary script

/// One run of the canary script: exit code and its JSON lines.
struct CanaryRun {
    code: Option<i32>,
    lines: Vec<Value>,
    stdout: String,
    stderr: String,
}

impl CanaryRun {
    /// The result line of check `name`.
    fn check(&self, name: &str) -> &Value {
        self.lines
            .iter()
            .find(|l| l["check"] == name)
            .unwrap_or_else(|| panic!("no `{name}` line in:\n{}{}", self.stdout, self.stderr))
    }

    fn assert_passed(&self) {
        assert_eq!(
            self.code,
            Some(0),
            "the canary failed:\n{}{}",
            self.stdout,
            self.stderr
        );
        for check in ["ping", "unsigned-ivr-refused"] {
            assert_eq!(self.check(check)["ok"], true, "{}", self.stdout);
        }
    }

    /// Fails, and check `name` failed with a problem containing `why`.
    fn assert_failed(&self, name: &str, why: &str) {
        assert_eq!(
            self.code,
            Some(1),
            "the canary should fail:\n{}{}",
            self.stdout,
            self.stderr
        );
        let c = self.check(name);
        assert_eq!(c["ok"], false, "{}", self.stdout);
        let problem = c["problem"].as_str().unwrap_or_default();
        assert!(problem.contains(why), "{name}: `{problem}` lacks `{why}`");
        assert!(
            self.stdout.contains(r#"{"reachable":false}"#),
            "{}",
            self.stdout
        );
    }
}

/// `node infra/canary/reachability.js BASE`, with `env`, killed after [`CANARY_DEADLINE`].
fn canary(base: &str, env: &[(&str, &str)]) -> CanaryRun {
    let script = repo_root().join("infra/canary/reachability.js");
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .arg(base)
        .env_remove("IVR_BASE_URL")
        .env_remove("IVR_CANARY_TIMEOUT_MS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("node (20 or later) runs the canary script: install Node.js");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CANARY_DEADLINE;
    let status = loop {
        match child.try_wait().expect("wait for node") {
            Some(s) => break s,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the canary script ran longer than {CANARY_DEADLINE:?}");
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    CanaryRun {
        code: status.code(),
        lines,
        stdout,
        stderr,
    }
}

/// A stand-in server on 127.0.0.1 that answers every request with
/// `answer(method, path)`: `Some(raw HTTP response)`, or `None` to hold the
/// connection open without a word. Stopped on drop.
struct Stub {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Stub {
    fn start(answer: fn(&str, &str) -> Option<String>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub");
        let port = listener.local_addr().expect("stub address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let (method, path) = read_request(&mut stream);
                match answer(&method, &path) {
                    Some(resp) => {
                        let _ = stream.write_all(resp.as_bytes());
                    }
                    None => held.push(stream),
                }
            }
        });
        Stub { port, stop }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request (head and `Content-Length` body); returns method and path.
fn read_request(stream: &mut TcpStream) -> (String, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut body = vec![0u8; common::content_length(&head).min(64 * 1024)];
    let _ = stream.read_exact(&mut body);
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    (method, path)
}

fn http(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// What `ivr serve` says to an unsigned POST /ivr.
fn refused() -> String {
    http(
        "403 Forbidden",
        "text/plain; charset=utf-8",
        "missing X-Twilio-Signature",
    )
}

#[test]
fn the_canary_passes_against_a_running_server() {
    let srv = Server::repo();
    let run = canary(&srv.base, &[]);
    run.assert_passed();
    assert_eq!(run.check("ping")["status"], 200);
    assert_eq!(run.check("unsigned-ivr-refused")["status"], 403);
    assert!(run.check("ping")["ms"].as_u64().unwrap() < 3000);
    // Its requests are served like any other: the refusal is logged as one.
    assert!(srv
        .stderr_line(&[r#""route":"welcome""#, r#""status":403"#])
        .is_some());
    // A trailing slash on the base URL is the same URL.
    canary(&format!("{}/", srv.base), &[]).assert_passed();
}

#[test]
fn the_canary_fails_when_the_server_is_stopped() {
    let srv = Server::repo();
    let base = srv.base.clone();
    canary(&base, &[]).assert_passed();
    drop(srv); // killed and waited for: nothing listens on the port any more
    let run = canary(&base, &[]);
    run.assert_failed("ping", "request failed");
    run.assert_failed("unsigned-ivr-refused", "request failed");
}

#[test]
fn the_canary_fails_on_wrong_answers() {
    // An IVR that runs open (no auth token) answers the unsigned call: not refused.
    let open = Server::builder(repo_config()).without_token().start();
    let run = canary(&open.base, &[]);
    assert_eq!(run.check("ping")["ok"], true);
    run.assert_failed("unsigned-ivr-refused", "status 200, expected 403");

    // A ping that is not the ping JSON.
    let wrong_json = Stub::start(|_, path| {
        Some(match path {
            "/ping" => http("200 OK", "application/json", r#"{"name":"pong"}"#),
            _ => refused(),
        })
    });
    canary(&wrong_json.base(), &[]).assert_failed("ping", "not the ping JSON");

    // A ping whose clock is no instant.
    let bad_clock = Stub::start(|_, path| {
        Some(match path {
            "/ping" => http(
                "200 OK",
                "application/json",
                r#"{"name":"ping","invokedAt":"yesterday"}"#,
            ),
            _ => refused(),
        })
    });
    canary(&bad_clock.base(), &[]).assert_failed("ping", "not an RFC 3339 instant");

    // A page that is not JSON at all (a proxy's error page, say).
    let html = Stub::start(|_, path| {
        Some(match path {
            "/ping" => http("200 OK", "text/html", "<html>maintenance</html>"),
            _ => refused(),
        })
    });
    canary(&html.base(), &[]).assert_failed("ping", "expected application/json");

    // A gateway error, and a 403 that is not the IVR's refusal.
    let gateway = Stub::start(|_, path| {
        Some(match path {
            "/ping" => http(
                "502 Bad Gateway",
                "application/json",
                r#"{"message":"Internal Server Error"}"#,
            ),
            _ => http(
                "403 Forbidden",
                "application/json",
                r#"{"message":"Forbidden"}"#,
            ),
        })
    });
    let run = canary(&gateway.base(), &[]);
    run.assert_failed("ping", "status 502, expected 200");
    run.assert_failed("unsigned-ivr-refused", "not the IVR's refusal");

    // An answer that never comes: over the limit (shortened here from 3 s).
    let silent = Stub::start(|_, _| None);
    let started = Instant::now();
    let run = canary(&silent.base(), &[("IVR_CANARY_TIMEOUT_MS", "300")]);
    run.assert_failed("ping", "no complete answer within 300 ms");
    run.assert_failed("unsigned-ivr-refused", "no complete answer within 300 ms");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn the_canary_refuses_urls_it_must_not_call() {
    for base in ["http://example.com", "ftp://127.0.0.1", "not a url", ""] {
        let run = canary(base, &[]);
        assert_eq!(run.code, Some(1), "{base}: {}", run.stdout);
        assert!(
            run.stderr.contains("reachability:"),
            "{base}: {}",
            run.stderr
        );
        assert!(run.lines.is_empty(), "{base}: nothing was called");
    }
}

// ---------------------------------------------------------------------------
// Twilio's Debugger webhook

/// A Debugger notification as Twilio posts it (form fields; Payload is JSON).
fn notification(level: &str, code: &str, url: &str, msg: &str) -> Vec<(String, String)> {
    let payload = serde_json::json!({
        "resource_sid": CALL,
        "service_sid": null,
        "error_code": code,
        "more_info": {"Msg": msg, "ErrorCode": code, "LogLevel": level.to_uppercase(), "url": url},
        "webhook": {
            "type": "application/json",
            "request": {
                "url": url,
                "method": "POST",
                "headers": {},
                "parameters": {"CallSid": CALL, "AccountSid": ACCOUNT_SID, "From": "+447700900555"}
            },
            "response": {"status_code": 502, "headers": {}, "body": null}
        }
    })
    .to_string();
    [
        ("Sid", format!("NO{}", &CALL[2..])),
        ("AccountSid", ACCOUNT_SID.to_string()),
        ("Level", level.to_string()),
        ("Timestamp", "2026-06-17T09:00:00Z".to_string()),
        ("PayloadType", "application/json".to_string()),
        ("Payload", payload),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn pairs(ps: &[(String, String)]) -> Vec<(&str, &str)> {
    ps.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Asserts an empty `<Response/>`.
fn assert_empty_response(reply: &Reply) {
    let root = reply.twiml();
    assert!(
        root.children.is_empty() && root.text.trim().is_empty(),
        "{}",
        reply.body
    );
}

/// The `twilio alert` log line whose code is `code`, parsed.
fn alert_line(srv: &Server, code: &str) -> Value {
    let code_field = format!(r#""code":"{code}""#);
    let line = srv
        .stderr_line(&[r#""message":"twilio alert""#, &code_field])
        .unwrap_or_else(|| panic!("no alert line for {code}:\n{}", srv.stderr()));
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// A metric filter of the template: name, pattern, metric, dimensions as (key, selector).
type Filter = (String, String, String, Vec<(String, String)>);

fn metric_filters() -> Vec<Filter> {
    let text = read(&repo_root().join("template.yaml"));
    let t: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Logs::MetricFilter")
        .map(|(k, r)| {
            let p = &r["Properties"];
            let m = &p["MetricTransformations"][0];
            let dims = m["Dimensions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|d| {
                    (
                        d["Key"].as_str().unwrap().to_string(),
                        d["Value"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (
                k.as_str().unwrap().to_string(),
                p["FilterPattern"].as_str().unwrap().to_string(),
                m["MetricName"].as_str().unwrap().to_string(),
                dims,
            )
        })
        .collect()
}

/// The value a `$.a.b` selector picks from a JSON log event.
fn select<'a>(event: &'a Value, selector: &str) -> &'a Value {
    let path = selector
        .strip_prefix("$.")
        .unwrap_or_else(|| panic!("selector {selector}"));
    path.split('.').fold(event, |v, k| &v[k])
}

/// Evaluates a JSON metric filter pattern of the form the template uses:
/// `{ $.a.b = "text" && $.c >= 500 && … }` (conjunctions of comparisons).
fn matches(pattern: &str, event: &Value) -> bool {
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a JSON filter pattern: {pattern}"));
    inner.split("&&").all(|term| {
        let term = term.trim();
        let (selector, rest) = term.split_once(' ').unwrap();
        let (op, value) = rest.trim().split_once(' ').unwrap();
        let actual = select(event, selector);
        let value = value.trim();
        if let Some(s) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            let equal = actual.as_str() == Some(s);
            match op {
                "=" => equal,
                "!=" => !equal,
                other => panic!("operator {other} on text in {pattern}"),
            }
        } else {
            let n: f64 = value.parse().unwrap();
            let Some(a) = actual.as_f64() else {
                return false;
            };
            match op {
                "=" => a == n,
                "!=" => a != n,
                ">=" => a >= n,
                "<=" => a <= n,
                ">" => a > n,
                "<" => a < n,
                other => panic!("operator {other} in {pattern}"),
            }
        }
    })
}

#[test]
fn signed_debugger_notifications_are_logged_with_code_meaning_url_and_call() {
    let srv = Server::repo();
    let menu_url = srv.url("/ivr/menu");
    let cases = [
        ("Error", "11200", "HTTP retrieval failure", "Bad Gateway"),
        (
            "Error",
            "12100",
            "not well-formed XML",
            "Document parse failure",
        ),
        ("Warning", "13227", "geographic permissions", ""),
    ];
    let filters = metric_filters();
    let filter = |name: &str| {
        filters
            .iter()
            .find(|f| f.0 == name)
            .unwrap_or_else(|| panic!("{name} is not in template.yaml"))
            .clone()
    };
    let errors = filter("TwilioErrorsMetricFilter");
    let by_code = filter("TwilioAlertsByCodeMetricFilter");
    for (level, code, meaning, msg) in cases {
        let ps = notification(level, code, &menu_url, msg);
        assert_empty_response(&srv.post("/twilio/alerts", &pairs(&ps)));
        let line = alert_line(&srv, code);
        let f = &line["fields"];
        assert_eq!(
            line["level"],
            if level == "Error" { "ERROR" } else { "WARN" },
            "{line}"
        );
        assert_eq!(f["alert_level"], level.to_lowercase(), "{line}");
        assert!(
            f["meaning"].as_str().unwrap().contains(meaning),
            "{code}: {line}"
        );
        assert_eq!(f["url"], menu_url.as_str(), "{line}");
        assert_eq!(f["call_sid"], CALL, "{line}");
        assert_eq!(f["detail"], msg, "{line}");
        assert_eq!(
            f["docs"],
            format!("https://www.twilio.com/docs/api/errors/{code}")
        );
        assert_eq!(f["problem"], "", "{line}");
        // The metric: every notification counts by code and level, errors also alone.
        assert!(matches(&by_code.1, &line), "{}: {line}", by_code.1);
        let dims: Vec<(&str, &Value)> = by_code
            .3
            .iter()
            .map(|(k, sel)| (k.as_str(), select(&line, sel)))
            .collect();
        assert_eq!(
            dims,
            vec![
                ("Code", &Value::from(code)),
                ("Level", &Value::from(level.to_lowercase()))
            ]
        );
        assert_eq!(matches(&errors.1, &line), level == "Error", "{line}");
        // And the request itself is one more request line, with its outcome.
        let outcome = format!(r#""outcome":"twilio {} {code}""#, level.to_lowercase());
        assert!(
            srv.stderr_line(&[r#""route":"twilio-alerts""#, r#""status":200"#, &outcome])
                .is_some(),
            "{}",
            srv.stderr()
        );
    }
    // Other lines never feed the alert metrics.
    for l in srv
        .stderr()
        .lines()
        .filter(|l| l.contains(r#""message":"request""#))
    {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(!matches(&by_code.1, &v) && !matches(&errors.1, &v), "{l}");
    }
}

#[test]
fn forged_notifications_are_refused_and_log_no_alert() {
    let srv = Server::repo();
    let ps = notification("Error", "11200", "https://x/ivr", "Bad Gateway");
    srv.request("/twilio/alerts")
        .params(&pairs(&ps))
        .signed_with_token("not-the-token")
        .send()
        .assert_status(403);
    srv.request("/twilio/alerts")
        .params(&pairs(&ps))
        .unsigned()
        .send()
        .assert_status(403);
    // Signed, then tampered with: another code than the one signed.
    let other = notification("Error", "12100", "https://x/ivr", "");
    srv.request("/twilio/alerts")
        .params(&pairs(&other))
        .signed_params(&pairs(&ps))
        .send()
        .assert_status(403);
    assert!(srv
        .stderr_line(&[r#""route":"twilio-alerts""#, r#""status":403"#])
        .is_some());
    // A signed request after them is logged; the forged ones never were.
    let ok = notification("Warning", "30003", "https://x/ivr", "");
    assert_empty_response(&srv.post("/twilio/alerts", &pairs(&ok)));
    alert_line(&srv, "30003");
    assert!(
        !srv.stderr().contains(r#""code":"11200""#) && !srv.stderr().contains(r#""code":"12100""#),
        "{}",
        srv.stderr()
    );
}

#[test]
fn malformed_notifications_never_get_a_5xx() {
    let srv = Server::repo();
    let deep = "[".repeat(20_000);
    let long = "x".repeat(40_000);
    // (what, form fields, the problem the alert line names, if any)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("no fields at all", vec![], "no Payload"),
        ("no Payload", vec![("Level", "Error")], "no Payload"),
        (
            "Payload not JSON",
            vec![("Level", "Error"), ("Payload", "{oops")],
            "Payload is not JSON",
        ),
        (
            "Payload an array",
            vec![("Level", "Error"), ("Payload", "[1,2]")],
            "Payload is not a JSON object",
        ),
        (
            "Payload nested past any limit",
            vec![("Level", "Error"), ("Payload", &deep)],
            "Payload is not JSON",
        ),
        (
            "an error_code that is no code",
            vec![
                ("Level", "Error"),
                (
                    "Payload",
                    r#"{"error_code": "11200\" injected", "webhook": 5}"#,
                ),
            ],
            "no error_code in the Payload",
        ),
        (
            "odd types and text",
            vec![
                ("Level", "\u{1F4A5}\u{0}"),
                (
                    "Payload",
                    r#"{"error_code": 13224, "more_info": [], "webhook": {"request": {"url": {}, "parameters": []}}}"#,
                ),
                ("Timestamp", "\u{7}"),
            ],
            "",
        ),
        (
            "a long message",
            vec![("Level", "Warning"), ("Payload", &long)],
            "Payload is not JSON",
        ),
    ];
    for (what, params, problem) in &cases {
        let reply = srv.post("/twilio/alerts", params);
        assert_eq!(reply.status, 200, "{what}: {}", reply.body);
        assert_empty_response(&reply);
        if !problem.is_empty() {
            let needle = format!(r#""problem":"{problem}""#);
            assert!(
                srv.stderr_line(&[r#""message":"twilio alert""#, &needle])
                    .is_some(),
                "{what}: {}",
                srv.stderr()
            );
        }
    }
    // A signed JSON body (bodySHA256): no form fields, so no Payload.
    const BODY: &str = r#"{"Level":"Error","Payload":"{\"error_code\":\"11200\"}"}"#;
    const SHA: &str = "e47914d91f5c341bc001a1ae1a94130cc8a516372570d7fd1111dd68e2a6b676";
    let reply = srv
        .request(&format!("/twilio/alerts?bodySHA256={SHA}"))
        .body("application/json", BODY)
        .send();
    assert_empty_response(&reply);
    // A signed GET with the fields in the query string is read like a post.
    let reply = srv
        .request("/twilio/alerts?Level=Error&Payload=%7B%22error_code%22%3A%2211205%22%7D")
        .method("GET")
        .send();
    assert_empty_response(&reply);
    alert_line(&srv, "11205");
    // Over the size limit: 413, still not a 5xx.
    let huge = "y".repeat(70 * 1024);
    srv.post("/twilio/alerts", &[("Level", "Error"), ("Payload", &huge)])
        .assert_status(413);
    // The server is fine afterwards.
    assert_eq!(srv.get_unsigned("/ping").json()["name"], "ping");
}

// ---------------------------------------------------------------------------
// The saved queries and the dashboard's log widgets name real fields

/// Every `fields.NAME` in `text`.
fn field_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("fields.") {
        let after = &rest[i + "fields.".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
        rest = after;
    }
    out
}

#[test]
fn saved_queries_and_log_widgets_name_fields_the_log_lines_have() {
    // Log lines of every kind the queries read: requests (a call's steps,
    // a refusal, a ping) and an alert.
    let srv = Server::repo();
    srv.post("/ivr", &[("CallSid", CALL), ("From", "+447700900555")])
        .twiml();
    srv.post("/ivr/menu", &[("CallSid", CALL), ("Digits", "4")])
        .twiml();
    srv.request("/ivr").unsigned().send().assert_status(403);
    srv.get_unsigned("/ping").assert_status(200);
    let ps = notification("Error", "11200", &srv.url("/ivr/menu"), "Bad Gateway");
    assert_empty_response(&srv.post("/twilio/alerts", &pairs(&ps)));
    alert_line(&srv, "11200");
    assert!(srv
        .stderr_line(&[r#""path":"/twilio/alerts""#, r#""message":"request""#])
        .is_some());
    let mut seen = BTreeSet::new();
    for line in srv.stderr().lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(f) = v["fields"].as_object() {
            seen.extend(f.keys().cloned());
        }
    }
    // What the template's queries, log widgets and metric filters name.
    let text = read(&repo_root().join("template.yaml"));
    let t: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut named = BTreeSet::new();
    let mut sources = 0;
    for (_, r) in t["Resources"].as_mapping().unwrap() {
        match r["Type"].as_str().unwrap_or_default() {
            "AWS::Logs::QueryDefinition" => {
                sources += 1;
                named.extend(field_names(
                    r["Properties"]["QueryString"].as_str().unwrap(),
                ));
            }
            "AWS::Logs::MetricFilter" => {
                let p = r["Properties"]["FilterPattern"].as_str().unwrap();
                // The worker's own lines (aws/src/lambda.rs) are checked in tests/template.rs.
                if !p.contains("recording-worker") {
                    named.extend(field_names(p));
                }
            }
            "AWS::CloudWatch::Dashboard" => {
                let body = match &r["Properties"]["DashboardBody"] {
                    serde_yaml::Value::Tagged(tv) => tv.value[0].as_str().unwrap().to_string(),
                    other => panic!("{other:?}"),
                };
                for q in body
                    .lines()
                    .filter(|l| l.contains(r#""type": "log""#) || l.contains(r#""query": "#))
                {
                    sources += 1;
                    named.extend(field_names(q));
                }
            }
            _ => {}
        }
    }
    assert!(sources >= 5, "three saved queries and the log widgets");
    let missing: Vec<&String> = named.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "the template names fields no log line has: {missing:?} (seen: {seen:?})"
    );
    for must in [
        "route",
        "call_sid",
        "status",
        "outcome",
        "latency_us",
        "code",
    ] {
        assert!(named.contains(must), "no query reads fields.{must}");
    }
}
