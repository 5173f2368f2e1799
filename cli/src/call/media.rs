//! Recording media for an IVR running on this machine: Twilio would host
//! the audio; locally we serve a short silent MP3 ourselves so the IVR's
//! recordings pipeline has something real to fetch, store and link to.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

pub fn is_loopback(url: &Url) -> bool {
    matches!(
        url.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    )
}

/// Half a second of MPEG-1 Layer III silence (128 kbit/s, 44.1 kHz frames).
pub fn silent_mp3() -> Vec<u8> {
    let mut out = Vec::with_capacity(20 * 418);
    for _ in 0..20 {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        out.extend_from_slice(&frame);
    }
    out
}

pub struct MediaServer {
    base: String,
    fetched: Arc<AtomicUsize>,
}

impl MediaServer {
    /// Serves `GET …/Recordings/RE….mp3` on 127.0.0.1 until the process exits.
    pub fn start() -> Option<MediaServer> {
        let listener = TcpListener::bind("127.0.0.1:0").ok()?;
        let base = format!("http://{}", listener.local_addr().ok()?);
        let fetched = Arc::new(AtomicUsize::new(0));
        let counter = fetched.clone();
        std::thread::spawn(move || {
            let body = silent_mp3();
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Drain the headers.
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("");
                let mut stream = &stream;
                if request_line.starts_with("GET ")
                    && path.contains("/Recordings/RE")
                    && path.ends_with(".mp3")
                {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(&body);
                } else {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        });
        Some(MediaServer { base, fetched })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Waits until `n` fetches happened or `timeout` passed; returns how many did.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while self.fetched.load(Ordering::SeqCst) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.fetched.load(Ordering::SeqCst)
    }
}
