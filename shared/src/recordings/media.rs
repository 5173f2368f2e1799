//! Where a recording's media may come from, and which addresses a download
//! may reach.
//!
//! The worker never fetches the `RecordingUrl` a callback posted. It builds
//! the media URL itself, `{api base}/2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.mp3`,
//! from the configured Twilio API base (`TWILIO_API_BASE`, default
//! `https://api.twilio.com`), the configured account SID and the job's
//! RecordingSid; the posted URL is only checked against it, and a mismatch is
//! refused ([`MediaSource::media_url`]). Only without Twilio credentials
//! (`ivr serve` in local mode: nothing secret to leak) may a recording be at
//! a loopback stand-in, such as the media server of `ivr call`.
//!
//! A download connects to public addresses only, plus the class of the API
//! base itself when that is a loopback, private or link-local address (a
//! test stand-in, a proxy): see [`Reach`]. The HTTP client checks every
//! address it is about to connect to, literal or resolved, redirects
//! included (`crate::twilio::MediaFetcher`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ids::is_sid;

use super::job::RecordingJob;

/// Twilio's REST API, the default API base.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// The largest recording accepted, in every mode: 50 MiB (52,428,800 bytes).
/// A two-hour MP3 at Twilio's 32 kbit/s is about 29 MB. Anything larger is a
/// permanent failure of that recording (dead-lettered, Twilio's copy kept).
pub const MAX_MEDIA_BYTES: u64 = 50 * 1024 * 1024;

/// What kind of address an IP address is, for [`Reach`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Routable on the internet.
    Public,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), carrier-grade NAT
    /// (`100.64/10`), IPv6 unique local (`fc00::/7`).
    Private,
    /// `169.254/16` (cloud metadata services live here), `fe80::/10`.
    LinkLocal,
    /// Unspecified, broadcast, multicast, documentation, benchmarking and
    /// reserved ranges: never a recording's home.
    Reserved,
}

/// The class of `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address).
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        AddressClass::Private
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if a == 0
        || a >= 224
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let s = ip.segments();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if (s[0] & 0xfe00) == 0xfc00 {
        AddressClass::Private
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if ip.is_unspecified()
        || (s[0] & 0xff00) == 0xff00
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        // IPv4-compatible (deprecated) and NAT64 forms could smuggle an IPv4 address.
        || (s[0..6] == [0, 0, 0, 0, 0, 0])
        || (s[0] == 0x64 && s[1] == 0xff9b)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

/// The class of a URL host if it is an IP literal (IPv6 bracketed or not)
/// or `localhost`; `None` for a name to resolve.
pub fn host_class(host: &str) -> Option<AddressClass> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.eq_ignore_ascii_case("localhost") {
        return Some(AddressClass::Loopback);
    }
    bare.parse::<IpAddr>().ok().map(classify)
}

/// The addresses a download may connect to: public ones, plus the classes
/// added with [`Reach::with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    loopback: bool,
    private: bool,
    link_local: bool,
}

impl Reach {
    /// Public addresses only.
    pub const PUBLIC: Reach = Reach {
        loopback: false,
        private: false,
        link_local: false,
    };

    /// Public addresses, plus the class of an API base whose host is an IP
    /// literal or `localhost` (a stand-in on 127.0.0.1 in tests). A base
    /// named by a DNS name adds nothing.
    pub fn for_api_base(host: &str) -> Reach {
        match host_class(host) {
            Some(class) => Reach::PUBLIC.with(class),
            None => Reach::PUBLIC,
        }
    }

    /// Also `class` (reserved addresses are never allowed).
    pub fn with(mut self, class: AddressClass) -> Reach {
        match class {
            AddressClass::Loopback => self.loopback = true,
            AddressClass::Private => self.private = true,
            AddressClass::LinkLocal => self.link_local = true,
            AddressClass::Public | AddressClass::Reserved => {}
        }
        self
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        match classify(ip) {
            AddressClass::Public => true,
            AddressClass::Loopback => self.loopback,
            AddressClass::Private => self.private,
            AddressClass::LinkLocal => self.link_local,
            AddressClass::Reserved => false,
        }
    }
}

/// An absolute http(s) URL taken apart: lowercase scheme and host, the
/// effective port, the path; `None` for anything else (user info, no host,
/// a bad port, characters a URL cannot carry).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    scheme: &'static str,
    host: String,
    port: u16,
    path: String,
    has_query_or_fragment: bool,
}

impl Parts {
    fn parse(s: &str) -> Option<Parts> {
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        let (scheme, rest, default_port) = if lower.starts_with("https://") {
            ("https", &s[8..], 443)
        } else if lower.starts_with("http://") {
            ("http", &s[7..], 80)
        } else {
            return None;
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return None;
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (inner, after) = bracketed.split_once(']')?;
                inner.parse::<Ipv6Addr>().ok()?;
                (format!("[{inner}]"), after)
            }
            None => match authority.find(':') {
                Some(i) => (authority[..i].to_string(), &authority[i..]),
                None => (authority.to_string(), ""),
            },
        };
        if host.is_empty() || (host.contains(['[', ']']) && !host.starts_with('[')) {
            return None;
        }
        let port = match port.strip_prefix(':') {
            None if port.is_empty() => default_port,
            None => return None,
            Some(digits) => match digits.parse::<u16>() {
                Ok(p) if p != 0 && digits.bytes().all(|b| b.is_ascii_digit()) => p,
                _ => return None,
            },
        };
        let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
        let path = match &tail[..path_end] {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        Some(Parts {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path,
            has_query_or_fragment: path_end < tail.len(),
        })
    }

    fn default_port(&self) -> u16 {
        if self.scheme == "https" {
            443
        } else {
            80
        }
    }

    /// `scheme://host[:port]`, the port only when it is not the default.
    fn origin(&self) -> String {
        if self.port == self.default_port() {
            format!("{}://{}", self.scheme, self.host)
        } else {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        }
    }

    fn same_origin(&self, other: &Parts) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }
}

/// The configured Twilio API base, parsed: origin and path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Base {
    parts: Parts,
    /// The base's path without a trailing slash (`""` for `https://api.twilio.com`).
    prefix: String,
}

/// Where recording media is fetched from: the Twilio API base and account
/// the worker is configured with. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSource {
    api_base: String,
    base: Result<Base, String>,
    account_sid: Option<String>,
    loopback_stand_ins: bool,
}

impl MediaSource {
    /// `api_base`: `https://api.twilio.com` or a stand-in; `account_sid`:
    /// the configured account, if any (without one, the account in the
    /// posted URL is used: local mode only); `loopback_stand_ins`: whether a
    /// recording may be at a loopback host other than the API base (only
    /// when there are no Twilio credentials to leak).
    pub fn new(api_base: &str, account_sid: Option<&str>, loopback_stand_ins: bool) -> Self {
        let trimmed = api_base.trim().trim_end_matches('/').to_string();
        let base = match Parts::parse(&trimmed) {
            Some(parts) if !parts.has_query_or_fragment => {
                let prefix = parts.path.trim_end_matches('/').to_string();
                Ok(Base { parts, prefix })
            }
            _ => Err(format!(
                "the Twilio API base `{}` is not an http(s) URL without user info, query or fragment",
                excerpt(api_base)
            )),
        };
        MediaSource {
            api_base: trimmed,
            base,
            account_sid: account_sid
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            loopback_stand_ins,
        }
    }

    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    pub fn account_sid(&self) -> Option<&str> {
        self.account_sid.as_deref()
    }

    pub fn allows_loopback_stand_ins(&self) -> bool {
        self.loopback_stand_ins
    }

    /// Allows (or not) recordings at loopback stand-ins; see [`MediaSource::new`].
    pub fn with_loopback_stand_ins(mut self, allow: bool) -> Self {
        self.loopback_stand_ins = allow;
        self
    }

    /// The URL to download `job`'s media from:
    /// `{api base}/2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.mp3`.
    /// The posted `RecordingUrl` must be that recording's URL at the API base
    /// (with or without `.mp3`/`.wav`), or, with loopback stand-ins allowed,
    /// at a loopback host; anything else is refused with the reason.
    pub fn media_url(&self, job: &RecordingJob) -> Result<String, String> {
        let base = self.base.as_ref().map_err(Clone::clone)?;
        let sid = job.recording_sid.as_str();
        if !is_sid(sid, "RE") {
            return Err(format!(
                "`{}` is not a RecordingSid (RE followed by 32 hex digits)",
                excerpt(sid)
            ));
        }
        let refuse = |why: &str| {
            format!(
                "RecordingUrl `{}` refused: {why}; expected {}{}/2010-04-01/Accounts/{}/Recordings/{sid}",
                excerpt(&job.recording_url),
                base.parts.origin(),
                base.prefix,
                self.account_sid.as_deref().unwrap_or("AC…"),
            )
        };
        let posted =
            Parts::parse(&job.recording_url).ok_or_else(|| refuse("not a plain http(s) URL"))?;
        if posted.has_query_or_fragment {
            return Err(refuse("it has a query or fragment"));
        }
        let (origin, prefix) = if posted.same_origin(&base.parts) {
            (base.parts.origin(), base.prefix.as_str())
        } else if self.loopback_stand_ins
            && host_class(&posted.host) == Some(AddressClass::Loopback)
        {
            (posted.origin(), "")
        } else {
            return Err(refuse("not the configured Twilio API base"));
        };
        let path = posted
            .path
            .strip_suffix(".mp3")
            .or_else(|| posted.path.strip_suffix(".wav"))
            .unwrap_or(&posted.path);
        let account = path
            .strip_prefix(prefix)
            .and_then(|p| p.strip_prefix("/2010-04-01/Accounts/"))
            .and_then(|p| p.strip_suffix(sid))
            .and_then(|p| p.strip_suffix("/Recordings/"))
            .filter(|a| is_sid(a, "AC"))
            .ok_or_else(|| refuse("not this recording's path"))?;
        let account = match &self.account_sid {
            Some(configured) if configured.eq_ignore_ascii_case(account) => configured.as_str(),
            Some(_) => return Err(refuse("another account's recording")),
            None => account,
        };
        Ok(format!(
            "{origin}{prefix}/2010-04-01/Accounts/{account}/Recordings/{sid}.mp3"
        ))
    }
}

/// At most 200 characters of `s`, for messages about values from outside.
fn excerpt(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC: &str = "AC0123456789abcdef0123456789abcdef";
    const RE: &str = "RE0123456789abcdef0123456789abcdef";

    fn job(url: &str) -> RecordingJob {
        RecordingJob {
            recording_sid: RE.into(),
            call_sid: "CA0123456789abcdef0123456789abcdef".into(),
            recording_url: url.into(),
            duration_seconds: None,
            section: "vm".into(),
            caller: None,
            called: None,
            received_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn classes() {
        let c = |s: &str| classify(s.parse().unwrap());
        assert_eq!(c("127.0.0.1"), AddressClass::Loopback);
        assert_eq!(c("127.255.0.9"), AddressClass::Loopback);
        assert_eq!(c("::1"), AddressClass::Loopback);
        assert_eq!(c("::ffff:127.0.0.1"), AddressClass::Loopback);
        for p in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
            "fc00::1",
        ] {
            assert_eq!(c(p), AddressClass::Private, "{p}");
        }
        for l in ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254"] {
            assert_eq!(c(l), AddressClass::LinkLocal, "{l}");
        }
        for r in [
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "ff02::1",
            "2001:db8::1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert_eq!(c(r), AddressClass::Reserved, "{r}");
        }
        for p in [
            "8.8.8.8",
            "54.172.60.1",
            "172.32.0.1",
            "100.128.0.1",
            "2600:1f18::1",
        ] {
            assert_eq!(c(p), AddressClass::Public, "{p}");
        }
    }

    #[test]
    fn reach_adds_the_class_of_an_ip_api_base_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let public = Reach::for_api_base("api.twilio.com");
        assert_eq!(public, Reach::PUBLIC);
        assert!(public.allows(ip("54.172.60.1")));
        for refused in ["127.0.0.1", "10.0.0.1", "169.254.169.254", "0.0.0.0", "::1"] {
            assert!(!public.allows(ip(refused)), "{refused}");
        }
        let local = Reach::for_api_base("127.0.0.1");
        assert!(local.allows(ip("127.0.0.1")) && local.allows(ip("54.172.60.1")));
        assert!(!local.allows(ip("10.0.0.1")) && !local.allows(ip("169.254.169.254")));
        assert_eq!(Reach::for_api_base("LOCALHOST"), local);
        assert_eq!(Reach::for_api_base("[::1]"), local);
        let private = Reach::for_api_base("10.1.2.3");
        assert!(private.allows(ip("10.0.0.1")) && !private.allows(ip("127.0.0.1")));
        assert!(!Reach::for_api_base("0.0.0.0").allows(ip("0.0.0.0")));
    }

    #[test]
    fn the_media_url_is_built_from_the_api_base_account_and_recording_sid() {
        let twilio = MediaSource::new("https://api.twilio.com/", Some(AC), false);
        let want = format!("https://api.twilio.com/2010-04-01/Accounts/{AC}/Recordings/{RE}.mp3");
        for posted in [
            format!("https://api.twilio.com/2010-04-01/Accounts/{AC}/Recordings/{RE}"),
            format!("https://API.Twilio.com:443/2010-04-01/Accounts/{AC}/Recordings/{RE}.mp3"),
            format!("HTTPS://api.twilio.com/2010-04-01/Accounts/{AC}/Recordings/{RE}.wav"),
        ] {
            assert_eq!(
                twilio.media_url(&job(&posted)),
                Ok(want.clone()),
                "{posted}"
            );
        }
        let stand_in = MediaSource::new("http://127.0.0.1:4010/twilio/", Some(AC), false);
        assert_eq!(
            stand_in.media_url(&job(&format!(
                "http://127.0.0.1:4010/twilio/2010-04-01/Accounts/{AC}/Recordings/{RE}"
            ))),
            Ok(format!(
                "http://127.0.0.1:4010/twilio/2010-04-01/Accounts/{AC}/Recordings/{RE}.mp3"
            ))
        );
    }

    #[test]
    fn any_other_recording_url_is_refused() {
        let twilio = MediaSource::new("https://api.twilio.com", Some(AC), false);
        let path = format!("/2010-04-01/Accounts/{AC}/Recordings/{RE}");
        let other_ac = "ACffffffffffffffffffffffffffffffff";
        for posted in [
            format!("http://169.254.169.254{path}"),
            format!("http://10.0.0.1{path}"),
            format!("http://127.0.0.1:8080{path}"),
            format!("http://localhost{path}"),
            format!("http://api.twilio.com{path}"),
            format!("https://api.twilio.com:8443{path}"),
            format!("https://api.twilio.com.evil.example{path}"),
            format!("https://evil.example@api.twilio.com{path}"),
            format!("https://api.twilio.com@evil.example{path}"),
            format!("https://api.twilio.com{path}?x=1"),
            format!("https://api.twilio.com{path}#x"),
            format!("https://api.twilio.com/2010-04-01/Accounts/{other_ac}/Recordings/{RE}"),
            format!("https://api.twilio.com/2010-04-01/Accounts/{AC}/Recordings/REffffffffffffffffffffffffffffffff"),
            format!("https://api.twilio.com/x/../2010-04-01/Accounts/{AC}/Recordings/{RE}"),
            format!("https://api.twilio.com/2010-04-01/Accounts/{AC}/Recordings/{RE}/"),
            format!("https://api.twilio.com/2010-04-01/Accounts/%41C0123456789abcdef0123456789abcdef/Recordings/{RE}"),
            format!("file://{path}"),
            format!("https://api.twilio.com{path} "),
            "not a url".to_string(),
            String::new(),
        ] {
            match twilio.media_url(&job(&posted)) {
                Err(e) => assert!(e.contains("refused") && e.contains("expected https://api.twilio.com/2010-04-01/Accounts/"), "{posted}: {e}"),
                Ok(u) => panic!("{posted} accepted as {u}"),
            }
        }
        let mut bad_sid = job(&format!("https://api.twilio.com{path}"));
        bad_sid.recording_sid = "RE../../x".into();
        assert!(twilio
            .media_url(&bad_sid)
            .unwrap_err()
            .contains("not a RecordingSid"));
        assert!(MediaSource::new("ftp://x", Some(AC), false)
            .media_url(&job(&format!("ftp://x{path}")))
            .unwrap_err()
            .contains("Twilio API base"));
    }

    #[test]
    fn without_credentials_a_loopback_stand_in_may_serve_the_recording() {
        let local = MediaSource::new("https://api.twilio.com", None, true);
        let path = format!("/2010-04-01/Accounts/{AC}/Recordings/{RE}");
        for (posted, want) in [
            (
                format!("http://127.0.0.1:5555{path}"),
                format!("http://127.0.0.1:5555{path}.mp3"),
            ),
            (
                format!("http://localhost:5555{path}"),
                format!("http://localhost:5555{path}.mp3"),
            ),
            (
                format!("http://[::1]:5555{path}"),
                format!("http://[::1]:5555{path}.mp3"),
            ),
            // Twilio itself, without credentials (recordings without media auth).
            (
                format!("https://api.twilio.com{path}"),
                format!("https://api.twilio.com{path}.mp3"),
            ),
        ] {
            assert_eq!(local.media_url(&job(&posted)), Ok(want), "{posted}");
        }
        for posted in [
            format!("http://169.254.169.254{path}"),
            format!("http://10.0.0.1{path}"),
            format!("http://127.1:5555{path}"),
            format!("http://0.0.0.0:5555{path}"),
            format!("http://127.0.0.1:5555/elsewhere/{RE}"),
        ] {
            assert!(local.media_url(&job(&posted)).is_err(), "{posted}");
        }
        // A configured account still has to match.
        let with_account = MediaSource::new(
            "https://api.twilio.com",
            Some("ACffffffffffffffffffffffffffffffff"),
            true,
        );
        assert!(with_account
            .media_url(&job(&format!("http://127.0.0.1:5555{path}")))
            .unwrap_err()
            .contains("another account"));
    }
}
