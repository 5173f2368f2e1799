//! `/ivr/queue/callback` on AWS Lambda: wiring only; it answers the queue's
//! callback offer and stores a confirmed callback (once per call) in the
//! work-item table.

#[tokio::main]
async fn main() -> Result<(), ivr_aws::lambda::Error> {
    ivr_aws::lambda::run_queue_callback().await
}
