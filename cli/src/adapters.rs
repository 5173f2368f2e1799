//! The adapters `ivr serve` runs on, picked at start-up: the local data
//! folder or AWS (S3, SES, DynamoDB), Twilio's REST API or a local stand-in.
//! One enum per port, so the worker and the effect runner have one type
//! each. Builds adapters only; running jobs is [`crate::worker`]'s job.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::recordings::local::{self, LocalMailer, LocalState, LocalStore};
use shared::recordings::media::AddressClass;
use shared::recordings::{
    Claim, JobState, Mailer, Media, MediaSource, ObjectInfo, PortError, PortResult, RecordingStore,
    Settings, StateStore, TwilioApi,
};
use shared::shell::{self, Startup};
use shared::twilio::{self as rest, MediaFetcher, TwilioClient};

/// What `ivr serve` runs the pipeline and its effects on.
pub struct Adapters {
    pub store: AnyStore,
    pub mailer: AnyMailer,
    pub state: AnyState,
    pub twilio: AnyTwilio,
    /// The pipeline's settings, adjusted to the adapters (no Twilio
    /// credentials: never delete; a local sender if none is set).
    pub settings: Settings,
}

/// Local folder adapters under `data_dir` by default; S3, SES and DynamoDB
/// when `IVR_RECORDINGS_BUCKET` (and `IVR_STATE_TABLE`) name them; Twilio's
/// REST API when credentials are set. Says on stderr what it picked.
pub async fn from_env(st: &Startup, data_dir: &Path) -> Result<Adapters, String> {
    let config = &st.app.config;
    let mut store = AnyStore::Local(LocalStore {
        dir: data_dir.to_path_buf(),
    });
    let mut mailer = AnyMailer::Local(LocalMailer {
        dir: data_dir.join("outbox"),
    });
    let mut state = AnyState::Local(Arc::new(LocalState::new(data_dir.join("state"))));
    let names = ivr_aws::Names::from_env()?;
    if names.bucket.is_some() || names.table.is_some() {
        let aws = ivr_aws::Adapters::new(&ivr_aws::sdk_config().await, &names);
        if let Some(s3) = aws.store.clone() {
            store = AnyStore::S3(s3);
            mailer = AnyMailer::Ses(aws.mailer.clone());
        }
        if let Some(table) = aws.state.clone() {
            state = AnyState::Dynamo(table);
        }
        eprintln!(
            "  recordings: AWS adapters ({})",
            [names.bucket.as_deref(), names.table.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
        );
    } else {
        eprintln!(
            "  recordings: {}/recordings, email alerts in {}/outbox",
            data_dir.display(),
            data_dir.display()
        );
    }
    let mut settings = Settings::from_config(config);
    let twilio = match shell::twilio_client(&st.app)? {
        Some(rest) => {
            // Media from this client's API base and account, nowhere else.
            settings.media = MediaSource::new(rest.api_base(), Some(rest.account_sid()), false);
            if !store.off_site() {
                eprintln!("  recordings stay on this machine: Twilio's copies are kept and SMS alerts carry no link (set IVR_RECORDINGS_BUCKET for S3)");
            }
            AnyTwilio::Rest(rest)
        }
        None => {
            settings.never_delete = true;
            settings.sms_to_files = true;
            let api_base = shell::twilio_api_base();
            // Nothing secret to leak: a recording may be at a loopback stand-in (`ivr call`).
            settings.media =
                MediaSource::new(&api_base, shell::account_sid(config).as_deref(), true);
            eprintln!("  no Twilio account SID and token: SMS alerts go to {}/sms, Twilio's recordings are kept", data_dir.display());
            AnyTwilio::Local(LocalTwilio::new(data_dir.join("sms"), &api_base)?)
        }
    };
    if settings.email_from.is_none() {
        settings.email_from = Some("ivr@localhost".into());
    }
    Ok(Adapters {
        store,
        mailer,
        state,
        twilio,
        settings,
    })
}

/// Twilio without credentials (`make run`): media fetched without auth by
/// the same downloader as REST mode (same size cap, timeout, redirect and
/// address rules; loopback stand-ins allowed too), SMS written to
/// `$IVR_DATA_DIR/sms/`, Twilio's copy never deleted.
#[derive(Clone)]
pub struct LocalTwilio {
    pub sms_dir: PathBuf,
    media: MediaFetcher,
}

impl LocalTwilio {
    /// Downloads reach public addresses, the API base's kind, and loopback.
    pub fn new(sms_dir: PathBuf, api_base: &str) -> Result<Self, String> {
        let reach = rest::api_base_reach(api_base)?.with(AddressClass::Loopback);
        Ok(LocalTwilio {
            sms_dir,
            media: MediaFetcher::new(reach)?,
        })
    }
}

impl TwilioApi for LocalTwilio {
    async fn download(&self, url: &str) -> PortResult<Media> {
        self.media.fetch(url).await
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
        let bytes =
            serde_json::to_vec_pretty(&serde_json::json!({ "from": from, "to": to, "body": body }))
                .map_err(|e| PortError::Transient(e.to_string()))?;
        local::write_atomic(&path, &bytes)?;
        Ok(path.display().to_string())
    }
}

pub enum AnyStore {
    Local(LocalStore),
    S3(ivr_aws::S3Store),
}

pub enum AnyMailer {
    Local(LocalMailer),
    Ses(ivr_aws::SesMailer),
}

/// Cloned into the worker and the effect runner; the local one is shared,
/// since its lock serialises access within the process.
#[derive(Clone)]
pub enum AnyState {
    Local(Arc<LocalState>),
    Dynamo(ivr_aws::DynamoState),
}

#[derive(Clone)]
pub enum AnyTwilio {
    Local(LocalTwilio),
    Rest(TwilioClient),
}

impl RecordingStore for AnyStore {
    async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        ct: &str,
        meta: &[(String, String)],
    ) -> PortResult<()> {
        match self {
            AnyStore::Local(s) => s.put(key, bytes, ct, meta).await,
            AnyStore::S3(s) => s.put(key, bytes, ct, meta).await,
        }
    }

    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        match self {
            AnyStore::Local(s) => s.head(key).await,
            AnyStore::S3(s) => s.head(key).await,
        }
    }

    async fn link(&self, key: &str, expires: Duration) -> PortResult<String> {
        match self {
            AnyStore::Local(s) => s.link(key, expires).await,
            AnyStore::S3(s) => s.link(key, expires).await,
        }
    }

    fn off_site(&self) -> bool {
        match self {
            AnyStore::Local(s) => s.off_site(),
            AnyStore::S3(s) => s.off_site(),
        }
    }
}

impl Mailer for AnyMailer {
    async fn send_raw(&self, from: &str, to: &[String], mime: &[u8]) -> PortResult<String> {
        match self {
            AnyMailer::Local(m) => m.send_raw(from, to, mime).await,
            AnyMailer::Ses(m) => m.send_raw(from, to, mime).await,
        }
    }
}

impl StateStore for AnyState {
    async fn claim(
        &self,
        sid: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> PortResult<Claim> {
        match self {
            AnyState::Local(s) => s.claim(sid, owner, now, lease).await,
            AnyState::Dynamo(s) => s.claim(sid, owner, now, lease).await,
        }
    }

    async fn save(&self, sid: &str, owner: &str, state: &JobState) -> PortResult<()> {
        match self {
            AnyState::Local(s) => s.save(sid, owner, state).await,
            AnyState::Dynamo(s) => s.save(sid, owner, state).await,
        }
    }

    async fn release(&self, sid: &str, owner: &str) -> PortResult<()> {
        match self {
            AnyState::Local(s) => s.release(sid, owner).await,
            AnyState::Dynamo(s) => s.release(sid, owner).await,
        }
    }

    async fn record_transcription(
        &self,
        sid: &str,
        status: &str,
        text: Option<&str>,
    ) -> PortResult<()> {
        match self {
            AnyState::Local(s) => s.record_transcription(sid, status, text).await,
            AnyState::Dynamo(s) => s.record_transcription(sid, status, text).await,
        }
    }

    async fn claim_once(&self, key: &str, now: DateTime<Utc>) -> PortResult<bool> {
        match self {
            AnyState::Local(s) => s.claim_once(key, now).await,
            AnyState::Dynamo(s) => s.claim_once(key, now).await,
        }
    }
}

impl TwilioApi for AnyTwilio {
    async fn download(&self, url: &str) -> PortResult<Media> {
        match self {
            AnyTwilio::Local(t) => t.download(url).await,
            AnyTwilio::Rest(t) => t.download(url).await,
        }
    }

    async fn delete_recording(&self, sid: &str) -> PortResult<()> {
        match self {
            AnyTwilio::Local(t) => t.delete_recording(sid).await,
            AnyTwilio::Rest(t) => t.delete_recording(sid).await,
        }
    }

    async fn send_sms(&self, from: &str, to: &str, body: &str) -> PortResult<String> {
        match self {
            AnyTwilio::Local(t) => t.send_sms(from, to, body).await,
            AnyTwilio::Rest(t) => TwilioApi::send_sms(t, from, to, body).await,
        }
    }
}

/// The work-item database: SQLite in the data folder by default, DynamoDB
/// when `IVR_WORK_TABLE` names a table.
pub enum AnyWork {
    Sqlite(shared::work::sqlite::SqliteWork),
    Dynamo(ivr_aws::DynamoWork),
}

/// The work-item API for `ivr serve`: its keys from `IVR_API_KEYS` (none:
/// off), its database, the config's queues. Says on stderr what it picked.
pub async fn work_api(st: &Startup, data_dir: &Path) -> Result<WorkApi, String> {
    use shared::work::api::{ApiKeys, ENV_API_KEYS};
    let keys = ApiKeys::parse(std::env::var(ENV_API_KEYS).ok().as_deref())?;
    let store = match std::env::var(ivr_aws::work::ENV_WORK_TABLE)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        Some(table) => {
            let conf = ivr_aws::sdk_config().await;
            eprintln!("  work items: DynamoDB table {table}");
            AnyWork::Dynamo(ivr_aws::DynamoWork::from_conf(&conf, table))
        }
        None => {
            let path = data_dir.join("ivr.sqlite");
            eprintln!("  work items: {}", path.display());
            AnyWork::Sqlite(shared::work::sqlite::SqliteWork::open(&path)?)
        }
    };
    Ok(shared::work::api::Api {
        store: std::sync::Arc::new(store),
        keys,
        queues: st.app.config.queues(),
    })
}

/// The API and the effect runner share one store (one SQLite connection).
pub type WorkApi = shared::work::api::Api<std::sync::Arc<AnyWork>>;

impl shared::work::WorkStore for AnyWork {
    async fn create_callback(
        &self,
        new: &shared::work::NewCallback,
        key: Option<&shared::work::IdempotencyKey>,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<shared::work::Created, shared::work::StoreError> {
        match self {
            AnyWork::Sqlite(s) => s.create_callback(new, key, id, now).await,
            AnyWork::Dynamo(s) => s.create_callback(new, key, id, now).await,
        }
    }

    async fn get(&self, id: &str) -> PortResult<Option<shared::work::WorkItem>> {
        match self {
            AnyWork::Sqlite(s) => s.get(id).await,
            AnyWork::Dynamo(s) => s.get(id).await,
        }
    }

    async fn list(
        &self,
        filter: shared::work::ListFilter,
        after: Option<&str>,
        limit: usize,
    ) -> PortResult<shared::work::Page> {
        match self {
            AnyWork::Sqlite(s) => s.list(filter, after, limit).await,
            AnyWork::Dynamo(s) => s.list(filter, after, limit).await,
        }
    }

    async fn cancel(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<shared::work::CancelOutcome> {
        match self {
            AnyWork::Sqlite(s) => s.cancel(id, reason, now).await,
            AnyWork::Dynamo(s) => s.cancel(id, reason, now).await,
        }
    }
}
