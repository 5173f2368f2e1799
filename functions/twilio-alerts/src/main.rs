//! `/twilio/alerts` on AWS Lambda: wiring only; the handler lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run(shared::Function::TwilioAlerts).await
}
