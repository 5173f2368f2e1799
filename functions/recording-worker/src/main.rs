//! Recording jobs from SQS on AWS Lambda: wiring only; the pipeline lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), ivr_aws::lambda::Error> {
    ivr_aws::lambda::run_worker().await
}
