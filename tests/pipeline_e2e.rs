//! The recordings pipeline end to end, on real protocol peers: a scripted
//! voicemail call (`ivr call`) against `ivr serve` wired to moto (S3, SES,
//! DynamoDB) and to Prism serving Twilio's OpenAPI spec. The call ends with
//! the recording in S3, the email sent, the SMS and the DELETE accepted by
//! Prism's validation — and a duplicate callback changes nothing.
//! `make test-deps` installs moto and Prism; without them this test fails.
//! The IVR's `TWILIO_API_BASE` is a stand-in that serves the recording's
//! media itself and relays every other request to Prism (Twilio's spec has
//! no media endpoint): one base for media and REST, as Twilio's own.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_s3::config::Credentials;

const TOKEN: &str = "e2e-auth-token-0123456789abcdef";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TUESDAY_MORNING: &str = "2026-11-24T10:00:00Z";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process this test started; killed (only it) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn need(path: &Path) -> &Path {
    assert!(
        path.exists(),
        "{} is missing: run `make test-deps` in the repository root",
        path.display()
    );
    path
}

fn start_moto() -> (Proc, String) {
    let port = free_port();
    let bin = repo().join(".venv/bin/moto_server");
    let log =
        std::fs::File::create(std::env::temp_dir().join(format!("e2e-moto-{port}.log"))).unwrap();
    let child = Command::new(need(&bin))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let probe = format!("{url}/moto-api/data.json");
    wait_until("moto", Duration::from_secs(30), || {
        ureq::get(&probe).call().is_ok()
    });
    (Proc(child), url)
}

fn start_prism() -> (Proc, String) {
    let port = free_port();
    let bin = repo().join("infra/node/node_modules/.bin/prism");
    let spec = repo().join("infra/node/twilio_api_v2010.json");
    let log =
        std::fs::File::create(std::env::temp_dir().join(format!("e2e-prism-{port}.log"))).unwrap();
    let child = Command::new(need(&bin))
        .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(need(&spec))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    wait_until("prism", Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (Proc(child), url)
}

fn sdk(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(ivr_aws::https_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            Credentials::new("testing", "testing", None, None, "e2e"),
        ))
        .build()
}

/// `ivr serve` on a free port, wired to moto and Prism.
fn start_ivr(config: &Path, data: &Path, moto: &str, prism: &str) -> (Proc, String, PathBuf) {
    let log_path = data.join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["serve", "--port", "0", "--config"])
        .arg(config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("IVR_NOW", TUESDAY_MORNING)
        .env("IVR_DATA_DIR", data)
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_ACCOUNT_SID", ACCOUNT)
        .env("TWILIO_API_BASE", prism)
        .env("IVR_RECORDINGS_BUCKET", "ivr-recordings")
        .env("IVR_STATE_TABLE", "ivr-state")
        .env("IVR_SES_SENDER", "ivr@example.com")
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            panic!(
                "ivr serve did not start: {line:?}; log: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        })
        .to_string();
    (Proc(child), base, log_path)
}

/// moto's record of what it did (sent mail is under `ses.RawMessage`).
fn moto_data(moto: &str) -> serde_json::Value {
    let body = ureq::get(&format!("{moto}/moto-api/data.json"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

/// The bucket, the state table and a verified SES sender, on moto.
async fn provision(
    conf: &SdkConfig,
    bucket: &str,
    table: &str,
) -> (aws_sdk_s3::Client, aws_sdk_dynamodb::Client) {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(conf);
    ddb.create_table()
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
    aws_sdk_sesv2::Client::new(conf)
        .create_email_identity()
        .email_identity("ivr@example.com")
        .send()
        .await
        .unwrap();

    (s3, ddb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voicemail_call_ends_in_s3_with_email_sms_and_twilio_delete() {
    let (_moto, moto) = start_moto();
    let (_prism, prism) = start_prism();
    let twilio = common::MediaServer::in_front_of(&prism);
    let conf = sdk(&moto);
    let (s3, ddb) = provision(&conf, "ivr-recordings", "ivr-state").await;

    let data = std::env::temp_dir().join(format!("ivr-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    let text = std::fs::read_to_string(repo().join("config.ini")).unwrap();
    let text = text.replace(
        "voicemail_max_length = 300\n",
        "voicemail_max_length = 300\nvoicemail_alert_email_to = office@example.com\n",
    );
    assert!(
        text.contains("office@example.com"),
        "config.ini's voicemail action changed"
    );
    let config = data.join("config.ini");
    std::fs::write(&config, text).unwrap();
    let (_ivr, base, log) = start_ivr(&config, &data, &moto, &twilio.base());

    // The caller presses 3 (leave a message) and records; Twilio's part is played by `ivr call`.
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args([
            "call",
            "--url",
            &format!("{base}/ivr"),
            "--press",
            "3",
            "--json",
        ])
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_ACCOUNT_SID", ACCOUNT)
        // Where the IVR's Twilio is: the RecordingUrl is posted there.
        .env("TWILIO_API_BASE", twilio.base())
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{transcript}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let callback = transcript
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "callback")
        .expect("a recording status callback");
    assert!(callback["url"]
        .as_str()
        .unwrap()
        .contains("initiated_by_section=voicemail"));

    // The worker finishes in the background: poll the state table.
    let state = ivr_aws::DynamoState::new(ddb.clone(), "ivr-state");
    let mut done = None;
    for _ in 0..200 {
        let items = ddb.scan().table_name("ivr-state").send().await.unwrap();
        if let Some(sid) = items
            .items()
            .first()
            .and_then(|i| i.get("recording_sid"))
            .and_then(|v| v.as_s().ok())
            .cloned()
        {
            if let Some(s) = state.get(&sid).await.unwrap() {
                if s.twilio_deleted {
                    done = Some((sid, s));
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let (sid, s) =
        done.unwrap_or_else(|| panic!("the pipeline did not finish; server log:\n{log_text}"));
    assert!(s.sms_sent, "SMS accepted by Prism");
    assert!(s.email_sent, "email accepted by SES (moto)");
    let stored = s.stored.expect("a verified copy");

    // The object: right place, the audio the simulator served, metadata.
    assert!(
        stored.key.starts_with("recordings/2026/11/24/CA"),
        "{}",
        stored.key
    );
    assert!(
        stored.key.ends_with(&format!("/{sid}.mp3")),
        "{}",
        stored.key
    );
    let obj = s3
        .get_object()
        .bucket("ivr-recordings")
        .key(&stored.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        obj.server_side_encryption().map(|e| e.as_str()),
        Some("AES256")
    );
    let meta = obj.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("section").map(String::as_str), Some("voicemail"));
    assert_eq!(meta.get("from").map(String::as_str), Some("+447700900555"));
    assert_eq!(meta.get("duration").map(String::as_str), Some("12"));
    let bytes = obj.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes.len() as u64, stored.size);
    assert_eq!(
        bytes.to_vec(),
        common::MediaServer::bytes(&sid),
        "the MP3 the stand-in served"
    );
    assert_eq!(twilio.fetches(&sid), 1, "{:?}", twilio.requests());

    // The email, in moto's record of sent mail.
    let sent = moto_data(&moto);
    let raw = sent["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(raw.len(), 1, "{sent}");
    assert_eq!(raw[0]["source"], "ivr@example.com");
    let mime = raw[0]["raw_data"].as_str().unwrap_or_default();
    assert!(
        mime.contains("Subject: New voicemail from +447700900555"),
        "{mime}"
    );
    assert!(mime.contains("To: office@example.com"), "{mime}");

    // Twilio retries the callback: nothing happens twice.
    let url = callback["url"].as_str().unwrap().to_string();
    let form: Vec<(String, String)> = vec![
        ("AccountSid".into(), ACCOUNT.into()),
        (
            "CallSid".into(),
            stored.key.split('/').nth(4).unwrap().into(),
        ),
        ("RecordingSid".into(), sid.clone()),
        ("RecordingUrl".into(), twilio.recording_url(&sid)),
        ("RecordingStatus".into(), "completed".into()),
        ("RecordingDuration".into(), "12".into()),
    ];
    let signature = shared::signature::compute(TOKEN, &url, &form);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let resp = ureq::post(&url)
        .set("X-Twilio-Signature", &signature)
        .send_form(&pairs)
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The webhook writes the job file before it answers and the worker
    // removes it once done (or dead-lettered): wait for that, not a while.
    let job = data.join("jobs").join(format!("{sid}.json"));
    wait_until(
        "the worker to finish the retried callback's job",
        Duration::from_secs(30),
        || !job.exists(),
    );
    let sent = moto_data(&moto);
    assert_eq!(
        sent["ses"]["RawMessage"].as_array().map(Vec::len),
        Some(1),
        "one email only"
    );
    let objects = s3
        .list_objects_v2()
        .bucket("ivr-recordings")
        .send()
        .await
        .unwrap();
    assert_eq!(objects.contents().len(), 1, "one object only");
    let again = state.get(&sid).await.unwrap().unwrap();
    assert!(again.sms_sent && again.email_sent && again.twilio_deleted);
    assert_eq!(
        twilio.fetches(&sid),
        1,
        "downloaded once: {:?}",
        twilio.requests()
    );
    let _ = std::fs::remove_dir_all(&data);
}

// ---------------------------------------------------------------------------
// Faults injected on the Rust side, over the real adapters (moto cannot fail
// on purpose): S3 puts, SES sends, Twilio downloads, SMS and DELETEs fail some
// of the time over many recordings.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use shared::recordings::{
    Mailer, Media, ObjectInfo, Outcome, Pipeline, PortError, PortResult, RecordingJob,
    RecordingStore, Settings, TwilioApi,
};

/// Fails a call with probability `rate`, deterministically from a seed.
struct Faults {
    rate: u64,
    seed: AtomicU64,
    injected: AtomicUsize,
}

impl Faults {
    fn new(percent: u64, seed: u64) -> Self {
        Faults {
            rate: percent,
            seed: AtomicU64::new(seed),
            injected: AtomicUsize::new(0),
        }
    }

    fn hit(&self, what: &str) -> PortResult<()> {
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        if x % 100 < self.rate {
            self.injected.fetch_add(1, Ordering::Relaxed);
            Err(PortError::Transient(format!("injected fault: {what}")))
        } else {
            Ok(())
        }
    }
}

struct FlakyStore(ivr_aws::S3Store, Faults);

impl RecordingStore for FlakyStore {
    async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        ct: &str,
        meta: &[(String, String)],
    ) -> PortResult<()> {
        self.1.hit("S3 put")?;
        self.0.put(key, bytes, ct, meta).await
    }

    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        self.0.head(key).await
    }

    async fn link(&self, key: &str, expires: Duration) -> PortResult<String> {
        self.0.link(key, expires).await
    }
}

struct FlakyMailer(ivr_aws::SesMailer, Faults);

impl Mailer for FlakyMailer {
    async fn send_raw(&self, from: &str, to: &[String], mime: &[u8]) -> PortResult<String> {
        self.1.hit("SES send")?;
        self.0.send_raw(from, to, mime).await
    }
}

/// Twilio REST (Prism) with faults; records every SMS and DELETE that went
/// through, and every DELETE of a recording whose copy was not in S3 then.
struct FlakyTwilio {
    inner: shared::twilio::TwilioClient,
    faults: Faults,
    store: ivr_aws::S3Store,
    sms: AtomicUsize,
    deleted: Mutex<Vec<String>>,
    premature: Mutex<Vec<String>>,
}

impl TwilioApi for FlakyTwilio {
    async fn download(&self, url: &str) -> PortResult<Media> {
        self.faults.hit("download")?;
        self.inner.download(url).await
    }

    async fn delete_recording(&self, sid: &str) -> PortResult<()> {
        self.faults.hit("Twilio DELETE")?;
        let listed = self
            .store
            .client
            .list_objects_v2()
            .bucket(&self.store.bucket)
            .send()
            .await
            .map_err(|e| PortError::Transient(e.to_string()))?;
        let has_copy = listed
            .contents()
            .iter()
            .any(|o| o.key().is_some_and(|k| k.ends_with(&format!("/{sid}.mp3"))));
        if !has_copy {
            self.premature.lock().unwrap().push(sid.to_string());
        }
        self.inner.delete_recording(sid).await?;
        self.deleted.lock().unwrap().push(sid.to_string());
        Ok(())
    }

    async fn send_sms(&self, from: &str, to: &str, body: &str) -> PortResult<String> {
        self.faults.hit("Twilio SMS")?;
        let sid = TwilioApi::send_sms(&self.inner, from, to, body).await?;
        self.sms.fetch_add(1, Ordering::SeqCst);
        Ok(sid)
    }
}

/// Serves `…/Recordings/RE….mp3` (any SID) on 127.0.0.1, in a thread.
fn media_server() -> String {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let body = format!("audio for {path}").into_bytes();
                let mut s = &stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            });
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_nothing_is_lost_nothing_deleted_early_each_effect_once() {
    let (_moto, moto) = start_moto();
    let (_prism, prism) = start_prism();
    let conf = sdk(&moto);
    let (s3, ddb) = provision(&conf, "faulty-recordings", "faulty-state").await;
    let media = media_server();
    let config = shared::Config::parse(
        &std::fs::read_to_string(repo().join("config.ini"))
            .unwrap()
            .replace(
                "voicemail_max_length = 300\n",
                "voicemail_max_length = 300\nvoicemail_alert_email_to = office@example.com\n",
            ),
    )
    .unwrap()
    .config;
    let mut settings = Settings::from_config(&config);
    settings.email_from = Some("ivr@example.com".into());
    let s3_store = ivr_aws::S3Store::new(s3.clone(), "faulty-recordings");
    let store = FlakyStore(s3_store.clone(), Faults::new(30, 0x9E37_79B9_7F4A_7C15));
    let mailer = FlakyMailer(
        ivr_aws::SesMailer::new(aws_sdk_sesv2::Client::new(&conf)),
        Faults::new(30, 0xD1B5_4A32_D192_ED03),
    );
    let twilio = FlakyTwilio {
        inner: shared::twilio::TwilioClient::new(&prism, ACCOUNT, TOKEN).unwrap(),
        faults: Faults::new(30, 0x2545_F491_4F6C_DD1D),
        store: s3_store,
        sms: AtomicUsize::new(0),
        deleted: Mutex::default(),
        premature: Mutex::default(),
    };
    let state = ivr_aws::DynamoState::new(ddb.clone(), "faulty-state");
    let pipeline = Pipeline {
        config: &config,
        settings: &settings,
        store: &store,
        mailer: &mailer,
        twilio: &twilio,
        state: &state,
    };
    const N: usize = 24;
    let now = chrono::DateTime::parse_from_rfc3339(TUESDAY_MORNING)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let jobs: Vec<RecordingJob> = (0..N)
        .map(|n| RecordingJob {
            recording_sid: format!("RE{n:032x}"),
            call_sid: format!("CA{n:032x}"),
            recording_url: format!("{media}/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{n:032x}"),
            duration_seconds: Some(9),
            section: "voicemail".into(),
            caller: Some("+447700900555".into()),
            called: Some("+442079460123".into()),
            received_at: now,
        })
        .collect();
    // Each job is delivered again until it is done, as SQS would; a duplicate
    // delivery of every job is interleaved too.
    let mut pending: Vec<&RecordingJob> = jobs.iter().chain(jobs.iter()).collect();
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds < 100, "jobs never finished: {}", pending.len());
        let mut next = Vec::new();
        // Each round comes after any backoff (at most 15 minutes) has passed.
        let at = now + chrono::Duration::minutes(15 * i64::from(rounds));
        for job in pending {
            match pipeline.process(job, "worker-1", at).await {
                Outcome::Done => {}
                Outcome::Retry { .. } | Outcome::Wait { .. } => next.push(job),
                Outcome::Failed { reason } => panic!("{}: {reason}", job.recording_sid),
            }
        }
        pending = next;
    }
    let injected = store.1.injected.load(Ordering::Relaxed)
        + mailer.1.injected.load(Ordering::Relaxed)
        + twilio.faults.injected.load(Ordering::Relaxed);
    assert!(injected >= N, "faults were injected ({injected})");

    // Nothing lost: every recording is in S3 with its bytes.
    let listed = s3
        .list_objects_v2()
        .bucket("faulty-recordings")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), N, "one object per recording");
    for job in &jobs {
        let s = state.get(&job.recording_sid).await.unwrap().expect("state");
        let stored = s.stored.clone().expect("stored");
        let obj = s3
            .get_object()
            .bucket("faulty-recordings")
            .key(&stored.key)
            .send()
            .await
            .unwrap();
        let bytes = obj.body.collect().await.unwrap().into_bytes();
        assert!(String::from_utf8_lossy(&bytes).ends_with(&format!("{}.mp3", job.recording_sid)));
        assert!(s.sms_sent && s.email_sent && s.twilio_deleted, "{s:?}");
    }
    // Each effect once; no DELETE before its copy existed.
    assert_eq!(twilio.sms.load(Ordering::SeqCst), N, "one SMS each");
    let mut deleted = twilio.deleted.lock().unwrap().clone();
    assert_eq!(deleted.len(), N, "one DELETE each");
    deleted.sort();
    deleted.dedup();
    assert_eq!(deleted.len(), N);
    assert!(
        twilio.premature.lock().unwrap().is_empty(),
        "a DELETE before the copy existed"
    );
    let sent = moto_data(&moto);
    assert_eq!(
        sent["ses"]["RawMessage"].as_array().map(Vec::len),
        Some(N),
        "one email each"
    );
}
