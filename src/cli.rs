//! The `touchpoint` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::journeys::Catalog;
use crate::startup::{Application, Database, shutdown_signal};
use crate::storage::migrations::{self, Migration};
use crate::telemetry;

/// touchpoint collects client ratings and time spent at every touchpoint of a
/// public service's journey map, and stores them in ClickHouse.
///
/// Configuration comes from a TOML file and TOUCHPOINT_* environment variables
/// (see README.md). Without TOUCHPOINT_CLICKHOUSE_URL the service starts a
/// local ClickHouse server of its own.
#[derive(Debug, Parser)]
#[command(name = "touchpoint", version, about, long_about)]
pub struct Cli {
    /// Config file; defaults to ./touchpoint.toml when it exists.
    #[arg(long, short, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service: applies migrations, then serves until Ctrl-C or SIGTERM.
    Serve,
    /// Apply pending ClickHouse migrations and exit.
    Migrate,
    /// Validate the config and the journey and register files, then exit;
    /// non-zero exit status and one line per problem when something is wrong.
    Check,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Check = cli.command {
        return check(&config);
    }
    telemetry::init(&config.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve => serve(&config).await,
            Command::Migrate => migrate(&config).await,
            Command::Check => unreachable!("handled above"),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    app.run_until_stopped(shutdown_signal()).await?;
    Ok(())
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let database = Database::open(config).await?;
    let outcome = migrations::run(&database.storage, &Migration::embedded()).await;
    database.close().await;
    let report = outcome?;
    println!("applied {} migration(s), {} already applied", report.applied.len(), report.already);
    for name in report.applied {
        println!("  {name}");
    }
    Ok(())
}

fn check(config: &Config) -> ExitCode {
    match Catalog::load(&config.dashboards_dir) {
        Ok(catalog) => {
            if let Err(e) = crate::capture::check_sites(config, &catalog) {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            let journeys: Vec<String> =
                catalog.journeys().map(|j| format!("{} ({} stages)", j.id, j.stages.len())).collect();
            println!(
                "ok: config ({} sites), {} touchpoints and {} processes in the register, journeys: {}, {} migrations",
                config.sites.len(),
                catalog.register.touchpoints.len(),
                catalog.register.processes.len(),
                if journeys.is_empty() { "none".to_string() } else { journeys.join(", ") },
                Migration::embedded().len(),
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("error: {e}");
            }
            eprintln!("{} problem(s) found", errors.0.len());
            ExitCode::FAILURE
        }
    }
}
