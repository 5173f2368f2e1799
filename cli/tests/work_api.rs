//! The work-item API over HTTP, as other systems use it: `ivr serve` with
//! its embedded SQLite database, keys from `IVR_API_KEYS`. (The store itself
//! is tested in `shared` (SQLite) and `aws/tests/moto.rs` (DynamoDB) with one
//! contract; the API's every refusal in `shared::work::api`.)

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{repo_config, Server, TempDir};
use serde_json::Value;

const KEY: &str = "crm-key-0123456789abcdef";
const GOOD: &str = r#"{"to": "+447700900123", "from": "+442079460100", "queue": "ask-the-plumber", "note": "<script>alert(1)</script>"}"#;

fn server_on(data: &TempDir) -> Server {
    Server::builder(repo_config())
        .env("IVR_API_KEYS", KEY)
        .env("IVR_DATA_DIR", &data.path().display().to_string())
        .start()
}

fn api(
    s: &Server,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut r = s
        .request(path)
        .method(method)
        .unsigned()
        .header("Authorization", &format!("Bearer {KEY}"));
    for (k, v) in headers {
        r = r.header(k, v);
    }
    if let Some(b) = body {
        r = r.body("application/json", b.as_bytes().to_vec());
    }
    let reply = r.send();
    (reply.status, reply.json())
}

#[test]
fn off_without_keys() {
    let s = Server::repo();
    let reply = s.request("/api/callbacks").unsigned().send();
    assert_eq!(reply.status, 404);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("IVR_API_KEYS"));
    assert!(s.stderr_contains("work-item API: off"));
}

#[test]
fn a_callback_created_concurrently_with_one_key_is_one_item_and_survives_a_restart() {
    let data = TempDir::new("work-api");
    let id = {
        let s = server_on(&data);
        // Without the key: 401, nothing created.
        let reply = s
            .request("/api/callbacks")
            .method("POST")
            .unsigned()
            .body("application/json", GOOD.as_bytes().to_vec())
            .send();
        assert_eq!(reply.status, 401);
        // Eight clients send the same request with one Idempotency-Key at once.
        let results: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        api(
                            &s,
                            "POST",
                            "/api/callbacks",
                            Some(GOOD),
                            &[("Idempotency-Key", "crm-ticket-1")],
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let created = results.iter().filter(|(st, _)| *st == 201).count();
        assert_eq!(created, 1, "{results:?}");
        assert!(
            results.iter().all(|(st, _)| *st == 201 || *st == 200),
            "{results:?}"
        );
        let ids: std::collections::HashSet<&str> = results
            .iter()
            .map(|(_, b)| b["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1, "{results:?}");
        let id = ids.into_iter().next().unwrap().to_string();
        // The same number again, without a key: the live item, not a second one.
        let (st, again) = api(&s, "POST", "/api/callbacks", Some(GOOD), &[]);
        assert_eq!((st, again["id"].as_str()), (200, Some(id.as_str())));
        let (st, list) = api(
            &s,
            "GET",
            "/api/callbacks?status=pending&kind=callback",
            None,
            &[],
        );
        assert_eq!(st, 200);
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(
            list["items"][0]["note"], "<script>alert(1)</script>",
            "JSON carries it as data"
        );
        assert!(s.stderr_contains("\"route\":\"api\""), "{}", s.stderr());
        id
    };
    assert!(data.path().join("ivr.sqlite").exists());
    // A new server on the same data folder: nothing lost.
    let s = server_on(&data);
    let (st, item) = api(&s, "GET", &format!("/api/callbacks/{id}"), None, &[]);
    assert_eq!(st, 200);
    assert_eq!(item["status"], "pending");
    let (st, c) = api(
        &s,
        "DELETE",
        &format!("/api/callbacks/{id}"),
        Some(r#"{"reason": "customer called in"}"#),
        &[],
    );
    assert_eq!(st, 200);
    assert_eq!(
        (c["status"].as_str(), c["cancel_reason"].as_str()),
        (Some("canceled"), Some("customer called in"))
    );
    let (st, e) = api(&s, "POST", "/api/callbacks", Some("{\"to\": "), &[]);
    assert_eq!(st, 400, "{e}");
    let (st, e) = api(
        &s,
        "POST",
        "/api/callbacks",
        Some(&GOOD.replace("ask-the-plumber", "nope")),
        &[],
    );
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("queue")));
}

#[test]
fn a_bad_key_list_stops_the_server() {
    let (status, _, err) = common::run_ivr(
        &[
            "serve",
            "--port",
            "0",
            "--config",
            &repo_config().display().to_string(),
        ],
        &[("IVR_API_KEYS", "short")],
    );
    assert!(!status.success());
    assert!(err.contains("IVR_API_KEYS"), "{err}");
}

// ---- callbacks asked for in the queue (`callback = yes` in config.ini) ----

/// A Tuesday morning: the radio show (the queue's hours) is on.
const ON_AIR: &str = common::TUESDAY_MORNING;
const CALL_SID: &str = "CA00000000000000000000000000c0ffee";

fn queue_server(data: &TempDir) -> Server {
    Server::builder(repo_config())
        .now(ON_AIR)
        .env("IVR_API_KEYS", KEY)
        .env("IVR_DATA_DIR", &data.path().display().to_string())
        .start()
}

/// `ivr call` into the call-in line, pressing `press` (comma-separated).
fn call_in(s: &Server, press: &str, extra: &[&str]) -> String {
    let url = s.url("/ivr/action/callin");
    let mut args = vec![
        "call",
        "--url",
        &url,
        "--queue-position",
        "3",
        "--queue",
        "hangup",
        "--press",
        press,
    ];
    args.extend_from_slice(extra);
    let (status, out, err) = common::run_ivr(&args, &[("TWILIO_AUTH_TOKEN", common::TOKEN)]);
    assert!(status.success(), "{out}\n{err}");
    out
}

fn callbacks(s: &Server) -> Vec<Value> {
    let (st, list) = api(s, "GET", "/api/callbacks?kind=callback", None, &[]);
    assert_eq!(st, 200, "{list}");
    list["items"].as_array().unwrap().clone()
}

#[test]
fn a_caller_asks_for_a_callback_and_the_api_shows_it_once() {
    let data = TempDir::new("queue-callback");
    let s = queue_server(&data);
    // Press 2 in the wait, then 1: the caller ID, confirmed.
    let out = call_in(&s, "2,1", &["--call-sid", CALL_SID]);
    assert!(
        out.contains("We will call you back on 0 7 7 0 0 9 0 0 5 5 5"),
        "{out}"
    );
    assert!(
        out.contains("you keep your place in line. Goodbye."),
        "{out}"
    );
    let items = callbacks(&s);
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["to"], "+447700900555");
    assert_eq!(item["from"], "+442079460100", "the number they called");
    assert_eq!(item["queue"], "ask-the-plumber");
    assert_eq!(item["status"], "pending");
    assert_eq!(item["call_sid"], CALL_SID);
    // Joined the queue at the call's start (the pinned clock): their place in line.
    assert_eq!(item["joined_at"], "2026-11-24T10:00:00Z");
    // Twilio repeats the confirming webhook, eight times at once: nothing new.
    let confirm = "/ivr/queue/callback?initiated_by_section=callin&joined=1795000000&number=%2B447700900555&tries=0";
    let params = [
        ("CallSid", CALL_SID),
        ("From", "+447700900555"),
        ("To", "+442079460100"),
        ("Digits", "1"),
    ];
    let replies: Vec<u16> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| s.post(confirm, &params).status))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(replies.iter().all(|&st| st == 200), "{replies:?}");
    let again = callbacks(&s);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["id"], item["id"]);
    // A forged confirmation: 403, nothing stored.
    let forged = s
        .request(confirm)
        .params(&params)
        .signature("bm90IGEgc2lnbmF0dXJl")
        .send();
    assert_eq!(forged.status, 403);
    assert_eq!(callbacks(&s).len(), 1);
}

#[test]
fn a_typed_national_number_is_stored_as_e164_and_an_invalid_one_never() {
    let data = TempDir::new("queue-callback-typed");
    let s = queue_server(&data);
    // Another number typed after the read-back, then confirmed.
    let out = call_in(&s, "2,07700900123#,1", &[]);
    assert!(
        out.contains("We will call you back on 0 7 7 0 0 9 0 0 1 2 3"),
        "{out}"
    );
    let items = callbacks(&s);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["to"], "+447700900123");
    // A withheld caller types 999, then 123, then 0: three refusals, back to waiting.
    let out = call_in(&s, "2,999#,123#,0#", &["--from", "+266696687"]);
    assert!(out.contains("Please type the number"), "{out}");
    assert_eq!(
        out.matches("not a number we can call back").count(),
        2,
        "{out}"
    );
    assert!(out.contains("we could not take that number"), "{out}");
    assert_eq!(
        callbacks(&s).len(),
        1,
        "nothing stored for the refused numbers"
    );
}
