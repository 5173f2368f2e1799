//! The work-item API for other systems: JSON over the IVR's HTTP API,
//! authenticated with `Authorization: Bearer <key>`.
//!
//! | request | answer |
//! |---|---|
//! | `POST /api/callbacks` `{"to", "from", "queue", "note"?}` (+ `Idempotency-Key`) | `201` the new item; `200` the same item for a repeat, or the live callback for that queue and number |
//! | `GET /api/callbacks?status=&kind=&cursor=` | `200 {"items": [...], "next": cursor or null}`, oldest place in line first, 50 a page |
//! | `GET /api/callbacks/{id}` | `200` the item with its attempts; `404` |
//! | `DELETE /api/callbacks/{id}` (`{"reason"}` optional) | `200` canceled; `409` already finished; `404` |
//!
//! Keys come from `IVR_API_KEYS` (comma-separated); with none the API is
//! off and every path under `/api/` answers 404. A missing or wrong key is
//! 401 and changes nothing; bad JSON 400; a bad or missing field 422 naming
//! it (`{"error": {"field": "to", "message": "…"}}`). Input never causes a
//! 5xx: only the database can (503 when it is unavailable).

use std::collections::BTreeSet;
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use http::Method;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::store::{CancelOutcome, Created, IdempotencyKey, ListFilter, StoreError, WorkStore};
use super::{
    check_text, is_item_id, new_id, Kind, NewCallback, Status, DEFAULT_CANCEL_REASON,
    MAX_NOTE_CHARS, MAX_REASON_CHARS, PAGE_SIZE,
};
use crate::ids::is_e164;
use crate::recordings::PortError;
use crate::web::{WebRequest, WebResponse, MAX_BODY};

/// The variable holding the API keys.
pub const ENV_API_KEYS: &str = "IVR_API_KEYS";
/// Shortest key accepted: a key is a secret, not a password.
pub const MIN_KEY_LEN: usize = 16;
/// Longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Whether `path` belongs to the API (the shells send these here).
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The accepted keys, kept as SHA-256 digests and compared in constant time.
#[derive(Clone, Default)]
pub struct ApiKeys(Vec<[u8; 32]>);

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.0.len())
    }
}

fn digest(v: &[u8]) -> [u8; 32] {
    Sha256::digest(v).into()
}

impl ApiKeys {
    /// `IVR_API_KEYS`: comma-separated, blanks ignored; a key shorter than
    /// [`MIN_KEY_LEN`] or with whitespace inside is an error (refuse to start).
    pub fn parse(value: Option<&str>) -> Result<ApiKeys, String> {
        let mut keys = Vec::new();
        for k in value
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            if k.len() < MIN_KEY_LEN || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "{ENV_API_KEYS}: every key must be at least {MIN_KEY_LEN} characters without spaces (key {} is not)",
                    keys.len() + 1
                ));
            }
            keys.push(digest(k.as_bytes()));
        }
        Ok(ApiKeys(keys))
    }

    pub fn is_off(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an `Authorization` header carries one of the keys.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        let Some(given) = authorization.and_then(|h| {
            let h = std::str::from_utf8(h).ok()?.trim();
            let (scheme, key) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        }) else {
            return false;
        };
        let given = digest(given.as_bytes());
        // Every key is compared, whichever matches.
        self.0
            .iter()
            .fold(false, |ok, k| crate::signature::ct_eq(k, &given) | ok)
    }
}

/// The API: its database, its keys, and the queues a callback may name.
pub struct Api<S> {
    pub store: S,
    pub keys: ApiKeys,
    pub queues: BTreeSet<String>,
}

/// A 4xx or 5xx, as JSON.
struct Refusal {
    status: u16,
    field: Option<String>,
    message: String,
}

fn refuse(status: u16, field: Option<&str>, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        field: field.map(str::to_string),
        message: message.into(),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> Refusal {
    refuse(422, Some(field), message)
}

fn json_response(status: u16, body: &Value) -> WebResponse {
    WebResponse {
        status,
        content_type: "application/json",
        body: body.to_string(),
    }
}

impl From<PortError> for Refusal {
    fn from(e: PortError) -> Self {
        tracing::error!(error = %e, "work store failed");
        match e {
            PortError::Transient(_) => refuse(503, None, "the database is unavailable; try again"),
            _ => refuse(500, None, "the database failed"),
        }
    }
}

impl<S: WorkStore> Api<S> {
    /// Answers one request under `/api/`, and logs it as one JSON line.
    pub async fn serve(&self, req: &WebRequest, now: DateTime<Utc>) -> WebResponse {
        let started = Instant::now();
        let (response, outcome) = match self.answer(req, now).await {
            Ok((status, body)) => (json_response(status, &body), "ok".to_string()),
            Err(r) => {
                let mut error = json!({ "message": r.message });
                if let Some(f) = &r.field {
                    error["field"] = json!(f);
                }
                (
                    json_response(r.status, &json!({ "error": error })),
                    r.message,
                )
            }
        };
        tracing::info!(
            route = "api",
            method = %req.method,
            path = %req.path,
            status = response.status,
            outcome = %outcome,
            latency_us = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }

    async fn answer(&self, req: &WebRequest, now: DateTime<Utc>) -> Result<(u16, Value), Refusal> {
        if self.keys.is_off() {
            return Err(refuse(
                404,
                None,
                format!("the API is off: set {ENV_API_KEYS}"),
            ));
        }
        let auth = req
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        if !self.keys.allows(auth) {
            return Err(refuse(
                401,
                None,
                "missing or wrong API key (Authorization: Bearer <key>)",
            ));
        }
        if req.body.len() > MAX_BODY {
            return Err(refuse(413, None, "request body too large"));
        }
        let rest = req.path.strip_prefix("/api/callbacks");
        match (rest, &req.method) {
            (Some("" | "/"), &Method::POST) => self.create(req, now).await,
            (Some("" | "/"), &Method::GET) => self.list(req).await,
            (Some("" | "/"), _) => Err(refuse(405, None, "use GET or POST")),
            (Some(id), m) if id.starts_with('/') => {
                let id = &id[1..];
                if !is_item_id(id) {
                    return Err(refuse(404, None, "no such item"));
                }
                match *m {
                    Method::GET => match self.store.get(id).await? {
                        Some(item) => Ok((200, json!(item))),
                        None => Err(refuse(404, None, "no such item")),
                    },
                    Method::DELETE => self.cancel(id, req, now).await,
                    _ => Err(refuse(405, None, "use GET or DELETE")),
                }
            }
            _ => Err(refuse(404, None, "no such API path")),
        }
    }

    async fn create(&self, req: &WebRequest, now: DateTime<Utc>) -> Result<(u16, Value), Refusal> {
        let body = json_object(&req.body, false)?;
        let mut body = Fields(body);
        let to = body.phone("to")?;
        let from = body.phone("from")?;
        let queue = body.required_string("queue")?;
        if !self.queues.contains(&queue) {
            let known: Vec<&str> = self.queues.iter().map(String::as_str).collect();
            return Err(invalid(
                "queue",
                format!(
                    "`{queue}` is not a queue of this IVR (queues: {})",
                    known.join(", ")
                ),
            ));
        }
        let note = body.text("note", MAX_NOTE_CHARS)?;
        body.no_others()?;
        let new = NewCallback {
            to,
            from,
            queue,
            note,
            joined_at: now,
            call_sid: None,
        };
        let key = idempotency_key(req, &new)?;
        match self
            .store
            .create_callback(&new, key.as_ref(), new_id(), now)
            .await
        {
            Ok(Created::New(item)) => Ok((201, json!(item))),
            Ok(Created::Existing(item)) => Ok((200, json!(item))),
            Err(StoreError::KeyReused) => Err(invalid(
                "Idempotency-Key",
                "this key was used for a different request",
            )),
            Err(StoreError::Port(e)) => Err(e.into()),
        }
    }

    async fn list(&self, req: &WebRequest) -> Result<(u16, Value), Refusal> {
        let mut filter = ListFilter::default();
        let mut after = None;
        for (k, v) in form_urlencoded::parse(req.query.as_deref().unwrap_or("").as_bytes()) {
            match &*k {
                "status" => {
                    filter.status = Some(Status::parse(&v).ok_or_else(|| {
                        invalid(
                            "status",
                            format!("`{v}` is not one of pending, dialing, done, failed, canceled"),
                        )
                    })?)
                }
                "kind" => {
                    filter.kind = Some(Kind::parse(&v).ok_or_else(|| {
                        invalid("kind", format!("`{v}` is not one of callback, voicemail"))
                    })?)
                }
                "cursor" => {
                    let place = URL_SAFE_NO_PAD
                        .decode(v.as_bytes())
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .filter(|p| p.contains("#WI"))
                        .ok_or_else(|| invalid("cursor", "not a cursor this API gave out"))?;
                    after = Some(place);
                }
                other => {
                    return Err(invalid(other, "unknown parameter (status, kind, cursor)"));
                }
            }
        }
        let page = self.store.list(filter, after.as_deref(), PAGE_SIZE).await?;
        let next = page.next.map(|p| URL_SAFE_NO_PAD.encode(p.as_bytes()));
        Ok((200, json!({ "items": page.items, "next": next })))
    }

    async fn cancel(
        &self,
        id: &str,
        req: &WebRequest,
        now: DateTime<Utc>,
    ) -> Result<(u16, Value), Refusal> {
        let mut body = Fields(json_object(&req.body, true)?);
        let reason = body
            .text("reason", MAX_REASON_CHARS)?
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_CANCEL_REASON.to_string());
        body.no_others()?;
        match self.store.cancel(id, &reason, now).await? {
            CancelOutcome::Canceled(item) => Ok((200, json!(item))),
            CancelOutcome::Finished(item) => Err(Refusal {
                status: 409,
                field: None,
                message: format!("already {}", item.status.as_str()),
            }),
            CancelOutcome::NotFound => Err(refuse(404, None, "no such item")),
        }
    }
}

/// The body as a JSON object; with `optional`, an empty body is `{}`.
fn json_object(body: &[u8], optional: bool) -> Result<Map<String, Value>, Refusal> {
    if optional && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(refuse(400, None, "the body must be a JSON object")),
        Err(e) => Err(refuse(400, None, format!("the body is not JSON: {e}"))),
    }
}

/// A request's fields, taken one by one; what is left is unknown.
struct Fields(Map<String, Value>);

impl Fields {
    fn take_string(&mut self, name: &str) -> Result<Option<String>, Refusal> {
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(name, "must be a string")),
        }
    }

    fn required_string(&mut self, name: &str) -> Result<String, Refusal> {
        self.take_string(name)?
            .ok_or_else(|| invalid(name, "is required"))
    }

    fn phone(&mut self, name: &str) -> Result<String, Refusal> {
        let v = self.required_string(name)?;
        let compact: String = v
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        if is_e164(&compact) {
            Ok(compact)
        } else {
            Err(invalid(
                name,
                format!("`{v}` is not an E.164 phone number (like +447700900123)"),
            ))
        }
    }

    fn text(&mut self, name: &str, max: usize) -> Result<Option<String>, Refusal> {
        let v = self.take_string(name)?;
        if let Some(t) = &v {
            check_text(t, max).map_err(|e| invalid(name, e))?;
        }
        Ok(v)
    }

    fn no_others(&self) -> Result<(), Refusal> {
        match self.0.keys().next() {
            Some(k) => Err(invalid(k, "unknown field")),
            None => Ok(()),
        }
    }
}

/// The request's `Idempotency-Key`, with a fingerprint of what it asks for.
fn idempotency_key(req: &WebRequest, new: &NewCallback) -> Result<Option<IdempotencyKey>, Refusal> {
    let Some(v) = req.headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| {
            !k.is_empty()
                && k.len() <= MAX_IDEMPOTENCY_KEY_LEN
                && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            invalid(
                "Idempotency-Key",
                format!("must be 1–{MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"),
            )
        })?;
    let request = json!([new.to, new.from, new.queue, new.note]).to_string();
    Ok(Some(IdempotencyKey {
        key: key.to_string(),
        fingerprint: crate::signature::hex_lower(&Sha256::digest(request.as_bytes())),
    }))
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::work::sqlite::SqliteWork;
    use http::HeaderMap;

    const KEY: &str = "test-key-0123456789abcdef";

    fn api() -> Api<SqliteWork> {
        Api {
            store: SqliteWork::in_memory(),
            keys: ApiKeys::parse(Some(&format!(" ,{KEY}, another-key-0123456789 "))).unwrap(),
            queues: ["ask-the-plumber".to_string()].into(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn req(method: Method, path_query: &str, headers: &[(&str, &str)], body: &str) -> WebRequest {
        let (path, query) = match path_query.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (path_query, None),
        };
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        WebRequest {
            method,
            path: path.into(),
            query,
            headers: h,
            body: body.as_bytes().to_vec(),
            stage_prefix: None,
        }
    }

    const AUTH: (&str, &str) = ("authorization", "Bearer test-key-0123456789abcdef");

    async fn call(
        api: &Api<SqliteWork>,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Value) {
        let r = api.serve(&req(method, path, headers, body), now()).await;
        assert_eq!(r.content_type, "application/json");
        (
            r.status,
            serde_json::from_str(&r.body).expect("JSON always"),
        )
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    const GOOD: &str = r#"{"to": "+447700900123", "from": "+442079460100", "queue": "ask-the-plumber", "note": "<b>hi</b>"}"#;

    #[test]
    fn off_without_keys_and_401_without_the_right_one() {
        block(async {
            let off = Api {
                store: SqliteWork::in_memory(),
                keys: ApiKeys::parse(None).unwrap(),
                queues: BTreeSet::new(),
            };
            let (s, _) = call(&off, Method::POST, "/api/callbacks", &[AUTH], GOOD).await;
            assert_eq!(s, 404);
            let api = api();
            for h in [
                vec![],
                vec![("authorization", "Bearer wrong-key-0123456789abcdef")],
                vec![(
                    "authorization",
                    "Basic dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZg==",
                )],
                vec![("authorization", KEY)],
                vec![("authorization", "Bearer ")],
            ] {
                let (s, body) = call(&api, Method::POST, "/api/callbacks", &h, GOOD).await;
                assert_eq!(s, 401, "{h:?}: {body}");
            }
            let (_, list) = call(&api, Method::GET, "/api/callbacks", &[AUTH], "").await;
            assert_eq!(list["items"], json!([]), "nothing was created");
            let (s, _) = call(
                &api,
                Method::GET,
                "/api/callbacks",
                &[("authorization", "bearer another-key-0123456789")],
                "",
            )
            .await;
            assert_eq!(s, 200, "the second key, any case of the scheme");
        });
        assert!(ApiKeys::parse(Some("short")).is_err());
        assert!(ApiKeys::parse(Some("has a space in it 0123456789")).is_err());
    }

    #[test]
    fn create_get_list_cancel() {
        block(async {
            let api = api();
            let (s, item) = call(&api, Method::POST, "/api/callbacks", &[AUTH], GOOD).await;
            assert_eq!(s, 201, "{item}");
            assert_eq!(item["kind"], "callback");
            assert_eq!(item["status"], "pending");
            assert_eq!(
                item["note"], "<b>hi</b>",
                "stored as written; pages escape it"
            );
            let id = item["id"].as_str().unwrap().to_string();
            let (s, got) = call(
                &api,
                Method::GET,
                &format!("/api/callbacks/{id}"),
                &[AUTH],
                "",
            )
            .await;
            assert_eq!((s, &got), (200, &item));
            let (s, list) = call(
                &api,
                Method::GET,
                "/api/callbacks?status=pending&kind=callback",
                &[AUTH],
                "",
            )
            .await;
            assert_eq!(s, 200);
            assert_eq!(list["items"], json!([item]));
            assert_eq!(list["next"], Value::Null);
            let (s, c) = call(
                &api,
                Method::DELETE,
                &format!("/api/callbacks/{id}"),
                &[AUTH],
                "",
            )
            .await;
            assert_eq!(s, 200);
            assert_eq!(c["status"], "canceled");
            assert_eq!(c["cancel_reason"], DEFAULT_CANCEL_REASON);
            let (s, e) = call(
                &api,
                Method::DELETE,
                &format!("/api/callbacks/{id}"),
                &[AUTH],
                r#"{"reason": "again"}"#,
            )
            .await;
            assert_eq!(s, 409, "{e}");
            let (s, _) = call(
                &api,
                Method::GET,
                &format!("/api/callbacks/{}", new_id()),
                &[AUTH],
                "",
            )
            .await;
            assert_eq!(s, 404);
            let (s, _) = call(
                &api,
                Method::GET,
                "/api/callbacks/../../etc/passwd",
                &[AUTH],
                "",
            )
            .await;
            assert_eq!(s, 404);
            let (s, _) = call(&api, Method::PUT, "/api/callbacks", &[AUTH], GOOD).await;
            assert_eq!(s, 405);
        });
    }

    #[test]
    fn an_idempotency_key_repeats_the_answer() {
        block(async {
            let api = api();
            let h = [AUTH, ("idempotency-key", "crm-order-42")];
            let (s1, a) = call(&api, Method::POST, "/api/callbacks", &h, GOOD).await;
            let (s2, b) = call(&api, Method::POST, "/api/callbacks", &h, GOOD).await;
            assert_eq!((s1, s2), (201, 200));
            assert_eq!(a, b);
            let other = GOOD.replace("+447700900123", "+447700900999");
            let (s, e) = call(&api, Method::POST, "/api/callbacks", &h, &other).await;
            assert_eq!(s, 422);
            assert_eq!(e["error"]["field"], "Idempotency-Key");
            let (_, list) = call(&api, Method::GET, "/api/callbacks", &[AUTH], "").await;
            assert_eq!(list["items"].as_array().unwrap().len(), 1);
        });
    }

    #[test]
    fn bad_input_is_400_or_422_naming_the_field_and_changes_nothing() {
        block(async {
            let api = api();
            for (body, status, field) in [
                ("{", 400, None),
                ("[1, 2]", 400, None),
                ("", 400, None),
                (
                    r#"{"from": "+442079460100", "queue": "ask-the-plumber"}"#,
                    422,
                    Some("to"),
                ),
                (
                    r#"{"to": "07700 900123", "from": "+442079460100", "queue": "ask-the-plumber"}"#,
                    422,
                    Some("to"),
                ),
                (
                    r#"{"to": 447700900123, "from": "+442079460100", "queue": "ask-the-plumber"}"#,
                    422,
                    Some("to"),
                ),
                (
                    r#"{"to": "+447700900123", "from": "x", "queue": "ask-the-plumber"}"#,
                    422,
                    Some("from"),
                ),
                (
                    r#"{"to": "+447700900123", "from": "+442079460100", "queue": "nope"}"#,
                    422,
                    Some("queue"),
                ),
                (
                    r#"{"to": "+447700900123", "from": "+442079460100"}"#,
                    422,
                    Some("queue"),
                ),
                (
                    r#"{"to": "+447700900123", "from": "+442079460100", "queue": "ask-the-plumber", "note": "a\u0000b"}"#,
                    422,
                    Some("note"),
                ),
                (
                    r#"{"to": "+447700900123", "from": "+442079460100", "queue": "ask-the-plumber", "priority": 1}"#,
                    422,
                    Some("priority"),
                ),
            ] {
                let (s, e) = call(&api, Method::POST, "/api/callbacks", &[AUTH], body).await;
                assert_eq!(s, status, "{body}: {e}");
                assert_eq!(e["error"]["field"].as_str(), field, "{body}: {e}");
            }
            let long = format!(
                r#"{{"to": "+447700900123", "from": "+442079460100", "queue": "ask-the-plumber", "note": "{}"}}"#,
                "x".repeat(MAX_NOTE_CHARS + 1)
            );
            assert_eq!(
                call(&api, Method::POST, "/api/callbacks", &[AUTH], &long)
                    .await
                    .0,
                422
            );
            let huge = "x".repeat(MAX_BODY + 1);
            assert_eq!(
                call(&api, Method::POST, "/api/callbacks", &[AUTH], &huge)
                    .await
                    .0,
                413
            );
            for q in ["status=later", "kind=fax", "cursor=nonsense", "color=red"] {
                let (s, e) = call(
                    &api,
                    Method::GET,
                    &format!("/api/callbacks?{q}"),
                    &[AUTH],
                    "",
                )
                .await;
                assert_eq!(s, 422, "{q}: {e}");
                assert_eq!(e["error"]["field"], q.split('=').next().unwrap());
            }
            let bad_key = [AUTH, ("idempotency-key", "")];
            assert_eq!(
                call(&api, Method::POST, "/api/callbacks", &bad_key, GOOD)
                    .await
                    .0,
                422
            );
            let (_, list) = call(&api, Method::GET, "/api/callbacks", &[AUTH], "").await;
            assert_eq!(list["items"], json!([]), "nothing was created");
        });
    }

    #[test]
    fn lists_page_with_an_opaque_cursor() {
        block(async {
            let api = api();
            for n in 0..(PAGE_SIZE + 3) {
                let body = GOOD.replace("+447700900123", &format!("+4477009{n:05}"));
                assert_eq!(
                    call(&api, Method::POST, "/api/callbacks", &[AUTH], &body)
                        .await
                        .0,
                    201
                );
            }
            let (_, first) = call(&api, Method::GET, "/api/callbacks", &[AUTH], "").await;
            assert_eq!(first["items"].as_array().unwrap().len(), PAGE_SIZE);
            let cursor = first["next"].as_str().expect("a next page").to_string();
            let (_, second) = call(
                &api,
                Method::GET,
                &format!("/api/callbacks?cursor={cursor}"),
                &[AUTH],
                "",
            )
            .await;
            assert_eq!(second["items"].as_array().unwrap().len(), 3);
            assert_eq!(second["next"], Value::Null);
        });
    }
}
