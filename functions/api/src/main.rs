//! `/api/callbacks…` on AWS Lambda: wiring only; the work-item API lives in
//! `shared::work::api`, its DynamoDB store in `ivr_aws::work`.

#[tokio::main]
async fn main() -> Result<(), ivr_aws::lambda::Error> {
    ivr_aws::lambda::run_api().await
}
