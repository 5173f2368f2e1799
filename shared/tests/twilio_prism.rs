//! The Twilio REST adapter against real peers:
//!
//! - Prism (`@stoplight/prism-cli`) serving Twilio's own OpenAPI spec checks
//!   that the requests we send (create a message, delete a recording) are
//!   valid — path SIDs, form body, content type, basic auth — and the raw
//!   negative checks prove Prism really validates them.
//! - A small local HTTP server plays Twilio's media endpoint (basic auth,
//!   404s, redirects to a CDN) and error answers.
//!
//! Run with `cargo test -p shared --features twilio-rest --test twilio_prism`
//! after `make test-deps` (it installs Prism and the spec under `infra/node`).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use shared::recordings::{PortError, TwilioApi};
use shared::twilio::{is_sid, TwilioClient};

const AC: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "test-auth-token";
const RE: &str = "RE0123456789abcdef0123456789abcdef";

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------- Prism

/// A Prism mock server this test started; killed on drop.
struct Prism {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Prism {
    fn start() -> Prism {
        let node = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/node");
        let bin = node.join("node_modules/.bin/prism");
        let spec = node.join("twilio_api_v2010.json");
        for needed in [&bin, &spec] {
            assert!(
                needed.exists(),
                "{} is missing: run `make test-deps` in the workspace root (it installs Prism and Twilio's OpenAPI spec)",
                needed.display()
            );
        }
        let port = free_port(IpAddr::from([127, 0, 0, 1]));
        let log =
            std::env::temp_dir().join(format!("twilio-prism-{}-{port}.log", std::process::id()));
        let out = File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(&bin)
            .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
            .arg(&spec)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {} ({e}): run `make test-deps`", bin.display())
            });
        let mut prism = Prism { child, port, log };
        prism.wait_ready(Duration::from_secs(120));
        prism
    }

    fn wait_ready(&mut self, limit: Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "Prism exited ({status}) before answering:\n{}",
                    self.log_tail()
                );
            }
            if let Ok((status, _)) =
                raw_request(self.port, "GET", "/2010-04-01/Accounts.json", &[], "")
            {
                // Any HTTP answer (401: no credentials) means the spec is loaded.
                assert!(status > 0);
                return;
            }
            assert!(
                start.elapsed() < limit,
                "Prism did not answer within {limit:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("Prism log kept at {}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// One HTTP/1.1 request by hand, so nothing is added behind our back; returns (status, body).
fn raw_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {answer:?}")))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[tokio::test]
async fn prism_accepts_our_requests_and_validates_them() {
    let prism = Prism::start();
    let client = TwilioClient::new(&prism.base(), AC, TOKEN).unwrap();

    // Our requests pass Twilio's spec.
    let sid = TwilioApi::send_sms(
        &client,
        "+15557654321",
        "+15551234567",
        "New voicemail from +15550001111 (12s)",
    )
    .await
    .expect("Prism rejected our Messages request");
    assert!(is_sid(&sid, "SM"), "message SID {sid:?}");
    let sid = client
        .send_sms(
            "+15557654321",
            "+15551234567",
            "the shell's Result<String, String> API",
        )
        .await
        .expect("Prism rejected our Messages request (inherent API)");
    assert!(is_sid(&sid, "SM"), "message SID {sid:?}");
    TwilioApi::delete_recording(&client, RE)
        .await
        .expect("Prism rejected our Recording delete");
    match TwilioApi::delete_recording(&client, "RE123").await {
        Err(PortError::Permanent(m)) => assert!(m.contains("not a recording SID"), "{m}"),
        other => panic!("a malformed recording SID: {other:?}"),
    }

    // Prism really checks: the same requests by hand, each with one thing wrong.
    let messages = format!("/2010-04-01/Accounts/{AC}/Messages.json");
    let recording = format!("/2010-04-01/Accounts/{AC}/Recordings/{RE}.json");
    let auth = basic(AC, TOKEN);
    let form = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let valid = "To=%2B15551234567&From=%2B15557654321&Body=hi";
    let post = |path: &str, headers: &[(&str, &str)], body: &str| {
        raw_request(prism.port, "POST", path, headers, body).unwrap()
    };

    let (status, body) = post(&messages, &form, valid);
    assert_eq!(status, 201, "control: a valid request by hand: {body}");
    let (status, body) = post(&messages, &form, "From=%2B15557654321&Body=hi");
    assert_eq!(status, 422, "no To: {body}");
    assert!(body.contains("'To'"), "{body}");
    let (status, body) = post("/2010-04-01/Accounts/AC123/Messages.json", &form, valid);
    assert_eq!(status, 422, "a malformed account SID: {body}");
    assert!(body.contains("^AC[0-9a-fA-F]{32}$"), "{body}");
    let (status, body) = post(&messages, &form[1..], valid);
    assert_eq!(status, 401, "no Authorization: {body}");
    let (status, body) = post(&messages, &[("Authorization", "Bearer x"), form[1]], valid);
    assert_eq!(status, 401, "not basic auth: {body}");
    let (status, body) = post(
        &messages,
        &[form[0], ("Content-Type", "application/json")],
        r#"{"To":"+15551234567"}"#,
    );
    assert_eq!(status, 415, "a JSON body: {body}");
    let (status, body) = raw_request(prism.port, "DELETE", &recording, &form[..1], "").unwrap();
    assert_eq!(status, 204, "control: a valid delete by hand: {body}");
    let (status, body) = raw_request(prism.port, "DELETE", &recording, &[], "").unwrap();
    assert_eq!(status, 401, "a delete without Authorization: {body}");
    let bad_recording = format!("/2010-04-01/Accounts/{AC}/Recordings/RE123.json");
    let (status, body) = raw_request(prism.port, "DELETE", &bad_recording, &form[..1], "").unwrap();
    assert_eq!(status, 422, "a malformed recording SID: {body}");
}

// ---------------------------------------------------------- media server

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
}

impl Request {
    fn authorization(&self) -> Option<&str> {
        self.headers.get("authorization").map(String::as_str)
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send `Content-Length` (else the body ends when the connection closes).
    sized: bool,
}

impl Response {
    fn new(status: u16, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Response {
        let headers = content_type
            .map(|t| vec![("Content-Type".to_string(), t.to_string())])
            .unwrap_or_default();
        Response {
            status,
            headers,
            body: body.into(),
            sized: true,
        }
    }

    fn twilio_error(status: u16, code: u32, message: &str) -> Response {
        let body = serde_json::json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        });
        Response::new(status, Some("application/json"), body.to_string())
    }

    fn redirect(status: u16, location: &str) -> Response {
        let mut r = Response::new(status, None, Vec::new());
        r.headers.push(("Location".into(), location.into()));
        r
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A one-request-per-connection HTTP/1.1 server on a thread; remembers every request.
///
/// A request is logged *before* it is answered: a client cannot see an
/// answer until its request is in the log, so a test may read the log as
/// soon as the call under test returns (logging after answering raced with
/// that read and failed now and then under load).
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start(ip: IpAddr, handler: Arc<Handler>) -> Server {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &*handler, &log);
            }
        });
        Server { addr, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request answered so far (and any being answered), in order.
    fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request, logs it, then answers it (in that order: see [`Server`]).
fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>) -> Option<()> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let request = Request {
        method,
        path,
        headers,
    };
    let response = handler(&request);
    log.lock().unwrap().push(request);
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if response.sized {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    head.push_str("\r\n");
    let mut stream = stream;
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(&response.body).ok()?;
    Some(())
}

fn media_bytes() -> Vec<u8> {
    (0..300_000u32).map(|i| (i % 251) as u8).collect()
}

/// Twilio's side: media behind basic auth, a redirect to a CDN, errors.
fn twilio_stand_in(cdn: String) -> Arc<Handler> {
    Arc::new(move |r: &Request| {
        let recordings = format!("/2010-04-01/Accounts/{AC}/Recordings/");
        let authorized = r.authorization() == Some(basic(AC, TOKEN).as_str());
        let Some(rest) = r.path.strip_prefix(&recordings) else {
            return match r.path.as_str() {
                "/status/503" => Response::new(503, Some("text/html"), "<html>down</html>"),
                "/status/429" => Response::twilio_error(429, 20429, "Too Many Requests"),
                "/no-type/RE.mp3" => Response::new(200, None, "abc"),
                "/big.mp3" => Response::new(200, Some("audio/mpeg"), vec![1; 1000]),
                "/big-unsized.mp3" => Response {
                    sized: false,
                    ..Response::new(200, Some("audio/mpeg"), vec![1; 1000])
                },
                "/loop.mp3" => Response::redirect(302, "/loop.mp3"),
                _ if r.path.ends_with("/Messages.json") => Response::twilio_error(
                    400,
                    21211,
                    "The 'To' number 12345 is not a valid phone number.",
                ),
                _ => Response::new(404, Some("text/plain"), "no such path"),
            };
        };
        if !authorized {
            let mut resp = Response::twilio_error(401, 20003, "Authenticate");
            resp.headers.push((
                "WWW-Authenticate".into(),
                "Basic realm=\"Twilio API\"".into(),
            ));
            return resp;
        }
        match rest {
            r if r == format!("{RE}.mp3") => Response::new(200, Some("audio/mpeg"), media_bytes()),
            // Twilio's media redirects to a presigned CDN link.
            "RE11111111111111111111111111111111.mp3" => Response::redirect(
                302,
                &format!(
                    "{cdn}/cdn/RE11111111111111111111111111111111.wav?Expires=1&Signature=abc"
                ),
            ),
            // A redirect within the same origin keeps the credentials.
            "RE22222222222222222222222222222222.mp3" => {
                Response::redirect(307, &format!("{recordings}{RE}.mp3"))
            }
            _ => Response::twilio_error(404, 20404, "The requested resource was not found"),
        }
    })
}

fn cdn() -> Server {
    Server::start(
        IpAddr::from([127, 0, 0, 1]),
        Arc::new(|_r: &Request| Response::new(200, Some("audio/x-wav"), "RIFF-cdn-bytes")),
    )
}

fn recording_url(server: &Server, sid: &str) -> String {
    server.url(&format!("/2010-04-01/Accounts/{AC}/Recordings/{sid}.mp3"))
}

#[tokio::test]
async fn downloads_media_with_credentials() {
    let cdn = cdn();
    let twilio = Server::start(IpAddr::from([127, 0, 0, 1]), twilio_stand_in(cdn.url("")));
    // The API base is elsewhere: loopback is trusted by rule.
    let client = TwilioClient::new(&twilio.url(""), AC, TOKEN).unwrap();
    let media = client.download(&recording_url(&twilio, RE)).await.unwrap();
    assert_eq!(media.content_type, "audio/mpeg");
    assert!(media.bytes == media_bytes(), "{} bytes", media.bytes.len());
    let seen = twilio.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].authorization(), Some(basic(AC, TOKEN).as_str()));

    let media = client
        .download(&twilio.url("/no-type/RE.mp3"))
        .await
        .unwrap();
    assert_eq!(
        (media.bytes.as_slice(), media.content_type.as_str()),
        (&b"abc"[..], "audio/mpeg")
    );
}

#[tokio::test]
async fn download_errors_map_onto_port_errors() {
    let twilio = Server::start(
        IpAddr::from([127, 0, 0, 1]),
        twilio_stand_in("http://127.0.0.1:9".into()),
    );
    let client = TwilioClient::new(&twilio.url(""), AC, TOKEN).unwrap();

    match client
        .download(&recording_url(
            &twilio,
            "RE99999999999999999999999999999999",
        ))
        .await
    {
        Err(PortError::NotFound(m)) => {
            assert!(m.contains("HTTP 404") && m.contains("20404"), "{m}")
        }
        other => panic!("unknown recording: {other:?}"),
    }
    let wrong = TwilioClient::new(&twilio.url(""), AC, "wrong-token").unwrap();
    match wrong.download(&recording_url(&twilio, RE)).await {
        Err(PortError::Permanent(m)) => {
            assert!(m.contains("HTTP 401") && m.contains("20003"), "{m}")
        }
        other => panic!("wrong credentials: {other:?}"),
    }
    assert!(
        !format!("{:?}", wrong.download(&recording_url(&twilio, RE)).await).contains("wrong-token")
    );
    match client.download(&twilio.url("/status/503")).await {
        Err(PortError::Transient(m)) => assert!(m.contains("HTTP 503"), "{m}"),
        other => panic!("503: {other:?}"),
    }
    assert!(matches!(
        client.download(&twilio.url("/status/429")).await,
        Err(PortError::Transient(_))
    ));
    match client.download(&twilio.url("/loop.mp3")).await {
        Err(PortError::Transient(m)) => assert!(m.contains("redirects"), "{m}"),
        other => panic!("a redirect loop: {other:?}"),
    }
    let small = client.clone().with_max_media_bytes(999);
    for path in ["/big.mp3", "/big-unsized.mp3"] {
        match small.download(&twilio.url(path)).await {
            Err(PortError::Permanent(m)) => assert!(m.contains("larger than 999 bytes"), "{m}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    let exact = client.clone().with_max_media_bytes(1000);
    assert_eq!(
        exact
            .download(&twilio.url("/big-unsized.mp3"))
            .await
            .unwrap()
            .bytes
            .len(),
        1000
    );
    // Nothing listening.
    let closed = format!(
        "http://127.0.0.1:{}/x.mp3",
        free_port(IpAddr::from([127, 0, 0, 1]))
    );
    assert!(matches!(
        client.download(&closed).await,
        Err(PortError::Transient(_))
    ));
}

#[tokio::test]
async fn redirects_keep_credentials_only_within_the_origin() {
    let cdn = cdn();
    let twilio = Server::start(IpAddr::from([127, 0, 0, 1]), twilio_stand_in(cdn.url("")));
    let client = TwilioClient::new(&twilio.url(""), AC, TOKEN).unwrap();

    // To another host:port (a CDN): followed, without the credentials,
    // although the CDN is a trusted loopback host too.
    let media = client
        .download(&recording_url(
            &twilio,
            "RE11111111111111111111111111111111",
        ))
        .await
        .unwrap();
    assert_eq!(
        (media.bytes.as_slice(), media.content_type.as_str()),
        (&b"RIFF-cdn-bytes"[..], "audio/x-wav")
    );
    let at_cdn = cdn.requests();
    assert_eq!(at_cdn.len(), 1);
    assert_eq!(
        at_cdn[0].path,
        "/cdn/RE11111111111111111111111111111111.wav?Expires=1&Signature=abc"
    );
    assert_eq!(
        at_cdn[0].authorization(),
        None,
        "credentials leaked to the CDN"
    );
    assert!(twilio.requests()[0].authorization().is_some());

    // Within the same origin: followed, with the credentials.
    let media = client
        .download(&recording_url(
            &twilio,
            "RE22222222222222222222222222222222",
        ))
        .await
        .unwrap();
    assert!(media.bytes == media_bytes());
    let seen = twilio.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen[1..]
        .iter()
        .all(|r| r.authorization() == Some(basic(AC, TOKEN).as_str())));
}

/// A non-loopback address of this machine, if it has one.
fn local_non_loopback_ip() -> Option<IpAddr> {
    // Connecting a UDP socket sends nothing; it only picks the outgoing address.
    for target in ["192.0.2.1:9", "10.255.255.255:9", "8.8.8.8:53"] {
        let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
        if socket.connect(target).is_ok() {
            if let Ok(addr) = socket.local_addr() {
                if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
                    return Some(addr.ip());
                }
            }
        }
    }
    None
}

#[tokio::test]
async fn untrusted_hosts_get_no_credentials() {
    let Some(ip) = local_non_loopback_ip() else {
        eprintln!(
            "skipped: this machine has no non-loopback address (the trust rule has unit tests)"
        );
        return;
    };
    let server = Server::start(
        ip,
        Arc::new(|r: &Request| {
            let status = if r.authorization().is_some() {
                200
            } else {
                401
            };
            Response::new(status, Some("audio/mpeg"), "media")
        }),
    );
    let url = server.url("/2010-04-01/Accounts/AC/Recordings/RE.mp3");

    let elsewhere = TwilioClient::new("https://api.twilio.com", AC, TOKEN).unwrap();
    assert!(!elsewhere.sends_credentials_to(&url));
    assert!(matches!(
        elsewhere.download(&url).await,
        Err(PortError::Permanent(_))
    ));
    assert!(
        server.requests().is_empty(),
        "an address outside the API base's reach is refused before connecting"
    );

    // The same host is trusted once it is the configured API base.
    let here = TwilioClient::new(&server.url(""), AC, TOKEN).unwrap();
    assert!(here.sends_credentials_to(&url));
}

#[tokio::test]
async fn rest_errors_map_onto_port_errors() {
    let twilio = Server::start(
        IpAddr::from([127, 0, 0, 1]),
        twilio_stand_in("http://127.0.0.1:9".into()),
    );
    let client = TwilioClient::new(&twilio.url(""), AC, TOKEN).unwrap();

    match TwilioApi::send_sms(&client, "+15557654321", "12345", "hi").await {
        Err(PortError::Permanent(m)) => {
            assert!(
                m.contains("HTTP 400")
                    && m.contains("Twilio error 21211")
                    && m.contains("not a valid phone number"),
                "{m}"
            )
        }
        other => panic!("a 400 from Twilio: {other:?}"),
    }
    let sms = &twilio.requests()[0];
    assert_eq!(
        (
            sms.method.as_str(),
            sms.headers.get("content-type").map(String::as_str)
        ),
        ("POST", Some("application/x-www-form-urlencoded"))
    );
    assert_eq!(sms.authorization(), Some(basic(AC, TOKEN).as_str()));
    // The shell's API gives the same message as a String.
    let err = client
        .send_sms("+15557654321", "12345", "hi")
        .await
        .unwrap_err();
    assert!(
        err.starts_with("permanent: ") && err.contains("21211"),
        "{err}"
    );

    // Already gone counts as deleted.
    client
        .delete_recording("RE99999999999999999999999999999999")
        .await
        .unwrap();
    let delete = &twilio.requests()[2];
    assert_eq!(delete.method, "DELETE");
    assert_eq!(
        delete.path,
        format!("/2010-04-01/Accounts/{AC}/Recordings/RE99999999999999999999999999999999.json")
    );
    let wrong = TwilioClient::new(&twilio.url(""), AC, "wrong-token").unwrap();
    match wrong.delete_recording(RE).await {
        Err(PortError::Permanent(m)) => assert!(m.contains("HTTP 401"), "{m}"),
        other => panic!("wrong credentials: {other:?}"),
    }
}
