//! Harness shared by the black-box tests: runs the real `ivr` binary and
//! talks HTTP to it the way Twilio does (signed form posts, JSON bodies with
//! `bodySHA256`), plus the odd requests Twilio never sends (no Host header,
//! forged signatures, huge bodies). Also the stand-ins it talks to (Twilio's
//! recording media, Prism) and `ivr call` with its transcripts. Used by the
//! tests in `tests/` and, by path, `cli/tests/`.
//!
//! Servers and stand-ins log and work in their own time: a test waits (with
//! a deadline) for what it asserts on, never a fixed while for something to
//! happen ([`QUIET_PERIOD`] is only for what must not happen).
//!
//! Every reply that comes back through here is checked for what must never
//! reach Twilio: a 5xx, a Python traceback or a Rust panic message.

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub use shared::twiml::Node;

/// The auth token every signed server is started with.
pub const TOKEN: &str = "test-auth-token-5f2b9c0e7d41";

/// Wednesday 2026-06-17 10:00 in London (BST): every fixture and repo hours section is open.
pub const WEEKDAY_10AM: &str = "2026-06-17T09:00:00Z";

const START_TIMEOUT: Duration = Duration::from_secs(60);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long background work (the recordings worker) may take to show.
pub const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to watch for background work that must not happen.
pub const QUIET_PERIOD: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------
// Files

/// The repository root (the workspace that holds `config.ini`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

/// The repository's own `config.ini`.
pub fn repo_config() -> PathBuf {
    repo_root().join("config.ini")
}

/// twilio-aws-ivr's sample config, which must load unchanged.
pub fn fixture_config() -> PathBuf {
    repo_root().join("tests/fixtures/twilio-aws-ivr.config.ini")
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("ivr-http-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A config file written into its own temp dir (kept alive by the returned guard).
pub struct TempConfig {
    pub dir: TempDir,
    pub path: PathBuf,
}

pub fn write_config(tag: &str, text: &str) -> TempConfig {
    let dir = TempDir::new(tag);
    let path = dir.path().join("config.ini");
    std::fs::write(&path, text).expect("write temp config");
    TempConfig { dir, path }
}

/// `text` with the one occurrence of `from` replaced; panics if `from` is not there exactly once.
pub fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "expected exactly one `{from}` in the config"
    );
    text.replacen(from, to, 1)
}

/// `text` without the section `[name]` (its header up to the next section header).
pub fn remove_section(text: &str, name: &str) -> String {
    let header = format!("[{name}]");
    let mut out = String::new();
    let mut skipping = false;
    let mut found = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            skipping = t == header;
            found |= skipping;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(found, "no section {header} in the config");
    out
}

/// 1-based number of the only line equal to `line` (trimmed).
pub fn line_of(text: &str, line: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == line)
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "expected exactly one line `{line}`");
    hits[0]
}

// ---------------------------------------------------------------------------
// The server

pub struct ServerBuilder {
    config: PathBuf,
    now: Option<String>,
    token: Option<String>,
    public_url: Option<String>,
    envs: Vec<(String, String)>,
}

impl ServerBuilder {
    pub fn now(mut self, rfc3339: &str) -> Self {
        self.now = Some(rfc3339.to_string());
        self
    }

    /// No `TWILIO_AUTH_TOKEN` at all: the server runs open.
    pub fn without_token(mut self) -> Self {
        self.token = None;
        self
    }

    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.to_string());
        self
    }

    /// Another environment variable for the server (e.g. `TWILIO_API_BASE`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    pub fn start(self) -> Server {
        let data_dir = TempDir::new("data");
        let mut cmd = ivr_command();
        cmd.arg("serve")
            .arg("--config")
            .arg(&self.config)
            .args(["--port", "0"])
            .env("IVR_DATA_DIR", data_dir.path())
            // Tests read the JSON log lines: not filtered by the caller's RUST_LOG.
            .env("RUST_LOG", "info")
            .current_dir(data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(now) = &self.now {
            cmd.env("IVR_NOW", now);
        }
        if let Some(token) = &self.token {
            cmd.env("TWILIO_AUTH_TOKEN", token);
        }
        if let Some(url) = &self.public_url {
            cmd.env("IVR_PUBLIC_URL", url);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn the ivr binary");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = {
            let pipe = child.stderr.take().expect("piped stderr");
            let sink = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                    s.push_str(&line);
                    s.push('\n');
                }
            })
        };
        let (tx, rx) = mpsc::channel();
        {
            let pipe = child.stdout.take().expect("piped stdout");
            std::thread::spawn(move || {
                let mut sent = false;
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if !sent {
                        if let Some(rest) = line.trim().strip_prefix("listening on http://") {
                            let _ = tx.send(rest.to_string());
                            sent = true;
                        }
                    }
                }
            });
        }
        let addr = match rx.recv_timeout(START_TIMEOUT) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                // The child is gone, so its stderr ends: everything it said is read.
                let _ = stderr_reader.join();
                panic!(
                    "ivr serve did not print `listening on` (exit: {status:?}); stderr:\n{}",
                    stderr.lock().unwrap_or_else(|p| p.into_inner())
                );
            }
        };
        let port: u16 = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no port in `listening on http://{addr}`"));
        assert!(
            addr.starts_with("127.0.0.1:"),
            "ivr serve must listen on 127.0.0.1, got {addr}"
        );
        Server {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            token: self.token,
            public_url: self.public_url,
            data_dir,
            stderr,
        }
    }
}

/// `ivr` with no TWILIO_* / IVR_* inherited from the test's environment.
pub fn ivr_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivr"));
    for (key, _) in std::env::vars_os() {
        if let Some(k) = key.to_str() {
            if k.starts_with("TWILIO_") || k.starts_with("IVR_") {
                cmd.env_remove(k);
            }
        }
    }
    cmd
}

/// Runs `ivr ARGS` to completion (killing it after a minute), returning exit status, stdout, stderr.
pub fn run_ivr(args: &[&str], envs: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let mut cmd = ivr_command();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the ivr binary");
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
    let deadline = Instant::now() + START_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("wait for ivr") {
            Some(s) => break s,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`ivr {}` did not exit within a minute", args.join(" "));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    (
        status,
        out_t.join().unwrap_or_default(),
        err_t.join().unwrap_or_default(),
    )
}

/// A running `ivr serve`, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    /// `http://127.0.0.1:PORT`: where requests go, and (without IVR_PUBLIC_URL) the URL that is signed.
    pub base: String,
    pub token: Option<String>,
    pub public_url: Option<String>,
    pub data_dir: TempDir,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    pub fn builder(config: impl AsRef<Path>) -> ServerBuilder {
        ServerBuilder {
            config: config.as_ref().to_path_buf(),
            now: Some(WEEKDAY_10AM.to_string()),
            token: Some(TOKEN.to_string()),
            public_url: None,
            envs: Vec::new(),
        }
    }

    /// The fixture config, signed, on a weekday morning.
    pub fn fixture() -> Server {
        Self::builder(fixture_config()).start()
    }

    pub fn fixture_at(now: &str) -> Server {
        Self::builder(fixture_config()).now(now).start()
    }

    /// The repository's config.ini, signed, on a weekday morning.
    pub fn repo() -> Server {
        Self::builder(repo_config()).start()
    }

    pub fn repo_at(now: &str) -> Server {
        Self::builder(repo_config()).now(now).start()
    }

    /// The base of every absolute URL in TwiML, and of the signed URL.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => self.base.clone(),
        }
    }

    /// `public_base()` + `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.public_base())
    }

    /// What the server has written on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits (up to 10 s) for `needle` on stderr.
    pub fn stderr_contains(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.stderr().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The SMS files written by the local messenger (`IVR_DATA_DIR/sms/*.json`), sorted.
    pub fn sms_files(&self) -> Vec<PathBuf> {
        self.files_in("sms", ".json")
    }

    /// The data folder as the server sees it (symlinks resolved), for `file://` links.
    pub fn data_path(&self) -> PathBuf {
        std::fs::canonicalize(self.data_dir.path()).unwrap_or_else(|_| self.data_dir.path().into())
    }

    /// Files directly in `IVR_DATA_DIR/<rel>` whose names end with `suffix`, sorted.
    pub fn files_in(&self, rel: &str, suffix: &str) -> Vec<PathBuf> {
        let dir = self.data_dir.path().join(rel);
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }

    /// Every file under the data folder, as sorted paths relative to it —
    /// but the work-item database (`ivr.sqlite` and its WAL files), which
    /// `ivr serve` opens at start-up.
    pub fn inventory(&self) -> Vec<String> {
        fn walk_dir(root: &Path, dir: &Path, out: &mut Vec<String>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk_dir(root, &p, out);
                } else if let Ok(rel) = p.strip_prefix(root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk_dir(self.data_dir.path(), self.data_dir.path(), &mut out);
        out.retain(|f| !["ivr.sqlite", "ivr.sqlite-wal", "ivr.sqlite-shm"].contains(&f.as_str()));
        out.sort();
        out
    }

    /// Stored recordings (`recordings/**/*.mp3`), relative to the data folder.
    pub fn recordings(&self) -> Vec<String> {
        self.inventory()
            .into_iter()
            .filter(|p| p.starts_with("recordings/") && p.ends_with(".mp3"))
            .collect()
    }

    /// Alert emails (`outbox/*.eml`).
    pub fn outbox_files(&self) -> Vec<PathBuf> {
        self.files_in("outbox", ".eml")
    }

    /// Jobs still queued (`jobs/*.json`).
    pub fn job_files(&self) -> Vec<PathBuf> {
        self.files_in("jobs", ".json")
    }

    /// Jobs given up on (`jobs/dead/*.json`).
    pub fn dead_jobs(&self) -> Vec<PathBuf> {
        self.files_in("jobs/dead", ".json")
    }

    /// `state/<RecordingSid>.json`, parsed, if it exists.
    pub fn state(&self, recording_sid: &str) -> Option<serde_json::Value> {
        let path = self
            .data_dir
            .path()
            .join("state")
            .join(format!("{recording_sid}.json"));
        let text = std::fs::read_to_string(&path).ok()?;
        Some(
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text}", path.display())),
        )
    }

    /// Polls `cond` for up to 10 s; on timeout panics with the data folder and stderr.
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + BACKGROUND_TIMEOUT;
        loop {
            if cond() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}\ndata folder: {:#?}\nstderr:\n{}",
                    self.inventory(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until the background worker has nothing queued (`jobs/*.json` gone).
    pub fn wait_for_idle_queue(&self) {
        self.wait_until("the job queue to drain", || self.job_files().is_empty());
    }

    /// Polls stderr (up to 10 s) for one line containing every needle.
    pub fn stderr_line(&self, needles: &[&str]) -> Option<String> {
        let deadline = Instant::now() + BACKGROUND_TIMEOUT;
        loop {
            if let Some(line) = self
                .stderr()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
            {
                return Some(line.to_string());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// A request to build; signed by default.
    pub fn request(&self, path_and_query: &str) -> Request<'_> {
        Request {
            server: self,
            method: "POST".into(),
            path: path_and_query.to_string(),
            params: Vec::new(),
            body: None,
            headers: Vec::new(),
            signature: Signature::Computed {
                url: None,
                token: None,
                params: None,
            },
        }
    }

    /// A signed POST of form `params`, as Twilio sends it.
    pub fn post(&self, path_and_query: &str, params: &[(&str, &str)]) -> Reply {
        self.request(path_and_query).params(params).send()
    }

    /// An unsigned GET.
    pub fn get_unsigned(&self, path_and_query: &str) -> Reply {
        self.request(path_and_query).method("GET").unsigned().send()
    }

    /// Sends `raw` as-is over a fresh TCP connection and reads until the server closes.
    pub fn raw(&self, raw: &[u8]) -> Reply {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(HTTP_TIMEOUT)).expect("timeout");
        s.write_all(raw).expect("write raw request");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP response head in {text:?}"));
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {text:?}"));
        let content_type = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        Reply::checked(status, content_type, body.to_string(), "raw request")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Twilio's recording media, served locally

/// The account every `RecordingUrl` is under.
pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";

/// A stand-in for `api.twilio.com` that serves recording media:
/// `GET /2010-04-01/Accounts/AC…/Recordings/RE….mp3` answers [`MediaServer::bytes`]
/// (unless [`MediaServer::forget`] made it a 404); everything else is a 404,
/// or, in front of Prism ([`MediaServer::in_front_of`]), relayed to it: one
/// `TWILIO_API_BASE` for media and REST, as Twilio's own. Every request is
/// recorded.
pub struct MediaServer {
    pub port: u16,
    inner: Arc<MediaInner>,
}

#[derive(Default)]
struct MediaInner {
    /// `"METHOD /path"` of every request, in order.
    requests: Mutex<Vec<String>>,
    missing: Mutex<HashSet<String>>,
    stop: AtomicBool,
    /// `127.0.0.1:PORT` that takes every request that is not for media.
    upstream: Option<String>,
}

impl MediaServer {
    pub fn start() -> MediaServer {
        Self::serve(None)
    }

    /// Media here, every other request relayed to `upstream_base`
    /// (`http://127.0.0.1:PORT`, e.g. [`Prism::base`]).
    pub fn in_front_of(upstream_base: &str) -> MediaServer {
        let addr = upstream_base
            .strip_prefix("http://")
            .expect("an http:// upstream")
            .trim_end_matches('/');
        Self::serve(Some(addr.to_string()))
    }

    /// `http://127.0.0.1:PORT`, for `TWILIO_API_BASE`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(upstream: Option<String>) -> MediaServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the media server");
        let port = listener.local_addr().expect("media server address").port();
        let inner = Arc::new(MediaInner {
            upstream,
            ..MediaInner::default()
        });
        let shared = inner.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve_media(&shared, stream));
            }
        });
        MediaServer { port, inner }
    }

    /// Twilio's `RecordingUrl` for `sid` here (without `.mp3`, as Twilio posts it).
    pub fn recording_url(&self, sid: &str) -> String {
        format!(
            "http://127.0.0.1:{}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}",
            self.port
        )
    }

    /// The MP3 served for `sid`: binary (not UTF-8), a few KiB, different per recording.
    pub fn bytes(sid: &str) -> Vec<u8> {
        let mut b = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
        b.extend_from_slice(sid.as_bytes());
        for i in 0..4096u32 {
            b.push((i.wrapping_mul(31) ^ sid.len() as u32) as u8);
        }
        b.extend_from_slice(&[0xff, 0xfb, 0x90, 0x64, 0x00]);
        b
    }

    /// From now on `sid`'s media answers 404 (a recording Twilio no longer has).
    pub fn forget(&self, sid: &str) {
        lock(&self.inner.missing).insert(sid.to_string());
    }

    /// Every request so far, as `"METHOD /path"`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.inner.requests).clone()
    }

    /// How many times `sid`'s media was asked for.
    pub fn fetches(&self, sid: &str) -> usize {
        let want = format!("GET /2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}.mp3");
        self.requests().iter().filter(|r| **r == want).count()
    }
}

impl Drop for MediaServer {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn serve_media(inner: &MediaInner, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(HTTP_TIMEOUT));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    lock(&inner.requests).push(format!("{method} {path}"));
    let prefix = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/");
    let sid = path
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(".mp3"))
        .filter(|sid| {
            sid.len() == 34
                && sid.starts_with("RE")
                && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
        });
    if let (None, Some(upstream)) = (sid.filter(|_| method == "GET"), &inner.upstream) {
        relay(upstream, &head, stream);
        return;
    }
    let found = match sid {
        Some(sid) if method == "GET" && !lock(&inner.missing).contains(sid) => {
            Some(MediaServer::bytes(sid))
        }
        _ => None,
    };
    let (status, content_type, body) = match found {
        Some(bytes) => ("200 OK", "audio/mpeg", bytes),
        None => (
            "404 Not Found",
            "application/json",
            br#"{"code": 20404, "message": "The requested resource was not found", "status": 404}"#
                .to_vec(),
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    let _ = stream.write_all(&out);
    let _ = stream.flush();
}

/// The `Content-Length` of a request head (0 if it has none).
pub fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Passes one request (its head already read from `client`) to `upstream`
/// and its answer back; one request per connection (`Connection: close`).
fn relay(upstream: &str, head: &str, mut client: TcpStream) {
    let mut body = vec![0u8; content_length(head)];
    if client.read_exact(&mut body).is_err() {
        return;
    }
    let mut forwarded: String = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| {
            let name = l.split(':').next().unwrap_or("").trim();
            !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive")
        })
        .map(|l| format!("{l}\r\n"))
        .collect();
    forwarded.push_str("Connection: close\r\n\r\n");
    let Ok(mut up) = TcpStream::connect(upstream) else {
        let _ = client.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    };
    let _ = up.set_read_timeout(Some(HTTP_TIMEOUT));
    if up.write_all(forwarded.as_bytes()).is_ok() && up.write_all(&body).is_ok() {
        let _ = std::io::copy(&mut up, &mut client);
    }
    let _ = client.flush();
}

// ---------------------------------------------------------------------------
// Prism: Twilio's REST API as its OpenAPI spec describes it

/// Prism serving Twilio's OpenAPI spec on 127.0.0.1 (installed by `make
/// test-deps`), killed on drop. Prism writes its log in its own time, maybe
/// after it has answered: read it with [`Prism::wait_for_log`].
pub struct Prism {
    child: Child,
    /// `http://127.0.0.1:PORT`, for `TWILIO_API_BASE`.
    pub base: String,
    log: PathBuf,
    _dir: TempDir,
}

impl Prism {
    pub fn start() -> Prism {
        let node = repo_root().join("infra/node");
        let bin = node.join("node_modules/.bin/prism");
        let spec = node.join("twilio_api_v2010.json");
        for needed in [&bin, &spec] {
            assert!(
                needed.exists(),
                "{} is missing: run `make test-deps` in the repository root",
                needed.display()
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = TempDir::new("prism");
        let log = dir.path().join("prism.log");
        let out = std::fs::File::create(&log).expect("create the Prism log");
        let child = Command::new(&bin)
            .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
            .arg(&spec)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the Prism log"))
            .stderr(out)
            .spawn()
            .expect("start prism");
        let prism = Prism {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Prism did not start: {}",
                prism.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        prism
    }

    /// Prism's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls Prism's log (up to 10 s) until `cond` holds, and returns it; panics with the log if it never does.
    pub fn wait_for_log(&self, what: &str, mut cond: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + BACKGROUND_TIMEOUT;
        loop {
            let log = self.log_text();
            if cond(&log) {
                return log;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what} in Prism's log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64 (whitespace ignored), for MIME bodies.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            c => panic!("not base64: {:?}", c as char),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The text of a single-part `.eml` whose body is base64 (the IVR's alert email).
pub fn eml_text(eml: &str) -> String {
    let (head, body) = eml
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header/body split in {eml:?}"));
    assert!(
        head.lines()
            .any(|l| l.eq_ignore_ascii_case("Content-Transfer-Encoding: base64")),
        "not a base64 body: {head}"
    );
    String::from_utf8(base64_decode(body)).expect("the email text is UTF-8")
}

// ---------------------------------------------------------------------------
// Requests

pub enum Signature {
    /// HMAC over `url` (default: the server's public URL + path) and `params`
    /// (default: the params sent), with `token` (default: the server's).
    Computed {
        url: Option<String>,
        token: Option<String>,
        params: Option<Vec<(String, String)>>,
    },
    Exact(String),
    Missing,
}

pub struct Request<'a> {
    server: &'a Server,
    method: String,
    path: String,
    params: Vec<(String, String)>,
    /// (content type, bytes): sent instead of the form-encoded params.
    body: Option<(String, Vec<u8>)>,
    headers: Vec<(String, String)>,
    signature: Signature,
}

impl Request<'_> {
    pub fn method(mut self, m: &str) -> Self {
        self.method = m.to_string();
        self
    }

    pub fn param(mut self, k: &str, v: &str) -> Self {
        self.params.push((k.to_string(), v.to_string()));
        self
    }

    pub fn params(mut self, ps: &[(&str, &str)]) -> Self {
        for (k, v) in ps {
            self.params.push((k.to_string(), v.to_string()));
        }
        self
    }

    /// A body sent as-is; the signature covers the URL only (as for JSON).
    pub fn body(mut self, content_type: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.to_string(), bytes.into()));
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    pub fn unsigned(mut self) -> Self {
        self.signature = Signature::Missing;
        self
    }

    pub fn signature(mut self, sig: &str) -> Self {
        self.signature = Signature::Exact(sig.to_string());
        self
    }

    fn computed(
        mut self,
        f: impl FnOnce(&mut Option<String>, &mut Option<String>, &mut Option<Vec<(String, String)>>),
    ) -> Self {
        if !matches!(self.signature, Signature::Computed { .. }) {
            self.signature = Signature::Computed {
                url: None,
                token: None,
                params: None,
            };
        }
        if let Signature::Computed { url, token, params } = &mut self.signature {
            f(url, token, params);
        }
        self
    }

    /// Sign over this full URL instead of the one the server should rebuild.
    pub fn signed_over(self, full_url: &str) -> Self {
        self.computed(|u, _, _| *u = Some(full_url.to_string()))
    }

    pub fn signed_with_token(self, token: &str) -> Self {
        self.computed(|_, t, _| *t = Some(token.to_string()))
    }

    /// Sign these params (while sending others): a tampered request.
    pub fn signed_params(self, ps: &[(&str, &str)]) -> Self {
        let ps = ps
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.computed(|_, _, p| *p = Some(ps))
    }

    pub fn send(self) -> Reply {
        let server = self.server;
        let sig = match &self.signature {
            Signature::Missing => None,
            Signature::Exact(s) => Some(s.clone()),
            Signature::Computed { url, token, params } => {
                let url = url.clone().unwrap_or_else(|| server.url(&self.path));
                let token = token
                    .clone()
                    .or_else(|| server.token.clone())
                    .unwrap_or_else(|| TOKEN.to_string());
                let signed_params = match (params, &self.body) {
                    (Some(p), _) => p.clone(),
                    (None, Some(_)) => Vec::new(),
                    (None, None) => self.params.clone(),
                };
                Some(shared::signature::compute(&token, &url, &signed_params))
            }
        };
        let agent = ureq::AgentBuilder::new()
            .timeout(HTTP_TIMEOUT)
            .redirects(0)
            .build();
        let target = format!("{}{}", server.base, self.path);
        let mut req = agent.request(&self.method, &target);
        for (k, v) in &self.headers {
            req = req.set(k, v);
        }
        if let Some(sig) = &sig {
            req = req.set("X-Twilio-Signature", sig);
        }
        let result = match &self.body {
            Some((ct, bytes)) => req.set("Content-Type", ct).send_bytes(bytes),
            None if self.method == "GET" && self.params.is_empty() => req.call(),
            None => req
                .set("Content-Type", "application/x-www-form-urlencoded")
                .send_bytes(form_encode(&self.params).as_bytes()),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{} {}: transport error: {e}", self.method, self.path),
        };
        let status = resp.status();
        let content_type = resp.header("content-type").unwrap_or("").to_string();
        let body = resp.into_string().expect("response body is UTF-8");
        Reply::checked(
            status,
            content_type,
            body,
            &format!("{} {}", self.method, self.path),
        )
    }
}

/// application/x-www-form-urlencoded, as Twilio (and browsers) encode it.
pub fn form_encode(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", form_component(k), form_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn form_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Replies

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    /// Builds a reply after checking what must never reach Twilio.
    fn checked(status: u16, content_type: String, body: String, what: &str) -> Reply {
        assert!(
            status < 500,
            "{what}: answered {status} (Twilio says \"an application error has occurred\"): {body}"
        );
        for bad in [
            "Traceback",
            "panicked at",
            "stack backtrace",
            "RUST_BACKTRACE",
            "application error",
        ] {
            assert!(!body.contains(bad), "{what}: body contains `{bad}`: {body}");
        }
        Reply {
            status,
            content_type,
            body,
        }
    }

    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.body
        );
        self
    }

    /// Asserts a 200 `text/xml` TwiML document and returns its parsed `<Response>`.
    pub fn twiml(&self) -> Node {
        self.assert_status(200);
        let mime = self
            .content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        assert_eq!(mime, "text/xml", "content type of {}", self.body);
        let root = shared::twiml::parse(&self.body)
            .unwrap_or_else(|e| panic!("not TwiML ({e}): {}", self.body));
        assert_eq!(root.name, "Response", "root element of {}", self.body);
        root
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

// ---------------------------------------------------------------------------
// Expected TwiML trees

pub fn node(name: &str, attrs: &[(&str, &str)], text: &str, children: Vec<Node>) -> Node {
    Node {
        name: name.to_string(),
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        text: text.to_string(),
        children,
    }
}

pub fn response(verbs: Vec<Node>) -> Node {
    node("Response", &[], "", verbs)
}

pub fn play(url: &str) -> Node {
    node("Play", &[], url, vec![])
}

/// `<Say>` without voice or language (the fixture sets neither).
pub fn say(text: &str) -> Node {
    node("Say", &[], text, vec![])
}

/// `<Say>` in the repo config's voice.
pub fn say_amy(text: &str) -> Node {
    node(
        "Say",
        &[("voice", "Polly.Amy"), ("language", "en-GB")],
        text,
        vec![],
    )
}

pub fn pause(seconds: u32) -> Node {
    node("Pause", &[("length", &seconds.to_string())], "", vec![])
}

pub fn redirect(url: &str) -> Node {
    node("Redirect", &[("method", "POST")], url, vec![])
}

pub fn hangup() -> Node {
    node("Hangup", &[], "", vec![])
}

/// `<Gather numDigits="1" action=URL method="POST">` with the prompt inside.
pub fn gather(action: &str, children: Vec<Node>) -> Node {
    node(
        "Gather",
        &[("numDigits", "1"), ("action", action), ("method", "POST")],
        "",
        children,
    )
}

/// Attributes sorted, so that trees compare regardless of attribute order.
pub fn normalized(n: &Node) -> Node {
    let mut attrs = n.attrs.clone();
    attrs.sort();
    Node {
        name: n.name.clone(),
        attrs,
        text: n.text.clone(),
        children: n.children.iter().map(normalized).collect(),
    }
}

/// A compact rendering for failure messages.
pub fn show(n: &Node) -> String {
    let mut s = format!("<{}", n.name);
    for (k, v) in &n.attrs {
        s.push_str(&format!(" {k}={v:?}"));
    }
    if n.text.is_empty() && n.children.is_empty() {
        s.push_str("/>");
        return s;
    }
    s.push('>');
    s.push_str(&n.text);
    for c in &n.children {
        s.push_str("\n  ");
        s.push_str(&show(c).replace('\n', "\n  "));
    }
    if !n.children.is_empty() {
        s.push('\n');
    }
    s.push_str(&format!("</{}>", n.name));
    s
}

/// Asserts `reply` is 200 TwiML equal (as a tree) to `expected`.
pub fn assert_twiml(reply: &Reply, expected: &Node) {
    let actual = reply.twiml();
    assert!(
        normalized(&actual) == normalized(expected),
        "TwiML differs\n--- expected\n{}\n--- actual\n{}\n--- body\n{}",
        show(expected),
        show(&actual),
        reply.body
    );
}

/// Every node in the tree, depth first.
pub fn walk(n: &Node) -> Vec<&Node> {
    let mut out = vec![n];
    for c in &n.children {
        out.extend(walk(c));
    }
    out
}

/// Every URL the TwiML hands to Twilio (element text of Play/Redirect, and URL attributes).
pub fn urls(n: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(n) {
        if matches!(e.name.as_str(), "Play" | "Redirect") {
            out.push(e.text.clone());
        }
        for (k, v) in &e.attrs {
            if k == "action" || k.ends_with("Callback") || k == "url" {
                out.push(v.clone());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// `ivr call`: the call simulator, and its transcripts

/// Tuesday 24 November 2026, 10:00 GMT: the repository's office is open.
pub const TUESDAY_MORNING: &str = "2026-11-24T10:00:00Z";

/// One finished `ivr call`.
pub struct Transcript {
    /// The `--json` events, one per stdout line (empty without `--json`).
    pub events: Vec<serde_json::Value>,
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl Transcript {
    pub fn from_output(out: std::process::Output, json: bool) -> Self {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let events = if json {
            stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
                .collect()
        } else {
            Vec::new()
        };
        Transcript {
            events,
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }

    /// The transcript, one short line per event (see [`compact`]).
    pub fn lines(&self) -> Vec<String> {
        compact(&self.events)
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "ivr call failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.contains("left unused"),
            "the script had entries left over: {}",
            self.stderr
        );
        self
    }

    pub fn assert_failed(&self, reason: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "expected a failure\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.stderr.contains(reason),
            "stderr should say `{reason}`:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs an `ivr call` command to its end (stdin closed).
pub fn run_call(mut cmd: Command, json: bool) -> Transcript {
    cmd.stdin(Stdio::null());
    let out = cmd.output().expect("run ivr");
    Transcript::from_output(out, json)
}

/// `ivr call --config CONFIG --at AT --json [--press P] [--dial D]`: in-process, no server.
pub fn call(config: &Path, at: &str, press: &str, dial: &str) -> Transcript {
    let mut cmd = ivr_command();
    cmd.arg("call")
        .arg("--config")
        .arg(config)
        .args(["--at", at, "--json"]);
    if !press.is_empty() {
        cmd.args(["--press", press]);
    }
    if !dial.is_empty() {
        cmd.args(["--dial", dial]);
    }
    run_call(cmd, true)
}

/// `ivr call --url URL --json [--press P] [--dial D] EXTRA…`, signing with
/// `token` (unsigned without one), from a folder without a `config.ini`.
pub fn call_url(
    url: &str,
    token: Option<&str>,
    press: &str,
    dial: &str,
    extra: &[&str],
) -> Transcript {
    let mut cmd = ivr_command();
    cmd.args(["call", "--url", url, "--json"]);
    if !press.is_empty() {
        cmd.args(["--press", press]);
    }
    if !dial.is_empty() {
        cmd.args(["--dial", dial]);
    }
    cmd.args(extra);
    if let Some(t) = token {
        cmd.env("TWILIO_AUTH_TOKEN", t);
    }
    // No ./config.ini to fall back on for a token.
    cmd.current_dir(std::env::temp_dir());
    run_call(cmd, true)
}

/// Path and query of a URL (the in-process host is made up).
pub fn path_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/".into(), |i| rest[i..].to_string()),
        None => url.to_string(),
    }
}

/// Short lines for assertions: prompts inside a `<Gather>` are indented,
/// recording URLs become `<recording>`, the start line is left out.
pub fn compact(events: &[serde_json::Value]) -> Vec<String> {
    use serde_json::Value;
    let s = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
    let mut recording = String::from("<none>");
    let mut out = Vec::new();
    for e in events {
        let indent = if e["in_gather"] == Value::Bool(true) {
            "  "
        } else {
            ""
        };
        let line = match e["event"].as_str().unwrap_or_default() {
            "call" => continue,
            "say" => format!("{indent}say {}", s(e, "text")),
            "play" => match e["digits"].as_str() {
                Some(d) => format!("{indent}play digits {d}"),
                None => format!("{indent}play {}", s(e, "url")),
            },
            "pause" => format!("{indent}pause {}", e["seconds"]),
            "gather" => format!("gather {}", e["pressed"].as_str().unwrap_or("-")),
            "redirect" => format!("redirect {}", path_of(&s(e, "url"))),
            "dial" => format!("dial {} {}", s(e, "target"), s(e, "outcome")),
            "record" => {
                recording = s(e, "recording_url");
                format!("record max {}", e["max_length"])
            }
            "callback" => format!("callback {}", path_of(&s(e, "url"))),
            "sms" => format!(
                "sms {} {}",
                s(e, "to"),
                s(e, "body").replace(&recording, "<recording>")
            ),
            "effect" => {
                let what = s(e, "what");
                match what.split_whitespace().nth(1) {
                    Some(sid) if what.starts_with("recording RE") => what.replace(sid, "<RE>"),
                    _ => what,
                }
            }
            "hangup" => "hangup".into(),
            "caller_hangup" => "caller hangs up".into(),
            "enqueue" => format!("enqueue {}", s(e, "queue")),
            "announce" => format!("announce {}", s(e, "text")),
            "leave" => "leave".into(),
            "dequeue" => format!("dequeue {} {}", s(e, "queue"), s(e, "result")),
            "end" => format!("end: {}", s(e, "reason")),
            other => format!("{other} {e}"),
        };
        out.push(line);
    }
    out
}

/// Concatenates transcript pieces.
pub fn script(parts: &[&[&str]]) -> Vec<String> {
    parts
        .iter()
        .flat_map(|p| p.iter())
        .map(|s| s.to_string())
        .collect()
}
