//! Lambda glue for the functions that touch AWS: the recording webhook
//! (jobs onto SQS, transcriptions into DynamoDB), the worker (jobs off SQS
//! through the pipeline) and the queue result (the after-call SMS, claimed
//! once in DynamoDB, sent with Twilio's REST API). Function `main`s call
//! into here. The webhooks' effects are carried out by the shared runner,
//! [`Effects`], on these adapters.

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
pub use lambda_http::Error;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::effects::Effects;
use shared::lambda::{refuse, start};
use shared::recordings::{JobQueue, MediaSource, Outcome, Pipeline, Settings};
use shared::shell::{self, Startup};
use shared::twilio::TwilioClient;
use shared::web::WARMUP_USER_AGENT;
use shared::work::api::{Api, ApiKeys, ENV_API_KEYS};
use shared::Function;

use crate::{Adapters, DynamoState, S3Store, SesMailer, SqsQueue};

/// The dead-letter queue the worker sends jobs to when retrying cannot help.
pub const ENV_DEAD_LETTER_QUEUE_URL: &str = "IVR_DEAD_LETTER_QUEUE_URL";

/// The Twilio REST client for a function that talks to Twilio (account SID
/// from the environment or `[twilio]`, the checked auth token).
fn twilio_client(st: &Startup) -> Result<TwilioClient, String> {
    shell::twilio_client(&st.app)?
        .ok_or_else(|| "no Twilio account SID: set TWILIO_ACCOUNT_SID".to_string())
}

/// `queue-result`: `/ivr/queue/result` (the `<Enqueue>` action; sends the
/// after-call SMS, claimed once in DynamoDB).
pub async fn run_queue_result() -> Result<(), Error> {
    let function = Function::QueueResult;
    let st = start(function.name(), Some(function));
    let runner = async {
        let adapters = crate::from_env().await?;
        Ok::<_, String>(
            Effects::none()
                .with_state(adapters.state()?.clone())
                .with_twilio(twilio_client(st)?),
        )
    };
    let runner = runner.await.unwrap_or_else(|e| refuse(function.name(), &e));
    shared::lambda::serve(st, runner).await
}

/// `queue-callback`: `/ivr/queue/callback` (the callback offer in the wait;
/// a confirmed callback becomes a work item in `IVR_WORK_TABLE`, once per call).
pub async fn run_queue_callback() -> Result<(), Error> {
    let function = Function::QueueCallback;
    let st = start(function.name(), Some(function));
    let table = work_table().unwrap_or_else(|e| refuse(function.name(), &e));
    let conf = crate::sdk_config().await;
    let runner = Effects::none().with_work(crate::DynamoWork::from_conf(&conf, table));
    shared::lambda::serve(st, runner).await
}

/// `IVR_WORK_TABLE`, the work-item table.
fn work_table() -> Result<String, String> {
    std::env::var(crate::work::ENV_WORK_TABLE)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| "IVR_WORK_TABLE is not set: the work-item table".to_string())
}

/// `api`: the work-item API, `/api/callbacks…`, on the DynamoDB table
/// `IVR_WORK_TABLE`, keys from `IVR_API_KEYS` (none: the API answers 404).
/// Refuses to start without the table or with a malformed key list.
pub async fn run_api() -> Result<(), Error> {
    let name = "api";
    let st = start(name, None);
    let keys = ApiKeys::parse(std::env::var(ENV_API_KEYS).ok().as_deref())
        .unwrap_or_else(|e| refuse(name, &e));
    let table = work_table().unwrap_or_else(|e| refuse(name, &e));
    if keys.is_off() {
        tracing::warn!(
            function = name,
            "IVR_API_KEYS is empty: the API answers 404 to everything"
        );
    }
    let conf = crate::sdk_config().await;
    let api = Api {
        store: crate::DynamoWork::from_conf(&conf, table),
        keys,
        queues: st.app.config.queues(),
    };
    shared::lambda::serve_api(st, api).await
}

/// `recording-status`: `/ivr/callback/voicemail/alert_sms` (jobs onto SQS,
/// transcriptions into DynamoDB).
pub async fn run_recording_status() -> Result<(), Error> {
    let function = Function::RecordingStatus;
    let st = start(function.name(), Some(function));
    let runner = async {
        let adapters = crate::from_env().await?;
        Ok::<_, String>(
            Effects::none()
                .with_queue(adapters.queue()?.clone())
                .with_state(adapters.state()?.clone()),
        )
    };
    let runner = runner.await.unwrap_or_else(|e| refuse(function.name(), &e));
    shared::lambda::serve(st, runner).await
}

/// Recording jobs of one SQS batch processed at once: a slow download
/// delays no other job of the batch.
pub const CONCURRENCY: usize = 4;

/// What the `recording-worker` function runs on (built once at start-up).
pub struct Worker {
    pub startup: &'static Startup,
    pub settings: Settings,
    pub store: S3Store,
    pub mailer: SesMailer,
    pub state: DynamoState,
    pub twilio: TwilioClient,
    pub queue: SqsQueue,
    pub dead_letters: SqsQueue,
}

/// `recording-worker`: SQS batches of recording jobs, plus the keep-warm ping.
pub async fn run_worker() -> Result<(), Error> {
    let name = "recording-worker";
    let startup = start(name, None);
    let worker = worker(startup).await.unwrap_or_else(|e| refuse(name, &e));
    let worker: &'static Worker = Box::leak(Box::new(worker));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(handle(worker, event.payload, &event.context.request_id).await)
    }))
    .await
}

async fn worker(startup: &'static Startup) -> Result<Worker, String> {
    let config = &startup.app.config;
    let mut settings = Settings::from_config(config);
    if config.sends_email() && settings.email_from.is_none() {
        return Err("config.ini sends email alerts but no sender is set: IVR_SES_SENDER (SesSender parameter) or [aws] ses_sender".into());
    }
    let twilio = twilio_client(startup)?;
    // Media only from this client's API base and account.
    settings.media = MediaSource::new(twilio.api_base(), Some(twilio.account_sid()), false);
    let adapters: Adapters = crate::from_env().await?;
    let dlq_url = std::env::var(ENV_DEAD_LETTER_QUEUE_URL)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{ENV_DEAD_LETTER_QUEUE_URL} is not set"))?;
    let queue = adapters.queue()?.clone();
    Ok(Worker {
        settings,
        store: adapters.store()?.clone(),
        mailer: adapters.mailer().clone(),
        state: adapters.state()?.clone(),
        twilio,
        dead_letters: SqsQueue::new(queue.client.clone(), dlq_url),
        queue,
        startup,
    })
}

#[derive(Debug, Clone, Deserialize)]
struct SqsRecord {
    #[serde(rename = "messageId")]
    message_id: String,
    #[serde(rename = "receiptHandle")]
    receipt_handle: String,
    body: String,
    #[serde(default)]
    attributes: std::collections::HashMap<String, String>,
}

/// One invocation: a keep-warm ping, or an SQS batch of recording jobs
/// (`{"batchItemFailures": [...]}` names the messages SQS should deliver
/// again). Up to [`CONCURRENCY`] jobs run at once, each under a lease of its
/// own (`request_id` + message id), so two copies of one recording in a
/// batch never both hold it.
pub async fn handle(w: &'static Worker, payload: Value, request_id: &str) -> Value {
    if payload.get("rawPath").and_then(Value::as_str) == Some("/ping") {
        let warmup = payload["headers"]["user-agent"].as_str() == Some(WARMUP_USER_AGENT);
        tracing::info!(
            route = "ping",
            outcome = if warmup { "warm-up ping" } else { "ping" },
            "request"
        );
        return json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": w.startup.app.ping_body(w.startup.clock.now()),
            "isBase64Encoded": false,
        });
    }
    let records: Vec<SqsRecord> =
        match serde_json::from_value(payload.get("Records").cloned().unwrap_or(Value::Null)) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "not an SQS event or a ping; ignored");
                return json!({ "batchItemFailures": [] });
            }
        };
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for r in records {
        let owner = format!("{request_id}/{}", r.message_id);
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.ok();
            let failed = !record(w, &r, &owner).await;
            (r.message_id, failed)
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((_, false)) => {}
            Ok((message_id, true)) => failures.push(json!({ "itemIdentifier": message_id })),
            // A job that panicked: unknown which, so its message comes back
            // when its visibility runs out (the redrive policy counts it).
            Err(e) => tracing::error!(error = %e, "a recording job panicked"),
        }
    }
    json!({ "batchItemFailures": failures })
}

/// Runs one SQS record through the pipeline; false if SQS should deliver it again.
async fn record(w: &Worker, r: &SqsRecord, owner: &str) -> bool {
    let job = match crate::sqs::parse_job(&r.body) {
        Ok(j) => j,
        Err(e) => return dead_letter(w, r, &format!("not a recording job: {e}")).await,
    };
    let pipeline = Pipeline {
        config: &w.startup.app.config,
        settings: &w.settings,
        store: &w.store,
        mailer: &w.mailer,
        twilio: &w.twilio,
        state: &w.state,
    };
    let started = std::time::Instant::now();
    let outcome = pipeline.process(&job, owner, w.startup.clock.now()).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Outcome::Done => {
            tracing::info!(route = "recording-worker", recording_sid = %job.recording_sid, call_sid = %job.call_sid, outcome = "done", latency_ms, "recording job");
            true
        }
        Outcome::Wait { after, reason } => {
            // Waiting is not failing: a fresh, delayed copy of the job keeps
            // SQS's receive count (and so the dead-letter limit) for real
            // failures. A duplicate delivery during a backoff ends here too.
            let requeued = w.queue.enqueue(&job, after).await;
            tracing::info!(route = "recording-worker", recording_sid = %job.recording_sid, call_sid = %job.call_sid, outcome = "wait", reason = %reason, retry_in_s = after.as_secs(), requeued = requeued.is_ok(), latency_ms, "recording job");
            requeued.is_ok()
        }
        Outcome::Retry { after, reason } => {
            let receives = r
                .attributes
                .get("ApproximateReceiveCount")
                .cloned()
                .unwrap_or_default();
            tracing::warn!(route = "recording-worker", recording_sid = %job.recording_sid, call_sid = %job.call_sid, outcome = "retry", reason = %reason, retry_in_s = after.as_secs(), receives = %receives, latency_ms, "recording job");
            // Backoff: the message comes back when its visibility runs out.
            let _ = w
                .queue
                .client
                .change_message_visibility()
                .queue_url(&w.queue.queue_url)
                .receipt_handle(&r.receipt_handle)
                .visibility_timeout(after.as_secs().min(43_200) as i32)
                .send()
                .await;
            false
        }
        Outcome::Failed { reason } => {
            tracing::error!(route = "recording-worker", recording_sid = %job.recording_sid, call_sid = %job.call_sid, outcome = "failed", reason = %reason, latency_ms, "recording job failed; Twilio's copy is kept; sent to the dead-letter queue");
            dead_letter(w, r, &reason).await
        }
    }
}

/// Moves a message to the dead-letter queue; false if even that failed (it is retried then).
async fn dead_letter(w: &Worker, r: &SqsRecord, reason: &str) -> bool {
    let mut send = w
        .dead_letters
        .client
        .send_message()
        .queue_url(&w.dead_letters.queue_url)
        .message_body(&r.body);
    let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(reason.chars().take(1000).collect::<String>())
        .build();
    if let Ok(attribute) = attribute {
        send = send.message_attributes("reason", attribute);
    }
    match send.send().await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, message_id = %r.message_id, "could not dead-letter the job");
            false
        }
    }
}
