//! `/ivr/queue/result` on AWS Lambda: wiring only; it answers the queue's
//! `<Enqueue>` action and sends the after-call SMS (once per call).

#[tokio::main]
async fn main() -> Result<(), ivr_aws::lambda::Error> {
    ivr_aws::lambda::run_queue_result().await
}
