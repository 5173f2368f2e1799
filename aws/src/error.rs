//! SDK errors → [`PortError`], so the pipeline knows whether to retry.
//!
//! Messages carry the operation, the AWS error code and AWS's own message,
//! never request contents, credentials or presigned URLs.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use shared::recordings::PortError;

/// Error codes AWS services use for "slow down" or "try again".
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "TransactionInProgressException",
    "TransactionConflictException",
    "SlowDown",
    "PriorRequestNotComplete",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMS.ThrottlingException",
];

/// Error codes that mean "that thing does not exist".
const NOT_FOUND_CODES: &[&str] = &[
    "NoSuchKey",
    "NotFound",
    "NoSuchBucket",
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
];

/// Classifies a failed SDK call; `what` names the operation ("S3 PutObject").
pub fn port_error<E>(what: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::TimeoutError(_) => PortError::Transient(format!("{what}: timed out")),
        SdkError::DispatchFailure(d) => {
            let kind = if d.is_timeout() {
                "timed out"
            } else if d.is_io() {
                "I/O error"
            } else {
                "connection failed"
            };
            PortError::Transient(format!(
                "{what}: could not reach AWS ({kind}): {}",
                source_text(&err)
            ))
        }
        SdkError::ResponseError(_) => PortError::Transient(format!("{what}: unreadable response")),
        SdkError::ConstructionFailure(_) => {
            PortError::Permanent(format!("{what}: invalid request: {}", source_text(&err)))
        }
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let e = ctx.err();
            classify(what, status, e.code(), e.message())
        }
        // `SdkError` is non-exhaustive.
        _ => PortError::Transient(format!("{what}: {}", source_text(&err))),
    }
}

/// The decision itself, separate so it can be tested without an HTTP response.
pub fn classify(what: &str, status: u16, code: Option<&str>, message: Option<&str>) -> PortError {
    let code_text = code.unwrap_or("no error code");
    let text = match message {
        Some(m) if !m.is_empty() => format!("{what}: {code_text} (HTTP {status}): {m}"),
        _ => format!("{what}: {code_text} (HTTP {status})"),
    };
    let code = code.unwrap_or("");
    if TRANSIENT_CODES.contains(&code) || status == 429 || status >= 500 {
        PortError::Transient(text)
    } else if NOT_FOUND_CODES.contains(&code) || status == 404 {
        PortError::NotFound(text)
    } else {
        // AccessDenied, ValidationException, InvalidParameterValue, MessageRejected, …
        PortError::Permanent(text)
    }
}

fn source_text<E: std::error::Error + 'static, R: std::fmt::Debug>(err: &SdkError<E, R>) -> String {
    use std::error::Error as _;
    match err.source() {
        Some(s) => aws_sdk_s3::error::DisplayErrorContext(s).to_string(),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_transient() {
        assert!(matches!(
            classify("x", 400, Some("ThrottlingException"), None),
            PortError::Transient(_)
        ));
        assert!(matches!(
            classify(
                "x",
                400,
                Some("ProvisionedThroughputExceededException"),
                None
            ),
            PortError::Transient(_)
        ));
        assert!(matches!(
            classify("x", 503, Some("SlowDown"), None),
            PortError::Transient(_)
        ));
        assert!(matches!(
            classify("x", 500, None, None),
            PortError::Transient(_)
        ));
        assert!(matches!(
            classify("x", 429, None, None),
            PortError::Transient(_)
        ));
    }

    #[test]
    fn missing_things_are_not_found() {
        assert!(matches!(
            classify("x", 404, Some("NoSuchKey"), None),
            PortError::NotFound(_)
        ));
        assert!(matches!(
            classify("x", 404, None, None),
            PortError::NotFound(_)
        ));
        assert!(matches!(
            classify("x", 400, Some("ResourceNotFoundException"), None),
            PortError::NotFound(_)
        ));
    }

    #[test]
    fn denied_and_invalid_are_permanent() {
        assert!(matches!(
            classify("x", 403, Some("AccessDenied"), Some("no")),
            PortError::Permanent(_)
        ));
        assert!(matches!(
            classify("x", 400, Some("ValidationException"), None),
            PortError::Permanent(_)
        ));
        assert!(matches!(
            classify("x", 400, Some("MessageRejected"), None),
            PortError::Permanent(_)
        ));
    }

    #[test]
    fn message_names_operation_code_and_status() {
        let e = classify(
            "S3 PutObject",
            403,
            Some("AccessDenied"),
            Some("Access Denied"),
        );
        assert_eq!(
            e,
            PortError::Permanent("S3 PutObject: AccessDenied (HTTP 403): Access Denied".into())
        );
    }
}
