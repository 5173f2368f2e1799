//! The AWS adapters against a real moto server (the real SDK on the real
//! wire protocols). One `moto_server` per test binary, started on a free
//! port; every test uses its own bucket/table/queue names, so tests run in
//! parallel on one server. `make test-deps` installs moto; without it the
//! tests fail (they do not skip). The concurrent-claims test uses a second,
//! single-threaded moto (see `Mode::Serial`).

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_s3::config::Credentials;
use chrono::{DateTime, TimeZone, Utc};
use ivr_aws::{DynamoState, Names, S3Store, SesMailer, SqsQueue};
use shared::recordings::{
    md5_hex, Claim, JobQueue, JobState, Mailer, PortError, RecordingJob, RecordingStore,
    StateStore, StoredCopy,
};

// ---------------------------------------------------------------------------
// The moto server

/// A `moto_server` this test binary started. It runs under a small `sh`
/// watchdog that kills it when our end of its stdin closes, which happens
/// whenever this process exits (a `static` is never dropped); `Drop` does
/// the same for a non-static instance.
struct Moto {
    port: u16,
    child: Mutex<Option<(Child, ChildStdin)>>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.child.lock() {
            if let Some((mut child, stdin)) = guard.take() {
                drop(stdin); // the watchdog kills moto_server and exits
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        let p = PathBuf::from(p);
        assert!(p.exists(), "MOTO_SERVER={} does not exist: run `make test-deps` in the workspace root, or unset MOTO_SERVER", p.display());
        return p;
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("moto_server");
            if candidate.exists() {
                return candidate;
            }
        }
    }
    panic!(
        "moto_server not found (looked at $MOTO_SERVER, {}, and PATH). \
         These tests need moto: run `make test-deps` in the workspace root \
         (or `.venv/bin/pip install 'moto[server]'`).",
        venv.display()
    );
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// How the server handles requests.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `moto_server` as shipped: one thread per request.
    Threaded,
    /// moto's WSGI app on werkzeug with `threaded=False`: one request at a
    /// time, so each conditional write is atomic as in DynamoDB. Threaded
    /// moto evaluates a condition and applies the update without a lock, so
    /// two concurrent conditional UpdateItems can both succeed there.
    Serial,
}

const SERIAL_SERVER: &str = r#"
import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=False, request_handler=MotoRequestHandler)
"#;

/// The interpreter `moto_server` runs on (its `#!` line), for [`Mode::Serial`].
fn moto_python(bin: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(bin).unwrap_or_default();
    match text.lines().next().and_then(|l| l.strip_prefix("#!")) {
        Some(interp) if !interp.contains(' ') => PathBuf::from(interp.trim()),
        _ => bin.with_file_name("python3"),
    }
}

impl Moto {
    fn start(mode: Mode) -> Moto {
        let bin = moto_binary();
        let port = free_port();
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("moto-{port}.log"));
        let server: Vec<std::ffi::OsString> = match mode {
            Mode::Threaded => vec![
                bin.clone().into(),
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string().into(),
            ],
            Mode::Serial => vec![
                moto_python(&bin).into(),
                "-c".into(),
                SERIAL_SERVER.into(),
                port.to_string().into(),
            ],
        };
        // The watchdog: runs the server, waits for EOF on stdin, kills the server it started.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#""$@" >"$MOTO_LOG" 2>&1 & m=$!; read -r _; kill "$m"; wait "$m"; rm -f "$MOTO_LOG""#)
            .arg("moto-watchdog")
            .args(&server)
            .env("MOTO_LOG", &log)
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let moto = Moto {
            port,
            child: Mutex::new(Some((child, stdin))),
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if ureq::get(&format!("{}/moto-api/data.json", moto.url()))
                .timeout(Duration::from_secs(5))
                .call()
                .is_ok()
            {
                break;
            }
            let exited = moto
                .child
                .lock()
                .unwrap()
                .as_mut()
                .map(|(c, _)| matches!(c.try_wait(), Ok(Some(_))))
                .unwrap_or(true);
            if exited || Instant::now() > deadline {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!(
                    "moto ({mode:?}, {}) did not start on port {port}; its log ({}):\n{text}",
                    bin.display(),
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // A fresh server is empty; reset anyway in case the port was reused.
        ureq::post(&format!("{}/moto-api/reset", moto.url()))
            .call()
            .expect("POST /moto-api/reset");
        moto
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(Mode::Threaded))
}

fn serial_moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(Mode::Serial))
}

/// SDK configuration for `moto_server`, set on the builder (not the process
/// environment, which parallel tests share).
async fn conf() -> SdkConfig {
    conf_for(moto()).await
}

async fn conf_for(server: &Moto) -> SdkConfig {
    let url = server.url();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(ivr_aws::https_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "moto-tests",
        ))
        .load()
        .await
}

/// A name no other test (or earlier run against a reused server) uses.
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn http_get_bytes(url: &str) -> (u16, Vec<u8>) {
    let resp = match ureq::get(url).timeout(Duration::from_secs(20)).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            let mut body = Vec::new();
            r.into_reader().read_to_end(&mut body).ok();
            return (code, body);
        }
        Err(e) => panic!("GET failed: {e}"),
    };
    let status = resp.status();
    let mut body = Vec::new();
    resp.into_reader()
        .read_to_end(&mut body)
        .expect("read body");
    (status, body)
}

// ---------------------------------------------------------------------------
// S3

async fn new_bucket(conf: &SdkConfig) -> S3Store {
    let client = ivr_aws::s3_client(conf);
    let bucket = unique("recordings");
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    S3Store::new(client, bucket)
}

#[tokio::test]
async fn s3_put_head_link_round_trip() {
    let conf = conf().await;
    let store = new_bucket(&conf).await;
    let key = "recordings/2024/05/06/CA0123/RE0123.mp3";
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let metadata = vec![
        ("section".to_string(), "voicemail".to_string()),
        ("from".to_string(), "+15551234567".to_string()),
        ("transcription".to_string(), "Hi%2C caf%C3%A9".to_string()),
    ];
    store
        .put(key, &bytes, "audio/mpeg", &metadata)
        .await
        .expect("put");

    let info = store.head(key).await.expect("head").expect("object exists");
    assert_eq!(info.size, bytes.len() as u64);
    assert_eq!(
        info.md5_hex.as_deref(),
        Some(md5_hex(&bytes).as_str()),
        "single PUT with SSE-S3: ETag is the MD5"
    );

    // What S3 recorded, seen through the SDK directly.
    let raw = store
        .client
        .head_object()
        .bucket(&store.bucket)
        .key(key)
        .send()
        .await
        .expect("HeadObject");
    assert_eq!(
        raw.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    assert_eq!(raw.content_type(), Some("audio/mpeg"));
    let meta = raw.metadata().expect("user metadata");
    for (k, v) in &metadata {
        assert_eq!(meta.get(k), Some(v), "metadata {k}");
    }

    // The presigned link works for a client without credentials.
    let link = store
        .link(key, Duration::from_secs(3600))
        .await
        .expect("link");
    assert!(
        link.starts_with(&format!("{}/{}/", moto().url(), store.bucket)),
        "path-style link on moto: {link}"
    );
    assert!(link.contains("X-Amz-Signature="), "{link}");
    assert!(link.contains("X-Amz-Expires=3600"), "{link}");
    let (status, body) = http_get_bytes(&link);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        body == bytes,
        "presigned GET returned {} bytes, not the {} stored",
        body.len(),
        bytes.len()
    );

    // Expiry beyond SigV4's 7 days is capped rather than refused.
    let long = store
        .link(key, Duration::from_secs(30 * 24 * 3600))
        .await
        .expect("long link");
    assert!(long.contains("X-Amz-Expires=604800"), "{long}");
}

#[tokio::test]
async fn s3_head_of_missing_key_is_none_and_missing_bucket_is_an_error() {
    let conf = conf().await;
    let store = new_bucket(&conf).await;
    assert_eq!(store.head("recordings/nope.mp3").await, Ok(None));

    let nowhere = S3Store::new(store.client.clone(), unique("no-such-bucket"));
    let err = nowhere
        .put("k.mp3", b"x", "audio/mpeg", &[])
        .await
        .expect_err("put into a missing bucket");
    assert!(
        matches!(err, PortError::NotFound(ref m) if m.contains("NoSuchBucket")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// SES

#[tokio::test]
async fn ses_raw_send_reaches_moto() {
    let conf = conf().await;
    let client = aws_sdk_sesv2::Client::new(&conf);
    let from = format!("{}@example.com", unique("ivr"));
    client
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .expect("CreateEmailIdentity (moto verifies at once)");
    let mailer = SesMailer::new(client);
    let to = vec![
        "alice@example.com".to_string(),
        "bob@example.org".to_string(),
    ];
    let mime = format!(
        "From: IVR <{from}>\r\nTo: alice@example.com, bob@example.org\r\nSubject: New voicemail\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nA caller left a message.\r\n"
    );
    let id = mailer
        .send_raw(&from, &to, mime.as_bytes())
        .await
        .expect("send_raw");
    assert!(!id.is_empty());

    let resp = ureq::get(&format!("{}/moto-api/data.json", moto().url()))
        .call()
        .expect("data.json");
    let data: serde_json::Value = serde_json::from_reader(resp.into_reader()).expect("JSON");
    // Raw messages are listed under ses.RawMessage (simple ones under ses.Message).
    let sent = data["ses"]["RawMessage"]
        .as_array()
        .expect("ses.RawMessage list");
    let msg = sent
        .iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap_or_else(|| panic!("message {id} not in {sent:?}"));
    assert_eq!(msg["source"], from.as_str());
    let destinations: Vec<&str> = msg["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    for t in &to {
        assert!(
            destinations.contains(&t.as_str()),
            "{t} not in {destinations:?}"
        );
    }
    assert_eq!(msg["raw_data"], mime.as_str());
}

#[tokio::test]
async fn ses_unverified_sender_is_permanent() {
    let conf = conf().await;
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&conf));
    let from = format!("{}@unverified.example", unique("nobody"));
    let mime = format!("From: {from}\r\nTo: a@example.com\r\nSubject: x\r\n\r\nx\r\n");
    let err = mailer
        .send_raw(&from, &["a@example.com".to_string()], mime.as_bytes())
        .await
        .expect_err("unverified sender");
    assert!(matches!(err, PortError::Permanent(_)), "{err:?}");
    let err = mailer
        .send_raw(&from, &[], mime.as_bytes())
        .await
        .expect_err("no recipients");
    assert!(matches!(err, PortError::Permanent(_)), "{err:?}");
}

// ---------------------------------------------------------------------------
// DynamoDB

async fn new_table(conf: &SdkConfig) -> DynamoState {
    let client = aws_sdk_dynamodb::Client::new(conf);
    let table = unique("ivr-state");
    client
        .create_table()
        .table_name(&table)
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
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable");
    DynamoState::new(client, table)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap()
}

const LEASE: Duration = Duration::from_secs(60);

fn acquired(c: Claim) -> JobState {
    match c {
        Claim::Acquired(s) => s,
        Claim::Busy => panic!("expected the lease, got Busy"),
    }
}

#[tokio::test]
async fn dynamo_claim_busy_takeover_save_release() {
    let conf = conf().await;
    let db = new_table(&conf).await;
    let sid = "RE00000000000000000000000000000001";
    let now = t0();

    // A fresh recording: the lease and an empty state.
    assert_eq!(
        acquired(db.claim(sid, "w1", now, LEASE).await.unwrap()),
        JobState::default()
    );
    // Held: another worker is turned away; the holder may claim again.
    assert_eq!(
        db.claim(sid, "w2", now + chrono::Duration::seconds(59), LEASE)
            .await
            .unwrap(),
        Claim::Busy
    );
    acquired(
        db.claim(sid, "w1", now + chrono::Duration::seconds(1), LEASE)
            .await
            .unwrap(),
    );

    let progress = JobState {
        stored: Some(StoredCopy {
            key: "recordings/k.mp3".into(),
            size: 42,
            md5_hex: "0".repeat(32),
        }),
        sms_sent: true,
        attempts: 1,
        last_error: Some("sending the email alert: transient: x".into()),
        ..JobState::default()
    };
    db.save(sid, "w1", &progress).await.expect("owner saves");

    // w1's renewed lease runs out at now+61s; w2 takes over and sees w1's progress.
    assert_eq!(
        db.claim(sid, "w2", now + chrono::Duration::seconds(60), LEASE)
            .await
            .unwrap(),
        Claim::Busy
    );
    let seen = acquired(
        db.claim(sid, "w2", now + chrono::Duration::seconds(61), LEASE)
            .await
            .unwrap(),
    );
    assert_eq!(seen, progress);

    // w1 lost the lease: its save is refused and changes nothing; its release is a no-op.
    let stale = JobState {
        email_sent: true,
        ..progress.clone()
    };
    assert_eq!(
        db.save(sid, "w1", &stale).await,
        Err(PortError::Permanent("lease lost".into()))
    );
    db.release(sid, "w1")
        .await
        .expect("release of a lease not held is a no-op");
    assert_eq!(
        db.claim(sid, "w3", now + chrono::Duration::seconds(62), LEASE)
            .await
            .unwrap(),
        Claim::Busy,
        "w2 still holds it"
    );
    assert_eq!(db.get(sid).await.unwrap(), Some(progress.clone()));

    // w2 finishes and releases: the next claim is free at once.
    let done = JobState {
        email_sent: true,
        twilio_deleted: true,
        attempts: 2,
        last_error: None,
        ..progress.clone()
    };
    db.save(sid, "w2", &done).await.expect("w2 saves");
    db.release(sid, "w2").await.expect("w2 releases");
    assert_eq!(
        acquired(
            db.claim(sid, "w3", now + chrono::Duration::seconds(63), LEASE)
                .await
                .unwrap()
        ),
        done
    );

    // The item carries the TTL, ~30 days after the write, and the lease fields.
    let item = db
        .client
        .get_item()
        .table_name(&db.table)
        .key("recording_sid", AttributeValue::S(sid.into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("item");
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    let expected = (now + chrono::Duration::seconds(63) + chrono::Duration::days(30)).timestamp();
    assert_eq!(expires, expected, "claim writes the TTL from `now`");
    assert_eq!(item["lease_owner"].as_s().unwrap(), "w3");
    let until: i64 = item["lease_until"].as_n().unwrap().parse().unwrap();
    assert_eq!(
        until,
        (now + chrono::Duration::seconds(123)).timestamp_millis()
    );
    assert!(
        item["state"].as_s().is_ok(),
        "state is one JSON string attribute"
    );
}

#[tokio::test]
async fn dynamo_claim_once_is_true_exactly_once_per_key() {
    let conf = conf().await;
    let db = new_table(&conf).await;
    let key = "after-call-sms/CA00000000000000000000000000000001";
    // Concurrent claims of one key: exactly one wins.
    let claims = futures_join(&db, key).await;
    assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{claims:?}");
    assert!(!db.claim_once(key, t0()).await.unwrap(), "and never again");
    assert!(db
        .claim_once("after-call-sms/CA00000000000000000000000000000002", t0())
        .await
        .unwrap());
    // The claim is an item with its TTL, not a recording's state.
    let item = db
        .client
        .get_item()
        .table_name(&db.table)
        .key("recording_sid", AttributeValue::S(key.into()))
        .send()
        .await
        .unwrap();
    let item = item.item().expect("the claim item");
    assert!(item.contains_key("expires_at") && item.contains_key("claimed_at"));
    assert!(!item.contains_key("state"));
}

async fn futures_join(db: &DynamoState, key: &str) -> Vec<bool> {
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let db = db.clone();
            let key = key.to_string();
            tokio::spawn(async move { db.claim_once(&key, t0()).await.unwrap() })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn dynamo_save_without_a_lease_is_refused() {
    let conf = conf().await;
    let db = new_table(&conf).await;
    let sid = "RE00000000000000000000000000000002";
    // No item at all.
    assert_eq!(
        db.save(sid, "w1", &JobState::default()).await,
        Err(PortError::Permanent("lease lost".into()))
    );
    assert_eq!(
        db.get(sid).await.unwrap(),
        None,
        "a refused save creates nothing"
    );
    // An item whose lease was released.
    acquired(db.claim(sid, "w1", t0(), LEASE).await.unwrap());
    db.release(sid, "w1").await.unwrap();
    assert_eq!(
        db.save(sid, "w1", &JobState::default()).await,
        Err(PortError::Permanent("lease lost".into()))
    );
}

#[tokio::test]
async fn dynamo_transcription_survives_a_concurrent_save() {
    let conf = conf().await;
    let db = new_table(&conf).await;
    let sid = "RE00000000000000000000000000000003";
    let state = acquired(db.claim(sid, "w1", t0(), LEASE).await.unwrap());
    assert_eq!(state.transcription_status, None);

    // The transcription callback lands while w1 works from a state without it.
    db.record_transcription(sid, "completed", Some("Please call me back."))
        .await
        .unwrap();
    let worked = JobState {
        sms_sent: true,
        attempts: 1,
        ..state
    };
    db.save(sid, "w1", &worked).await.unwrap();
    db.release(sid, "w1").await.unwrap();

    let next = acquired(db.claim(sid, "w2", t0(), LEASE).await.unwrap());
    assert!(next.sms_sent);
    assert_eq!(next.transcription_status.as_deref(), Some("completed"));
    assert_eq!(
        next.transcription_text.as_deref(),
        Some("Please call me back.")
    );

    // Saving the merged state back does not duplicate the transcription into `state`.
    db.save(sid, "w2", &next).await.unwrap();
    let item = db
        .client
        .get_item()
        .table_name(&db.table)
        .key("recording_sid", AttributeValue::S(sid.into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!item["state"].as_s().unwrap().contains("call me back"));

    // A later status without text replaces both fields.
    db.record_transcription(sid, "failed", None).await.unwrap();
    let after = db.get(sid).await.unwrap().unwrap();
    assert_eq!(after.transcription_status.as_deref(), Some("failed"));
    assert_eq!(after.transcription_text, None);
}

#[tokio::test]
async fn dynamo_transcription_before_the_recording_creates_the_item() {
    let conf = conf().await;
    let db = new_table(&conf).await;
    let sid = "RE00000000000000000000000000000004";
    db.record_transcription(sid, "completed", Some("early"))
        .await
        .unwrap();
    let state = acquired(db.claim(sid, "w1", t0(), LEASE).await.unwrap());
    assert_eq!(
        state,
        JobState {
            transcription_status: Some("completed".into()),
            transcription_text: Some("early".into()),
            ..JobState::default()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_concurrent_claims_exactly_one_acquires() {
    // On the serial server: see `Mode::Serial` for why not on threaded moto.
    let conf = conf_for(serial_moto()).await;
    let db = Arc::new(new_table(&conf).await);
    for round in 0..3 {
        let sid = format!("RE0000000000000000000000000000010{round}");
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let db = db.clone();
                let sid = sid.clone();
                tokio::spawn(
                    async move { db.claim(&sid, &format!("worker-{i}"), t0(), LEASE).await },
                )
            })
            .collect();
        let mut acquired = 0;
        for t in tasks {
            match t.await.unwrap().expect("claim") {
                Claim::Acquired(_) => acquired += 1,
                Claim::Busy => {}
            }
        }
        assert_eq!(
            acquired, 1,
            "round {round}: exactly one of 8 concurrent claims takes the lease"
        );
    }
}

// ---------------------------------------------------------------------------
// SQS

fn job(sid: &str) -> RecordingJob {
    RecordingJob {
        recording_sid: sid.into(),
        call_sid: "CA00000000000000000000000000000001".into(),
        recording_url: format!("https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/{sid}"),
        duration_seconds: Some(17),
        section: "voicemail".into(),
        caller: Some("+15551234567".into()),
        called: None,
        received_at: t0(),
    }
}

async fn new_queue(conf: &SdkConfig) -> SqsQueue {
    let client = aws_sdk_sqs::Client::new(conf);
    let out = client
        .create_queue()
        .queue_name(unique("ivr-jobs"))
        .send()
        .await
        .expect("CreateQueue");
    SqsQueue::new(client, out.queue_url().expect("queue URL"))
}

#[tokio::test]
async fn sqs_enqueue_then_receive_returns_the_job() {
    let conf = conf().await;
    let queue = new_queue(&conf).await;
    let j = job("RE00000000000000000000000000000201");
    queue.enqueue(&j, Duration::ZERO).await.expect("enqueue");

    let got = queue
        .receive(10, Duration::from_secs(2))
        .await
        .expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].job, j);
    // The body is plain JSON that the worker (and operators) can read.
    let raw: serde_json::Value = serde_json::to_value(&j).unwrap();
    assert_eq!(raw["recording_sid"], "RE00000000000000000000000000000201");
    queue.delete(&got[0].receipt_handle).await.expect("delete");

    // Over SQS's 15-minute limit: capped, not refused.
    queue
        .enqueue(&j, Duration::from_secs(3600))
        .await
        .expect("long delay is capped");
}

#[tokio::test]
async fn sqs_delay_is_honoured() {
    let conf = conf().await;
    let queue = new_queue(&conf).await;
    let j = job("RE00000000000000000000000000000202");
    let sent = Instant::now();
    queue
        .enqueue(&j, Duration::from_secs(3))
        .await
        .expect("enqueue");
    let early = queue.receive(10, Duration::ZERO).await.expect("receive");
    if sent.elapsed() < Duration::from_secs(3) {
        assert!(
            early.is_empty(),
            "a delayed message must not be visible at once"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = queue
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        if let Some(r) = got.first() {
            assert!(
                sent.elapsed() >= Duration::from_secs(3),
                "delivered after {:?}",
                sent.elapsed()
            );
            assert_eq!(r.job, j);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the delayed message never arrived"
        );
    }
}

// ---------------------------------------------------------------------------
// Start-up from the environment

#[tokio::test]
async fn adapters_from_names() {
    let conf = conf().await;
    let names = Names::from_lookup(|k| match k {
        "IVR_RECORDINGS_BUCKET" => Some("b".into()),
        "IVR_JOBS_QUEUE_URL" => Some("http://127.0.0.1/000000000000/q".into()),
        _ => None,
    })
    .unwrap();
    let adapters = ivr_aws::Adapters::new(&conf, &names);
    assert_eq!(adapters.store().unwrap().bucket, "b");
    assert!(adapters.state().unwrap_err().contains("IVR_STATE_TABLE"));
    assert_eq!(
        adapters.queue().unwrap().queue_url,
        "http://127.0.0.1/000000000000/q"
    );
}

// ---------------------------------------------------------------------------
// Work items: the contract SQLite keeps (shared::work::contract), on DynamoDB

/// A work table as the template makes it: `pk`, and the `by_place` index.
async fn new_work_table(conf: &SdkConfig) -> ivr_aws::DynamoWork {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndex, Projection, ProjectionType};
    let client = aws_sdk_dynamodb::Client::new(conf);
    let table = unique("work");
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("list"))
        .attribute_definitions(attr("place"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(ivr_aws::work::PLACE_INDEX)
                .key_schema(key("list", KeyType::Hash))
                .key_schema(key("place", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create the work table");
    ivr_aws::DynamoWork::new(client, table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_store_keeps_the_contract() {
    let conf = conf().await;
    shared::work::contract::run_all(|| new_work_table(&conf)).await;
}

/// Concurrent creates through two clients on one table: one item per key,
/// one live item per number. On the single-threaded moto, whose conditional
/// writes are atomic as DynamoDB's are (see `Mode::Serial`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn work_store_concurrent_creates_make_one_item() {
    let conf = conf_for(serial_moto()).await;
    let table = new_work_table(&conf).await;
    shared::work::contract::one_item_from_concurrent_creates(&|| {
        let t = table.clone();
        async move { t }
    })
    .await;
}
