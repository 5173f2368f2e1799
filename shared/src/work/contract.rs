//! The contract every [`WorkStore`] keeps, as tests any implementation can
//! run: SQLite here (`sqlite.rs`), DynamoDB against moto in
//! `aws/tests/work_contract.rs`. Each case takes a fresh, empty store from
//! `make`; the concurrent cases take two handles on one database, as two
//! Lambda instances (or two processes on one SQLite file) would be.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::store::{CancelOutcome, Created, IdempotencyKey, ListFilter, StoreError, WorkStore};
use super::{new_id, Kind, NewCallback, Status};

fn at(minute: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::minutes(minute)
}

fn callback(to: &str, queue: &str, joined_minute: i64) -> NewCallback {
    NewCallback {
        to: to.into(),
        from: "+442079460100".into(),
        queue: queue.into(),
        note: None,
        joined_at: at(joined_minute),
        call_sid: None,
    }
}

fn key(k: &str, fingerprint: &str) -> IdempotencyKey {
    IdempotencyKey {
        key: k.into(),
        fingerprint: fingerprint.into(),
    }
}

async fn create<S: WorkStore>(s: &S, new: &NewCallback, k: Option<&IdempotencyKey>) -> Created {
    s.create_callback(new, k, new_id(), at(30))
        .await
        .expect("create")
}

async fn count<S: WorkStore>(s: &S) -> usize {
    s.list(ListFilter::default(), None, 1000)
        .await
        .expect("list")
        .items
        .len()
}

/// Every single-handle case, each on a fresh store (the concurrent case,
/// [`one_item_from_concurrent_creates`], needs two handles on one database).
pub async fn run_all<S, F, Fut>(make: F)
where
    S: WorkStore + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    created_items_read_back(make().await).await;
    an_idempotency_key_creates_once(make().await).await;
    one_live_callback_per_queue_and_number(make().await).await;
    lists_are_in_place_order_and_page(make().await).await;
    cancel_only_live_items(make().await).await;
}

pub async fn created_items_read_back<S: WorkStore>(s: S) {
    let mut new = callback("+447700900123", "ask-the-plumber", 1);
    new.note = Some("<b>after 5pm</b> & \"thanks\"".into());
    new.call_sid = Some("CA0123456789abcdef0123456789abcdef".into());
    let id = new_id();
    let made = s
        .create_callback(&new, None, id.clone(), at(2))
        .await
        .expect("create");
    let Created::New(item) = made else {
        panic!("a first create is new: {made:?}")
    };
    assert_eq!(item.id, id);
    assert_eq!((item.kind, item.status), (Kind::Callback, Status::Pending));
    assert_eq!(
        (item.to.as_str(), item.from.as_str()),
        ("+447700900123", "+442079460100")
    );
    assert_eq!(item.queue, "ask-the-plumber");
    assert_eq!(
        (item.joined_at, item.created_at, item.updated_at),
        (at(1), at(2), at(2))
    );
    assert!(item.attempts.is_empty() && item.retry_at.is_none() && item.cancel_reason.is_none());
    let got = s.get(&id).await.expect("get");
    assert_eq!(
        got.as_ref(),
        Some(&item),
        "read back as written, note and all"
    );
    assert_eq!(s.get(&new_id()).await.expect("get"), None);
}

pub async fn an_idempotency_key_creates_once<S: WorkStore>(s: S) {
    let new = callback("+447700900123", "q", 1);
    let k = key("order-42", "fp-1");
    let first = create(&s, &new, Some(&k)).await;
    assert!(matches!(first, Created::New(_)), "{first:?}");
    let again = create(&s, &new, Some(&k)).await;
    assert_eq!(
        again,
        Created::Existing(first.item().clone()),
        "the same item, nothing new"
    );
    // The same key for another request is refused, and changes nothing.
    let other = callback("+447700900999", "q", 1);
    let reused = s
        .create_callback(&other, Some(&key("order-42", "fp-2")), new_id(), at(31))
        .await;
    assert_eq!(reused, Err(StoreError::KeyReused));
    assert_eq!(count(&s).await, 1);
}

pub async fn one_live_callback_per_queue_and_number<S: WorkStore>(s: S) {
    let first = create(&s, &callback("+447700900123", "q", 1), None).await;
    // The same number asks again (another call, another key): the first item, note updated.
    let mut again = callback("+447700900123", "q", 5);
    again.note = Some("second call".into());
    let second = create(&s, &again, Some(&key("k2", "f"))).await;
    let Created::Existing(item) = &second else {
        panic!("no duplicate: {second:?}")
    };
    assert_eq!(item.id, first.item().id);
    assert_eq!(item.joined_at, at(1), "the first place in line is kept");
    assert_eq!(item.note.as_deref(), Some("second call"));
    assert_eq!(
        s.get(&item.id).await.unwrap().unwrap().note.as_deref(),
        Some("second call")
    );
    // The key now names that item.
    let third = create(&s, &again, Some(&key("k2", "f"))).await;
    assert_eq!(third.item().id, first.item().id);
    // Another queue, or another number, is another item.
    assert!(matches!(
        create(&s, &callback("+447700900123", "other", 1), None).await,
        Created::New(_)
    ));
    assert!(matches!(
        create(&s, &callback("+447700900124", "q", 1), None).await,
        Created::New(_)
    ));
    // Once the first is no longer live, the number may ask again.
    s.cancel(&first.item().id, "test", at(40)).await.unwrap();
    let fresh = create(&s, &callback("+447700900123", "q", 50), None).await;
    assert!(matches!(fresh, Created::New(_)), "{fresh:?}");
    assert_ne!(fresh.item().id, first.item().id);
    assert_eq!(count(&s).await, 4);
}

pub async fn lists_are_in_place_order_and_page<S: WorkStore>(s: S) {
    // Created out of order; listed by when each joined the queue.
    let mut ids = Vec::new();
    for (n, joined) in [(1, 30), (2, 10), (3, 20), (4, 40), (5, 0)] {
        let item = create(
            &s,
            &callback(&format!("+44770090010{n}"), "q", joined),
            None,
        )
        .await;
        ids.push((joined, item.item().id.clone()));
    }
    ids.sort();
    let expected: Vec<String> = ids.into_iter().map(|(_, id)| id).collect();
    let all = s.list(ListFilter::default(), None, 50).await.unwrap();
    assert_eq!(
        all.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(all.next, None, "everything fits: no next page");
    // Pages of two, following `next`.
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = s
            .list(ListFilter::default(), after.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|i| i.id.clone()));
        pages += 1;
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
        assert!(pages < 10, "paging never ends");
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
    // Filters.
    s.cancel(&expected[0], "test", at(45)).await.unwrap();
    let pending = ListFilter {
        status: Some(Status::Pending),
        kind: Some(Kind::Callback),
    };
    let page = s.list(pending, None, 50).await.unwrap();
    assert_eq!(
        page.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        expected[1..]
    );
    let canceled = ListFilter {
        status: Some(Status::Canceled),
        kind: None,
    };
    assert_eq!(s.list(canceled, None, 50).await.unwrap().items.len(), 1);
    let voicemails = ListFilter {
        status: None,
        kind: Some(Kind::Voicemail),
    };
    assert!(s.list(voicemails, None, 50).await.unwrap().items.is_empty());
    // A filtered page of one still pages through every match.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.list(pending, after.as_deref(), 1).await.unwrap();
        seen.extend(page.items.iter().map(|i| i.id.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, expected[1..]);
}

pub async fn cancel_only_live_items<S: WorkStore>(s: S) {
    assert_eq!(
        s.cancel(&new_id(), "x", at(1)).await.unwrap(),
        CancelOutcome::NotFound
    );
    let item = create(&s, &callback("+447700900123", "q", 1), None).await;
    let id = item.item().id.clone();
    let CancelOutcome::Canceled(c) = s.cancel(&id, "customer called in", at(35)).await.unwrap()
    else {
        panic!("a pending item is canceled")
    };
    assert_eq!(c.status, Status::Canceled);
    assert_eq!(c.cancel_reason.as_deref(), Some("customer called in"));
    assert_eq!(c.updated_at, at(35));
    assert_eq!(s.get(&id).await.unwrap(), Some(c.clone()));
    // Cancelled again: left as it was, first reason kept.
    assert_eq!(
        s.cancel(&id, "again", at(36)).await.unwrap(),
        CancelOutcome::Finished(c)
    );
}

/// Many creates at once, through two handles on one database: one item per
/// key, and one live item per number, between all of them.
pub async fn one_item_from_concurrent_creates<S, F, Fut>(make: &F)
where
    S: WorkStore + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let a = Arc::new(make().await);
    let b = Arc::new(make().await);
    let rt = tokio::runtime::Handle::current();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let s = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(rt.spawn(async move {
            let new = callback("+447700900123", "race", 1);
            let k = key("same-key", "same-request");
            s.create_callback(&new, Some(&k), new_id(), at(30)).await
        }));
        let s = if n % 2 == 0 { b.clone() } else { a.clone() };
        tasks.push(rt.spawn(async move {
            // Another key each, same number and queue.
            let new = callback("+447700900777", "race", 1);
            let k = key(&format!("key-{n}"), "fp");
            s.create_callback(&new, Some(&k), new_id(), at(30)).await
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task").expect("create"));
    }
    for to in ["+447700900123", "+447700900777"] {
        let mine: Vec<&Created> = results.iter().filter(|r| r.item().to == to).collect();
        let new = mine.iter().filter(|r| matches!(r, Created::New(_))).count();
        assert_eq!(new, 1, "exactly one created for {to}: {mine:?}");
        let ids: std::collections::HashSet<&str> =
            mine.iter().map(|r| r.item().id.as_str()).collect();
        assert_eq!(ids.len(), 1, "every request got the same item for {to}");
    }
    assert_eq!(count(&*a).await, 2);
    assert_eq!(count(&*b).await, 2);
}
