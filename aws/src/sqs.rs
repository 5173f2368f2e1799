//! The job queue between the recording webhook and the worker: a standard
//! SQS queue (per-message delays are not allowed on FIFO queues).

use std::time::Duration;

use shared::recordings::{JobQueue, PortError, PortResult, RecordingJob};

use crate::error::port_error;

/// SQS's longest per-message delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// [`JobQueue`] on one SQS queue; the message body is the job as JSON.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

/// A job taken from the queue; delete it with its receipt handle once done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub job: RecordingJob,
    pub receipt_handle: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Long-polls for up to `max` (1–10) jobs, waiting up to `wait` (≤ 20 s).
    /// A message that is not a job is an error naming its id (the worker
    /// Lambda gets its messages from the event source, not from here).
    pub async fn receive(&self, max: i32, wait: Duration) -> PortResult<Vec<Received>> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .send()
            .await
            .map_err(|e| port_error("SQS ReceiveMessage", e))?;
        out.messages()
            .iter()
            .map(|m| {
                let body = m.body().unwrap_or_default();
                let job = parse_job(body).map_err(|e| {
                    PortError::Permanent(format!(
                        "SQS message {} is not a recording job: {e}",
                        m.message_id().unwrap_or("?")
                    ))
                })?;
                Ok(Received {
                    job,
                    receipt_handle: m.receipt_handle().unwrap_or_default().to_string(),
                })
            })
            .collect()
    }

    /// Removes a processed message.
    pub async fn delete(&self, receipt_handle: &str) -> PortResult<()> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| port_error("SQS DeleteMessage", e))?;
        Ok(())
    }
}

/// A message body → the job it carries.
pub fn parse_job(body: &str) -> Result<RecordingJob, serde_json::Error> {
    serde_json::from_str(body)
}

impl JobQueue for SqsQueue {
    async fn enqueue(&self, job: &RecordingJob, delay: Duration) -> PortResult<()> {
        let body = serde_json::to_string(job)
            .map_err(|e| PortError::Permanent(format!("job to JSON: {e}")))?;
        let delay = delay.min(MAX_DELAY).as_secs() as i32;
        let out = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map_err(|e| port_error("SQS SendMessage", e))?;
        tracing::debug!(recording_sid = %job.recording_sid, message_id = out.message_id().unwrap_or(""), delay, "job enqueued");
        Ok(())
    }
}
