//! Issue 11's recordings findings, end to end: `ivr serve` (and the
//! `recording-worker` Lambda's batch handler, on moto) against Twilio
//! stand-ins on 127.0.0.1. No test connects to a private or link-local
//! address: their refusal is an address check (unit tests in
//! `shared::twilio` and `shared::recordings`), here other loopback ports
//! play "somewhere that is not the API base".
//!
//! - duplicate callbacks during a backoff are not attempts (finding 3), in
//!   `ivr serve` and on SQS;
//! - media only from the API base, credentials only to it, one slow
//!   download delays no other (finding 4);
//! - one size limit, 52,428,800 bytes, in local mode too (finding 5);
//! - a redirect to `file://` is refused, not a panic (finding 6);
//! - REST mode with local storage keeps Twilio's copy and texts no
//!   `file://` link (finding 10).

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, ACCOUNT_SID, TOKEN};

/// The fixture's voicemail (an SMS alert, no email), with the caller's numbers.
const ALERT_SMS: &str = "/ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail_example&caller=%2B447700900555&called=%2B442079460123";
const CALL_SID: &str = "CAfedcba9876543210fedcba9876543210";
/// The largest recording accepted, in every mode.
const LIMIT: usize = 52_428_800;

fn sid(n: u32) -> String {
    format!("RE{n:032x}")
}

// ---------------------------------------------------------------------------
// A Twilio stand-in on 127.0.0.1

#[derive(Debug, Clone)]
struct Req {
    at: Instant,
    method: String,
    path: String,
    authorization: Option<String>,
    body: String,
}

enum Answer {
    Raw(Vec<u8>),
    /// Says nothing for a minute.
    Hang,
}

type Handler = dyn Fn(&Req) -> Answer + Send + Sync;

/// Thread-per-connection HTTP/1.1 on 127.0.0.1; logs every request before answering it.
struct Stub {
    base: String,
    seen: Arc<Mutex<Vec<Req>>>,
}

impl Stub {
    fn start(handler: impl Fn(&Req) -> Answer + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a stand-in");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Req>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, handler) = (log.clone(), handler.clone());
                std::thread::spawn(move || serve(stream, &*handler, &log));
            }
        });
        Stub { base, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Twilio's `RecordingUrl` of `sid` here (no extension, as Twilio posts it).
    fn recording_url(&self, sid: &str) -> String {
        self.url(&format!(
            "/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}"
        ))
    }

    fn seen(&self) -> Vec<Req> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The media requests for `sid` so far.
    fn fetches(&self, sid: &str) -> Vec<Req> {
        let path = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}.mp3");
        self.seen()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .collect()
    }
}

fn serve(mut stream: std::net::TcpStream, handler: &Handler, log: &Mutex<Vec<Req>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut first = head.split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    let req = Req {
        at: Instant::now(),
        method,
        path,
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    log.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(req.clone());
    match handler(&req) {
        Answer::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
        }
        Answer::Hang => std::thread::sleep(Duration::from_secs(60)),
    }
}

fn respond(status: &str, content_type: &str, body: &[u8]) -> Answer {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    Answer::Raw(out)
}

fn audio(sid: &str) -> Vec<u8> {
    format!("ID3 audio of {sid}").into_bytes()
}

fn unavailable() -> Answer {
    respond("503 Service Unavailable", "text/html", b"<html>busy</html>")
}

/// `RE…` from a media path, if it is one.
fn media_sid(path: &str) -> Option<&str> {
    path.strip_prefix(&format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/"))?
        .strip_suffix(".mp3")
}

/// The recording status callback Twilio posts for `sid` at `url`.
fn callback(srv: &Server, sid: &str, url: &str) {
    let r = srv.post(
        ALERT_SMS,
        &[
            ("AccountSid", ACCOUNT_SID),
            ("CallSid", CALL_SID),
            ("RecordingSid", sid),
            ("RecordingUrl", url),
            ("RecordingStatus", "completed"),
            ("RecordingDuration", "42"),
            ("RecordingChannels", "1"),
            ("RecordingSource", "RecordVerb"),
        ],
    );
    r.assert_status(200);
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn dead(srv: &Server, sid: &str) -> bool {
    srv.dead_jobs()
        .iter()
        .any(|p| p.ends_with(format!("{sid}.json")))
}

fn stored(srv: &Server, sid: &str) -> Option<std::path::PathBuf> {
    srv.recordings()
        .iter()
        .find(|k| k.ends_with(&format!("/{sid}.mp3")))
        .map(|k| srv.data_dir.path().join(k))
}

/// `ivr serve` without Twilio credentials (local mode, signed callbacks).
fn local_server() -> Server {
    Server::builder(common::fixture_config()).start()
}

// ---------------------------------------------------------------------------
// Finding 3: duplicates do not burn retries

/// Ten identical signed callbacks while the media URL fails gave 8 attempts
/// in ~66 ms, dead-lettered within 1 s. Now: one attempt, then the backoff
/// (2 s, 4 s, …) however many deliveries arrive.
#[test]
fn duplicate_callbacks_keep_the_backoff_schedule_in_ivr_serve() {
    let twilio = Stub::start(|_| unavailable());
    let srv = local_server();
    let re = sid(3);
    let url = twilio.recording_url(&re);
    let posted = Instant::now();
    for _ in 0..10 {
        callback(&srv, &re, &url);
    }
    wait_for("the third attempt", Duration::from_secs(20), || {
        twilio.fetches(&re).len() >= 3
    });
    let attempts = twilio.fetches(&re);
    let gaps: Vec<Duration> = attempts.windows(2).map(|p| p[1].at - p[0].at).collect();
    assert!(
        attempts[0].at - posted < Duration::from_secs(2),
        "the first attempt came late"
    );
    assert!(
        gaps[0] >= Duration::from_millis(1900) && gaps[1] >= Duration::from_millis(3900),
        "the backoff did not hold: attempts {:?} apart\n{}",
        gaps,
        srv.stderr()
    );
    eprintln!(
        "10 duplicate callbacks: first attempt {:?} after the first post, then attempts {gaps:?} apart",
        attempts[0].at - posted
    );
    assert!(!dead(&srv, &re), "dead-lettered: {:?}", srv.inventory());
    // The third attempt's progress is saved once that pass ends.
    wait_for(
        "three attempts in the state",
        Duration::from_secs(5),
        || {
            srv.state(&re).is_some_and(|s| {
                s["state"]["attempts"].as_u64() >= Some(3) && s["state"]["retry_at"].is_string()
            })
        },
    );
}

/// The same on SQS: ten copies of one job in one batch of the
/// `recording-worker` handler make one attempt; nine wait (fresh delayed
/// copies), one comes back after its backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_sqs_messages_make_one_attempt_per_backoff() {
    use shared::recordings::{MediaSource, Settings};
    let moto = Moto::start();
    let conf = moto.sdk();
    let table = "hardening-state";
    create_table(&conf, table).await;
    // An SQS client without naming the crate: the adapters build one.
    let names = ivr_aws::Names {
        bucket: Some("hardening-recordings".into()),
        table: Some(table.into()),
        queue_url: Some(format!("{}/000000000000/placeholder", moto.url)),
    };
    let adapters = ivr_aws::Adapters::new(&conf, &names);
    let sqs = adapters.queue.clone().unwrap().client;
    let make_queue = |name: &'static str| {
        let sqs = sqs.clone();
        async move {
            let out = sqs.create_queue().queue_name(name).send().await.unwrap();
            ivr_aws::SqsQueue::new(sqs.clone(), out.queue_url().unwrap().to_string())
        }
    };
    let queue = make_queue("hardening-jobs").await;
    let dead_letters = make_queue("hardening-dead").await;

    let twilio = Stub::start(|_| unavailable());
    let startup: &'static shared::shell::Startup = Box::leak(Box::new(
        shared::shell::startup_in_process(&common::fixture_config(), None).unwrap(),
    ));
    let mut settings = Settings::from_config(&startup.app.config);
    settings.media = MediaSource::new(&twilio.base, Some(ACCOUNT_SID), false);
    let worker: &'static ivr_aws::lambda::Worker = Box::leak(Box::new(ivr_aws::lambda::Worker {
        startup,
        settings,
        store: adapters.store.clone().unwrap(),
        mailer: adapters.mailer.clone(),
        state: adapters.state.clone().unwrap(),
        twilio: shared::twilio::TwilioClient::new(&twilio.base, ACCOUNT_SID, TOKEN).unwrap(),
        queue: queue.clone(),
        dead_letters,
    }));
    let re = sid(7);
    let job = shared::recordings::RecordingJob {
        recording_sid: re.clone(),
        call_sid: CALL_SID.into(),
        recording_url: twilio.recording_url(&re),
        duration_seconds: Some(42),
        section: "voicemail_example".into(),
        caller: Some("+447700900555".into()),
        called: Some("+442079460123".into()),
        received_at: chrono::Utc::now(),
    };
    use shared::recordings::JobQueue;
    for _ in 0..10 {
        queue.enqueue(&job, Duration::ZERO).await.unwrap();
    }
    let batch = receive(&queue, 10, Duration::from_secs(10)).await;
    let (failures, _) = deliver(worker, &queue, &batch, "batch-1").await;
    assert_eq!(twilio.fetches(&re).len(), 1, "one attempt for ten copies");
    assert_eq!(failures, 1, "only the attempt is a failure for SQS");
    let state = worker.state.get(&re).await.unwrap().expect("state");
    assert_eq!(state.attempts, 1, "{state:?}");
    assert!(state.retry_at.is_some(), "{state:?}");
    // After the backoff: whatever comes back, one more attempt.
    let again = receive(&queue, 1, Duration::from_secs(10)).await;
    let (_, _) = deliver(worker, &queue, &again, "batch-2").await;
    let fetched = twilio.fetches(&re);
    assert_eq!(fetched.len(), 2, "one more attempt");
    assert!(
        fetched[1].at - fetched[0].at >= Duration::from_millis(1900),
        "the second attempt came before the backoff"
    );
}

/// Receives at least `min` messages (up to 10) within `limit`.
async fn receive(queue: &ivr_aws::SqsQueue, min: usize, limit: Duration) -> Vec<ivr_aws::Received> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    while got.len() < min {
        assert!(
            Instant::now() < deadline,
            "only {} of {min} messages came",
            got.len()
        );
        let more = queue
            .receive(10 - got.len() as i32, Duration::from_secs(1))
            .await
            .unwrap();
        got.extend(more);
    }
    got
}

/// Hands `batch` to the worker as the Lambda runtime would, and deletes
/// the messages it did not report as failures; (failures, successes).
async fn deliver(
    worker: &'static ivr_aws::lambda::Worker,
    queue: &ivr_aws::SqsQueue,
    batch: &[ivr_aws::Received],
    request_id: &str,
) -> (usize, usize) {
    let records: Vec<serde_json::Value> = batch
        .iter()
        .enumerate()
        .map(|(i, r)| {
            serde_json::json!({
                "messageId": format!("{request_id}-m{i}"),
                "receiptHandle": r.receipt_handle,
                "body": serde_json::to_string(&r.job).unwrap(),
                "attributes": {"ApproximateReceiveCount": "1"},
            })
        })
        .collect();
    let out = ivr_aws::lambda::handle(
        worker,
        serde_json::json!({ "Records": records }),
        request_id,
    )
    .await;
    let failed: Vec<String> = out["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect();
    for (i, r) in batch.iter().enumerate() {
        if !failed.contains(&format!("{request_id}-m{i}")) {
            queue.delete(&r.receipt_handle).await.unwrap();
        }
    }
    (failed.len(), batch.len() - failed.len())
}

// ---------------------------------------------------------------------------
// Finding 4: only the API base, credentials only there, no head-of-line blocking

/// With credentials, the account SID and token went to any loopback host
/// the callback named. Now a `RecordingUrl` that is not the API base is
/// refused without a request; the recording itself is fetched from the API
/// base, with credentials. (Finding 10 on the way: with local storage
/// Twilio's copy is kept and the text carries no `file://` link.)
#[test]
fn rest_mode_fetches_only_from_the_api_base_and_keeps_twilios_copy_of_a_local_recording() {
    let elsewhere = Stub::start(|r| match media_sid(&r.path) {
        Some(sid) => respond("200 OK", "audio/mpeg", &audio(sid)),
        None => respond("404 Not Found", "text/plain", b""),
    });
    let twilio = Stub::start(|r| {
        let messages = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
        if r.method == "POST" && r.path == messages {
            return respond(
                "201 Created",
                "application/json",
                br#"{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}"#,
            );
        }
        if r.method == "DELETE" {
            return respond("204 No Content", "application/json", b"");
        }
        match media_sid(&r.path) {
            Some(sid) if r.authorization.is_some() => respond("200 OK", "audio/mpeg", &audio(sid)),
            Some(_) => respond(
                "401 Unauthorized",
                "application/json",
                br#"{"code": 20003}"#,
            ),
            None => respond("404 Not Found", "text/plain", b""),
        }
    });
    let srv = Server::builder(common::fixture_config())
        .env("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        .env("TWILIO_API_BASE", &twilio.base)
        .start();
    let (hostile, real) = (sid(1), sid(2));
    callback(&srv, &hostile, &elsewhere.recording_url(&hostile));
    callback(&srv, &real, &twilio.recording_url(&real));
    wait_for(
        "the hostile job in jobs/dead/",
        Duration::from_secs(10),
        || dead(&srv, &hostile),
    );
    wait_for("the real recording's SMS", Duration::from_secs(10), || {
        twilio.seen().iter().any(|r| r.method == "POST")
    });
    srv.wait_for_idle_queue();

    assert!(
        elsewhere.seen().is_empty(),
        "a host that is not the API base was asked: {:?}",
        elsewhere.seen()
    );
    assert!(stored(&srv, &hostile).is_none(), "{:?}", srv.inventory());
    let line = srv
        .stderr_line(&["\"level\":\"ERROR\"", &hostile])
        .unwrap_or_default();
    assert!(
        line.contains("RecordingUrl") && line.contains("refused"),
        "{line}\n{}",
        srv.stderr()
    );

    let fetched = twilio.fetches(&real);
    assert_eq!(fetched.len(), 1, "{:?}", twilio.seen());
    assert!(
        fetched[0]
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic ")),
        "the API base gets the credentials"
    );
    let copy = stored(&srv, &real).expect("the real recording stored");
    assert_eq!(std::fs::read(copy).unwrap(), audio(&real));
    // Finding 10: the only other copy is this disk: Twilio's is kept.
    assert!(
        !twilio.seen().iter().any(|r| r.method == "DELETE"),
        "Twilio's copy deleted with only a local copy: {:?}",
        twilio.seen()
    );
    let sms: Vec<Req> = twilio
        .seen()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(sms.len(), 1, "{sms:?}");
    let body: String = url::form_urlencoded::parse(sms[0].body.as_bytes())
        .find(|(k, _)| k == "Body")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    assert_eq!(
        body,
        "New voicemail from +447700900555 (42s): stored locally; Twilio's copy kept"
    );
    let state = srv.state(&real).expect("state");
    assert_eq!(state["state"]["twilio_deleted"], false, "{state}");
    assert_eq!(state["state"]["sms_sent"], true, "{state}");
}

/// One hanging media URL delayed every other recording by 20-60 s (one
/// worker). Recordings are processed concurrently: the next one is stored
/// while the first still hangs.
#[test]
fn one_hanging_download_delays_no_other_recording() {
    let (slow, fast) = (sid(0x51), sid(0xfa));
    let slow_in_handler = slow.clone();
    let twilio = Stub::start(move |r| match media_sid(&r.path) {
        Some(sid) if sid == slow_in_handler => Answer::Hang,
        Some(sid) => respond("200 OK", "audio/mpeg", &audio(sid)),
        None => respond("404 Not Found", "text/plain", b""),
    });
    let srv = local_server();
    callback(&srv, &slow, &twilio.recording_url(&slow));
    wait_for("the slow download to start", Duration::from_secs(5), || {
        !twilio.fetches(&slow).is_empty()
    });
    let started = Instant::now();
    callback(&srv, &fast, &twilio.recording_url(&fast));
    wait_for(
        "the second recording, while the first hangs",
        Duration::from_secs(5),
        || stored(&srv, &fast).is_some(),
    );
    let took = started.elapsed();
    assert!(stored(&srv, &slow).is_none());
    assert!(
        srv.job_files()
            .iter()
            .any(|p| p.ends_with(format!("{slow}.json"))),
        "the slow job is still pending: {:?}",
        srv.inventory()
    );
    eprintln!("second recording stored {took:?} after its callback, the first still downloading");
}

// ---------------------------------------------------------------------------
// Finding 5: one size limit

/// Local mode cut recordings over 50 MB at exactly 52,428,800 bytes and
/// alerted them as complete. Now, as in REST mode: up to 52,428,800 bytes
/// is stored; one byte more (sized or chunked) is a failure that stores
/// nothing and alerts nobody.
#[test]
fn local_mode_refuses_recordings_over_the_limit_instead_of_truncating() {
    let (exact, sized, chunked) = (sid(0xe0), sid(0xe1), sid(0xe2));
    let (e, s) = (exact.clone(), sized.clone());
    let twilio = Stub::start(move |r| match media_sid(&r.path) {
        Some(sid) if sid == e => respond("200 OK", "audio/mpeg", &vec![7u8; LIMIT]),
        Some(sid) if sid == s => respond("200 OK", "audio/mpeg", &vec![7u8; LIMIT + 1]),
        Some(_) => {
            let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
            let chunk = vec![7u8; 1 << 20];
            for _ in 0..50 {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(&chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"1\r\n\x07\r\n0\r\n\r\n");
            Answer::Raw(out)
        }
        None => respond("404 Not Found", "text/plain", b""),
    });
    let srv = local_server();
    for sid in [&sized, &chunked, &exact] {
        callback(&srv, sid, &twilio.recording_url(sid));
    }
    let limit = Duration::from_secs(60);
    wait_for("both oversized jobs in jobs/dead/", limit, || {
        dead(&srv, &sized) && dead(&srv, &chunked)
    });
    wait_for("the recording at the limit", limit, || {
        srv.sms_files().len() == 1
    });
    srv.wait_for_idle_queue();
    for sid in [&sized, &chunked] {
        assert!(
            stored(&srv, sid).is_none(),
            "{sid} stored: {:?}",
            srv.inventory()
        );
        let line = srv
            .stderr_line(&["\"level\":\"ERROR\"", sid])
            .unwrap_or_default();
        assert!(
            line.contains("larger than 52428800 bytes") && line.contains("Twilio's copy is kept"),
            "{line}"
        );
    }
    let at_limit = stored(&srv, &exact).expect("the recording at the limit is stored");
    assert_eq!(std::fs::metadata(at_limit).unwrap().len(), LIMIT as u64);
    let sms = common::read(&srv.sms_files()[0]);
    assert!(
        !sms.contains(&sized) && !sms.contains(&chunked),
        "an oversized recording alerted: {sms}"
    );
}

// ---------------------------------------------------------------------------
// Finding 6: no panic from a redirect

/// A redirect to `file://` panicked inside ureq (`unit.rs:252`): caught in a
/// debug build, fatal with `panic = "abort"`. Now it is refused, the job is
/// dead-lettered, and the server goes on.
#[test]
fn a_redirect_to_a_file_url_is_refused_without_a_panic() {
    let (redirected, after) = (sid(0xf1), sid(0xf2));
    let r = redirected.clone();
    let twilio = Stub::start(move |req| {
        match media_sid(&req.path) {
        Some(sid) if sid == r => Answer::Raw(
            b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_vec(),
        ),
        Some(sid) => respond("200 OK", "audio/mpeg", &audio(sid)),
        None => respond("404 Not Found", "text/plain", b""),
    }
    });
    let srv = local_server();
    callback(&srv, &redirected, &twilio.recording_url(&redirected));
    wait_for(
        "the redirected job in jobs/dead/",
        Duration::from_secs(10),
        || dead(&srv, &redirected),
    );
    assert_eq!(twilio.fetches(&redirected).len(), 1, "not retried");
    let line = srv
        .stderr_line(&["\"level\":\"ERROR\"", &redirected])
        .unwrap_or_default();
    assert!(line.contains("non-http(s)"), "{line}");
    // Still serving, and still processing recordings.
    callback(&srv, &after, &twilio.recording_url(&after));
    wait_for("the next recording", Duration::from_secs(10), || {
        stored(&srv, &after).is_some()
    });
    assert!(stored(&srv, &redirected).is_none());
    assert!(
        !srv.stderr().contains("panicked"),
        "a panic:\n{}",
        srv.stderr()
    );
}

// ---------------------------------------------------------------------------
// moto, for the SQS test

/// moto_server on 127.0.0.1 (installed by `make test-deps`), killed on drop.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let bin = common::repo_root().join(".venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: run `make test-deps`",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let probe = format!("{}/moto-api/data.json", moto.url);
        wait_for("moto", Duration::from_secs(60), || {
            ureq::get(&probe).call().is_ok()
        });
        moto
    }

    fn sdk(&self) -> aws_config::SdkConfig {
        use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(ivr_aws::https_client())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "hardening",
            )))
            .build()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn create_table(conf: &aws_config::SdkConfig, table: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(conf)
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("recording_sid")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("recording_sid")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}
