//! AWS adapters for the recordings pipeline's ports (`shared::recordings`):
//!
//! - [`S3Store`] — [`RecordingStore`](shared::recordings::RecordingStore) on S3 (SSE-S3, presigned links);
//! - [`SesMailer`] — [`Mailer`](shared::recordings::Mailer) on SES v2 raw `SendEmail`;
//! - [`DynamoState`] — [`StateStore`](shared::recordings::StateStore) on DynamoDB, one item per RecordingSid
//!   (layout in [`dynamo`]);
//! - [`SqsQueue`] — [`JobQueue`](shared::recordings::JobQueue) on a standard SQS queue;
//! - [`DynamoWork`] — [`WorkStore`](shared::work::WorkStore) on DynamoDB (layout in [`work`]).
//!
//! [`from_env`] builds them from the Lambda environment:
//! `IVR_RECORDINGS_BUCKET`, `IVR_STATE_TABLE`, `IVR_JOBS_QUEUE_URL` (each
//! optional: a function asks only for what it uses, and the accessor names
//! the missing variable), plus the SDK's own variables (`AWS_REGION`,
//! credentials, and `AWS_ENDPOINT_URL` for moto or LocalStack).

pub mod dynamo;
pub mod error;
pub mod lambda;
pub mod s3;
pub mod ses;
pub mod sqs;
pub mod work;

use aws_config::{BehaviorVersion, SdkConfig};

pub use dynamo::DynamoState;
pub use error::port_error;
pub use s3::S3Store;
pub use ses::SesMailer;
pub use sqs::{Received, SqsQueue};
pub use work::DynamoWork;

/// The bucket recordings are copied to.
pub const ENV_BUCKET: &str = "IVR_RECORDINGS_BUCKET";
/// The DynamoDB table holding job progress (partition key `recording_sid`, TTL attribute `expires_at`).
pub const ENV_TABLE: &str = "IVR_STATE_TABLE";
/// The SQS queue URL jobs go through.
pub const ENV_QUEUE_URL: &str = "IVR_JOBS_QUEUE_URL";

/// The SDK's shared configuration from the environment (region,
/// credentials, retries). aws-config 1.x honours `AWS_ENDPOINT_URL` (and
/// `AWS_ENDPOINT_URL_<SERVICE>`) itself.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The roots AWS's own endpoints chain to (Amazon Trust Services, and the
/// Starfield root that cross-signs them): what AWS tells clients to trust.
pub const AWS_ROOT_NAMES: [&str; 5] = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
];

/// The SDK's HTTPS client: hyper with rustls on ring (see `Cargo.toml`),
/// trusting roots compiled in (`webpki-root-certs`, Mozilla's list) rather
/// than reading and parsing the system's certificate files at every cold
/// start. Talking to AWS itself, only [`AWS_ROOT_NAMES`] are trusted — five
/// roots to parse instead of ~150, which was most of the SDK functions'
/// extra start-up time; with a custom endpoint (`AWS_ENDPOINT_URL*`: moto,
/// LocalStack, a VPC proxy), or `IVR_TLS_ROOTS=all`, all of Mozilla's.
pub fn https_client() -> aws_sdk_s3::config::SharedHttpClient {
    let custom_endpoint = std::env::vars_os().any(|(k, _)| {
        k.to_str()
            .is_some_and(|k| k.starts_with("AWS_ENDPOINT_URL"))
    });
    let all = env_value(ENV_TLS_ROOTS).is_some_and(|v| v.eq_ignore_ascii_case("all"));
    https_client_trusting(roots(!custom_endpoint && !all))
}

/// `all`: the SDK client trusts every Mozilla root, not only AWS's five.
pub const ENV_TLS_ROOTS: &str = "IVR_TLS_ROOTS";

/// The compiled-in roots: AWS's only, or all of Mozilla's.
fn roots(aws_only: bool) -> Vec<&'static [u8]> {
    // memchr's SIMD search: this runs at every cold start (a naive byte
    // window search over ~200 KB of certificates cost ~1 ms).
    let names: Vec<memchr::memmem::Finder> = AWS_ROOT_NAMES
        .iter()
        .map(|n| memchr::memmem::Finder::new(n.as_bytes()))
        .collect();
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| -> &'static [u8] { der.as_ref() })
        .filter(|der| !aws_only || names.iter().any(|f| f.find(der).is_some()))
        .collect()
}

#[cfg(test)]
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

fn https_client_trusting(roots: Vec<&'static [u8]>) -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{
        rustls_provider::CryptoMode, Provider, TlsContext, TrustStore,
    };
    let mut store = TrustStore::empty().with_native_roots(false);
    for der in roots {
        store.add_pem_certificate(pem(der));
    }
    let tls = TlsContext::builder()
        .with_trust_store(store)
        .build()
        .expect("a TLS context of compiled-in roots");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https()
}

/// One DER certificate as PEM (the form the SDK's trust store takes).
fn pem(der: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = Vec::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END CERTIFICATE-----\n");
    out
}

/// An S3 client; path-style addressing when the endpoint is not AWS's
/// (moto and LocalStack do not serve virtual-hosted buckets on 127.0.0.1).
pub fn s3_client(conf: &SdkConfig) -> aws_sdk_s3::Client {
    let custom_endpoint =
        conf.endpoint_url().is_some() || env_value("AWS_ENDPOINT_URL_S3").is_some();
    let s3 = aws_sdk_s3::config::Builder::from(conf)
        .force_path_style(custom_endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// Resource names from the environment; blank counts as unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub bucket: Option<String>,
    pub table: Option<String>,
    pub queue_url: Option<String>,
}

impl Names {
    /// Reads [`ENV_BUCKET`], [`ENV_TABLE`] and [`ENV_QUEUE_URL`].
    pub fn from_env() -> Result<Names, String> {
        Names::from_lookup(env_value)
    }

    /// Like [`Names::from_env`] with any lookup (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Names, String> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let names = Names {
            bucket: get(ENV_BUCKET),
            table: get(ENV_TABLE),
            queue_url: get(ENV_QUEUE_URL),
        };
        if let Some(b) = &names.bucket {
            if b.contains(|c: char| c.is_whitespace() || c == '/') {
                return Err(format!(
                    "{ENV_BUCKET}={b:?} is not a bucket name (give the name, not an ARN or URL)"
                ));
            }
        }
        if let Some(q) = &names.queue_url {
            if !(q.starts_with("https://") || q.starts_with("http://")) {
                return Err(format!("{ENV_QUEUE_URL}={q:?} is not a queue URL (expected https://sqs.<region>.amazonaws.com/<account>/<name>)"));
            }
        }
        Ok(names)
    }
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// All the AWS adapters a function may use, built once at start-up.
#[derive(Debug, Clone)]
pub struct Adapters {
    pub store: Option<S3Store>,
    pub mailer: SesMailer,
    pub state: Option<DynamoState>,
    pub queue: Option<SqsQueue>,
}

impl Adapters {
    /// Clients on `conf`; an adapter exists only if its resource is named.
    pub fn new(conf: &SdkConfig, names: &Names) -> Adapters {
        Adapters {
            store: names
                .bucket
                .as_ref()
                .map(|b| S3Store::new(s3_client(conf), b.clone())),
            mailer: SesMailer::new(aws_sdk_sesv2::Client::new(conf)),
            state: names
                .table
                .as_ref()
                .map(|t| DynamoState::new(aws_sdk_dynamodb::Client::new(conf), t.clone())),
            queue: names
                .queue_url
                .as_ref()
                .map(|q| SqsQueue::new(aws_sdk_sqs::Client::new(conf), q.clone())),
        }
    }

    pub fn store(&self) -> Result<&S3Store, String> {
        self.store
            .as_ref()
            .ok_or_else(|| missing(ENV_BUCKET, "the S3 bucket recordings are copied to"))
    }

    pub fn state(&self) -> Result<&DynamoState, String> {
        self.state.as_ref().ok_or_else(|| {
            missing(
                ENV_TABLE,
                "the DynamoDB table holding recording job progress",
            )
        })
    }

    pub fn queue(&self) -> Result<&SqsQueue, String> {
        self.queue
            .as_ref()
            .ok_or_else(|| missing(ENV_QUEUE_URL, "the SQS queue URL recording jobs go through"))
    }

    pub fn mailer(&self) -> &SesMailer {
        &self.mailer
    }
}

fn missing(var: &str, what: &str) -> String {
    format!("{var} is not set: it names {what} (the stack template sets it for the functions that need it)")
}

/// [`sdk_config`] + [`Names::from_env`] → [`Adapters`]. Fails only on a
/// malformed name; a missing one is reported by the accessor that needs it.
pub async fn from_env() -> Result<Adapters, String> {
    let names = Names::from_env()?;
    let conf = sdk_config().await;
    Ok(Adapters::new(&conf, &names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn names_blank_is_unset() {
        let names = Names::from_lookup(lookup(&[(ENV_BUCKET, "  "), (ENV_TABLE, "jobs")])).unwrap();
        assert_eq!(names.bucket, None);
        assert_eq!(names.table.as_deref(), Some("jobs"));
        assert_eq!(names.queue_url, None);
    }

    #[test]
    fn names_reject_malformed_values() {
        let e = Names::from_lookup(lookup(&[(ENV_QUEUE_URL, "jobs")])).unwrap_err();
        assert!(e.contains(ENV_QUEUE_URL), "{e}");
        let e = Names::from_lookup(lookup(&[(ENV_BUCKET, "arn:aws:s3:::a/b")])).unwrap_err();
        assert!(e.contains(ENV_BUCKET), "{e}");
    }

    #[test]
    fn compiled_in_roots_round_trip_through_pem() {
        use base64::Engine;
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
        for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let text = String::from_utf8(pem(der)).unwrap();
            let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
            assert!(text.lines().all(|l| l.len() <= 64));
            let back = base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap();
            assert_eq!(back, der.as_ref());
        }
        let _client = https_client();
    }

    #[test]
    fn talking_to_aws_trusts_exactly_its_five_roots() {
        let aws = roots(true);
        assert_eq!(aws.len(), AWS_ROOT_NAMES.len());
        for name in AWS_ROOT_NAMES {
            assert_eq!(
                aws.iter().filter(|d| contains(d, name.as_bytes())).count(),
                // "Amazon Root CA 1" is also a prefix of no other root's name.
                1,
                "{name}"
            );
        }
        assert!(roots(false).len() > 100);
        let _client = https_client_trusting(aws);
    }

    #[test]
    fn accessors_name_the_missing_variable() {
        let conf = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .build();
        let a = Adapters::new(&conf, &Names::default());
        assert!(a.store().unwrap_err().starts_with(ENV_BUCKET));
        assert!(a.state().unwrap_err().starts_with(ENV_TABLE));
        assert!(a.queue().unwrap_err().starts_with(ENV_QUEUE_URL));
    }
}
