//! The pipeline's guarantees, on in-memory adapters with faults injected:
//! exactly one copy, email, SMS and DELETE per recording, whatever the
//! retries and races; nothing deleted from Twilio before its copy exists.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::local::LocalState;
use super::*;

const CONFIG: &str = "[ivr]\ntimezone = Europe/London\n[ivr_menu]\nsay = Press 1.\n[ivr_menu_option_1]\naction = vm\n\
[ivr_menu_option_2]\naction = keep\n[ivr_menu_option_3]\naction = tx\n\
[action_vm]\ntype = voicemail\nvoicemail_alert_sms_from = +447700900000\nvoicemail_alert_sms_to = +447700900001\nvoicemail_alert_email_to = office@example.com\nvoicemail_alert_email_attach = yes\n\
[action_keep]\ntype = voicemail\nkeep_twilio_copy = yes\nvoicemail_alert_email_to = office@example.com\n\
[action_tx]\ntype = voicemail\ntranscribe = yes\nvoicemail_alert_email_to = office@example.com\n";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Fails a call with probability `rate`, deterministically from a seed.
struct Faults {
    rate: f64,
    seed: AtomicU64,
}

impl Faults {
    fn new(rate: f64, seed: u64) -> Self {
        Faults {
            rate,
            seed: AtomicU64::new(seed.max(1)),
        }
    }

    fn hit(&self, what: &str) -> PortResult<()> {
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        if (x % 10_000) as f64 / 10_000.0 < self.rate {
            Err(PortError::Transient(format!("injected fault: {what}")))
        } else {
            Ok(())
        }
    }
}

/// Stored bytes and metadata, by key.
type Objects = HashMap<String, (Vec<u8>, Vec<(String, String)>)>;

#[derive(Default)]
struct MemStore {
    objects: Mutex<Objects>,
    faults: Option<Faults>,
    corrupt: bool,
    /// Plays the local data folder: `file://` links, not off site.
    on_this_machine: bool,
}

impl RecordingStore for MemStore {
    async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        _ct: &str,
        meta: &[(String, String)],
    ) -> PortResult<()> {
        if let Some(f) = &self.faults {
            f.hit("s3 put")?;
        }
        let mut stored = bytes.to_vec();
        if self.corrupt {
            stored.pop();
        }
        self.objects
            .lock()
            .unwrap()
            .insert(key.into(), (stored, meta.to_vec()));
        Ok(())
    }

    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(key)
            .map(|(b, _)| ObjectInfo {
                size: b.len() as u64,
                md5_hex: Some(md5_hex(b)),
            }))
    }

    async fn link(&self, key: &str, _e: Duration) -> PortResult<String> {
        if self.on_this_machine {
            return Ok(format!("file:///home/ivr/.ivr/{key}"));
        }
        Ok(format!("https://bucket.example/{key}?signed"))
    }

    fn off_site(&self) -> bool {
        !self.on_this_machine
    }
}

#[derive(Default)]
struct MemMailer {
    sent: Mutex<Vec<String>>,
    faults: Option<Faults>,
}

impl Mailer for MemMailer {
    async fn send_raw(&self, _from: &str, _to: &[String], mime: &[u8]) -> PortResult<String> {
        if let Some(f) = &self.faults {
            f.hit("ses send")?;
        }
        self.sent
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(mime).into_owned());
        Ok("msg".into())
    }
}

/// The account the tests' API base serves.
const AC: &str = "AC0123456789abcdef0123456789abcdef";
const API_BASE: &str = "https://api.twilio.com";

/// Where the pipeline must fetch recording `sid` from.
fn media_url_of(sid: &str) -> String {
    format!("{API_BASE}/2010-04-01/Accounts/{AC}/Recordings/{sid}.mp3")
}

struct FakeTwilio {
    media: HashMap<String, Vec<u8>>,
    /// Every URL a download was asked for.
    downloads: Mutex<Vec<String>>,
    /// Every download fails (transiently), as a media URL that answers 503.
    unavailable: bool,
    store: Arc<MemStore>,
    sms: Mutex<Vec<String>>,
    deleted: Mutex<Vec<String>>,
    /// Deletes of a recording whose copy was not in the store at that moment.
    premature_deletes: Mutex<Vec<String>>,
    faults: Option<Faults>,
}

impl FakeTwilio {
    fn new(store: Arc<MemStore>, recordings: &[&str]) -> Self {
        FakeTwilio {
            media: recordings
                .iter()
                .map(|sid| (media_url_of(sid), format!("audio of {sid}").into_bytes()))
                .collect(),
            downloads: Mutex::default(),
            unavailable: false,
            store,
            sms: Mutex::default(),
            deleted: Mutex::default(),
            premature_deletes: Mutex::default(),
            faults: None,
        }
    }
}

impl TwilioApi for FakeTwilio {
    async fn download(&self, url: &str) -> PortResult<Media> {
        self.downloads.lock().unwrap().push(url.to_string());
        if self.unavailable {
            return Err(PortError::Transient("HTTP 503".into()));
        }
        if let Some(f) = &self.faults {
            f.hit("download")?;
        }
        match self.media.get(url) {
            Some(b) => Ok(Media {
                bytes: b.clone(),
                content_type: "audio/mpeg".into(),
            }),
            None => Err(PortError::NotFound(url.into())),
        }
    }

    async fn delete_recording(&self, sid: &str) -> PortResult<()> {
        if let Some(f) = &self.faults {
            f.hit("twilio delete")?;
        }
        let has_copy = self
            .store
            .objects
            .lock()
            .unwrap()
            .keys()
            .any(|k| k.ends_with(&format!("/{sid}.mp3")));
        if !has_copy {
            self.premature_deletes.lock().unwrap().push(sid.into());
        }
        self.deleted.lock().unwrap().push(sid.into());
        Ok(())
    }

    async fn send_sms(&self, _from: &str, _to: &str, body: &str) -> PortResult<String> {
        if let Some(f) = &self.faults {
            f.hit("twilio sms")?;
        }
        self.sms.lock().unwrap().push(body.into());
        Ok("SM1".into())
    }
}

fn sid(n: usize) -> String {
    format!("RE{n:032x}")
}

fn job(n: usize, section: &str) -> RecordingJob {
    RecordingJob {
        recording_sid: sid(n),
        call_sid: format!("CA{n:032x}"),
        recording_url: format!("{API_BASE}/2010-04-01/Accounts/{AC}/Recordings/{}", sid(n)),
        duration_seconds: Some(7),
        section: section.into(),
        caller: Some("+447700900555".into()),
        called: Some("+442079460123".into()),
        received_at: now(),
    }
}

struct World {
    config: Config,
    settings: Settings,
    store: Arc<MemStore>,
    mailer: MemMailer,
    twilio: FakeTwilio,
    state: LocalState,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn world(recordings: usize, store: MemStore) -> World {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ivr-pipeline-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let config = Config::parse(CONFIG).unwrap().config;
    let mut settings = Settings::from_config(&config);
    settings.email_from = Some("ivr@example.com".into());
    // What a worker with Twilio credentials is set up with (not the test's environment).
    settings.media = MediaSource::new(API_BASE, Some(AC), false);
    settings.never_delete = false;
    settings.sms_to_files = false;
    let store = Arc::new(store);
    let sids: Vec<String> = (0..recordings).map(sid).collect();
    let refs: Vec<&str> = sids.iter().map(String::as_str).collect();
    World {
        twilio: FakeTwilio::new(store.clone(), &refs),
        config,
        settings,
        store,
        mailer: MemMailer::default(),
        state: LocalState::new(dir.clone()),
        _dir: TempDir(dir),
    }
}

impl World {
    fn pipeline(&self) -> Pipeline<'_, MemStore, MemMailer, FakeTwilio, LocalState> {
        Pipeline {
            config: &self.config,
            settings: &self.settings,
            store: &self.store,
            mailer: &self.mailer,
            twilio: &self.twilio,
            state: &self.state,
        }
    }

    /// Runs a job the way a queue would: again and again until it is done,
    /// each time after the `after` it asked for (on a simulated clock; a
    /// short real pause lets concurrent drivers interleave).
    async fn drive(&self, job: &RecordingJob, owner: &str) -> (Outcome, usize) {
        let mut t = now();
        for round in 1..=200 {
            match self.pipeline().process(job, owner, t).await {
                Outcome::Retry { after, .. } | Outcome::Wait { after, .. } => {
                    t += chrono::Duration::from_std(after).unwrap();
                    tokio::time::sleep(Duration::from_millis(2)).await
                }
                other => return (other, round),
            }
        }
        panic!("job {} never finished", job.recording_sid);
    }
}

#[tokio::test]
async fn a_voicemail_is_stored_alerted_and_deleted_once() {
    let w = world(1, MemStore::default());
    let (outcome, rounds) = w.drive(&job(0, "vm"), "w1").await;
    assert_eq!((outcome, rounds), (Outcome::Done, 1));
    let objects = w.store.objects.lock().unwrap();
    let (key, (bytes, meta)) = objects.iter().next().unwrap();
    assert_eq!(
        key,
        &format!("recordings/2026/11/24/CA{:032x}/{}.mp3", 0, sid(0))
    );
    assert_eq!(bytes, b"audio of RE00000000000000000000000000000000");
    assert!(meta.contains(&("from".into(), "+447700900555".into())));
    assert!(meta.contains(&("section".into(), "vm".into())));
    assert!(meta.contains(&("duration".into(), "7".into())));
    let sms = w.twilio.sms.lock().unwrap();
    assert_eq!(sms.len(), 1);
    assert!(
        sms[0].contains("+447700900555") && sms[0].contains("https://bucket.example/recordings/"),
        "{}",
        sms[0]
    );
    let mail = w.mailer.sent.lock().unwrap();
    assert_eq!(mail.len(), 1);
    assert!(mail[0].contains("Subject: New voicemail from +447700900555"));
    assert!(
        mail[0].contains("Content-Disposition: attachment"),
        "attachment asked for"
    );
    assert_eq!(*w.twilio.deleted.lock().unwrap(), vec![sid(0)]);
    let state = w.state.get(&sid(0)).unwrap();
    assert!(state.sms_sent && state.email_sent && state.twilio_deleted && state.stored.is_some());
}

#[tokio::test]
async fn sequential_duplicates_change_nothing() {
    let w = world(1, MemStore::default());
    for _ in 0..3 {
        assert_eq!(w.drive(&job(0, "vm"), "w1").await.0, Outcome::Done);
    }
    assert_eq!(w.twilio.sms.lock().unwrap().len(), 1);
    assert_eq!(w.mailer.sent.lock().unwrap().len(), 1);
    assert_eq!(w.twilio.deleted.lock().unwrap().len(), 1);
    assert_eq!(w.store.objects.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_produce_each_effect_once() {
    let w = Arc::new(world(1, MemStore::default()));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            w.drive(&job(0, "vm"), &format!("worker-{i}")).await.0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Outcome::Done);
    }
    assert_eq!(w.twilio.sms.lock().unwrap().len(), 1);
    assert_eq!(w.mailer.sent.lock().unwrap().len(), 1);
    assert_eq!(w.twilio.deleted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn nothing_is_lost_or_deleted_early_under_faults() {
    let store = MemStore {
        faults: Some(Faults::new(0.3, 7)),
        ..MemStore::default()
    };
    let mut w = world(60, store);
    // Unlimited retries: this is about losing nothing, not about giving up.
    w.settings.max_attempts = u32::MAX;
    w.mailer.faults = Some(Faults::new(0.3, 11));
    w.twilio.faults = Some(Faults::new(0.3, 13));
    let mut retried = 0;
    for n in 0..60 {
        let (outcome, rounds) = w.drive(&job(n, "vm"), "w1").await;
        assert_eq!(outcome, Outcome::Done, "recording {n}");
        retried += usize::from(rounds > 1);
    }
    assert!(retried > 20, "faults were injected ({retried} retried)");
    let objects = w.store.objects.lock().unwrap();
    assert_eq!(objects.len(), 60, "every recording stored");
    for (key, (bytes, _)) in objects.iter() {
        assert!(key.ends_with(".mp3"));
        assert!(String::from_utf8_lossy(bytes).starts_with("audio of RE"));
    }
    assert_eq!(w.twilio.sms.lock().unwrap().len(), 60, "one SMS each");
    assert_eq!(w.mailer.sent.lock().unwrap().len(), 60, "one email each");
    let mut deleted = w.twilio.deleted.lock().unwrap().clone();
    deleted.sort();
    deleted.dedup();
    assert_eq!(deleted.len(), 60, "every Twilio copy deleted");
    assert!(
        w.twilio.premature_deletes.lock().unwrap().is_empty(),
        "a DELETE before the copy existed"
    );
}

#[tokio::test]
async fn a_copy_that_does_not_verify_is_never_followed_by_a_delete() {
    let w = world(
        1,
        MemStore {
            corrupt: true,
            ..MemStore::default()
        },
    );
    match w.pipeline().process(&job(0, "vm"), "w1", now()).await {
        Outcome::Retry { reason, .. } => assert!(reason.contains("does not match"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(w.twilio.deleted.lock().unwrap().is_empty());
    assert!(w.twilio.sms.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_recording_twilio_no_longer_has_fails_without_a_loop() {
    let w = world(1, MemStore::default());
    match w.pipeline().process(&job(5, "vm"), "w1", now()).await {
        Outcome::Failed { reason } => assert!(reason.contains("not found"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(w.twilio.deleted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn keep_twilio_copy_skips_the_delete() {
    let w = world(1, MemStore::default());
    assert_eq!(w.drive(&job(0, "keep"), "w1").await.0, Outcome::Done);
    assert!(w.twilio.deleted.lock().unwrap().is_empty());
    assert_eq!(w.mailer.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn alerts_wait_for_the_transcription_then_include_it() {
    let w = world(1, MemStore::default());
    let j = job(0, "tx");
    for _ in 0..20 {
        assert!(matches!(
            w.pipeline().process(&j, "w1", now()).await,
            Outcome::Wait { .. }
        ));
    }
    assert_eq!(
        w.state.get(&sid(0)).unwrap().attempts,
        0,
        "waiting is not an attempt"
    );
    assert!(w.mailer.sent.lock().unwrap().is_empty());
    w.state
        .record_transcription(
            &sid(0),
            "completed",
            Some("Please call me back about the boiler."),
        )
        .await
        .unwrap();
    assert_eq!(w.pipeline().process(&j, "w1", now()).await, Outcome::Done);
    let mail = w.mailer.sent.lock().unwrap().clone();
    use base64::Engine;
    let body_b64: String = mail[0]
        .split("\r\n\r\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    let body = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(body_b64)
            .unwrap(),
    )
    .unwrap();
    assert!(
        body.contains("Please call me back about the boiler."),
        "{body}"
    );
    assert!(
        body.contains("Received:  Tue 24 Nov 2026 10:00 GMT"),
        "{body}"
    );
    // And after the wait runs out, alerts go without it.
    let w2 = world(1, MemStore::default());
    let late = now() + chrono::Duration::minutes(11);
    assert_eq!(w2.pipeline().process(&j, "w1", late).await, Outcome::Done);
}

#[tokio::test]
async fn a_held_lease_makes_others_wait() {
    let w = world(1, MemStore::default());
    let lease = w
        .state
        .claim(&sid(0), "other", now(), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(lease, Claim::Acquired(_)));
    assert!(matches!(
        w.pipeline().process(&job(0, "vm"), "w1", now()).await,
        Outcome::Wait { .. }
    ));
    assert!(w.twilio.sms.lock().unwrap().is_empty());
    // An expired lease is taken over.
    let later = now() + chrono::Duration::minutes(2);
    assert_eq!(
        w.pipeline().process(&job(0, "vm"), "w1", later).await,
        Outcome::Done
    );
}

#[test]
fn backoff_grows_and_caps() {
    assert_eq!(backoff(1), Duration::from_secs(2));
    assert_eq!(backoff(3), Duration::from_secs(8));
    assert_eq!(backoff(30), Duration::from_secs(900));
}

/// Issue 11, finding 3: ten identical callbacks while the media URL fails
/// made eight attempts in 66 ms. A delivery during the backoff is a wait.
#[tokio::test]
async fn duplicate_deliveries_during_a_backoff_are_not_attempts() {
    let mut w = world(1, MemStore::default());
    w.twilio.unavailable = true;
    let j = job(0, "vm");
    let at = |s: i64| now() + chrono::Duration::seconds(s);
    let deliver = |t| {
        let w = &w;
        let j = &j;
        async move {
            let mut outcomes = Vec::new();
            for _ in 0..10 {
                outcomes.push(w.pipeline().process(j, "w1", t).await);
            }
            outcomes
        }
    };
    let first = deliver(at(0)).await;
    assert!(
        matches!(&first[0], Outcome::Retry { after, .. } if *after == Duration::from_secs(2)),
        "{:?}",
        first[0]
    );
    for o in &first[1..] {
        match o {
            Outcome::Wait { after, reason } => {
                assert_eq!(*after, Duration::from_secs(2));
                assert!(reason.contains("backing off after attempt 1"), "{reason}");
            }
            other => panic!("a duplicate was an attempt: {other:?}"),
        }
    }
    assert_eq!(w.twilio.downloads.lock().unwrap().len(), 1, "one attempt");
    let state = w.state.get(&sid(0)).unwrap();
    assert_eq!((state.attempts, state.retry_at), (1, Some(at(2))));
    // Halfway through the backoff: still waits, for the rest of it.
    for o in deliver(now() + chrono::Duration::milliseconds(1500)).await {
        assert!(
            matches!(o, Outcome::Wait { after, .. } if after == Duration::from_secs(1)),
            "{o:?}"
        );
    }
    assert_eq!(w.twilio.downloads.lock().unwrap().len(), 1);
    // When it is over, one attempt again, then a 4 s backoff.
    let second = deliver(at(2)).await;
    assert!(
        matches!(&second[0], Outcome::Retry { after, .. } if *after == Duration::from_secs(4)),
        "{:?}",
        second[0]
    );
    assert!(second[1..]
        .iter()
        .all(|o| matches!(o, Outcome::Wait { .. })));
    assert_eq!(w.twilio.downloads.lock().unwrap().len(), 2);
    // The schedule holds to the end: the attempt limit is reached only
    // after every backoff, and then the job fails (dead-letter, Twilio's copy kept).
    let mut t = at(2);
    let mut last = second[0].clone();
    let mut attempts_at = vec![at(0), at(2)];
    while let Outcome::Retry { after, .. } = last {
        t += chrono::Duration::from_std(after).unwrap();
        last = w.pipeline().process(&j, "w1", t).await;
        attempts_at.push(t);
        if matches!(last, Outcome::Retry { .. }) {
            for o in deliver(t).await {
                assert!(matches!(o, Outcome::Wait { .. }), "{o:?}");
            }
        }
    }
    match last {
        Outcome::Failed { reason } => {
            assert!(reason.contains("gave up after 10 attempts"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.twilio.downloads.lock().unwrap().len(), 10);
    let gaps: Vec<i64> = attempts_at
        .windows(2)
        .map(|p| (p[1] - p[0]).num_seconds())
        .collect();
    assert_eq!(gaps, [2, 4, 8, 16, 32, 64, 128, 256, 512]);
    assert!(w.twilio.deleted.lock().unwrap().is_empty());
}

/// Issue 11, finding 4: the worker fetched whatever `RecordingUrl` said.
/// It now fetches the recording from the configured API base, and refuses
/// a callback whose URL is anything else, without fetching anything.
#[tokio::test]
async fn the_media_url_is_built_from_the_api_base_and_others_are_refused() {
    let w = world(1, MemStore::default());
    let path = format!("/2010-04-01/Accounts/{AC}/Recordings/{}", sid(0));
    for posted in [
        format!("http://169.254.169.254{path}"),
        format!("http://10.0.0.1{path}"),
        format!("http://127.0.0.1:8080{path}"),
        format!("https://evil.example{path}"),
        format!("https://api.twilio.com/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Recordings/{}", sid(0)),
        "http://169.254.169.254/latest/meta-data/iam".to_string(),
    ] {
        let mut j = job(0, "vm");
        j.recording_url = posted.clone();
        match w.pipeline().process(&j, "w1", now()).await {
            Outcome::Failed { reason } => assert!(
                reason.contains("RecordingUrl") && reason.contains("refused"),
                "{posted}: {reason}"
            ),
            other => panic!("{posted}: {other:?}"),
        }
    }
    assert!(
        w.twilio.downloads.lock().unwrap().is_empty(),
        "fetched: {:?}",
        w.twilio.downloads.lock().unwrap()
    );
    assert!(w.store.objects.lock().unwrap().is_empty());
    assert!(w.twilio.sms.lock().unwrap().is_empty());
    // The real one: fetched from the derived URL.
    let w = world(1, MemStore::default());
    assert_eq!(w.drive(&job(0, "vm"), "w1").await.0, Outcome::Done);
    assert_eq!(*w.twilio.downloads.lock().unwrap(), [media_url_of(&sid(0))]);
}

/// Issue 11, finding 10: with the only other copy on this machine's disk,
/// Twilio's copy stays, and the text names no `file://` link.
#[tokio::test]
async fn a_copy_only_on_this_disk_keeps_twilios_and_texts_no_file_link() {
    let w = world(
        1,
        MemStore {
            on_this_machine: true,
            ..MemStore::default()
        },
    );
    assert_eq!(w.drive(&job(0, "vm"), "w1").await.0, Outcome::Done);
    assert!(
        w.twilio.deleted.lock().unwrap().is_empty(),
        "Twilio's copy deleted"
    );
    assert_eq!(
        *w.twilio.sms.lock().unwrap(),
        ["New voicemail from +447700900555 (7s): stored locally; Twilio's copy kept"]
    );
    let state = w.state.get(&sid(0)).unwrap();
    assert!(state.sms_sent && state.email_sent && !state.twilio_deleted);
    // SMS files for a developer (no credentials) keep the link to the file.
    let mut w = world(
        1,
        MemStore {
            on_this_machine: true,
            ..MemStore::default()
        },
    );
    w.settings.sms_to_files = true;
    assert_eq!(w.drive(&job(0, "vm"), "w1").await.0, Outcome::Done);
    let sms = w.twilio.sms.lock().unwrap().clone();
    assert!(
        sms[0].ends_with(&format!(
            "(7s): file:///home/ivr/.ivr/recordings/2026/11/24/CA{:032x}/{}.mp3",
            0,
            sid(0)
        )),
        "{sms:?}"
    );
}
