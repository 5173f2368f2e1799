//! Identifier checks: E.164 numbers, Twilio SIDs, e-mail addresses,
//! http(s) URLs and the names that go into section names and URLs.
//!
//! Each check lives here once; config validation, the flow (which must
//! distrust every request parameter) and the adapters all call these.
//! A leaf module: it depends on nothing else in the crate.

/// `+` and 2–15 digits, not starting with 0: what Twilio dials.
pub fn is_e164(v: &str) -> bool {
    let digits = v.strip_prefix('+').unwrap_or("");
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Twilio SIDs: a prefix (`CA`, `RE`, `AC`, …) and exactly 32 hex digits.
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == prefix.len() + 32
        && s.starts_with(prefix)
        && s[prefix.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A plausible address (`local@domain.tld`): enough to catch typos, not RFC 5322.
pub fn is_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
                })
                && !domain.contains('@')
        }
        None => false,
    }
}

/// An `http://` or `https://` URL with a real host: a DNS name, an IPv4
/// address or a bracketed IPv6 address, an optional port 1–65535, no user
/// info, and nothing after the host that a URL cannot carry (whitespace,
/// controls, non-ASCII).
pub fn is_http_url(v: &str) -> bool {
    let Some(rest) = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
    else {
        return false;
    };
    if !v.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((ip6, after)) if ip6.parse::<std::net::Ipv6Addr>().is_ok() => match after {
                "" => return true,
                p => match p.strip_prefix(':') {
                    Some(port) => (None, Some(port)),
                    None => return false,
                },
            },
            _ => return false,
        },
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(authority), None),
        },
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && matches!(p.parse::<u32>(), Ok(1..=65535))
    });
    port_ok && host.is_none_or(is_host_name)
}

/// A DNS name or an IPv4 address: dot-separated labels of letters, digits,
/// `-` and `_`, none empty, none starting or ending with `-`.
fn is_host_name(h: &str) -> bool {
    let h = h.strip_suffix('.').unwrap_or(h);
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Names of actions, menus, hours and agent lines: what goes into URLs and section names.
pub fn is_name(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A queue name Twilio accepts (its friendly name) that a URL or log can carry plainly.
pub fn is_queue_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_and_urls() {
        assert!(is_e164("+442079460000"));
        assert!(!is_e164("442079460000"));
        assert!(!is_e164("+0442079460000"));
        assert!(!is_e164("+44 20 7946 0000"));
        assert!(is_http_url("https://audio.example.net/ivr/welcome.mp3"));
        assert!(is_http_url("http://127.0.0.1:8080/a%20b.mp3"));
        assert!(!is_http_url("ftp://x/y.mp3"));
        assert!(!is_http_url("https:///y.mp3"));
        assert!(!is_http_url("https://x y/z.mp3"));
        assert!(is_http_url("https://[::1]:8080/a.mp3"));
        assert!(is_http_url("http://[2001:db8::1]/a.mp3"));
        assert!(is_http_url("https://a.example.com./x?y=1#z"));
        // What an adversarial run found accepted:
        assert!(!is_http_url("http://@/a.mp3"));
        assert!(!is_http_url("http://[[[::::]]]/a.mp3"));
        assert!(!is_http_url("http://user:pw@example.com/a.mp3"));
        assert!(!is_http_url("http://example.com:0/a.mp3"));
        assert!(!is_http_url("http://example.com:99999/a.mp3"));
        assert!(!is_http_url("http://example.com:/a.mp3"));
        assert!(!is_http_url("http://-x.example.com/a.mp3"));
        assert!(!is_http_url("http://a..b/a.mp3"));
        assert!(!is_http_url("https://exämple.com/a.mp3"));
    }

    #[test]
    fn sids() {
        assert!(is_sid("RE0123456789abcdef0123456789ABCDEF", "RE"));
        assert!(!is_sid("RE0123456789abcdef0123456789ABCDE", "RE"));
        assert!(!is_sid("CA0123456789abcdef0123456789ABCDEF", "RE"));
        assert!(!is_sid("RE0123456789abcdef0123456789ABCDé", "RE"));
    }

    #[test]
    fn names() {
        assert!(is_name("sales-2_b"));
        assert!(!is_name("a b"));
        assert!(!is_name(""));
        assert!(is_queue_name("ask-the.plumber"));
        assert!(!is_queue_name(&"q".repeat(65)));
    }
}
