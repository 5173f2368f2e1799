//! The call simulator itself: `ivr call` playing Twilio's part.
//!
//! What it must refuse (a script that runs out of keys or presses too many,
//! an invalid config, `--at` for a server it does not run, a server that is
//! not there), how it reports (the human transcript, JSON errors), and the
//! TwiML rules it applies as Twilio would — driven by a tiny canned HTTP
//! server that answers fixed TwiML and records every request it is sent.
//!
//! The IVR's own behaviour under the simulator is in `tests/scripted_calls.rs`.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

#[test]
fn repo_human_transcript_shows_voice_and_language() {
    let mut cmd = ivr_command();
    cmd.arg("call").arg("--config").arg(repo_config()).args([
        "--at",
        TUESDAY_MORNING,
        "--press",
        "4,9,hangup",
    ]);
    let t = run_call(cmd, false);
    t.assert_ok();
    let lines: Vec<&str> = t.stdout.lines().collect();
    assert!(lines[0].starts_with("call CA"), "{}", t.stdout);
    assert!(lines[0].ends_with("from +447700900555 to +442079460100: POST http://ivr.invalid/ivr"));
    assert_eq!(
        &lines[1..],
        &[
            "say (Polly.Amy, en-GB): Thank you for calling Acme Plumbing.",
            "redirect POST http://ivr.invalid/ivr/menu",
            "  say (Polly.Amy, en-GB): For sales, press 1. For support, press 2. To leave a message, press 3. For our opening hours, press 4. To hear this again, press 9.",
            "  pause 3s",
            "gather 1 digit → pressed 4",
            "redirect POST http://ivr.invalid/ivr/action/opening_hours",
            "say (Polly.Amy, en-GB): We are open Monday to Friday, nine till half past twelve and half past one till half past five, and Saturday mornings.",
            "redirect POST http://ivr.invalid/ivr/menu",
            "  say (Polly.Amy, en-GB): For sales, press 1. For support, press 2. To leave a message, press 3. For our opening hours, press 4. To hear this again, press 9.",
            "  pause 3s",
            "gather 1 digit → pressed 9",
            "redirect POST http://ivr.invalid/ivr/action/back_to_menu",
            "redirect POST http://ivr.invalid/ivr/menu",
            "  say (Polly.Amy, en-GB): For sales, press 1. For support, press 2. To leave a message, press 3. For our opening hours, press 4. To hear this again, press 9.",
            "  pause 3s",
            "caller hangs up",
            "call ended: caller hung up (8 requests)",
        ]
    );
}

// ---------------------------------------------------------------------------
// The script itself

#[test]
fn running_out_of_keys_fails_loudly() {
    call(&repo_config(), TUESDAY_MORNING, "7", "")
        .assert_failed("--press has no entry left for this <Gather>");
    call(&repo_config(), TUESDAY_MORNING, "", "").assert_failed("waits for keys: pass --press");
    call(&repo_config(), TUESDAY_MORNING, "1", "").assert_failed("needs an outcome: pass --dial");
}

#[test]
fn too_many_keys_for_the_gather_fail_loudly() {
    call(&repo_config(), TUESDAY_MORNING, "12", "")
        .assert_failed("pressed `12`, but this <Gather> stops after `1`");
}

#[test]
fn json_errors_are_reported_on_stdout_too() {
    let t = call(&repo_config(), TUESDAY_MORNING, "12", "");
    let last = t.events.last().expect("events");
    assert_eq!(last["event"], "error");
    assert!(last["message"].as_str().unwrap().contains("pressed `12`"));
}

#[test]
fn an_invalid_config_is_refused() {
    let cfg = write_config(
        "bad-config",
        "[ivr_menu]\nsay = hi\n[ivr_menu_option_1]\naction = nowhere\n",
    );
    call(&cfg.path, TUESDAY_MORNING, "1", "").assert_failed("invalid config");
}

#[test]
fn at_is_refused_for_a_running_server() {
    let mut cmd = ivr_command();
    // Christmas Day: any instant is refused with --url.
    cmd.args([
        "call",
        "--url",
        "http://127.0.0.1:9/ivr",
        "--at",
        "2026-12-25T10:00:00Z",
    ]);
    run_call(cmd, false).assert_failed("IVR_NOW");
}

#[test]
fn a_server_that_is_not_running() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    call_url(
        &format!("http://127.0.0.1:{port}/ivr"),
        Some("t"),
        "1",
        "",
        &[],
    )
    .assert_failed("cannot reach");
}

// ---------------------------------------------------------------------------
// What Twilio would reject, from a canned server

/// A request the canned server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    signature: Option<String>,
    body: String,
}

/// Answers each path with a fixed (status, content type, body); records every request.
struct Canned {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Canned {
    fn start(routes: Vec<(&'static str, u16, &'static str, String)>) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                let path = req.target.split('?').next().unwrap_or("").to_string();
                // Recorded before it is answered: once `ivr call` has its
                // answer (or has exited), `seen()` has the request.
                log.lock().unwrap().push(req);
                let (status, ctype, body) = routes
                    .iter()
                    .find(|(p, ..)| *p == path)
                    .map(|(_, s, c, b)| (*s, *c, b.clone()))
                    .unwrap_or((404, "text/plain", "no such route".into()));
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(resp.as_bytes());
            }
        });
        Canned { base, seen }
    }

    fn call(&self, path: &str, press: &str, dial: &str) -> Transcript {
        // A canned server never fetches recording audio: don't wait for it.
        call_url(
            &format!("{}{path}", self.base),
            Some(CANNED_TOKEN),
            press,
            dial,
            &["--media-wait", "0"],
        )
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

const CANNED_TOKEN: &str = "canned-token";

fn read_request(stream: &mut std::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let mut length = 0;
    let mut signature = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "x-twilio-signature" => signature = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        target,
        signature,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn xml(s: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{s}</Response>"#)
}

#[test]
fn twiml_that_twilio_would_reject() {
    let server = Canned::start(vec![
        ("/unknown-verb", 200, "text/xml", xml("<Speak>hi</Speak>")),
        (
            "/bad-nesting",
            200,
            "text/xml",
            xml("<Gather><Dial>+442079460000</Dial></Gather>"),
        ),
        (
            "/unknown-attribute",
            200,
            "text/xml",
            xml(r#"<Say voice="Polly.Amy" rate="fast">hi</Say>"#),
        ),
        (
            "/malformed",
            200,
            "text/xml",
            "<Response><Say>hi</Response>".into(),
        ),
        (
            "/not-twiml",
            200,
            "text/xml",
            "<html><body>hi</body></html>".into(),
        ),
        ("/html", 200, "text/html", xml("<Say>hi</Say>")),
        ("/error", 500, "text/plain", "boom".into()),
        ("/loop", 200, "text/xml", xml("<Redirect>/loop</Redirect>")),
    ]);
    for (path, reason) in [
        ("/unknown-verb", "unknown verb <Speak>"),
        (
            "/bad-nesting",
            "invalid nesting: <Dial> inside <Gather> (only <Say>, <Play>, <Pause> may be nested in it)",
        ),
        ("/unknown-attribute", "unknown attribute `rate` on <Say>"),
        ("/malformed", "is not well-formed"),
        ("/not-twiml", "the root element is <html>, not <Response>"),
        ("/html", "answered Content-Type `text/html`"),
        ("/error", "answered HTTP 500: boom"),
        ("/loop", "more than 50 requests in one call: redirect loop?"),
        ("/nowhere", "answered HTTP 404"),
    ] {
        server.call(path, "", "").assert_failed(reason);
    }
}

#[test]
fn twiml_interpreted_as_twilio_would() {
    let server = Canned::start(vec![
        (
            "/app/start",
            200,
            "text/xml; charset=utf-8",
            // No action: the Gather posts back to the current URL.
            xml(
                r##"<Say voice="alice">Hi</Say><Play digits="1w2"/><Gather numDigits="3" finishOnKey="#"><Say>Your PIN</Say></Gather><Say>Nothing?</Say><Redirect method="GET">next?x=1</Redirect>"##,
            ),
        ),
        (
            "/app/next",
            200,
            "application/xml",
            xml(
                r#"<Dial action="/app/dialed" method="GET" record="record-from-answer" recordingStatusCallback="rec"><Number>+442079460000</Number></Dial>"#,
            ),
        ),
        (
            "/app/dialed",
            200,
            "text/xml",
            xml(r#"<Record maxLength="20" action="recorded"/>"#),
        ),
        (
            "/app/recorded",
            200,
            "text/xml",
            xml(r#"<Enqueue waitUrl="wait" action="queued">support</Enqueue>"#),
        ),
        (
            "/app/wait",
            200,
            "text/xml",
            xml(r#"<Play loop="0">https://example.com/music.mp3</Play>"#),
        ),
        (
            "/app/queued",
            200,
            "text/xml",
            xml(r#"<Sms to="+447700900001">Thanks</Sms><Pause length="2"/>"#),
        ),
        ("/app/rec", 204, "text/plain", String::new()),
    ]);
    let t = server.call("/app/start", "12#,-", "completed");
    t.assert_ok();
    let base = &server.base;
    assert_eq!(
        t.lines(),
        vec![
            "say Hi",
            "play digits 1w2",
            "  say Your PIN",
            "gather 12#",
            // The Gather had no action: the digits went back to /app/start.
            "say Hi",
            "play digits 1w2",
            "  say Your PIN",
            "gather -",
            "say Nothing?",
            "redirect /app/next?x=1",
            "dial +442079460000 completed",
            "record max 20",
            "enqueue support",
            "play https://example.com/music.mp3",
            "dequeue support bridged",
            "sms +447700900001 Thanks",
            "pause 2",
            "callback /app/rec",
            "end: end of TwiML: Twilio hangs up",
        ]
    );
    // What the server saw: methods, URLs, parameters, signatures.
    let seen = server.seen();
    let targets: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.target.split('?').next().unwrap()))
        .collect();
    assert_eq!(
        targets,
        vec![
            "POST /app/start",
            "POST /app/start",
            "GET /app/next",
            "GET /app/dialed",
            "POST /app/recorded",
            "POST /app/wait",
            "POST /app/queued",
            "POST /app/rec",
        ]
    );
    let form = |s: &Seen| -> Vec<(String, String)> {
        url::form_urlencoded::parse(s.body.as_bytes())
            .into_owned()
            .collect()
    };
    let get = |pairs: &[(String, String)], k: &str| {
        pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    // Every request is signed over the URL Twilio requested plus the sorted form.
    for s in &seen {
        let url = format!("{base}{}", s.target);
        let sig = s.signature.as_deref().expect("signed");
        assert!(
            shared::signature::validate_form(CANNED_TOKEN, &url, &form(s), sig),
            "bad signature for {} {url}",
            s.method
        );
    }
    let first = form(&seen[0]);
    for (k, v) in [
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
        ("From", "+447700900555"),
        ("To", "+442079460100"),
    ] {
        assert_eq!(get(&first, k).as_deref(), Some(v), "{k}");
    }
    assert!(get(&first, "CallSid").unwrap().starts_with("CA"));
    assert!(get(&first, "AccountSid").unwrap().starts_with("AC"));
    let gathered = form(&seen[1]);
    assert_eq!(get(&gathered, "Digits").as_deref(), Some("12"));
    assert_eq!(get(&gathered, "CallStatus").as_deref(), Some("in-progress"));
    // GET: the parameters travel in the query string.
    assert!(
        seen[2].target.starts_with("/app/next?x=1&AccountSid="),
        "{}",
        seen[2].target
    );
    assert!(
        seen[3].target.contains("DialCallStatus=completed"),
        "{}",
        seen[3].target
    );
    assert!(
        seen[3].target.contains("DialCallDuration=60"),
        "{}",
        seen[3].target
    );
    let recorded = form(&seen[4]);
    assert_eq!(get(&recorded, "RecordingDuration").as_deref(), Some("12"));
    assert!(get(&recorded, "RecordingUrl")
        .unwrap()
        .starts_with("https://api.twilio.com/2010-04-01/Accounts/AC"));
    assert!(get(&recorded, "RecordingSid").unwrap().starts_with("RE"));
    assert_eq!(
        get(&form(&seen[6]), "QueueResult").as_deref(),
        Some("bridged")
    );
    let status = form(&seen[7]);
    assert_eq!(
        get(&status, "RecordingStatus").as_deref(),
        Some("completed")
    );
    assert_eq!(get(&status, "RecordingSource").as_deref(), Some("DialVerb"));
    assert_eq!(get(&status, "RecordingDuration").as_deref(), Some("60"));
}
