//! `tucano`: the local dev server, migrations, merchant admin and BR Code tools.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = tucano::cli::Cli::parse();
    match tucano::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
