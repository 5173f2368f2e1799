//! The recordings pipeline inside `ivr serve`: a durable in-process queue
//! (job files under `$IVR_DATA_DIR/jobs/`, a [`JobQueue`] the effect runner
//! puts recordings on) and a worker running the same `Pipeline` the Lambda
//! worker runs, up to [`CONCURRENCY`] recordings at a time (one slow
//! download delays no other), with retries and backoff. Jobs that keep
//! failing move to `jobs/dead/` with an error log line. Runs jobs only: the
//! adapters it runs them on come from the caller (see [`crate::adapters`]).
//!
//! Duplicates collapse: a recording has one job file, at most one pass at a
//! time and one pending wake-up (the earliest); a callback repeated while
//! its recording is being processed or waits for its backoff wakes nothing
//! new. The backoff itself is in the recording's state (`retry_at`), so it
//! holds whatever wakes the job: a delivery before then is a wait, not an
//! attempt.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::config::Config;
use shared::recordings::{
    local, JobQueue, Mailer, Outcome, Pipeline, PortError, PortResult, RecordingJob,
    RecordingStore, Settings, StateStore, TwilioApi,
};
use shared::shell::Clock;
use tokio::sync::{mpsc, Semaphore};

/// Recordings processed at once.
pub const CONCURRENCY: usize = 4;

/// The longest a waiting or retrying job sleeps in-process (its state says
/// when it may run; waking early is only a wait).
const MAX_SLEEP: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
struct QueuedJob {
    job: RecordingJob,
    /// Failed passes (a backstop: the limit is counted in the state store).
    attempts: u32,
}

/// A wake-up of one job; only the job's latest ticket counts.
#[derive(Debug)]
struct Wake {
    sid: String,
    ticket: u64,
}

#[derive(Debug, Default)]
struct Schedule {
    /// The pending wake-up of each waiting job: when, and its ticket.
    due: HashMap<String, (Instant, u64)>,
    /// Jobs in a pass right now.
    running: HashSet<String>,
    tickets: u64,
}

/// The in-process job queue: a job file, then its RecordingSid on the
/// worker's channel.
#[derive(Clone)]
pub struct LocalQueue {
    jobs_dir: PathBuf,
    tx: mpsc::UnboundedSender<Wake>,
    schedule: Arc<Mutex<Schedule>>,
}

impl LocalQueue {
    fn path(&self, sid: &str) -> PathBuf {
        self.jobs_dir.join(format!("{sid}.json"))
    }

    fn schedule(&self) -> MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands `sid` to the worker after `delay` (at most [`MAX_SLEEP`]),
    /// unless it is in a pass now (that pass schedules what comes next) or
    /// already due by then.
    fn wake(&self, sid: String, delay: Duration) -> PortResult<()> {
        let delay = delay.min(MAX_SLEEP);
        let at = Instant::now() + delay;
        let ticket = {
            let mut s = self.schedule();
            if s.running.contains(&sid) || s.due.get(&sid).is_some_and(|(due, _)| *due <= at) {
                return Ok(());
            }
            s.tickets += 1;
            let ticket = s.tickets;
            s.due.insert(sid.clone(), (at, ticket));
            ticket
        };
        let wake = Wake { sid, ticket };
        if delay.is_zero() {
            return self
                .tx
                .send(wake)
                .map_err(|_| PortError::Transient("worker stopped".into()));
        }
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(wake);
        });
        Ok(())
    }

    /// Takes a wake-up: true (and the job marked as in a pass) if it is the
    /// job's current ticket; a [`Pass`] then ends the mark.
    fn begin(&self, wake: &Wake) -> bool {
        let mut s = self.schedule();
        match s.due.get(&wake.sid) {
            Some((_, ticket)) if *ticket == wake.ticket => {
                s.due.remove(&wake.sid);
                s.running.insert(wake.sid.clone());
                true
            }
            _ => false,
        }
    }
}

/// A job in a pass (marked by [`LocalQueue::begin`]); dropping it (also on
/// a panic) ends the pass.
struct Pass<'a> {
    queue: &'a LocalQueue,
    sid: String,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.queue.schedule().running.remove(&self.sid);
    }
}

impl JobQueue for LocalQueue {
    async fn enqueue(&self, job: &RecordingJob, delay: Duration) -> PortResult<()> {
        let path = self.path(&job.recording_sid);
        // A job already queued keeps its file (and count): a duplicate only wakes it.
        let queued = std::fs::read(&path)
            .ok()
            .is_some_and(|b| serde_json::from_slice::<QueuedJob>(&b).is_ok());
        if !queued {
            // Written before it is queued: a restart picks it up again.
            write_json(
                &path,
                &QueuedJob {
                    job: job.clone(),
                    attempts: 0,
                },
            )?;
        }
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
    pub clock: Clock,
}

/// The worker's clock: the server's, but a pinned clock (`IVR_NOW`) moves on
/// from its instant as real time passes, so leases run out and backoffs end.
#[derive(Debug, Clone, Copy)]
struct WorkerClock {
    clock: Clock,
    pinned: Option<(DateTime<Utc>, Instant)>,
}

impl WorkerClock {
    fn new(clock: Clock) -> Self {
        let first = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        let pinned = (clock.now() == first).then(|| (first, Instant::now()));
        WorkerClock { clock, pinned }
    }

    fn now(&self) -> DateTime<Utc> {
        match self.pinned {
            Some((at, since)) => {
                at + chrono::Duration::from_std(since.elapsed()).unwrap_or_default()
            }
            None => self.clock.now(),
        }
    }
}

/// Starts the worker on `data_dir/jobs` and returns the queue that feeds
/// it. Jobs left over from a previous run are queued again.
pub fn start<S, M, T, K>(worker: Worker<S, M, T, K>, data_dir: &Path) -> LocalQueue
where
    S: RecordingStore + 'static,
    M: Mailer + 'static,
    T: TwilioApi + 'static,
    K: StateStore + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel::<Wake>();
    let queue = LocalQueue {
        jobs_dir: data_dir.join("jobs"),
        tx,
        schedule: Arc::default(),
    };
    if let Ok(entries) = std::fs::read_dir(&queue.jobs_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(sid) = name.strip_suffix(".json") {
                let _ = queue.wake(sid.to_string(), Duration::ZERO);
            }
        }
    }
    let clock = WorkerClock::new(worker.clock);
    tokio::spawn(run(Arc::new(worker), queue.clone(), rx, clock));
    queue
}

async fn run<S, M, T, K>(
    worker: Arc<Worker<S, M, T, K>>,
    queue: LocalQueue,
    mut rx: mpsc::UnboundedReceiver<Wake>,
    clock: WorkerClock,
) where
    S: RecordingStore + 'static,
    M: Mailer + 'static,
    T: TwilioApi + 'static,
    K: StateStore + 'static,
{
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    while let Some(wake) = rx.recv().await {
        // Marked as in a pass at once: duplicates are dropped while it waits for a permit.
        if !queue.begin(&wake) {
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (worker, queue) = (worker.clone(), queue.clone());
        tokio::spawn(async move {
            // `begin` marked it; this pass owns the mark from here (and drops it, even on a panic).
            let pass = Pass {
                queue: &queue,
                sid: wake.sid.clone(),
            };
            one_pass(&worker, pass, clock).await;
            drop(permit);
        });
    }
}

async fn one_pass<S, M, T, K>(worker: &Worker<S, M, T, K>, pass: Pass<'_>, clock: WorkerClock)
where
    S: RecordingStore,
    M: Mailer,
    T: TwilioApi,
    K: StateStore,
{
    let queue = pass.queue;
    let sid = pass.sid.clone();
    let path = queue.path(&sid);
    let dead = queue.jobs_dir.join("dead");
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    let Ok(mut queued) = serde_json::from_slice::<QueuedJob>(&bytes) else {
        tracing::error!(recording_sid = %sid, "unreadable job file; moved aside");
        let _ = std::fs::create_dir_all(&dead);
        let _ = std::fs::rename(&path, dead.join(format!("{sid}.json")));
        return;
    };
    let pipeline = Pipeline {
        config: &worker.config,
        settings: &worker.settings,
        store: &worker.store,
        mailer: &worker.mailer,
        twilio: &worker.twilio,
        state: &worker.state,
    };
    // One owner per pass: passes never share a lease.
    let owner = format!("ivr-serve-{}-{}", std::process::id(), local::unique());
    let outcome = pipeline.process(&queued.job, &owner, clock.now()).await;
    // The pass is over before what comes next is scheduled.
    drop(pass);
    match outcome {
        Outcome::Done => {
            tracing::info!(recording_sid = %sid, "recording pipeline done");
            let _ = std::fs::remove_file(&path);
        }
        Outcome::Wait { after, reason } => {
            // Not an attempt: nothing failed (or the backoff is not over).
            tracing::info!(recording_sid = %sid, retry_in_s = after.as_secs(), reason = %reason, "recording pipeline waiting");
            let _ = queue.wake(sid, after);
        }
        Outcome::Retry { after, reason }
            if queued.attempts.saturating_add(1) < worker.settings.max_attempts =>
        {
            queued.attempts += 1;
            tracing::warn!(recording_sid = %sid, attempt = queued.attempts, retry_in_s = after.as_secs(), reason = %reason, "recording pipeline will retry");
            let _ = write_json(&path, &queued);
            let _ = queue.wake(sid, after);
        }
        Outcome::Retry { reason, .. } | Outcome::Failed { reason } => {
            let _ = write_json(&dead.join(format!("{sid}.json")), &queued);
            let _ = std::fs::remove_file(&path);
            tracing::error!(recording_sid = %sid, reason = %reason, dead_letter = %dead.display(), "recording pipeline gave up: Twilio's copy is kept");
        }
    }
}
