//! The recordings pipeline inside `ivr serve`: a durable in-process queue
//! (job files under `$IVR_DATA_DIR/jobs/`) and one worker task running the
//! same `Pipeline` the Lambda worker runs, with retries and backoff. Jobs
//! that keep failing move to `jobs/dead/` with an error log line. The
//! after-call SMS of a call queue goes out from here too (once per call:
//! Twilio's REST API with credentials, else a file in `$IVR_DATA_DIR/sms/`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::Config;
use shared::flow::Effect;
use shared::recordings::{
    keep_transcription,
    local::{self, LocalMailer, LocalState, LocalStore},
    send_sms_once, Media, Outcome, Pipeline, PortError, PortResult, RecordingJob, Settings,
    TwilioApi,
};
use shared::shell::EffectRunner;
use tokio::sync::mpsc;

use crate::adapters::{AnyMailer, AnyState, AnyStore, AnyTwilio};

/// Attempts before a job is given up on (moved to `jobs/dead/`).
const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, Serialize, Deserialize)]
struct QueuedJob {
    job: RecordingJob,
    attempts: u32,
}

/// What `ivr serve` hands effects to.
pub struct LocalRunner {
    jobs_dir: PathBuf,
    tx: mpsc::UnboundedSender<String>,
    state: Arc<AnyState>,
    /// Sends the after-call SMS (the worker's Twilio: REST or the sms folder).
    sms: AnyTwilio,
}

impl EffectRunner for LocalRunner {
    async fn run(&self, effect: &Effect) -> Result<String, String> {
        match effect {
            Effect::ProcessRecording(job) => {
                let path = self.jobs_dir.join(format!("{}.json", job.recording_sid));
                let queued = QueuedJob {
                    job: job.clone(),
                    attempts: 0,
                };
                // Written before it is queued: a restart picks it up again.
                write_json(&path, &queued)?;
                self.tx
                    .send(job.recording_sid.clone())
                    .map_err(|_| "worker stopped".to_string())?;
                Ok(format!("queued {}", job.recording_sid))
            }
            Effect::RecordTranscription {
                recording_sid,
                status,
                text,
            } => {
                keep_transcription(self.state.as_ref(), recording_sid, status, text.as_deref())
                    .await
            }
            Effect::SendSms {
                key,
                from,
                to,
                body,
            } => Ok(send_sms_once(
                self.state.as_ref(),
                &self.sms,
                key,
                from,
                to,
                body,
                chrono::Utc::now(),
            )
            .await),
        }
    }
}

fn write_json<T: Serialize>(path: &std::path::Path, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    local::write_atomic(path, &bytes).map_err(|e| e.to_string())
}

/// Everything the worker runs on.
pub struct Worker {
    pub config: Config,
    pub settings: Settings,
    pub store: AnyStore,
    pub mailer: AnyMailer,
    pub twilio: AnyTwilio,
    pub state: Arc<AnyState>,
    /// The server's clock (`IVR_NOW`), so waits are measured as the webhook measured them.
    pub clock: shared::shell::Clock,
}

/// Starts the worker task and returns the runner that feeds it. Jobs left
/// over from a previous run are queued again.
pub fn start(worker: Worker, data_dir: PathBuf) -> LocalRunner {
    let jobs_dir = data_dir.join("jobs");
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let state = worker.state.clone();
    let runner = LocalRunner {
        jobs_dir: jobs_dir.clone(),
        tx: tx.clone(),
        state,
        sms: worker.twilio.clone(),
    };
    if let Ok(entries) = std::fs::read_dir(&jobs_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(sid) = name.strip_suffix(".json") {
                let _ = tx.send(sid.to_string());
            }
        }
    }
    let worker = Arc::new(worker);
    tokio::spawn(async move {
        let owner = format!("ivr-serve-{}", std::process::id());
        while let Some(sid) = rx.recv().await {
            let path = jobs_dir.join(format!("{sid}.json"));
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(mut queued) = serde_json::from_slice::<QueuedJob>(&bytes) else {
                tracing::error!(recording_sid = %sid, "unreadable job file; moved aside");
                let _ = std::fs::create_dir_all(jobs_dir.join("dead"));
                let _ = std::fs::rename(&path, jobs_dir.join("dead").join(format!("{sid}.json")));
                continue;
            };
            queued.attempts += 1;
            let pipeline = Pipeline {
                config: &worker.config,
                settings: &worker.settings,
                store: &worker.store,
                mailer: &worker.mailer,
                twilio: &worker.twilio,
                state: worker.state.as_ref(),
            };
            let outcome = pipeline
                .process(&queued.job, &owner, worker.clock.now())
                .await;
            match outcome {
                Outcome::Done => {
                    tracing::info!(recording_sid = %sid, attempts = queued.attempts, "recording pipeline done");
                    let _ = std::fs::remove_file(&path);
                }
                Outcome::Wait { after, reason } => {
                    // Not an attempt: nothing failed.
                    queued.attempts -= 1;
                    tracing::info!(recording_sid = %sid, retry_in_s = after.as_secs(), reason = %reason, "recording pipeline waiting");
                    let _ = write_json(&path, &queued);
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after.min(Duration::from_secs(60))).await;
                        let _ = tx.send(sid);
                    });
                }
                Outcome::Retry { after, reason } if queued.attempts < MAX_ATTEMPTS => {
                    tracing::warn!(recording_sid = %sid, attempt = queued.attempts, retry_in_s = after.as_secs(), reason = %reason, "recording pipeline will retry");
                    let _ = write_json(&path, &queued);
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after.min(Duration::from_secs(60))).await;
                        let _ = tx.send(sid);
                    });
                }
                Outcome::Retry { reason, .. } | Outcome::Failed { reason } => {
                    let dead = jobs_dir.join("dead");
                    let _ = write_json(&dead.join(format!("{sid}.json")), &queued);
                    let _ = std::fs::remove_file(&path);
                    tracing::error!(recording_sid = %sid, attempts = queued.attempts, reason = %reason, dead_letter = %dead.display(), "recording pipeline gave up: Twilio's copy is kept");
                }
            }
        }
    });
    runner
}

/// Twilio without credentials (`make run`): media fetched without auth,
/// SMS written to `$IVR_DATA_DIR/sms/`, Twilio's copy never deleted.
#[derive(Clone)]
pub struct LocalTwilio {
    pub sms_dir: PathBuf,
}

impl TwilioApi for LocalTwilio {
    async fn download(&self, url: &str) -> PortResult<Media> {
        let url = url.to_string();
        tokio::task::spawn_blocking(move || {
            match ureq::get(&url).timeout(Duration::from_secs(20)).call() {
                Ok(resp) => {
                    let content_type = resp.content_type().to_string();
                    let mut bytes = Vec::new();
                    use std::io::Read;
                    resp.into_reader()
                        .take(50 * 1024 * 1024)
                        .read_to_end(&mut bytes)
                        .map_err(|e| PortError::Transient(format!("reading {url}: {e}")))?;
                    Ok(Media {
                        bytes,
                        content_type,
                    })
                }
                Err(ureq::Error::Status(404, _)) => Err(PortError::NotFound(url.clone())),
                Err(ureq::Error::Status(code, _)) if code >= 500 || code == 429 => {
                    Err(PortError::Transient(format!("{url} answered {code}")))
                }
                Err(ureq::Error::Status(code, _)) => {
                    Err(PortError::Permanent(format!("{url} answered {code}")))
                }
                Err(e) => Err(PortError::Transient(format!("{url}: {e}"))),
            }
        })
        .await
        .map_err(|e| PortError::Transient(e.to_string()))?
    }

    async fn delete_recording(&self, _sid: &str) -> PortResult<()> {
        Err(PortError::Permanent(
            "no Twilio credentials: Twilio's copy is kept".into(),
        ))
    }

    async fn send_sms(&self, from: &str, to: &str, body: &str) -> PortResult<String> {
        let name = format!(
            "{}-{}.json",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            local::unique()
        );
        let path = self.sms_dir.join(name);
        write_json(
            &path,
            &serde_json::json!({ "from": from, "to": to, "body": body }),
        )
        .map_err(PortError::Transient)?;
        Ok(path.display().to_string())
    }
}

/// The local adapters under `data_dir`.
pub fn local_adapters(data_dir: &std::path::Path) -> (AnyStore, AnyMailer, AnyState) {
    (
        AnyStore::Local(LocalStore {
            dir: data_dir.to_path_buf(),
        }),
        AnyMailer::Local(LocalMailer {
            dir: data_dir.join("outbox"),
        }),
        AnyState::Local(LocalState::new(data_dir.join("state"))),
    )
}
