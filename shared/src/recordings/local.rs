//! Local adapters: the data folder (`IVR_DATA_DIR`, default `./.ivr`) stands
//! in for S3, SES and DynamoDB, so `ivr serve` shows the whole pipeline
//! without AWS. Layout: `recordings/<key>` (+ `.json` metadata),
//! `outbox/*.eml`, `state/<RecordingSid>.json`, `state/once/<key>` (claims
//! made with [`StateStore::claim_once`]), `sms/*.json`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::job::{md5_hex, JobState};
use super::ports::*;

fn io(what: &str, path: &Path, e: std::io::Error) -> PortError {
    PortError::Transient(format!("{what} {}: {e}", path.display()))
}

/// Writes via a temporary file and a rename, so a crash never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> PortResult<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io("cannot create", parent, e))?;
    }
    // Unique per write: concurrent writers of one path must not share a temporary file.
    let tmp = path.with_extension(format!("tmp{}-{}", std::process::id(), unique()));
    std::fs::write(&tmp, bytes).map_err(|e| io("cannot write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("cannot rename", path, e))
}

/// A number no other call in this process gets: for unique file names.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[derive(Debug, Clone)]
pub struct LocalStore {
    pub dir: PathBuf,
}

impl LocalStore {
    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }
}

impl RecordingStore for LocalStore {
    async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
        metadata: &[(String, String)],
    ) -> PortResult<()> {
        let path = self.path(key);
        write_atomic(&path, bytes)?;
        let mut meta: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        meta.insert("content-type".into(), content_type.into());
        let json = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        write_atomic(&path.with_extension("mp3.json"), &json)
    }

    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(ObjectInfo {
                size: bytes.len() as u64,
                md5_hex: Some(md5_hex(&bytes)),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot read", &path, e)),
        }
    }

    async fn link(&self, key: &str, _expires: Duration) -> PortResult<String> {
        let path = self.path(key);
        let abs = std::fs::canonicalize(&path).unwrap_or(path);
        Ok(format!("file://{}", abs.display()))
    }

    /// The data folder is this machine's disk: Twilio's copy stays.
    fn off_site(&self) -> bool {
        false
    }
}

/// Email alerts as `.eml` files, one per message.
#[derive(Debug, Clone)]
pub struct LocalMailer {
    pub dir: PathBuf,
}

impl Mailer for LocalMailer {
    async fn send_raw(&self, _from: &str, _to: &[String], mime: &[u8]) -> PortResult<String> {
        let name = format!(
            "{}-{}.eml",
            Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            std::process::id()
        );
        let path = self.dir.join(name);
        write_atomic(&path, mime)?;
        Ok(path.display().to_string())
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    state: JobState,
    lease_owner: Option<String>,
    lease_until: Option<DateTime<Utc>>,
}

/// Job progress as JSON files; one process serialises access with a mutex.
#[derive(Debug)]
pub struct LocalState {
    pub dir: PathBuf,
    lock: Mutex<()>,
}

impl LocalState {
    pub fn new(dir: PathBuf) -> Self {
        LocalState {
            dir,
            lock: Mutex::new(()),
        }
    }

    fn path(&self, sid: &str) -> PathBuf {
        let safe: String = sid.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        self.dir.join(format!("{safe}.json"))
    }

    fn read(&self, sid: &str) -> PortResult<StateFile> {
        let path = self.path(sid);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| PortError::Permanent(format!("corrupt {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile::default()),
            Err(e) => Err(io("cannot read", &path, e)),
        }
    }

    fn write(&self, sid: &str, f: &StateFile) -> PortResult<()> {
        write_atomic(
            &self.path(sid),
            &serde_json::to_vec_pretty(f).unwrap_or_default(),
        )
    }

    fn with<R>(&self, f: impl FnOnce() -> PortResult<R>) -> PortResult<R> {
        let _guard = self
            .lock
            .lock()
            .map_err(|_| PortError::Permanent("state lock poisoned".into()))?;
        f()
    }

    /// The state of one recording, for tests and operators.
    pub fn get(&self, sid: &str) -> PortResult<JobState> {
        self.with(|| self.read(sid).map(|f| f.state))
    }
}

impl StateStore for LocalState {
    async fn claim(
        &self,
        sid: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> PortResult<Claim> {
        self.with(|| {
            let mut f = self.read(sid)?;
            let held = f.lease_owner.as_deref().is_some_and(|o| o != owner)
                && f.lease_until.is_some_and(|u| u > now);
            if held {
                return Ok(Claim::Busy);
            }
            f.lease_owner = Some(owner.to_string());
            f.lease_until = Some(now + chrono::Duration::from_std(lease).unwrap_or_default());
            self.write(sid, &f)?;
            Ok(Claim::Acquired(f.state))
        })
    }

    async fn save(&self, sid: &str, owner: &str, state: &JobState) -> PortResult<()> {
        self.with(|| {
            let mut f = self.read(sid)?;
            if f.lease_owner.as_deref() != Some(owner) {
                return Err(PortError::Permanent("lease lost".into()));
            }
            // A transcription may have arrived while we worked: keep it.
            let mut next = state.clone();
            if next.transcription_status.is_none() {
                next.transcription_status = f.state.transcription_status.take();
                next.transcription_text = f.state.transcription_text.take();
            }
            f.state = next;
            self.write(sid, &f)
        })
    }

    async fn release(&self, sid: &str, owner: &str) -> PortResult<()> {
        self.with(|| {
            let mut f = self.read(sid)?;
            if f.lease_owner.as_deref() == Some(owner) {
                f.lease_owner = None;
                f.lease_until = None;
                self.write(sid, &f)?;
            }
            Ok(())
        })
    }

    async fn record_transcription(
        &self,
        sid: &str,
        status: &str,
        text: Option<&str>,
    ) -> PortResult<()> {
        self.with(|| {
            let mut f = self.read(sid)?;
            f.state.transcription_status = Some(status.to_string());
            f.state.transcription_text = text.map(str::to_string);
            self.write(sid, &f)
        })
    }

    async fn claim_once(&self, key: &str, now: DateTime<Utc>) -> PortResult<bool> {
        // One file per key, created with O_EXCL: atomic even across processes.
        let dir = self.dir.join("once");
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
        let path = dir.join(once_file_name(key));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                let _ = writeln!(
                    f,
                    "{}",
                    serde_json::json!({ "key": key, "claimed_at": now })
                );
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io("cannot create", &path, e)),
        }
    }
}

/// A file name for any key: safe characters kept, the rest hex-escaped (so distinct keys never collide).
fn once_file_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 5);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("~{b:02x}"));
        }
    }
    out.push_str(".json");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claim_once_is_true_once_per_key() {
        let dir = std::env::temp_dir().join(format!("ivr-once-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = LocalState::new(dir.clone());
        let now = Utc::now();
        assert!(state.claim_once("after-call-sms/CA1", now).await.unwrap());
        assert!(!state.claim_once("after-call-sms/CA1", now).await.unwrap());
        assert!(state.claim_once("after-call-sms/CA2", now).await.unwrap());
        // Keys that differ only in unsafe characters stay distinct.
        assert!(state.claim_once("a/b", now).await.unwrap());
        assert!(state.claim_once("a.b", now).await.unwrap());
        assert!(!state.claim_once("a/b", now).await.unwrap());
        assert_ne!(once_file_name("a/b"), once_file_name("a.b"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
