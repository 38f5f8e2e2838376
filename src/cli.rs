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
    Serve {
        /// Fill an empty example journey with a small synthetic data set, so the
        /// dashboards have something to show.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending ClickHouse migrations and exit.
    Migrate,
    /// Validate the config and the journey and register files, then exit;
    /// non-zero exit status and one line per problem when something is wrong.
    Check,
    /// Accounts: analysts (dashboards), handlers (cases), admins, editors and
    /// approvers (the register).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API tokens for scripts: the dashboards' API, or a CRM working cases.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Write a version of the register and the journeys as files of the
    /// `dashboards/` format (register.toml, journeys/<id>.toml) into DIR.
    Export {
        /// Where to write; made when missing.
        dir: PathBuf,
        /// The version; default: the one in force.
        #[arg(long)]
        version: Option<u32>,
    },
    /// Print the ClickHouse dictionaries BI tools read (docs/bi.md), for your
    /// own ClickHouse server's config; they load from `clickhouse.database`.
    /// The local server writes its own. The source user's password is read
    /// from the first line of standard input.
    BiDictionaries {
        /// The server they load from: the one that holds them.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Its native (TCP) port.
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// The read-only user they load as, allowed the service's database.
        #[arg(long, default_value = "bi_source")]
        user: String,
    },
    /// Fill ClickHouse with realistic synthetic events for a journey.
    Seed {
        /// Journey id, e.g. scrap-metal-licensing.
        #[arg(long)]
        journey: String,
        /// How many ratings (and as many timings; a call per 10, a letter per 200).
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Spread over this many days back from now.
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account, or set a new password and role; the password is
    /// read from the first line of standard input (at least 12 characters).
    Add {
        name: String,
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Disable an account: no more logins, and its sessions end at their next request.
    Disable { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; it is printed once, as the last line, and only its hash is kept.
    Create {
        name: String,
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Revoke every token of a name; they stop working at once.
    Revoke { name: String },
}

/// What an account or token may do.
#[derive(Debug, clap::Args)]
pub struct GrantArgs {
    /// analyst (reads the dashboards), handler (works the cases of its units),
    /// admin, editor (drafts register changes for its units) or approver.
    #[arg(long, default_value = "analyst", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<crate::domain::Role>()))]
    role: crate::domain::Role,
    /// A unit a handler works the cases of, or an editor drafts for; repeat for several.
    #[arg(long = "unit")]
    units: Vec<String>,
}

impl GrantArgs {
    fn grant(self) -> crate::accounts::auth::Grant {
        crate::accounts::auth::Grant { role: self.role, units: self.units }
    }
}

/// `touchpoint bi-dictionaries`: the password from standard input, the
/// definitions on standard output.
fn print_bi_dictionaries(config: &Config, host: &str, port: u16, user: &str) -> ExitCode {
    let mut password = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut password) {
        eprintln!("error: cannot read the password from standard input: {e}");
        return ExitCode::FAILURE;
    }
    let password = password.trim_end_matches(['\n', '\r']);
    let source = crate::storage::bi::Source { host, port, user, password };
    print!("{}", crate::storage::bi::dictionaries_xml(&config.clickhouse.database, &source));
    ExitCode::SUCCESS
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
    if let Command::BiDictionaries { host, port, user } = &cli.command {
        return print_bi_dictionaries(&config, host, *port, user);
    }
    telemetry::init(&config.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(&config, cli.command));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command that needs the async runtime.
async fn run(config: &Config, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo } => serve(config, demo).await,
        Command::Migrate => migrate(config).await,
        Command::Check | Command::BiDictionaries { .. } => unreachable!("handled before the runtime starts"),
        Command::User { command } => user(config, command).await,
        Command::Token { command } => token(config, command).await,
        Command::Export { dir, version } => export(config, dir, version).await,
        Command::Seed { journey, events, days } => seed(config, journey, events, days).await,
    }
}

async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { name, grant } => {
            let grant = grant.grant();
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']);
            with_database(config, |storage| async move {
                crate::accounts::auth::add_user(&storage, &name, password, &grant).await?;
                println!("{} {name} can log in", grant.role);
                Ok(())
            })
            .await
        }
        UserCommand::Disable { name } => {
            with_database(config, |storage| async move {
                if !crate::accounts::auth::disable_user(&storage, &name).await? {
                    anyhow::bail!("there is no account {name:?}");
                }
                println!("{name} can no longer log in");
                Ok(())
            })
            .await
        }
    }
}

async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, grant } => {
            let grant = grant.grant();
            with_database(config, |storage| async move {
                let token = crate::accounts::auth::create_token(&storage, &name, &grant).await?;
                eprintln!("API token for {name} ({}); it is shown once, keep it safe:", grant.role);
                println!("{token}");
                Ok(())
            })
            .await
        }
        TokenCommand::Revoke { name } => {
            with_database(config, |storage| async move {
                let n = crate::accounts::auth::revoke_tokens(&storage, &name).await?;
                println!("{n} token(s) of {name} revoked");
                Ok(())
            })
            .await
        }
    }
}

async fn export(config: &Config, dir: PathBuf, version: Option<u32>) -> anyhow::Result<()> {
    with_database(config, |storage| async move {
        let store = crate::register::store::RegisterStore::new(storage);
        let (number, docs) = match version {
            Some(n) => (n, store.documents(n).await?.ok_or_else(|| anyhow::anyhow!("there is no version {n}"))?),
            None => store.latest().await?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no version is stored yet: the service stores the files as version 1 at its first start"
                )
            })?,
        };
        docs.export(&dir)?;
        println!("version {number} written to {}", dir.display());
        Ok(())
    })
    .await
}

async fn seed(config: &Config, journey: String, events: u64, days: u32) -> anyhow::Result<()> {
    let catalog = Catalog::load(&config.dashboards_dir)?;
    let journey = catalog.journey(&journey).ok_or_else(|| anyhow::anyhow!("unknown journey {journey:?}"))?.clone();
    let options = crate::seed::Options { days, progress: true, offers: true };
    with_database(config, |storage| async move {
        let done = crate::seed::seed(&storage, &catalog, &journey, events, options).await?;
        println!(
            "seeded {}: {} ratings, {} timings, {} calls, {} letters",
            journey.id, done.feedback, done.timings, done.calls, done.letters
        );
        Ok(())
    })
    .await
}

/// Opens ClickHouse, applies migrations, runs `work`, and closes it again.
async fn with_database<F, Fut>(config: &Config, work: F) -> anyhow::Result<()>
where
    F: FnOnce(crate::storage::Storage) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let database = Database::open(config).await?;
    let outcome = match migrations::run(&database.storage, &Migration::embedded()).await {
        Ok(_) => work(database.storage.clone()).await,
        Err(e) => Err(e.into()),
    };
    database.close().await;
    outcome
}

/// The demo set of `serve --demo`: three months of a small ministry's traffic.
const DEMO_EVENTS: u64 = 3_000;

async fn serve(config: &Config, demo: bool) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    if demo {
        app.seed_demo(DEMO_EVENTS).await?;
    }
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
            if let Err(e) = catalog.check_sites(config) {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            let journeys: Vec<String> =
                catalog.journeys().map(|j| format!("{} ({} stages)", j.id, j.stages.len())).collect();
            let calendar = match catalog.calendar.years() {
                Some((first, last)) => format!("production calendar {first}–{last}"),
                None => "no production calendar (fixed holidays only)".to_string(),
            };
            println!(
                "ok: config ({} sites), {} touchpoints and {} processes in the register, journeys: {}, {calendar}, {} migrations",
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
