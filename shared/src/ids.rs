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

/// An `http://` or `https://` URL with a host and nothing a URL cannot carry.
pub fn is_http_url(v: &str) -> bool {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && !v.chars().any(|c| c.is_whitespace() || c.is_control())
                && host.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, '.' | '-' | ':' | '@' | '_' | '[' | ']')
                })
        }
        None => false,
    }
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
