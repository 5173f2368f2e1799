//! The recordings pipeline inside `ivr serve`: a durable in-process queue
//! (job files under `$IVR_DATA_DIR/jobs/`, a [`JobQueue`] the effect runner
//! puts recordings on) and one worker task running the same `Pipeline` the
//! Lambda worker runs, with retries and backoff. Jobs that keep failing move
//! to `jobs/dead/` with an error log line. Runs jobs only: the adapters it
//! runs them on come from the caller (see [`crate::adapters`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::Config;
use shared::recordings::{
    local, JobQueue, Mailer, Outcome, Pipeline, PortError, PortResult, RecordingJob,
    RecordingStore, Settings, StateStore, TwilioApi,
};
use tokio::sync::mpsc;

/// Attempts before a job is given up on (moved to `jobs/dead/`).
const MAX_ATTEMPTS: u32 = 8;

/// The longest a waiting or retrying job sleeps in-process.
const MAX_SLEEP: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
struct QueuedJob {
    job: RecordingJob,
    attempts: u32,
}

/// The in-process job queue: a job file, then its RecordingSid on the
/// worker's channel.
#[derive(Clone)]
pub struct LocalQueue {
    jobs_dir: PathBuf,
    tx: mpsc::UnboundedSender<String>,
}

impl LocalQueue {
    fn path(&self, sid: &str) -> PathBuf {
        self.jobs_dir.join(format!("{sid}.json"))
    }

    /// Hands `sid` to the worker after `delay` (at most [`MAX_SLEEP`]).
    fn wake(&self, sid: String, delay: Duration) -> PortResult<()> {
        if delay.is_zero() {
            return self
                .tx
                .send(sid)
                .map_err(|_| PortError::Transient("worker stopped".into()));
        }
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay.min(MAX_SLEEP)).await;
            let _ = tx.send(sid);
        });
        Ok(())
    }
}

impl JobQueue for LocalQueue {
    async fn enqueue(&self, job: &RecordingJob, delay: Duration) -> PortResult<()> {
        let queued = QueuedJob {
            job: job.clone(),
            attempts: 0,
        };
        // Written before it is queued: a restart picks it up again.
        write_json(&self.path(&job.recording_sid), &queued)?;
        self.wake(job.recording_sid.clone(), delay)
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> PortResult<()> {
    let bytes =
        serde_json::to_vec_pretty(value).map_err(|e| PortError::Permanent(e.to_string()))?;
    local::write_atomic(path, &bytes)
}

/// Everything the worker runs on.
pub struct Worker<S, M, T, K> {
    pub config: Config,
    pub settings: Settings,
    pub store: S,
    pub mailer: M,
    pub twilio: T,
    pub state: K,
    /// The server's clock (`IVR_NOW`), so waits are measured as the webhook measured them.
    pub clock: shared::shell::Clock,
}

/// Starts the worker task on `data_dir/jobs` and returns the queue that
/// feeds it. Jobs left over from a previous run are queued again.
pub fn start<S, M, T, K>(worker: Worker<S, M, T, K>, data_dir: &Path) -> LocalQueue
where
    S: RecordingStore + 'static,
    M: Mailer + 'static,
    T: TwilioApi + 'static,
    K: StateStore + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let queue = LocalQueue {
        jobs_dir: data_dir.join("jobs"),
        tx,
    };
    if let Ok(entries) = std::fs::read_dir(&queue.jobs_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(sid) = name.strip_suffix(".json") {
                let _ = queue.wake(sid.to_string(), Duration::ZERO);
            }
        }
    }
    tokio::spawn(run(worker, queue.clone(), rx));
    queue
}

async fn run<S, M, T, K>(
    worker: Worker<S, M, T, K>,
    queue: LocalQueue,
    mut rx: mpsc::UnboundedReceiver<String>,
) where
    S: RecordingStore,
    M: Mailer,
    T: TwilioApi,
    K: StateStore,
{
    let owner = format!("ivr-serve-{}", std::process::id());
    let dead = queue.jobs_dir.join("dead");
    while let Some(sid) = rx.recv().await {
        let path = queue.path(&sid);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(mut queued) = serde_json::from_slice::<QueuedJob>(&bytes) else {
            tracing::error!(recording_sid = %sid, "unreadable job file; moved aside");
            let _ = std::fs::create_dir_all(&dead);
            let _ = std::fs::rename(&path, dead.join(format!("{sid}.json")));
            continue;
        };
        queued.attempts += 1;
        let pipeline = Pipeline {
            config: &worker.config,
            settings: &worker.settings,
            store: &worker.store,
            mailer: &worker.mailer,
            twilio: &worker.twilio,
            state: &worker.state,
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
                let _ = queue.wake(sid, after);
            }
            Outcome::Retry { after, reason } if queued.attempts < MAX_ATTEMPTS => {
                tracing::warn!(recording_sid = %sid, attempt = queued.attempts, retry_in_s = after.as_secs(), reason = %reason, "recording pipeline will retry");
                let _ = write_json(&path, &queued);
                let _ = queue.wake(sid, after);
            }
            Outcome::Retry { reason, .. } | Outcome::Failed { reason } => {
                let _ = write_json(&dead.join(format!("{sid}.json")), &queued);
                let _ = std::fs::remove_file(&path);
                tracing::error!(recording_sid = %sid, attempts = queued.attempts, reason = %reason, dead_letter = %dead.display(), "recording pipeline gave up: Twilio's copy is kept");
            }
        }
    }
}
