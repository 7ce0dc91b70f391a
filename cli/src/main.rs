//! `casegrid`: the command line of the system.
//!
//! - `casegrid dev`: the whole system on one machine (nats-server child, four services,
//!   SQLite, demo district).
//! - `casegrid serve <service>`: one service as its own process.
//! - `casegrid init`: create the event stream (services never create it).
//! - `casegrid rebuild`: replay the log into fresh read models and compare with the live ones.
//! - `casegrid audit verify`: check every case's hash chain and version contiguity.
//! - `casegrid privacy erase <case>`: crypto-shred a case's personal data.
//! - `casegrid import <cases.csv> <events.jsonl>`: a history from another system.
//! - `casegrid config check <dir>`: validate a district configuration folder.
//! - `casegrid nats-credentials <dir>`: fresh NATS keys for every casegrid user.

mod bench;
mod dev;
mod progress;
mod tools;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "casegrid",
    version,
    about = "Event-sourced case handling for 12345 hotlines and grid governance"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// The NATS admin's credentials for the tools: an nkey seed file or a `.creds` file
    /// (default: [nats] of the settings, else `data/nats-credentials/admin.nk` of `casegrid dev`).
    #[arg(long, global = true)]
    credentials: Option<PathBuf>,
}

/// Where the `casegrid dev` setup listens, the default of the tools.
const DEV_NATS: &str = "nats://127.0.0.1:4222";
const DEV_DB: &str = "sqlite://data/casegrid.db?mode=rwc";

#[derive(Subcommand)]
enum Cmd {
    /// Run everything on this machine: nats-server child, four services, SQLite, demo district.
    Dev(dev::DevArgs),
    /// Measure filing, acting, lag and rebuild against raw JetStream in one run.
    Bench(bench::BenchArgs),
    /// Measure `casegrid import` on a generated history (events/s, the second run's time).
    BenchImport(bench::import::BenchImportArgs),
    /// Run one service against the NATS and database in the settings
    /// (defaults → file in CASEGRID_SETTINGS → CASEGRID__SECTION__KEY variables).
    Serve { service: Service },
    /// Create the event stream, append-only (services refuse to start without it).
    Init {
        #[arg(long, default_value = DEV_NATS)]
        nats: String,
        /// Stream replicas: 1 on one machine, 3 in a cluster.
        #[arg(long, default_value_t = 1)]
        replicas: usize,
    },
    /// Replay the event log into a fresh read-model database and compare with the live one.
    Rebuild {
        #[arg(long, default_value = DEV_NATS)]
        nats: String,
        /// A fresh database (default: a new file under ./data).
        #[arg(long)]
        into: Option<String>,
        /// The live database to compare with.
        #[arg(long, default_value = DEV_DB)]
        compare: String,
        /// Skip the comparison.
        #[arg(long)]
        no_compare: bool,
    },
    /// Audit the event log.
    Audit {
        #[command(subcommand)]
        command: AuditCmd,
    },
    /// Personal data.
    Privacy {
        #[command(subcommand)]
        command: PrivacyCmd,
    },
    /// Write fresh NATS keys for every casegrid user into DIR: one seed file per user
    /// (mode 0600) for the processes' [nats] nkey_seed_file, nkeys.env (the public keys)
    /// for the server's environment, and the accounts.conf the server includes.
    NatsCredentials { dir: PathBuf },
    /// Import a history from another 12345 system (docs/IMPORT.md): each case whole or
    /// not at all, decided again by casegrid's rules; a second run appends nothing.
    Import {
        /// The cases, one CSV row a case.
        cases: PathBuf,
        /// The cases' later events, JSON lines.
        events: PathBuf,
        /// Old category and department codes → casegrid's (TOML).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// The old system's name: part of every imported case's id.
        #[arg(long, default_value = "legacy")]
        source: String,
        /// Where refused cases are written (CSV: case_ref, where, reason).
        #[arg(long, default_value = "import-refused.csv")]
        report: PathBuf,
        #[arg(long, default_value = DEV_NATS)]
        nats: String,
        #[arg(long, default_value = "deploy/config")]
        config: PathBuf,
    },
    /// Write a generated history in the import format (cases.csv, events.jsonl) into DIR.
    SampleHistory {
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        cases: usize,
        #[arg(long, default_value = "deploy/config")]
        config: PathBuf,
    },
    /// District configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check every case's hash chain and version contiguity; exit 1 naming the first break.
    Verify {
        #[arg(long, default_value = DEV_NATS)]
        nats: String,
    },
}

#[derive(Subcommand)]
enum PrivacyCmd {
    /// Delete a case's data key: its personal fields read as erased in every replay.
    Erase {
        case: String,
        /// Why (recorded in the PersonalDataErased event).
        #[arg(long)]
        reason: String,
        /// Who erases: recorded as the actor, a supervisor (erasure is a supervisor's act).
        #[arg(long, default_value = "cli")]
        operator: String,
        #[arg(long, default_value = DEV_NATS)]
        nats: String,
        #[arg(long, default_value = "deploy/config")]
        config: PathBuf,
    },
    /// Re-apply every PersonalDataErased of the log: delete those cases' keys and the
    /// objects of their personal attachments again. Run after every restore of the
    /// CASEGRID_KEYS or CASEGRID_ATTACHMENTS bucket. Prints what it erased again.
    Reconcile {
        #[arg(long, default_value = DEV_NATS)]
        nats: String,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate a configuration folder; exit 1 listing every problem.
    Check { dir: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
enum Service {
    Intake,
    Routing,
    Projection,
    Gateway,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Serve { service } => {
            casegrid_runtime::service_main("casegrid serve", |settings, shutdown| async move {
                match service {
                    Service::Intake => casegrid_intake::serve(&settings, shutdown).await,
                    Service::Routing => casegrid_routing::serve(&settings, shutdown).await,
                    Service::Projection => casegrid_projection::serve(&settings, shutdown).await,
                    Service::Gateway => casegrid_gateway::serve(&settings, shutdown).await,
                }
            })
        }
        command => {
            casegrid_runtime::telemetry::init("warn");
            let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
            let credentials = cli.credentials;
            let admin = |url: &str| tools::admin_nats(url, credentials.as_deref());
            let result = runtime.block_on(async move {
                match command {
                    Cmd::Dev(args) => dev::run(args).await,
                    Cmd::Bench(args) => bench::run(args).await,
                    Cmd::BenchImport(args) => bench::import::run(args).await,
                    Cmd::Init { nats, replicas } => tools::init(&admin(&nats)?, replicas).await,
                    Cmd::Rebuild {
                        nats,
                        into,
                        compare,
                        no_compare,
                    } => {
                        tools::rebuild(&admin(&nats)?, into, (!no_compare).then_some(compare)).await
                    }
                    Cmd::Audit {
                        command: AuditCmd::Verify { nats },
                    } => tools::audit_verify(&admin(&nats)?).await,
                    Cmd::Privacy {
                        command:
                            PrivacyCmd::Erase {
                                case,
                                reason,
                                operator,
                                nats,
                                config,
                            },
                    } => tools::erase(&admin(&nats)?, &config, &case, &operator, &reason).await,
                    Cmd::Privacy {
                        command: PrivacyCmd::Reconcile { nats },
                    } => tools::reconcile(&admin(&nats)?).await,
                    Cmd::Config {
                        command: ConfigCmd::Check { dir },
                    } => tools::config_check(&dir),
                    Cmd::NatsCredentials { dir } => tools::nats_credentials(&dir),
                    Cmd::Import {
                        cases,
                        events,
                        mapping,
                        source,
                        report,
                        nats,
                        config,
                    } => {
                        let files = tools::ImportFiles {
                            cases,
                            events,
                            mapping,
                            report,
                            config,
                        };
                        tools::import(&admin(&nats)?, &files, source).await
                    }
                    Cmd::SampleHistory { dir, cases, config } => {
                        tools::sample_history(&dir, cases, &config)
                    }
                    Cmd::Serve { .. } => unreachable!("handled above"),
                }
            });
            match result {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("casegrid: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
