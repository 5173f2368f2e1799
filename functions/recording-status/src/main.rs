//! `/ivr/callback/voicemail/alert_sms` on AWS Lambda: wiring only; it
//! validates the callback and queues the recording for the worker.

#[tokio::main]
async fn main() -> Result<(), ivr_aws::lambda::Error> {
    ivr_aws::lambda::run_recording_status().await
}
