//! X-Twilio-Signature validation, matching Twilio's official validators, so that only
//! Twilio (which holds the auth token) can drive the IVR's webhooks. Form requests sign
//! the URL plus sorted params; JSON requests sign the URL, which pins the body via bodySHA256.
//!
//! Like twilio-python's `RequestValidator.validate` (and twilio-node's
//! `validateRequest`), a signature is accepted over the URL as the request
//! came or over its other port form: without its port if it has one (any
//! port), with the scheme's default port if it has none. Twilio's signing
//! is inconsistent about ports, hence the reference validators' two tries.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

/// Computes the signature Twilio sends for `url` and form `params` (name, value pairs, any order).
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let sorted = sorted_params(params);
    STANDARD.encode(mac(auth_token, url, &sorted).finalize().into_bytes())
}

/// True if `signature` is valid for a form-encoded (or GET) request. `params` are the decoded POST body params (empty for GET).
pub fn validate_form<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
    signature: &str,
) -> bool {
    let sorted = sorted_params(params);
    signature_matches(auth_token, url, &sorted, signature)
}

/// True if `signature` is valid for a JSON body request whose `url` carries bodySHA256.
pub fn validate_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Some(expected) = body_sha256_param(url) else {
        // Without bodySHA256 nothing ties the body to the signature.
        return false;
    };
    let expected = expected.to_ascii_lowercase();
    let actual = hex_lower(&Sha256::digest(body));
    let body_ok = ct_eq(expected.as_bytes(), actual.as_bytes());
    // Evaluated regardless of body_ok so the outcome's timing doesn't say which check failed.
    let sig_ok = signature_matches(auth_token, url, &[], signature);
    body_ok & sig_ok
}

/// Sorted by name then value (byte order of UTF-8 is code-point order, as Python's sort),
/// with identical name/value pairs collapsed: twilio-python sorts `set(values)` and
/// twilio-node a `Set`, so a repeated identical pair is signed once.
fn sorted_params<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Vec<(&str, &str)> {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_ref(), v.as_ref()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

fn mac(auth_token: &str, url: &str, sorted: &[(&str, &str)]) -> HmacSha1 {
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

fn signature_matches(
    auth_token: &str,
    url: &str,
    sorted: &[(&str, &str)],
    signature: &str,
) -> bool {
    // Strict (canonical, padded) decoding accepts exactly the strings Twilio's validators
    // accept with their string compare; anything else can never match.
    let Ok(sig) = STANDARD.decode(signature) else {
        return false;
    };
    // verify_slice compares in constant time. Which URL form matched is no
    // secret, so the second form (see `other_port_form`) is only computed
    // when the first fails — half the work on the common path.
    mac(auth_token, url, sorted).verify_slice(&sig).is_ok()
        || other_port_form(url)
            .is_some_and(|alt| mac(auth_token, &alt, sorted).verify_slice(&sig).is_ok())
}

/// The URL twilio-python's validator tries besides the one it is given:
/// without the port when there is one (`remove_port`: any port, not only
/// the default), else with the scheme's default port (`add_port`).
///
/// Where the reference mangles the URL — it splits the authority at its
/// first `:`, so userinfo and bracketed IPv6 addresses lose everything after
/// it, a URL nobody signs — this removes or adds the port after the host.
fn other_port_form(url: &str) -> Option<String> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    let default_port: u16 = if scheme.eq_ignore_ascii_case("https") {
        443
    } else if scheme.eq_ignore_ascii_case("http") {
        80
    } else {
        return None;
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    // The port follows the host, never the userinfo: `user:pass@host` has a colon that is not a port.
    let host_start = authority_start + authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &url[host_start..authority_end];
    let port_colon = if host_port.starts_with('[') {
        // IPv6 literal: colons inside the brackets belong to the address.
        let close = host_port.find(']')?;
        host_port[close + 1..].starts_with(':').then_some(close + 1)
    } else {
        host_port.rfind(':')
    };
    match port_colon {
        None => Some(format!(
            "{}:{}{}",
            &url[..authority_end],
            default_port,
            &url[authority_end..]
        )),
        Some(i) => {
            let colon = host_start + i;
            let port = &url[colon + 1..authority_end];
            // Python's `uri.port` is falsy for no port, ":" and ":0" (nothing
            // removed) and raises for anything not 0–65535: such a URL only
            // validates as it came.
            (port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p != 0))
                .then(|| format!("{}{}", &url[..colon], &url[authority_end..]))
        }
    }
}

fn body_sha256_param(url: &str) -> Option<String> {
    let before_fragment = url.split('#').next().unwrap_or(url);
    let (_, query) = before_fragment.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "bodySHA256")
        .map(|(_, value)| value.into_owned())
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Constant time in the contents; the length is public (a SHA-256 hex digest is always 64).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    // --- Twilio's published example (security docs) ---

    const DOC_TOKEN: &str = "12345";
    const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const DOC_SIG: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

    fn doc_params() -> Vec<(String, String)> {
        p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ])
    }

    #[test]
    fn published_vector_compute() {
        assert_eq!(compute(DOC_TOKEN, DOC_URL, &doc_params()), DOC_SIG);
        // Order of the input must not matter.
        let mut reversed = doc_params();
        reversed.reverse();
        assert_eq!(compute(DOC_TOKEN, DOC_URL, &reversed), DOC_SIG);
    }

    #[test]
    fn published_vector_validates() {
        assert!(validate_form(DOC_TOKEN, DOC_URL, &doc_params(), DOC_SIG));
    }

    #[test]
    fn published_vector_validates_with_explicit_443() {
        let url = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert!(validate_form(DOC_TOKEN, url, &doc_params(), DOC_SIG));
    }

    // --- Reference vectors from twilio-python 9.13.0 (pip `twilio==9.13.0`),
    // RequestValidator(REF_TOKEN).compute_signature(url, params); each was also
    // confirmed with RequestValidator.validate. Repeated names were passed as a
    // MultiDict-like object (the validator calls .getall()), which it signs as
    // sorted(set(values)) per name. ---

    const REF_TOKEN: &str = "f3a9c1d27e6b4a5c9d0e8f7a6b5c4d3e";

    #[test]
    fn reference_repeated_names_sorted_by_code_point() {
        // MultiDict({"To": ["+15005550006"], "Tag": ["beta", "alpha", "Gamma"], "From": ["+15005550001"]})
        let url = "https://example.com/ivr/gather";
        let params = p(&[
            ("To", "+15005550006"),
            ("Tag", "beta"),
            ("Tag", "alpha"),
            ("Tag", "Gamma"),
            ("From", "+15005550001"),
        ]);
        let sig = "M7r39pK98swhgld+DrOZSkllH7c=";
        assert_eq!(compute(REF_TOKEN, url, &params), sig);
        assert!(validate_form(REF_TOKEN, url, &params, sig));
    }

    #[test]
    fn reference_repeated_identical_pair_signed_once() {
        // MultiDict({"Tag": ["b", "a", "b"]}) and {"Tag": ["a", "b"]} both give this.
        let url = "https://example.com/ivr/gather";
        let sig = "EgPv39t7nvtos2vCQ9l+g4UqNPI=";
        let dup = p(&[("Tag", "b"), ("Tag", "a"), ("Tag", "b")]);
        assert_eq!(compute(REF_TOKEN, url, &dup), sig);
        assert_eq!(
            compute(REF_TOKEN, url, &p(&[("Tag", "a"), ("Tag", "b")])),
            sig
        );
        assert!(validate_form(REF_TOKEN, url, &dup, sig));
    }

    #[test]
    fn reference_unicode_values() {
        let url = "https://example.com/ivr/sms";
        let params = p(&[
            ("Body", "Café é + spaces  here"),
            ("From", "+15005550001"),
            ("To", "+15005550006"),
            ("ProfileName", "Zoë 🎉"),
        ]);
        let sig = "tz+X4wqcyOqvJiIcFMVxAwf23p4=";
        assert_eq!(compute(REF_TOKEN, url, &params), sig);
        assert!(validate_form(REF_TOKEN, url, &params, sig));
    }

    #[test]
    fn reference_http_port_80_both_ways() {
        // Signed over the URL with :80; must validate with and without it.
        let params = p(&[
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
            ("Digits", "42"),
        ]);
        let sig = "rup4AXWxJbR8HaZoFFJkrrXMqBs=";
        assert_eq!(
            compute(REF_TOKEN, "http://example.com:80/voice", &params),
            sig
        );
        assert!(validate_form(
            REF_TOKEN,
            "http://example.com:80/voice",
            &params,
            sig
        ));
        assert!(validate_form(
            REF_TOKEN,
            "http://example.com/voice",
            &params,
            sig
        ));
        // 443 is not http's default, so it is not implied.
        assert!(!validate_form(
            REF_TOKEN,
            "http://example.com:443/voice",
            &params,
            sig
        ));
    }

    #[test]
    fn reference_url_with_query_string() {
        let url = "https://example.com/voice/menu?step=2&lang=en-US&name=a%20b";
        let params = p(&[
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
            ("SpeechResult", "main menu"),
        ]);
        let sig = "1KeRn0fQnSyFcoU/YsDOTVBq5TY=";
        assert_eq!(compute(REF_TOKEN, url, &params), sig);
        assert!(validate_form(REF_TOKEN, url, &params, sig));
    }

    #[test]
    fn reference_empty_params_get() {
        let url = "https://example.com/status?CallSid=CA0123&CallStatus=completed";
        let sig = "8DFzwgYP4LYRRW9Szd9+LjA4s4E=";
        assert_eq!(compute(REF_TOKEN, url, &[]), sig);
        assert!(validate_form(
            REF_TOKEN,
            url,
            &[] as &[(String, String)],
            sig
        ));
    }

    #[test]
    fn reference_userinfo_port_inserted_after_host() {
        // Signed over the URL with :443; the request URL carries userinfo and no port.
        let params = p(&[("Digits", "9")]);
        let sig = "CEN5F6k5JVtl9ZicNWWuJRQzqqk=";
        assert_eq!(
            compute(
                REF_TOKEN,
                "https://user:p%40ss@example.com:443/hook",
                &params
            ),
            sig
        );
        assert!(validate_form(
            REF_TOKEN,
            "https://user:p%40ss@example.com/hook",
            &params,
            sig
        ));
        assert!(validate_form(
            REF_TOKEN,
            "https://user:p%40ss@example.com:443/hook",
            &params,
            sig
        ));
    }

    const REF_JSON_URL: &str = "https://example.com/events?bodySHA256=3969a12ea55e50f09a39cceccf735568c67616d4c37f0d4ba0d68c9005816376";
    const REF_JSON_BODY: &str = r#"{"CallSid":"CA0123","Status":"completed","Note":"é +"}"#;
    const REF_JSON_SIG: &str = "eHpHtw/QdkM2DomAUYD3INHAE9Q=";

    #[test]
    fn reference_json_body_sha256() {
        assert_eq!(compute(REF_TOKEN, REF_JSON_URL, &[]), REF_JSON_SIG);
        assert!(validate_json(
            REF_TOKEN,
            REF_JSON_URL,
            REF_JSON_BODY.as_bytes(),
            REF_JSON_SIG
        ));
        let with_port = REF_JSON_URL.replace("example.com", "example.com:443");
        assert!(validate_json(
            REF_TOKEN,
            &with_port,
            REF_JSON_BODY.as_bytes(),
            REF_JSON_SIG
        ));
    }

    // --- Port handling ---

    #[test]
    fn other_port_form_respects_userinfo_and_ipv6() {
        let other = |u: &str| other_port_form(u);
        assert_eq!(
            other("https://user:pass@host.example/x?a=1").as_deref(),
            Some("https://user:pass@host.example:443/x?a=1")
        );
        assert_eq!(
            other("https://user:pass@host.example:443/x").as_deref(),
            Some("https://user:pass@host.example/x")
        );
        assert_eq!(
            other("http://[::1]?q").as_deref(),
            Some("http://[::1]:80?q")
        );
        assert_eq!(other("http://[::1]:80/").as_deref(), Some("http://[::1]/"));
        // Any port is removed, as twilio-python's remove_port does.
        assert_eq!(
            other("https://host.example:8443/x").as_deref(),
            Some("https://host.example/x")
        );
        assert_eq!(
            other("http://[::1]:3000/x").as_deref(),
            Some("http://[::1]/x")
        );
        assert_eq!(other("http://h:0/x"), None);
        assert_eq!(other("http://h:99999/x"), None);
        assert_eq!(other("not a url"), None);
    }

    /// (URL signed, URL the request came to, signature, what twilio-python
    /// 9.13.0 says). Signatures and verdicts from
    ///
    /// ```python
    /// from twilio.request_validator import RequestValidator
    /// v = RequestValidator(REF_TOKEN)
    /// params = {"CallSid": "CA0123456789abcdef0123456789abcdef", "Digits": "7"}
    /// sig = v.compute_signature(signed, params)
    /// v.validate(request, params, sig)
    /// ```
    const PORT_VECTORS: &[(&str, &str, &str, bool)] = &[
        (
            "https://ivr.example.com/ivr/hangup",
            "https://ivr.example.com:8443/ivr/hangup",
            "Uy8VRqXOskv8F+NaOf/IXJyr4s0=",
            true,
        ),
        (
            "https://ivr.example.com:8443/ivr/hangup",
            "https://ivr.example.com:8443/ivr/hangup",
            "26aZeL+uRO0LORs9hpf9HEbNT84=",
            true,
        ),
        (
            "https://ivr.example.com:8443/ivr/hangup",
            "https://ivr.example.com/ivr/hangup",
            "26aZeL+uRO0LORs9hpf9HEbNT84=",
            false,
        ),
        (
            "https://ivr.example.com:8443/ivr/hangup",
            "https://ivr.example.com:9443/ivr/hangup",
            "26aZeL+uRO0LORs9hpf9HEbNT84=",
            false,
        ),
        (
            "https://ivr.example.com:443/ivr/hangup",
            "https://ivr.example.com:8443/ivr/hangup",
            "rVdStlAqkCZTcBTP6ucXSdKMf7w=",
            false,
        ),
        (
            "https://ivr.example.com:443/ivr/hangup",
            "https://ivr.example.com/ivr/hangup",
            "rVdStlAqkCZTcBTP6ucXSdKMf7w=",
            true,
        ),
        (
            "https://ivr.example.com/ivr/hangup",
            "https://ivr.example.com:443/ivr/hangup",
            "Uy8VRqXOskv8F+NaOf/IXJyr4s0=",
            true,
        ),
        (
            "http://127.0.0.1/ivr/hangup",
            "http://127.0.0.1:3000/ivr/hangup",
            "0BxZqf6jg5WTCiGntJ1l/DnD7vI=",
            true,
        ),
        (
            "http://127.0.0.1:80/ivr/hangup",
            "http://127.0.0.1:3000/ivr/hangup",
            "xafeSo6L6yD72HF3JUYHzjJWaEE=",
            false,
        ),
        (
            "http://127.0.0.1:3000/ivr/hangup",
            "http://127.0.0.1/ivr/hangup",
            "500bjRFPbkjoMMqxblpDvjRTCxg=",
            false,
        ),
        (
            "http://127.0.0.1:3000/ivr/hangup",
            "http://127.0.0.1:80/ivr/hangup",
            "500bjRFPbkjoMMqxblpDvjRTCxg=",
            false,
        ),
        (
            "http://ivr.example.com/ivr/hangup",
            "http://ivr.example.com:443/ivr/hangup",
            "r3DRCIKIzpcnUQk4uC5SUCqJzvM=",
            true,
        ),
        (
            "https://ivr.example.com/ivr/menu?menu=support&loop_count=1",
            "https://ivr.example.com:8443/ivr/menu?menu=support&loop_count=1",
            "XDl1i1gFRJOkwKLia89YPtu+5pY=",
            true,
        ),
        (
            "https://ivr.example.com/ivr/hangup",
            "http://ivr.example.com:8443/ivr/hangup",
            "Uy8VRqXOskv8F+NaOf/IXJyr4s0=",
            false,
        ),
        (
            "https://ivr.example.com/ivr/hangup",
            "https://other.example.com:8443/ivr/hangup",
            "Uy8VRqXOskv8F+NaOf/IXJyr4s0=",
            false,
        ),
    ];

    #[test]
    fn reference_ports_as_twilio_python_validates_them() {
        let params = p(&[
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
            ("Digits", "7"),
        ]);
        for &(signed, request, sig, valid) in PORT_VECTORS {
            assert_eq!(compute(REF_TOKEN, signed, &params), sig, "{signed}");
            assert_eq!(
                validate_form(REF_TOKEN, request, &params, sig),
                valid,
                "signed over {signed}, request to {request}"
            );
        }
    }

    #[test]
    fn reference_json_on_a_non_default_port() {
        // RequestValidator.validate("https://example.com:8443/events?bodySHA256=…", body, sig)
        // is True for a signature over the URL without the port.
        let url = REF_JSON_URL.replace("example.com", "example.com:8443");
        assert!(validate_json(
            REF_TOKEN,
            &url,
            REF_JSON_BODY.as_bytes(),
            REF_JSON_SIG
        ));
        let tampered = REF_JSON_BODY.replace("completed", "failed");
        assert!(!validate_json(
            REF_TOKEN,
            &url,
            tampered.as_bytes(),
            REF_JSON_SIG
        ));
    }

    #[test]
    fn ipv6_port_is_removed_after_the_brackets() {
        // twilio-python turns http://[::1]:3000/x into http://[/x (it splits
        // at the first colon), so it only accepts the URL as it came; the
        // port-less form here is the one a signer would have used.
        let params = p(&[("Digits", "7")]);
        let sig = compute(REF_TOKEN, "http://[::1]/x", &params);
        assert_eq!(sig, "+VbmgcfZI1cTZuwZm9NjYCYYHYU=");
        assert!(validate_form(
            REF_TOKEN,
            "http://[::1]:3000/x",
            &params,
            &sig
        ));
    }

    // --- Rejections ---

    #[test]
    fn wrong_token_fails() {
        assert!(!validate_form("54321", DOC_URL, &doc_params(), DOC_SIG));
    }

    #[test]
    fn tampered_param_fails() {
        let mut params = doc_params();
        params[2].1 = "1235".into();
        assert!(!validate_form(DOC_TOKEN, DOC_URL, &params, DOC_SIG));
    }

    #[test]
    fn missing_param_fails() {
        let mut params = doc_params();
        params.remove(2);
        assert!(!validate_form(DOC_TOKEN, DOC_URL, &params, DOC_SIG));
    }

    #[test]
    fn tampered_url_fails() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=3";
        assert!(!validate_form(DOC_TOKEN, url, &doc_params(), DOC_SIG));
    }

    #[test]
    fn json_tampered_body_fails() {
        let tampered = REF_JSON_BODY.replace("completed", "failed");
        assert!(!validate_json(
            REF_TOKEN,
            REF_JSON_URL,
            tampered.as_bytes(),
            REF_JSON_SIG
        ));
    }

    #[test]
    fn json_missing_body_sha256_fails() {
        let url = "https://example.com/events";
        let sig = compute(REF_TOKEN, url, &[]);
        assert!(!validate_json(
            REF_TOKEN,
            url,
            REF_JSON_BODY.as_bytes(),
            &sig
        ));
        let url = "https://example.com/events?other=1";
        let sig = compute(REF_TOKEN, url, &[]);
        assert!(!validate_json(
            REF_TOKEN,
            url,
            REF_JSON_BODY.as_bytes(),
            &sig
        ));
    }

    #[test]
    fn json_body_sha256_hex_is_case_insensitive() {
        let (prefix, hash) = REF_JSON_URL.split_once('=').unwrap();
        let url = format!("{prefix}={}", hash.to_ascii_uppercase());
        assert_ne!(url, REF_JSON_URL);
        let sig = compute(REF_TOKEN, &url, &[]);
        assert!(validate_json(
            REF_TOKEN,
            &url,
            REF_JSON_BODY.as_bytes(),
            &sig
        ));
    }

    #[test]
    fn json_wrong_token_fails() {
        assert!(!validate_json(
            "54321",
            REF_JSON_URL,
            REF_JSON_BODY.as_bytes(),
            REF_JSON_SIG
        ));
    }

    #[test]
    fn garbage_signature_fails_without_panic() {
        for sig in [
            "!!!not base64!!!",
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ",
            "AAAA",
            "é",
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ===",
        ] {
            assert!(
                !validate_form(DOC_TOKEN, DOC_URL, &doc_params(), sig),
                "{sig}"
            );
            assert!(
                !validate_json(REF_TOKEN, REF_JSON_URL, REF_JSON_BODY.as_bytes(), sig),
                "{sig}"
            );
        }
    }

    #[test]
    fn empty_signature_fails() {
        assert!(!validate_form(DOC_TOKEN, DOC_URL, &doc_params(), ""));
        assert!(!validate_form(
            REF_TOKEN,
            "https://example.com/",
            &[] as &[(String, String)],
            ""
        ));
        assert!(!validate_json(
            REF_TOKEN,
            REF_JSON_URL,
            REF_JSON_BODY.as_bytes(),
            ""
        ));
    }

    #[test]
    fn ct_eq_basics() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
