//! Recordings in S3: SSE-S3 encrypted objects, verified by size and MD5 ETag,
//! shared as presigned GET links.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use shared::recordings::{ObjectInfo, PortError, PortResult, RecordingStore};

use crate::error::port_error;

/// The longest a SigV4 presigned URL may live.
pub const MAX_LINK_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// [`RecordingStore`] on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Store {
            client,
            bucket: bucket.into(),
        }
    }
}

impl RecordingStore for S3Store {
    /// A copy in S3 is safe without any one machine: Twilio's may go.
    fn off_site(&self) -> bool {
        true
    }

    async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
        metadata: &[(String, String)],
    ) -> PortResult<()> {
        let metadata: HashMap<String, String> = metadata.iter().cloned().collect();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()))
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .set_metadata(Some(metadata))
            .send()
            .await
            .map_err(|e| port_error("S3 PutObject", e))?;
        tracing::debug!(bucket = %self.bucket, key, size = bytes.len(), "object stored");
        Ok(())
    }

    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        let out = match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                return match port_error("S3 HeadObject", e) {
                    PortError::NotFound(_) => Ok(None),
                    other => Err(other),
                }
            }
        };
        let size = out
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| PortError::Transient("S3 HeadObject: no Content-Length".into()))?;
        Ok(Some(ObjectInfo {
            size,
            md5_hex: out.e_tag().and_then(md5_from_etag),
        }))
    }

    async fn link(&self, key: &str, expires: Duration) -> PortResult<String> {
        let config = PresigningConfig::expires_in(expires.min(MAX_LINK_EXPIRY))
            .map_err(|e| PortError::Permanent(format!("S3 presign: bad expiry: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| port_error("S3 presign GetObject", e))?;
        Ok(request.uri().to_string())
    }
}

/// The MD5 hex of a single-part upload's ETag (`"9e107d9d…"`); `None` for
/// multipart (`"…-3"`) or SSE-KMS ETags, which are not content MD5s.
pub fn md5_from_etag(etag: &str) -> Option<String> {
    let bare = etag.trim().trim_matches('"');
    (bare.len() == 32 && bare.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| bare.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::md5_from_etag;

    #[test]
    fn etag_md5() {
        assert_eq!(
            md5_from_etag("\"9E107D9D372BB6826BD81D3542A419D6\""),
            Some("9e107d9d372bb6826bd81d3542a419d6".into())
        );
        assert_eq!(
            md5_from_etag("9e107d9d372bb6826bd81d3542a419d6"),
            Some("9e107d9d372bb6826bd81d3542a419d6".into())
        );
        assert_eq!(
            md5_from_etag("\"9e107d9d372bb6826bd81d3542a419d6-2\""),
            None
        );
        assert_eq!(md5_from_etag("\"\""), None);
        assert_eq!(md5_from_etag("\"zz107d9d372bb6826bd81d3542a419d6\""), None);
    }
}
