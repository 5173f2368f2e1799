//! The smallest lambda_http function: the baseline `infra/coldstart.py`
//! compares the IVR's functions against (same runtime crate, same profile).

use lambda_http::{service_fn, Body, Error, Request, Response};

async fn hello(_req: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Body::Text("Hello, world!".into()))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(hello)).await
}
