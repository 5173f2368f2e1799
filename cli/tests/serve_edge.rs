//! The HTTP edge of `ivr serve` (issue 11, findings 1 and 10): what a
//! hostile or broken client can do to the server itself, below the routes.
//!
//! - Connections that send nothing, or send their head too slowly, or stall
//!   in the body, are closed (timeouts set through `IVR_HEADER_TIMEOUT`,
//!   `IVR_BODY_TIMEOUT` so that a test waits a second, not the defaults).
//! - Out of file descriptors the accept loop backs off and logs a few lines,
//!   instead of spinning a core and writing hundreds of MB of log; once the
//!   idle clients are closed, new requests are served again.
//! - A cap on concurrent connections (`IVR_MAX_CONNECTIONS`).
//! - Framing: two `Host` headers, a `Host` port out of range, a malformed
//!   chunked body are each a 400; a signature over the URL without a
//!   non-default port passes, as twilio-python's `RequestValidator` has it.
//!
//! Every wait is for a condition, with a deadline. Every server listens on
//! 127.0.0.1 and is killed (by its own `Child`) when the test ends.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// Longest any single wait in this file may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Helpers

/// Connects to `port` on 127.0.0.1 with a read timeout (so a read never hangs the test).
fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to ivr serve");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    s
}

/// Reads until the server closes the connection (EOF or reset), returning
/// what it sent and when it closed; `None` if it is still open at `deadline`.
fn wait_for_close(s: &mut TcpStream, deadline: Instant) -> Option<(Vec<u8>, Instant)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some((got, Instant::now())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted) => {}
            // A reset is a close too.
            Err(_) => return Some((got, Instant::now())),
        }
        if Instant::now() > deadline {
            return None;
        }
    }
}

/// Reads one HTTP/1.1 response (head and `Content-Length` body) off a
/// kept-alive connection, returning its status; `None` at `deadline`.
fn read_response(s: &mut TcpStream, deadline: Instant) -> Option<u16> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).into_owned();
            let len: usize = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                return head.split_whitespace().nth(1).and_then(|c| c.parse().ok());
            }
        }
        match s.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted) => {}
            Err(_) => return None,
        }
        if Instant::now() > deadline {
            return None;
        }
    }
}

fn status_of(response: &[u8]) -> Option<u16> {
    String::from_utf8_lossy(response)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
}

/// A signed form POST of `body` to `path`, as raw bytes with the given extra header lines.
fn signed_raw(path: &str, signed_url: &str, extra_headers: &str) -> Vec<u8> {
    let params = vec![(
        "CallSid".to_string(),
        "CA0123456789abcdef0123456789abcdef".to_string(),
    )];
    let sig = shared::signature::compute(TOKEN, signed_url, &params);
    let body = form_encode(&params);
    format!(
        "POST {path} HTTP/1.1\r\n{extra_headers}X-Twilio-Signature: {sig}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------
// A server of our own, for what the common harness cannot do: a descriptor
// limit, the process's CPU time, and a log that may be huge (counted as it
// streams, never held whole).

struct Edge {
    child: Child,
    port: u16,
    _data: TempDir,
    /// Bytes written to stderr so far.
    log_bytes: Arc<AtomicU64>,
    /// Lines of stderr that contain "accept".
    accept_lines: Arc<AtomicU64>,
    /// The first few of those lines, for failure messages.
    sample: Arc<Mutex<Vec<String>>>,
}

impl Edge {
    /// `ivr serve` on the fixture config, signed, with at most `nofile`
    /// descriptors (set by the shell before it execs the binary) and `envs`.
    fn start(nofile: Option<u32>, envs: &[(&str, &str)]) -> Edge {
        let data = TempDir::new("edge");
        let bin = env!("CARGO_BIN_EXE_ivr");
        let mut cmd = match nofile {
            // `exec` keeps the PID: the child is the server itself.
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(bin);
                c
            }
            None => Command::new(bin),
        };
        // The same environment hygiene as the common harness.
        for (key, _) in std::env::vars_os() {
            if let Some(k) = key.to_str() {
                if k.starts_with("TWILIO_") || k.starts_with("IVR_") {
                    cmd.env_remove(k);
                }
            }
        }
        cmd.arg("serve")
            .arg("--config")
            .arg(fixture_config())
            .args(["--port", "0"])
            .env("IVR_DATA_DIR", data.path())
            .env("IVR_NOW", WEEKDAY_10AM)
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            .env("RUST_LOG", "info")
            .current_dir(data.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ivr serve");
        let log_bytes = Arc::new(AtomicU64::new(0));
        let accept_lines = Arc::new(AtomicU64::new(0));
        let sample = Arc::new(Mutex::new(Vec::new()));
        {
            let pipe = child.stderr.take().expect("stderr");
            let (bytes, lines, sample) = (log_bytes.clone(), accept_lines.clone(), sample.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(pipe);
                let mut line = Vec::new();
                while r
                    .read_until(b'\n', &mut line)
                    .map(|n| n > 0)
                    .unwrap_or(false)
                {
                    bytes.fetch_add(line.len() as u64, Ordering::SeqCst);
                    let text = String::from_utf8_lossy(&line);
                    if text.contains("accept") {
                        lines.fetch_add(1, Ordering::SeqCst);
                        let mut s = sample.lock().unwrap_or_else(|p| p.into_inner());
                        if s.len() < 5 {
                            s.push(text.trim_end().to_string());
                        }
                    }
                    line.clear();
                }
            });
        }
        let (tx, rx) = mpsc::channel();
        {
            let pipe = child.stdout.take().expect("stdout");
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(rest) = line.trim().strip_prefix("listening on http://127.0.0.1:") {
                        let _ = tx.send(rest.trim_end_matches('/').parse::<u16>().ok());
                    }
                }
            });
        }
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(p)) => p,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ivr serve did not print `listening on http://127.0.0.1:PORT`: {other:?}");
            }
        };
        Edge {
            child,
            port,
            _data: data,
            log_bytes,
            accept_lines,
            sample,
        }
    }

    /// User + system CPU time the server has used so far (Linux /proc).
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("read /proc/PID/stat of ivr serve");
        // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        // USER_HZ is 100 on Linux.
        Duration::from_millis(ticks * 10)
    }

    fn log_bytes(&self) -> u64 {
        self.log_bytes.load(Ordering::SeqCst)
    }

    fn accept_lines(&self) -> u64 {
        self.accept_lines.load(Ordering::SeqCst)
    }

    fn sample(&self) -> Vec<String> {
        self.sample
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET /ping` on a fresh connection: its status, or `None` at the deadline.
    fn ping(&self) -> Option<u16> {
        let mut s = connect(self.port);
        s.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .ok()?;
        let (got, _) = wait_for_close(&mut s, Instant::now() + DEADLINE)?;
        status_of(&got)
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Finding 1: timeouts, backoff, the connection cap

#[test]
fn idle_connection_is_closed_after_the_header_timeout() {
    let srv = Edge::start(None, &[("IVR_HEADER_TIMEOUT", "1s")]);
    // Opened, nothing sent.
    let opened = Instant::now();
    let mut idle = connect(srv.port);
    let (got, closed) = wait_for_close(&mut idle, opened + DEADLINE)
        .expect("a connection that sends nothing is closed by the server");
    assert!(
        closed - opened >= Duration::from_millis(900),
        "closed before the timeout: {:?}",
        closed - opened
    );
    assert!(
        got.is_empty() || status_of(&got) == Some(408),
        "nothing, or a 408, before the close: {:?}",
        String::from_utf8_lossy(&got)
    );
    // Kept alive after a request, then idle: closed too.
    let mut kept = connect(srv.port);
    kept.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send");
    assert_eq!(
        read_response(&mut kept, Instant::now() + DEADLINE),
        Some(200)
    );
    assert!(
        wait_for_close(&mut kept, Instant::now() + DEADLINE).is_some(),
        "an idle keep-alive connection is closed by the server"
    );
}

#[test]
fn slow_request_head_is_cut_off() {
    // A slowloris: a byte of the head every 100 ms, never finished. The
    // header timeout counts from when the server waits for the head, not
    // from the last byte, so trickling does not keep it open.
    let srv = Edge::start(None, &[("IVR_HEADER_TIMEOUT", "1s")]);
    let mut s = connect(srv.port);
    let started = Instant::now();
    let head = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for b in head.iter() {
        if s.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        assert!(started.elapsed() < DEADLINE, "still open at the deadline");
    }
    assert!(
        closed,
        "a head trickled over {:?} (header timeout 1 s) was not cut off",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut off only after {:?}",
        started.elapsed()
    );
}

#[test]
fn stalled_body_gets_408() {
    let srv = Edge::start(None, &[("IVR_BODY_TIMEOUT", "1s")]);
    let mut s = connect(srv.port);
    // Ten bytes of a promised hundred, then nothing.
    s.write_all(
        b"POST /ivr/hangup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nCallSid=CA",
    )
    .expect("send");
    let (got, _) = wait_for_close(&mut s, Instant::now() + DEADLINE)
        .expect("a stalled body is answered and the connection closed");
    assert_eq!(
        status_of(&got),
        Some(408),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn out_of_descriptors_the_accept_loop_backs_off_and_recovers() {
    // 64 descriptors (the runtime, the data folder and the listener take
    // some), 80 idle clients, and no connection cap below the descriptor
    // limit: accept() fails with EMFILE until the idle clients are closed.
    const IDLE: usize = 80;
    let header_timeout = Duration::from_secs(4);
    let srv = Edge::start(
        Some(64),
        &[
            ("IVR_HEADER_TIMEOUT", "4s"),
            ("IVR_MAX_CONNECTIONS", "10000"),
        ],
    );
    assert_eq!(srv.ping(), Some(200), "served before the flood");
    let log_before = srv.log_bytes();
    let cpu_before = srv.cpu();
    let flood = Instant::now();
    // The kernel completes the handshakes (the listen backlog) whether or
    // not the server accepts.
    let mut idle: Vec<TcpStream> = (0..IDLE).map(|_| connect(srv.port)).collect();
    srv.wait_until("an accept error to be logged", || srv.accept_lines() > 0);
    // Until the first idle connections time out, the server can accept
    // nothing: that is the window in which it used to spin.
    let deadline = flood + DEADLINE;
    let first = &mut idle[0];
    let first_closed = wait_for_close(first, deadline)
        .map(|(_, at)| at)
        .expect("the first idle connection is closed after the header timeout");
    let window = first_closed - flood;
    let cpu = srv.cpu().saturating_sub(cpu_before);
    assert!(
        window >= header_timeout - Duration::from_millis(200),
        "closed before the header timeout: {window:?}"
    );
    assert!(
        cpu < window / 4,
        "out of descriptors for {window:?}, ivr serve used {cpu:?} of CPU (it must back off, not spin)"
    );
    // Every idle client is closed in the end (in waves: the later ones are
    // accepted as descriptors free up).
    for (i, s) in idle.iter_mut().enumerate().skip(1) {
        assert!(
            wait_for_close(s, flood + DEADLINE * 2).is_some(),
            "idle connection {i} of {IDLE} still open"
        );
    }
    // And a new request is served.
    let served = srv.ping();
    let log = srv.log_bytes() - log_before;
    let lines = srv.accept_lines();
    let cpu_total = srv.cpu().saturating_sub(cpu_before);
    eprintln!(
        "descriptor exhaustion: {window:?} until the first close, {cpu:?} CPU in it; {:?} in all, {cpu_total:?} CPU, {log} bytes of log, {lines} accept lines",
        flood.elapsed()
    );
    assert_eq!(served, Some(200), "served after the idle clients are gone");
    assert!(
        lines <= 10,
        "{lines} log lines about accept errors (rate-limited: a few at most): {:?}",
        srv.sample()
    );
    assert!(
        log < 64 * 1024,
        "{log} bytes of log during descriptor exhaustion: {:?}",
        srv.sample()
    );
}

#[test]
fn connection_cap_holds_new_connections_until_one_closes() {
    let srv = Edge::start(
        None,
        &[("IVR_HEADER_TIMEOUT", "2s"), ("IVR_MAX_CONNECTIONS", "2")],
    );
    let opened = Instant::now();
    let mut idle: Vec<TcpStream> = (0..2).map(|_| connect(srv.port)).collect();
    // The third connection is not accepted while two are open: its request
    // is answered only after an idle one has been closed (2 s).
    let mut third = connect(srv.port);
    third
        .write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("send");
    let (got, answered) = wait_for_close(&mut third, opened + DEADLINE)
        .expect("the third connection is served once a slot frees");
    assert_eq!(
        status_of(&got),
        Some(200),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        answered - opened >= Duration::from_millis(1500),
        "answered after {:?}: the cap of 2 connections did not hold it",
        answered - opened
    );
    for s in &mut idle {
        assert!(wait_for_close(s, opened + DEADLINE).is_some());
    }
}

#[test]
fn oversized_request_head_is_431() {
    // The read buffer (and so the head) is capped at 64 KiB per connection.
    let srv = Server::fixture();
    let big = "a".repeat(70 * 1024);
    let reply = srv.raw(
        format!(
            "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {big}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(reply.status, 431);
    // A head of a few KiB is fine.
    let fine = "a".repeat(8 * 1024);
    let reply = srv.raw(
        format!(
            "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {fine}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(reply.status, 200);
}

#[test]
fn serve_help_documents_the_limits() {
    let (status, out, _) = run_ivr(&["serve", "--help"], &[]);
    assert!(status.success());
    for needle in [
        "--header-timeout",
        "IVR_HEADER_TIMEOUT",
        "--body-timeout",
        "IVR_BODY_TIMEOUT",
        "--max-connections",
        "IVR_MAX_CONNECTIONS",
    ] {
        assert!(
            out.contains(needle),
            "`ivr serve --help` lacks {needle}:\n{out}"
        );
    }
}

#[test]
fn bad_limit_values_are_refused_at_start() {
    for (k, v) in [
        ("IVR_HEADER_TIMEOUT", "0"),
        ("IVR_HEADER_TIMEOUT", "soon"),
        ("IVR_BODY_TIMEOUT", "-1s"),
        ("IVR_MAX_CONNECTIONS", "0"),
    ] {
        let (status, _, err) = run_ivr(
            &[
                "serve",
                "--config",
                &fixture_config().display().to_string(),
                "--port",
                "0",
            ],
            &[(k, v)],
        );
        assert!(!status.success(), "{k}={v} was accepted");
        assert!(err.contains(k) || err.contains("invalid value"), "{err}");
    }
}

// ---------------------------------------------------------------------------
// Finding 10: framing and the signed URL

#[test]
fn two_host_headers_are_400() {
    let srv = Server::fixture();
    let here = format!("127.0.0.1:{}", srv.port);
    // Signed over the URL the first Host makes: only the duplicate is wrong.
    let reply = srv.raw(&signed_raw(
        "/ivr/hangup",
        &format!("http://{here}/ivr/hangup"),
        &format!("Host: {here}\r\nHost: evil.example\r\n"),
    ));
    assert_eq!(reply.status, 400, "{}", reply.body);
    // The same request with one Host is served.
    let reply = srv.raw(&signed_raw(
        "/ivr/hangup",
        &format!("http://{here}/ivr/hangup"),
        &format!("Host: {here}\r\n"),
    ));
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[test]
fn host_port_out_of_range_is_400() {
    let srv = Server::fixture();
    for host in [
        "127.0.0.1:0",
        "127.0.0.1:99999",
        "127.0.0.1:65536",
        "[::1]:0",
    ] {
        let reply = srv.raw(&signed_raw(
            "/ivr/hangup",
            &format!("http://{host}/ivr/hangup"),
            &format!("Host: {host}\r\n"),
        ));
        assert_eq!(reply.status, 400, "Host: {host}: {}", reply.body);
    }
    let reply = srv.raw(&signed_raw(
        "/ivr/hangup",
        "http://127.0.0.1:65535/ivr/hangup",
        "Host: 127.0.0.1:65535\r\n",
    ));
    assert_eq!(reply.status, 200, "port 65535 is a port: {}", reply.body);
}

#[test]
fn malformed_chunked_body_is_400_not_413() {
    let srv = Server::fixture();
    for body in [
        "zz\r\nCallSid=CA1\r\n0\r\n\r\n",
        "5\r\nCallSid=CA1\r\n0\r\n\r\n",
        "-1\r\n\r\n",
    ] {
        let raw = format!(
            "POST /ivr/hangup HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n{body}",
            srv.port
        );
        let reply = srv.raw(raw.as_bytes());
        assert_eq!(reply.status, 400, "chunked body {body:?}: {}", reply.body);
    }
    // A well-formed chunked body over the limit is still 413.
    let chunk = "a".repeat(70 * 1024);
    let raw = format!(
        "POST /ivr/hangup HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        srv.port,
        chunk.len()
    );
    assert_eq!(srv.raw(raw.as_bytes()).status, 413);
}

#[test]
fn signature_without_a_non_default_port_passes_like_twilio_python() {
    // twilio-python's RequestValidator.validate tries the URL without its
    // port (any port) and with the scheme's default port added; the server
    // here is on a non-default port, Twilio may have signed it without.
    let srv = Server::fixture();
    let here = format!("127.0.0.1:{}", srv.port);
    let params = [("CallSid", "CA0123456789abcdef0123456789abcdef")];
    let status = |signed: &str| {
        srv.request("/ivr/hangup")
            .params(&params)
            .signed_over(signed)
            .send()
            .status
    };
    assert_eq!(status(&format!("http://{here}/ivr/hangup")), 200);
    assert_eq!(status("http://127.0.0.1/ivr/hangup"), 200);
    // Still refused: another port, the default port (the URL had one
    // already), another host, another scheme.
    assert_eq!(status("http://127.0.0.1:1/ivr/hangup"), 403);
    assert_eq!(status("http://127.0.0.1:80/ivr/hangup"), 403);
    assert_eq!(status("http://127.0.0.2/ivr/hangup"), 403);
    assert_eq!(status("https://127.0.0.1/ivr/hangup"), 403);
}
