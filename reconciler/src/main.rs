use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    reconciler::cli::main(std::env::args().skip(1).collect()).await
}
